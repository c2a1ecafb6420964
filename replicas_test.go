package keyward_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

// replicas starts n Services on one PostgreSQL schema, each with the
// change feed, as n replicas would run.
func replicas(t *testing.T, n int) []*keyward.Service {
	t.Helper()
	dsn := sqltest.PostgresDSN(t)
	master := secret.RandomBytes(32)
	var out []*keyward.Service
	for i := range n {
		db := sqltest.Open(t, dsn, i == 0)
		svc, err := wire.NewService(keyward.Config{Store: db, MasterKey: master, Changes: db.ChangeFeed(), CacheTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		out = append(out, svc)
	}
	return out
}

// TestDeactivationReachesEveryReplica: a key deactivated on replica A is
// refused by replica B, whose cache held it, within a second.
func TestDeactivationReachesEveryReplica(t *testing.T) {
	svcs := replicas(t, 2)
	a, b := svcs[0], svcs[1]
	ctx := context.Background()
	admin := bootstrapAdmin(t, a)
	waitListening(t, b)
	const n = 100
	var keys []*keyward.IssuedKey
	for range n {
		k, err := a.CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("replicated")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, keyward.Credentials{Bearer: k.ClientSecret}); err != nil {
			t.Fatalf("replica B before the change: %v", err)
		}
		keys = append(keys, k)
	}
	var lat []time.Duration
	for _, k := range keys {
		start := time.Now()
		if _, err := a.UpdateAPIKey(ctx, admin, k.ID, keyward.APIKeyInput{IsActive: ptr(false)}, nil); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := b.Authenticate(ctx, keyward.Credentials{Bearer: k.ClientSecret}); err != nil {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("replica B still accepts a key deactivated on A after %v", time.Since(start))
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("deactivation on A refused on B after: p50 %v, p99 %v, max %v (n=%d)", lat[n/2], lat[n*99/100], lat[n-1], n)
}

// waitListening waits until svc's cache serves again, which it does only
// while its change feed listens.
func waitListening(t *testing.T, svc *keyward.Service) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !svc.Listening() {
		if time.Now().After(deadline) {
			t.Fatal("the change feed does not listen")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestListenerLossDropsCache: when a replica's listener connection is
// killed, the change it could miss still reaches it: it drops its cache
// and serves from the database until it listens again.
func TestListenerLossDropsCache(t *testing.T) {
	svcs := replicas(t, 2)
	a, b := svcs[0], svcs[1]
	ctx := context.Background()
	admin := bootstrapAdmin(t, a)
	waitListening(t, b)
	k, err := a.CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("cached on B")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, keyward.Credentials{Bearer: k.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	// Kill every listener of this database, then change the key at once.
	admindb := sqltest.Open(t, sqltest.PostgresURL(t), false)
	var killed int
	err = admindb.QueryRowForTest(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = 'LISTEN keyward_changes' AND pid <> pg_backend_pid()`, &killed)
	if err != nil || killed == 0 {
		t.Fatalf("terminating the listeners: %d, %v", killed, err)
	}
	if _, err := a.UpdateAPIKey(ctx, admin, k.ID, keyward.APIKeyInput{IsActive: ptr(false)}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := b.Authenticate(ctx, keyward.Credentials{Bearer: k.ClientSecret}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica B still accepts the key 5 s after losing its listener")
		}
		time.Sleep(time.Millisecond)
	}
	waitListening(t, b) // and it listens again
}

// TestRevocationReachesEveryReplica: a token revoked on A is inactive on B
// at once.
func TestRevocationReachesEveryReplica(t *testing.T) {
	svcs := replicas(t, 2)
	a, b := svcs[0], svcs[1]
	ctx := context.Background()
	admin := bootstrapAdmin(t, a)
	waitListening(t, b)
	k, err := a.CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("client")})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.IssueToken(ctx, k.ClientID, k.ClientSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, keyward.Credentials{Bearer: tok.AccessToken}); err != nil {
		t.Fatalf("replica B before the revocation: %v", err)
	}
	start := time.Now()
	if err := a.RevokeToken(ctx, admin, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := b.Authenticate(ctx, keyward.Credentials{Bearer: tok.AccessToken}); err != nil {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("replica B still accepts a token revoked on A after 1 s")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("revoked on A, refused on B after %v", time.Since(start))
}

// bootstrapAdmin creates the first admin on svc and returns it signed in.
func bootstrapAdmin(t *testing.T, svc *keyward.Service) *keyward.Principal {
	t.Helper()
	ctx := t.Context()
	if _, err := svc.Bootstrap(ctx, adminPassword); err != nil {
		t.Fatal(err)
	}
	login, err := svc.Login(ctx, "", "admin", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Authenticate(ctx, keyward.Credentials{Bearer: login.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	return admin
}
