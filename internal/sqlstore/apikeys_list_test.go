package sqlstore_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestListAPIKeysPlans checks that a key list gives the same keys whichever
// way it finds them: counted and sorted from the most selective source (few
// matches), or walking its order's index (many matches, here beyond a cap
// of 3), by page and by cursor; and that the name index follows renames
// and deletions.
func TestListAPIKeysPlans(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, true)
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "plans", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		perm := keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "orders_read", ContainerID: "c", CreatedAt: now}
		must(t, db.CreatePermission(ctx, &perm))
		owner := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: "owner", Level: 1, IsActive: true,
			CreatedAt: now, UpdatedAt: now, Version: 1, Permissions: []keyward.Permission{}}
		must(t, db.CreateUser(ctx, owner))
		var keys []*keyward.APIKey
		for i := range 30 {
			k := benchKey(tn.ID, nil, now.Add(time.Duration(i%9)*time.Second))
			k.Name = fmt.Sprintf("%s service %d", []string{"Billing", "search", "Payments"}[i%3], i%4)
			k.IsActive = i%5 != 0
			if i%4 == 0 {
				k.ExpiresAt = ptrTo(now.Add(-time.Hour))
			}
			if i%3 == 0 {
				k.LastUsedAt = ptrTo(now.Add(time.Duration(i%2) * time.Minute))
			}
			if i%2 == 0 {
				k.Permissions = []keyward.Permission{perm}
			}
			if i%3 == 1 {
				k.OwnerID = owner.ID
			}
			must(t, db.CreateAPIKey(ctx, k))
			keys = append(keys, k)
		}
		// The name index follows a rename and a deletion.
		keys[0].Name = "renamed Zebra"
		keys[0].Version++
		must(t, db.UpdateAPIKey(ctx, keys[0], keys[0].Version-1))
		must(t, db.DeleteAPIKey(ctx, tn.ID, keys[1].ID, keys[1].Version))

		list := func(t *testing.T, f keyward.APIKeyFilter) keyward.List[*keyward.APIKey] {
			t.Helper()
			f.Now = now
			l, err := db.ListAPIKeys(ctx, tn.ID, f)
			must(t, err)
			return l
		}
		ids := func(keys []*keyward.APIKey) []string {
			out := []string{}
			for _, k := range keys {
				out = append(out, k.ID)
			}
			return out
		}
		filters := []keyward.APIKeyFilter{
			{},
			{Query: "ZEBRA"},
			{Query: "Billing"},
			{Query: "illing"},
			{Query: "pay", Sort: "name"},
			{Query: "ce 1", Sort: "-name"},
			{Query: "se"},
			{Query: "Billing service"},
			{Status: keyward.StatusInactive},
			{Status: keyward.StatusActive, Sort: "-lastUsedAt"},
			{Status: keyward.StatusExpired, Sort: "expiresAt"},
			{Permission: "orders_read", Sort: "createdAt"},
			{Permission: "orders_read", Query: "search", Status: keyward.StatusActive},
			{OwnerID: owner.ID},
			{OwnerID: owner.ID, Sort: "name"},
			{Sort: "isActive"},
			{Sort: "-isActive,name"},
			{Sort: "id"},
			{Sort: "lastUsedAt"},
			{Sort: "-expiresAt"},
			// The orders only the Portos dialect offers (00015's indexes).
			{Sort: "clientId"},
			{Sort: "-clientId"},
			{Sort: "version,-name"},
			{Sort: "-version"},
			{Sort: "description"},
			{Sort: "-deviceName"},
		}
		for _, f := range filters {
			all := f
			all.Page = keyward.Page{Number: 1, Size: 100}
			want := list(t, all)
			if len(want.Items) == 0 || want.TotalEstimated {
				t.Fatalf("%+v: %d keys (estimated %v): a weak test", f, len(want.Items), want.TotalEstimated)
			}
			if f.Query == "ZEBRA" && (len(want.Items) != 1 || want.Items[0].ID != keys[0].ID) {
				t.Fatalf("the renamed key is not found by its new name")
			}
			for _, k := range want.Items {
				if k.ID == keys[1].ID {
					t.Fatalf("%+v: the deleted key is listed", f)
				}
			}
			func() {
				defer sqlstore.SetListCountCap(3)()
				// By page.
				var got []*keyward.APIKey
				for n := 1; n <= 12; n++ {
					p := f
					p.Page = keyward.Page{Number: n, Size: 3}
					l := list(t, p)
					exact := f.Query == "" && f.Status == "" && f.Permission == "" && f.OwnerID == "" &&
						db.Dialect() == sqlstore.DialectSQLite // counted by triggers
					if e := p; !exact {
						e.ExactCount = true
						if l := list(t, e); l.TotalEstimated || l.TotalCount != len(want.Items) || !slices.Equal(ids(l.Items), ids(list(t, p).Items)) {
							t.Fatalf("%+v with ExactCount: got total %d (estimated %v), want exactly %d and the same page", f, l.TotalCount, l.TotalEstimated, len(want.Items))
						}
					}
					switch {
					case exact && (l.TotalEstimated || l.TotalCount != len(want.Items)):
						t.Fatalf("%+v: got total %d (estimated %v), want exactly %d", f, l.TotalCount, l.TotalEstimated, len(want.Items))
					case !exact && len(want.Items) > 3 && (!l.TotalEstimated || l.TotalCount < 4):
						t.Fatalf("%+v: got total %d (estimated %v), want an estimate above 3", f, l.TotalCount, l.TotalEstimated)
					}
					got = append(got, l.Items...)
				}
				if !slices.Equal(ids(got), ids(want.Items)) {
					t.Errorf("%+v by page: got %v, want %v", f, ids(got), ids(want.Items))
				}
				// By cursor.
				got = nil
				c := f
				c.Page = keyward.Page{Number: 1, Size: 4}
				for range 12 {
					l := list(t, c)
					got = append(got, l.Items...)
					if c.Cursor = l.NextCursor; c.Cursor == "" {
						break
					}
				}
				if !slices.Equal(ids(got), ids(want.Items)) {
					t.Errorf("%+v by cursor: got %v, want %v", f, ids(got), ids(want.Items))
				}
			}()
		}
		// Deleting an owner deletes its keys (a cascade): gone from the
		// name index and from the count too.
		before := list(t, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 100}})
		owned := list(t, keyward.APIKeyFilter{OwnerID: owner.ID, Page: keyward.Page{Number: 1, Size: 100}})
		must(t, db.DeleteUser(ctx, tn.ID, owner.ID))
		func() {
			defer sqlstore.SetListCountCap(3)()
			l := list(t, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 3}})
			if want := len(before.Items) - len(owned.Items); db.Dialect() == sqlstore.DialectSQLite && l.TotalCount != want {
				t.Errorf("after deleting the owner: got total %d, want %d", l.TotalCount, want)
			}
		}()
		for _, k := range list(t, keyward.APIKeyFilter{Query: "service", Page: keyward.Page{Number: 1, Size: 100}}).Items {
			if k.OwnerID == owner.ID {
				t.Errorf("key %s of the deleted owner still listed", k.ID)
			}
		}
		// A name search that matches nothing.
		if l := list(t, keyward.APIKeyFilter{Query: "Billing service 12", Page: keyward.Page{Number: 1, Size: 10}}); len(l.Items) != 0 {
			t.Errorf("got %d keys, want none", len(l.Items))
		}
	})
}

