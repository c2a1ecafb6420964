package sqlstore_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestMigration00008: keys, their permissions and their usage counts made
// before key ids were scoped per tenant survive the new primary key, and
// afterwards another tenant can use the same key id.
func TestMigration00008(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, false)
		if err := db.MigrateUpTo(ctx, 7); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Hour)
		ts := db.TS(now)
		tenant, other, perm, user, key := secret.NewID(), secret.NewID(), secret.NewID(), secret.NewID(), secret.NewID()
		exec := func(q string, args ...any) {
			t.Helper()
			if err := db.ExecRaw(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		for _, tn := range []struct{ id, name string }{{tenant, "old"}, {other, "other"}} {
			exec(`INSERT INTO tenants (id, name, prefix, is_active, is_root, created_at, updated_at, version)
				VALUES ($1, $2, 'kw', true, false, $3, $3, 1)`, tn.id, tn.name, ts)
		}
		exec(`INSERT INTO permissions (id, tenant_id, name, description, composite, client_role, container_id, attributes, built_in, created_at)
			VALUES ($1, $2, 'orders_read', NULL, false, false, 'old', NULL, false, $3)`, perm, tenant, ts)
		exec(`INSERT INTO users (id, tenant_id, user_name, password_hash, level, is_active, created_at, updated_at, version)
			VALUES ($1, $2, 'alice', 'x', 4, true, $3, $3, 1)`, user, tenant, ts)
		exec(`INSERT INTO api_keys (id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
				token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at, last_used_at, created_by,
				version, secret_hash, secret_generation, rate_limit, rate_window_seconds, secret_holder_id)
			VALUES ($1, $2, 'kw_id_old', 'old key', 'kept', $3, 'box', 2, true, 3600, false, '{}', 'abcd', $4, $4, $4, $3,
				3, $5, 2, 10, 60, $3)`, key, tenant, user, ts, []byte("0123456789abcdef0123456789abcdef"))
		exec(`INSERT INTO api_key_permissions (tenant_id, key_id, permission_id) VALUES ($1, $2, $3)`, tenant, key, perm)
		exec(`INSERT INTO key_usage (key_id, hour, count) VALUES ($1, $2, 42)`, key, ts)

		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetAPIKey(ctx, tenant, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "old key" || got.Description != "kept" || got.OwnerID != user || got.UserName != "alice" ||
			got.Level != 2 || got.Version != 3 || got.SecretGeneration != 2 || got.SecretHolderID != user || got.SecretHolderTenantID != tenant ||
			got.RateLimit == nil || got.RateLimit.Limit != 10 || got.LastUsedAt == nil || !got.LastUsedAt.Equal(now) {
			t.Errorf("got key %+v after the migration, want the old one unchanged", got)
		}
		if len(got.Permissions) != 1 || got.Permissions[0].ID != perm {
			t.Errorf("got permissions %+v, want [orders_read]", got.Permissions)
		}
		usage, err := db.KeyUsage(ctx, tenant, key, now.Add(-time.Hour))
		if err != nil || len(usage) != 1 || usage[0].Count != 42 {
			t.Errorf("got usage %+v, %v; want 42 in the hour", usage, err)
		}

		// The same id in another tenant is another key now.
		dup := &keyward.APIKey{ID: key, TenantID: other, ClientID: "kw_id_new", Name: "same id", Permissions: []keyward.Permission{},
			IsActive: true, TokenLifespanSeconds: 3600, Meta: []byte("{}"), SecretHint: "wxyz", CreatedAt: now, UpdatedAt: now,
			CreatedBy: "x", Version: 1, SecretGeneration: 1, SecretHash: []byte("fedcba9876543210fedcba9876543210")}
		if err := db.CreateAPIKey(ctx, dup); err != nil {
			t.Fatalf("creating the same key id in another tenant: %v", err)
		}
		if got, err := db.GetAPIKey(ctx, tenant, key); err != nil || got.Name != "old key" {
			t.Errorf("got %+v, %v for the old tenant's key; want it unchanged", got, err)
		}
	})
}
