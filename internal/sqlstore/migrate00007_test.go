package sqlstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestMigration00007: a catalog seeded before 00007 gets apikeys:read into
// customer_applications_write (Carbonext lists it for List and Fetch),
// once, after its other members; tenants get portosReadableSecrets off.
func TestMigration00007(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, false)
		if err := db.MigrateUpTo(ctx, 4); err != nil {
			t.Fatal(err)
		}
		now := db.TS(time.Now())
		tenant, read, write, del, cw := secret.NewID(), secret.NewID(), secret.NewID(), secret.NewID(), secret.NewID()
		exec := func(q string, args ...any) {
			t.Helper()
			if err := db.ExecRaw(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`INSERT INTO tenants (id, name, prefix, is_active, is_root, created_at, updated_at, version)
			VALUES ($1, 'old', 'kw', true, false, $2, $2, 1)`, tenant, now)
		for _, p := range []struct {
			id, name  string
			composite bool
		}{{read, "apikeys:read", false}, {write, "apikeys:write", false}, {del, "apikeys:delete", false}, {cw, "customer_applications_write", true}} {
			exec(`INSERT INTO permissions (id, tenant_id, name, description, composite, client_role, container_id, attributes, built_in, created_at)
				VALUES ($1, $2, $3, NULL, $4, false, 'old', NULL, true, $5)`, p.id, tenant, p.name, p.composite, now)
		}
		exec(`INSERT INTO permission_children (tenant_id, parent_id, child_id, position) VALUES ($1, $2, $3, 0), ($1, $2, $4, 1)`, tenant, cw, write, del)

		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetPermission(ctx, tenant, cw)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{write, del, read}; !slices.Equal(got.Children, want) {
			t.Errorf("customer_applications_write: got children %v, want %v (write, delete, then read)", got.Children, want)
		}
		tn, err := db.GetTenant(ctx, tenant)
		if err != nil || tn.PortosReadableSecrets {
			t.Errorf("got tenant %+v, %v; want portosReadableSecrets off", tn, err)
		}
	})
}