// TestListAPIKeysNameWords checks that a name search of several words
// finds the names holding the whole query, not each word somewhere
// (PostgreSQL searches its trigram index for the rarest word only).
func TestListAPIKeysNameWords(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, true)
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "words", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		byName := map[string]string{}
		for i, name := range []string{"alpha beta", "beta alpha", "alphabet beta", "xALPHA BETAx", "alpha  beta", "orders 12345 prod"} {
			k := benchKey(tn.ID, nil, now.Add(time.Duration(i)*time.Second))
			k.Name = name
			must(t, db.CreateAPIKey(ctx, k))
			byName[k.ID] = name
		}
		for _, c := range []struct {
			query string
			want  []string // names, newest first
		}{
			{"alpha beta", []string{"xALPHA BETAx", "alpha beta"}},
			{"BETA ALPHA", []string{"beta alpha"}},
			{"alphabet beta", []string{"alphabet beta"}},
			{"bet beta", []string{"alphabet beta"}},
			{"12345 prod", []string{"orders 12345 prod"}},
			{"prod 12345", []string{}},
			{"alpha-beta", []string{}},
		} {
			l, err := db.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Query: c.query, Page: keyward.Page{Number: 1, Size: 10}, Now: now})
			must(t, err)
			got := []string{}
			for _, k := range l.Items {
				got = append(got, byName[k.ID])
			}
			if !slices.Equal(got, c.want) || l.TotalCount != len(c.want) {
				t.Errorf("%q: got %q (total %d), want %q", c.query, got, l.TotalCount, c.want)
			}
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestAPIKeyIndexPlans checks that the lookups whose indexes migration
// 00016 dropped or narrowed still search an index: on SQLite (whose
// planner, without statistics, plans the same for any number of keys) the
// "expired" filter a range of api_keys_tenant_expires_nulls (or _desc), and the
// previous secret's hash and holder their partial indexes; on PostgreSQL
// the foreign keys to a key reference its primary key, the one index of
// (tenant_id, id).
func TestAPIKeyIndexPlans(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		if db.Dialect() != sqlstore.DialectSQLite {
			got, err := db.QueryStrings(ctx, `SELECT conname || ' ' || conindid::regclass::text FROM pg_constraint
				WHERE confrelid = 'api_keys'::regclass OR (conrelid = 'api_keys'::regclass AND contype = 'u') ORDER BY conname`)
			must(t, err)
			want := []string{
				"api_key_credits_tenant_id_key_id_fkey api_keys_pkey",
				"api_key_permissions_tenant_id_key_id_fkey api_keys_pkey",
				"api_key_rate_limits_tenant_id_key_id_fkey api_keys_pkey",
				"api_keys_client_id_key api_keys_client_id_key",
				"api_keys_secret_hash_key api_keys_secret_hash_key",
				"key_usage_outcomes_tenant_id_key_id_fkey api_keys_pkey",
				"key_usage_tenant_id_key_id_fkey api_keys_pkey",
			}
			if !slices.Equal(got, want) {
				t.Errorf("constraints: got %q, want %q", got, want)
			}
			return
		}
		got, err := db.QueryStrings(ctx, `SELECT name || ' ' || (sql LIKE '%WHERE%IS NOT NULL') FROM sqlite_master
			WHERE name IN ('api_keys_tenant_expires', 'api_keys_prev_secret_hash', 'api_keys_prev_secret_holder') ORDER BY name`)
		must(t, err)
		if want := []string{"api_keys_prev_secret_hash 1", "api_keys_prev_secret_holder 1"}; !slices.Equal(got, want) {
			t.Errorf("indexes (name, partial): got %q, want %q", got, want)
		}
		for _, c := range []struct {
			query string
			want  []string // in the plan's details
		}{
			{`SELECT 1 FROM api_keys k WHERE k.tenant_id = $1 AND (k.expires_at IS NULL) = 0 AND k.expires_at <= $2`,
				[]string{"USING COVERING INDEX api_keys_tenant_expires_", "(tenant_id=? AND <expr>=? AND expires_at<?)"}},
			{`SELECT 1 FROM api_keys k WHERE k.secret_hash = $1 OR k.prev_secret_hash = $1`,
				[]string{"api_keys_prev_secret_hash (prev_secret_hash=?)"}},
			{`SELECT 1 FROM api_keys k WHERE (k.secret_holder_id = $1 AND k.secret_holder_tenant_id = $2 AND NOT k.secret_revoked)
				OR (k.prev_secret_holder_id = $1 AND k.prev_secret_holder_tenant_id = $2)`,
				[]string{"api_keys_secret_holder (secret_holder_id=?)", "api_keys_prev_secret_holder (prev_secret_holder_id=?)"}},
		} {
			plan, err := db.QueryStrings(ctx, "EXPLAIN QUERY PLAN "+c.query, "a", "b")
			must(t, err)
			for _, w := range c.want {
				if !strings.Contains(strings.Join(plan, "\n"), w) {
					t.Errorf("%s: got plan %q, want %q in it", c.query, plan, w)
				}
			}
		}
	})
}

