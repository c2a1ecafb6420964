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

// TestListAPIKeysNameWalk checks that a name search over many keys gives
// the keys the full sort gives, by page and by cursor, whether the
// bounded walk of its order fills the page (names matching early in the
// order) or the list falls back to the name's matches, sorted (matching
// names far down the order: on PostgreSQL, the set of the name index),
// and that on PostgreSQL both routes are taken.
func TestListAPIKeysNameWalk(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, true)
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "namewalk", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		perm := keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "orders_read", ContainerID: "c", CreatedAt: now}
		must(t, db.CreatePermission(ctx, &perm))
		owner := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: "owner", Level: 1, IsActive: true,
			CreatedAt: now, UpdatedAt: now, Version: 1, Permissions: []keyward.Permission{}}
		must(t, db.CreateUser(ctx, owner))
		// The oldest keys are "legacy", the newest "service": a search for
		// "legacy" finds its keys after every "service" key of the order
		// (newest first).
		for i := range 40 {
			k := benchKey(tn.ID, nil, now.Add(time.Duration(i/3)*time.Second)) // ties of created_at: the id orders
			k.Name = fmt.Sprintf("service %d", i)
			if i < 12 {
				k.Name = fmt.Sprintf("Legacy batch %d", i)
			}
			k.IsActive = i%5 != 0
			if i%2 == 0 {
				k.Permissions = []keyward.Permission{perm}
			}
			if i%4 != 3 {
				k.OwnerID = owner.ID
			}
			must(t, db.CreateAPIKey(ctx, k))
		}
		ids := func(keys []*keyward.APIKey) []string {
			out := []string{}
			for _, k := range keys {
				out = append(out, k.ID)
			}
			return out
		}
		routes := map[string]int{}
		defer sqlstore.SetListQueryHook(func(query string, _ []any) {
			switch {
			case strings.Contains(query, "/* name set */"):
				routes["set"]++
			case strings.Contains(query, "/* bounded walk */"):
				routes["bounded"]++
			}
		})()
		for _, f := range []keyward.APIKeyFilter{
			{Query: "legacy", OwnerID: owner.ID},
			{Query: "LEGACY batch", OwnerID: owner.ID, Status: keyward.StatusActive},
			{Query: "legacy"},
			{Query: "service", OwnerID: owner.ID},
			{Query: "ice", Permission: "orders_read", Sort: "createdAt"},
			{Query: "legacy", Permission: "orders_read", Sort: "name"},
			{Query: "legacy", OwnerID: owner.ID, Sort: "-id"},
		} {
			all := f
			all.Page, all.Now = keyward.Page{Number: 1, Size: 100}, now
			want, err := db.ListAPIKeys(ctx, tn.ID, all)
			must(t, err)
			if len(want.Items) < 4 || want.TotalEstimated {
				t.Fatalf("%+v: %d keys (estimated %v): a weak test", f, len(want.Items), want.TotalEstimated)
			}
			func() {
				defer sqlstore.SetListCountCap(3)()
				defer sqlstore.SetBoundedWalkKeys(8)()
				var got []*keyward.APIKey
				for n := 1; n <= 20; n++ {
					p := f
					p.Page, p.Now = keyward.Page{Number: n, Size: 2}, now
					l, err := db.ListAPIKeys(ctx, tn.ID, p)
					must(t, err)
					got = append(got, l.Items...)
				}
				if !slices.Equal(ids(got), ids(want.Items)) {
					t.Errorf("%+v by page: got %v, want %v", f, ids(got), ids(want.Items))
				}
				got = nil
				c := f
				c.Page, c.Now = keyward.Page{Number: 1, Size: 3}, now
				for range 20 {
					l, err := db.ListAPIKeys(ctx, tn.ID, c)
					must(t, err)
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
		if db.Dialect() == sqlstore.DialectPostgres && (routes["set"] == 0 || routes["bounded"] == 0) {
			t.Errorf("routes taken: %v, want both the bounded walk and the name's set", routes)
		}
	})
}
