package sqlstore

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// TestKeyForVerificationOneStatement: the verify path's read is one
// statement, prepared once for every call.
func TestKeyForVerificationOneStatement(t *testing.T) {
	counter := &stmtCounts{}
	db := openCounted(t, counter)
	ctx := t.Context()
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", IsActive: true, CreatedAt: time.Now(), UpdatedAt: time.Now(), Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	perm := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "p", ContainerID: "c", CreatedAt: time.Now()}
	if err := db.CreatePermission(ctx, perm); err != nil {
		t.Fatal(err)
	}
	u := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: "u", PasswordHash: "x", Level: 3, IsActive: true,
		Permissions: []keyward.Permission{*perm}, CreatedAt: time.Now(), UpdatedAt: time.Now(), Version: 1}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	k := &keyward.APIKey{ID: secret.NewID(), TenantID: tn.ID, ClientID: "c1", Name: "k", OwnerID: u.ID,
		Permissions: []keyward.Permission{*perm}, IsActive: true, CreatedAt: time.Now(), UpdatedAt: time.Now(),
		CreatedBy: "x", Version: 1, SecretGeneration: 1, SecretHash: secret.RandomBytes(32)}
	if err := db.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := db.SetKeyCredits(ctx, tn.ID, k.ID, &keyward.Credits{Remaining: 5}); err != nil {
		t.Fatal(err)
	}

	prepared := counter.prepares.Load()
	for i := range 5 {
		before := counter.runs.Load()
		rec, err := db.KeyForVerification(ctx, k.SecretHash)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Owner == nil || rec.Key.Credits == nil || len(rec.Key.Permissions) != 1 || rec.CatalogVersion == "" {
			t.Fatalf("record %+v", rec)
		}
		if n := counter.runs.Load() - before; n != 1 {
			t.Errorf("call %d ran %d statements; want 1", i, n)
		}
	}
	if n := counter.prepares.Load() - prepared; n != 1 {
		t.Errorf("prepared %d times; want once", n)
	}
}