// TestImportKeepsListIndexes checks that keys stored by CreateAPIKeys (an
// import, on SQLite by one statement) are found by a name search, follow a
// rename and a deletion, and are counted exactly, beside keys created one
// by one before and after it.
func TestImportKeepsListIndexes(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		now := time.Now().UTC().Truncate(time.Microsecond)
		var tenants []*keyward.Tenant
		for _, name := range []string{"import-a", "import-b"} {
			tn := &keyward.Tenant{ID: secret.NewID(), Name: name, Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
			must(t, db.CreateTenant(ctx, tn))
			tenants = append(tenants, tn)
		}
		a, b := tenants[0].ID, tenants[1].ID
		before := benchKey(a, nil, now.Add(-time.Second))
		before.Name = "created before"
		must(t, db.CreateAPIKey(ctx, before))
		var imported []*keyward.APIKey
		for i, tenantID := range []string{a, a, a, b, a, b} {
			k := benchKey(tenantID, nil, now.Add(time.Duration(i)*time.Second))
			k.Name = fmt.Sprintf("imported %c", 'p'+i)
			imported = append(imported, k)
		}
		dup := benchKey(a, nil, now)
		dup.ClientID = before.ClientID // left out: ECONFLICT
		must(t, db.Tx(ctx, func(tx keyward.StoreTx) error {
			errs, err := tx.CreateAPIKeys(ctx, append(slices.Clone(imported), dup))
			if err == nil && (errs[len(errs)-1] == nil || slices.ContainsFunc(errs[:len(errs)-1], func(e error) bool { return e != nil })) {
				t.Fatalf("got errors %v, want only the last key's", errs)
			}
			return err
		}))
		imported[0].Name = "renamed imported"
		imported[0].Version++
		must(t, db.UpdateAPIKey(ctx, imported[0], imported[0].Version-1))
		must(t, db.DeleteAPIKey(ctx, a, imported[1].ID, imported[1].Version))
		after := benchKey(a, nil, now.Add(-2*time.Second))
		after.Name = "created after"
		must(t, db.CreateAPIKey(ctx, after))

		defer sqlstore.SetListCountCap(1)() // an unfiltered list reads the counts (SQLite)
		for _, c := range []struct {
			tenantID, query string
			want            []string // ids
		}{
			{a, "", []string{imported[4].ID, imported[2].ID, imported[0].ID, before.ID, after.ID}},
			{b, "", []string{imported[5].ID, imported[3].ID}},
			{a, "imported r", []string{imported[2].ID}},
			{a, "renamed", []string{imported[0].ID}},
			{a, "imported p", []string{}},
			{a, "imported q", []string{}},
			{a, "mported", []string{imported[4].ID, imported[2].ID, imported[0].ID}},
			{b, "mported", []string{imported[5].ID, imported[3].ID}},
			{a, "after", []string{after.ID}},
		} {
			l, err := db.ListAPIKeys(ctx, c.tenantID, keyward.APIKeyFilter{Query: c.query, Sort: "-createdAt,id",
				Page: keyward.Page{Number: 1, Size: 10}, Now: now, ExactCount: true})
			must(t, err)
			got := []string{}
			for _, k := range l.Items {
				got = append(got, k.ID)
			}
			if !slices.Equal(got, c.want) || l.TotalCount != len(c.want) || l.TotalEstimated {
				t.Errorf("%q: got %v (total %d, estimated %v), want %v (total %d)", c.query, got, l.TotalCount, l.TotalEstimated, c.want, len(c.want))
			}
		}
	})
}

