package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// benchTenant creates a tenant with two permissions in db.
func benchTenant(b *testing.B, db *sqlstore.DB) (*keyward.Tenant, []keyward.Permission) {
	b.Helper()
	ctx := b.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "bench", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		b.Fatal(err)
	}
	var perms []keyward.Permission
	for _, name := range []string{"orders_read", "orders_write"} {
		p := keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: name, ContainerID: tn.Name, CreatedAt: now}
		if err := db.CreatePermission(ctx, &p); err != nil {
			b.Fatal(err)
		}
		perms = append(perms, p)
	}
	return tn, perms
}

func benchKey(tenantID string, perms []keyward.Permission, now time.Time) *keyward.APIKey {
	return &keyward.APIKey{ID: secret.NewID(), TenantID: tenantID, ClientID: secret.NewClientID("kw"), Name: "bench key",
		Permissions: perms, IsActive: true, TokenLifespanSeconds: 3600, Meta: []byte(`{"env":"bench"}`), SecretHint: "abcd",
		CreatedAt: now, UpdatedAt: now, CreatedBy: "bench", Version: 1, SecretHash: secret.RandomBytes(32)}
}

// BenchmarkCreateAPIKey creates one key with two permissions per operation,
// each in its own durable (fsynced) transaction.
func BenchmarkCreateAPIKey(b *testing.B) {
	db := sqltest.SQLite(b)
	tn, perms := benchTenant(b, db)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for b.Loop() {
		if err := db.CreateAPIKey(b.Context(), benchKey(tn.ID, perms, now)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListAPIKeysFiltered lists page 1 (20 keys) of a 10,000-key
// tenant filtered by name and status, newest first: the console's default
// search.
func BenchmarkListAPIKeysFiltered(b *testing.B) {
	const n = 10_000
	db := sqltest.SQLite(b)
	ctx := b.Context()
	tn, perms := benchTenant(b, db)
	now := time.Now().UTC().Truncate(time.Microsecond)
	expired := now.Add(-time.Hour)
	err := db.Tx(ctx, func(tx keyward.StoreTx) error {
		for i := range n {
			k := benchKey(tn.ID, perms[:i%3], now.Add(-time.Duration(i)*time.Second))
			k.Name = fmt.Sprintf("%s service %05d", []string{"Billing", "search", "Payments"}[i%3], i)
			k.IsActive = i%5 != 0
			if i%7 == 0 {
				k.ExpiresAt = &expired
			}
			if err := tx.CreateAPIKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	f := keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 20}, Query: "PAY", Status: keyward.StatusActive,
		Sort: "-createdAt", Now: now}
	for b.Loop() {
		list, err := db.ListAPIKeys(ctx, tn.ID, f)
		if err != nil {
			b.Fatal(err)
		}
		// About 2,300 match: more than a list counts exactly, so the total
		// is an estimate above 1,000.
		if len(list.Items) != 20 || !list.TotalEstimated || list.TotalCount <= 1000 {
			b.Fatalf("got %d items of %d (estimated %v), want 20 of an estimate above 1,000", len(list.Items), list.TotalCount, list.TotalEstimated)
		}
	}
}

// BenchmarkKeyForVerification is one key-cache miss's store read on SQLite
// (a key with two permissions and a ciphertext, not HMAC-enabled), serial,
// under Guard as keyward serve runs it. cpu-ns/op is the process's CPU
// time per read.
func BenchmarkKeyForVerification(b *testing.B) {
	db := sqltest.SQLite(b)
	tn, perms := benchTenant(b, db)
	k := benchKey(tn.ID, perms, time.Now().UTC().Truncate(time.Microsecond))
	k.SecretCiphertext = secret.RandomBytes(60)
	if err := db.CreateAPIKey(b.Context(), k); err != nil {
		b.Fatal(err)
	}
	st := sqlstore.Guard(db, sqlstore.Limits{})
	b.ReportAllocs()
	cpu := sqltest.ProcessCPU()
	for b.Loop() {
		if _, err := st.KeyForVerification(b.Context(), k.SecretHash); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time is what a loaded machine distorts least.
	b.ReportMetric(float64(sqltest.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
}
