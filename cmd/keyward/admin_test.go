package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

// TestAdminResetPasswordReachesReplicas: "keyward admin reset-password"
// tells the running replicas, so one that cached a key of the user as
// refused (its owner inactive) serves it again at once rather than after
// its cache TTL (a regression test: the command once built its Service
// without the change feed). Replicas share a database only on PostgreSQL.
func TestAdminResetPasswordReachesReplicas(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	master := secret.RandomBytes(32)
	ctx := context.Background()
	db := sqltest.Open(t, dsn, true)
	b, err := wire.NewService(keyward.Config{Store: db, MasterKey: master, Changes: db.ChangeFeed(), CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if _, err := b.Bootstrap(ctx, "first-password"); err != nil {
		t.Fatal(err)
	}
	login, err := b.Login(ctx, "", "admin", "first-password")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := b.Authenticate(ctx, keyward.Credentials{Bearer: login.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	k, err := b.CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: new("the admin's")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !b.Listening() {
		if time.Now().After(deadline) {
			t.Fatal("replica B's change feed does not listen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The owner goes inactive behind B's back (as another process would),
	// and B caches the key as refused.
	err = db.Tx(ctx, func(tx keyward.StoreTx) error {
		u, err := tx.GetUserByName(ctx, admin.TenantID, "admin")
		if err != nil {
			return err
		}
		prev := u.Version
		u.IsActive, u.Version = false, prev+1
		return tx.UpdateUser(ctx, u, prev)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, keyward.Credentials{Bearer: k.ClientSecret}); err == nil {
		t.Fatal("replica B accepted a key of an inactive owner")
	}

	var stdout, stderr bytes.Buffer
	env := map[string]string{"KEYWARD_MASTER_KEY": hex.EncodeToString(master), "KEYWARD_NEW_PASSWORD": "second-password"}
	code := run(ctx, []string{"admin", "reset-password", "--data-dir", t.TempDir(), "--database-url", dsn},
		func(k string) string { return env[k] }, nil, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("reset-password: exit %d: %s", code, stderr.String())
	}
	// reset-password activates the user: B must hear of it.
	deadline = time.Now().Add(5 * time.Second)
	for {
		_, err := b.Authenticate(ctx, keyward.Credentials{Bearer: k.ClientSecret})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica B still refuses the key 5 s after reset-password reactivated its owner: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