// TestListAPIKeysOwnerNameOrder checks sort=userName and -userName across
// several owners (names differing in case, one owning nothing) and keys
// without an owner (an empty name: first ascending, last descending; ties by id
// ascending), walked by page and by cursor, with and without a filter, when
// the list sorts its few matches and when it walks the owners (a cap of 3).
func TestListAPIKeysOwnerNameOrder(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, true)
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "owners", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		names := map[string]string{} // user id → lowercased name
		var owners []string
		for _, name := range []string{"bob", "Alice", "carol", "Dave-owns-nothing", "ALAN"} {
			u := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: name, Level: 1, IsActive: true,
				CreatedAt: now, UpdatedAt: now, Version: 1, Permissions: []keyward.Permission{}}
			must(t, db.CreateUser(ctx, u))
			names[u.ID] = strings.ToLower(name)
			if !strings.HasPrefix(name, "Dave") {
				owners = append(owners, u.ID)
			}
		}
		var keys []*keyward.APIKey
		for i := range 26 {
			k := benchKey(tn.ID, nil, now.Add(time.Duration(i)*time.Second))
			if i%5 != 0 {
				k.OwnerID = owners[i%len(owners)]
			}
			k.IsActive = i%3 != 0
			must(t, db.CreateAPIKey(ctx, k))
			keys = append(keys, k)
		}
		for _, tc := range []struct {
			sort   string
			status string
		}{{"userName", ""}, {"-userName", ""}, {"userName", keyward.StatusInactive}, {"-userName", keyward.StatusActive}} {
			var want []string
			var sorted []*keyward.APIKey
			for _, k := range keys {
				if tc.status == "" || (tc.status == keyward.StatusActive) == k.IsActive {
					sorted = append(sorted, k)
				}
			}
			slices.SortFunc(sorted, func(a, b *keyward.APIKey) int {
				c := strings.Compare(names[a.OwnerID], names[b.OwnerID])
				if tc.sort == "-userName" {
					c = -c
				}
				if c == 0 {
					c = strings.Compare(a.ID, b.ID)
				}
				return c
			})
			for _, k := range sorted {
				want = append(want, k.ID)
			}
			for _, limit := range []int{1000, 3} {
				func() {
					defer sqlstore.SetListCountCap(limit)()
					f := keyward.APIKeyFilter{Sort: tc.sort, Status: tc.status, Now: now}
					var byPage, byCursor []string
					for n := 1; n <= 12; n++ {
						f.Page = keyward.Page{Number: n, Size: 3}
						l, err := db.ListAPIKeys(ctx, tn.ID, f)
						must(t, err)
						for _, k := range l.Items {
							byPage = append(byPage, k.ID)
						}
					}
					f.Page = keyward.Page{Number: 1, Size: 2}
					for range 20 {
						l, err := db.ListAPIKeys(ctx, tn.ID, f)
						must(t, err)
						for _, k := range l.Items {
							byCursor = append(byCursor, k.ID)
						}
						if f.Cursor = l.NextCursor; f.Cursor == "" {
							break
						}
					}
					if !slices.Equal(byPage, want) {
						t.Errorf("%s %q, cap %d, by page: got %v, want %v", tc.sort, tc.status, limit, byPage, want)
					}
					if !slices.Equal(byCursor, want) {
						t.Errorf("%s %q, cap %d, by cursor: got %v, want %v", tc.sort, tc.status, limit, byCursor, want)
					}
				}()
			}
		}
	})
}
