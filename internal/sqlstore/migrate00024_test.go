package sqlstore_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestMigration00024: the names' full-text index rebuilt by 00024 (without
// sizes) still finds the keys made before it and after it, and the counts
// kept by its triggers still count them.
func TestMigration00024(t *testing.T) {
	ctx := t.Context()
	db := sqltest.Open(t, sqltest.SQLiteDSN(t), false)
	if err := db.MigrateUpTo(ctx, 22); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "old", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	must(t, db.CreateTenant(ctx, tn))
	create := func(name string) string {
		t.Helper()
		k := benchKey(tn.ID, nil, now)
		k.Name = name
		must(t, db.CreateAPIKey(ctx, k))
		return k.ID
	}
	before := []string{create("Billing service"), create("search")}
	must(t, db.Migrate(ctx))
	after := create("payments SERVICE")
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"service", []string{before[0], after}},
		{"SEARCH", []string{before[1]}},
		{"ents serv", []string{after}},
		{"nothing", nil},
	} {
		list, err := db.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Query: c.query, Sort: "createdAt", Page: keyward.Page{Size: 10}})
		must(t, err)
		var got []string
		for _, k := range list.Items {
			got = append(got, k.ID)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) || list.TotalCount != len(want) {
			t.Errorf("query %q: got %v (total %d), want %v", c.query, got, list.TotalCount, want)
		}
	}
	all, err := db.QueryStrings(ctx, `SELECT n FROM api_key_counts WHERE tenant_id = $1`, tn.ID)
	must(t, err)
	if !slices.Equal(all, []string{"3"}) {
		t.Errorf("got count %v, want [3]", all)
	}
}

// TestKeysCounterGrows: every write that can change a list of keys grows
// the tenant's keys counter (00022; 00024 moved the grants' bump), the
// ones of the store and hand-written ones alike.
func TestKeysCounterGrows(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "counted", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		perm := keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "orders_read", ContainerID: "c", CreatedAt: now}
		must(t, db.CreatePermission(ctx, &perm))
		counter := `SELECT keys_version FROM tenants t WHERE id = $1`
		if db.Dialect() == "sqlite" {
			counter = `SELECT keys_version + COALESCE((SELECT c.version FROM api_key_counts c WHERE c.tenant_id = t.id), 0)
				FROM tenants t WHERE id = $1`
		}
		read := func() int {
			t.Helper()
			v, err := db.QueryStrings(ctx, counter, tn.ID)
			must(t, err)
			n, err := strconv.Atoi(v[0])
			must(t, err)
			return n
		}
		k := benchKey(tn.ID, nil, now)
		for _, w := range []struct {
			name  string
			write func() error
		}{
			{"a key created", func() error { return db.CreateAPIKey(ctx, k) }},
			{"a permission granted", func() error {
				return db.ExecRaw(ctx, `INSERT INTO api_key_permissions (tenant_id, key_id, permission_id) VALUES ($1, $2, $3)`, tn.ID, k.ID, perm.ID)
			}},
			{"a permission revoked", func() error {
				return db.ExecRaw(ctx, `DELETE FROM api_key_permissions WHERE tenant_id = $1 AND key_id = $2`, tn.ID, k.ID)
			}},
			{"keys imported with a permission", func() error {
				keys := []*keyward.APIKey{benchKey(tn.ID, []keyward.Permission{perm}, now), benchKey(tn.ID, []keyward.Permission{perm}, now)}
				return db.Tx(ctx, func(tx keyward.StoreTx) error { _, err := tx.CreateAPIKeys(ctx, keys); return err })
			}},
			{"a key deleted", func() error { return db.DeleteAPIKey(ctx, tn.ID, k.ID, k.Version) }},
		} {
			was := read()
			must(t, w.write())
			if now := read(); now <= was {
				t.Errorf("%s: got counter %d, was %d: want it grown", w.name, now, was)
			}
		}
	})
}
