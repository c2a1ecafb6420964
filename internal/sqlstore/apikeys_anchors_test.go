package sqlstore_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestListAPIKeysAnchors checks that a page by number found from the page
// anchors is the page OFFSET finds, for random filters, sorts, page sizes
// and pages, also after the keys change between two lists: keys inserted,
// deleted, renamed, deactivated, their permissions and last uses changed,
// an owner renamed (each written through another replica, whose writes
// the lister learns only from the database), and time passing an expiry.
func TestListAPIKeysAnchors(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, true)     // lists, and keeps the anchors
		other := sqltest.Open(t, dsn, false) // another replica: writes
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "anchors", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		perm := keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "orders_read", ContainerID: "c", CreatedAt: now}
		must(t, db.CreatePermission(ctx, &perm))
		var owners []*keyward.User
		for i := range 3 {
			u := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: fmt.Sprintf("owner-%d", i), Level: 1, IsActive: true,
				CreatedAt: now, UpdatedAt: now, Version: 1, Permissions: []keyward.Permission{}}
			must(t, db.CreateUser(ctx, u))
			owners = append(owners, u)
		}
		rng := rand.New(rand.NewPCG(13, 22))
		var keys []*keyward.APIKey
		newKey := func() *keyward.APIKey {
			k := benchKey(tn.ID, nil, now.Add(time.Duration(rng.IntN(40))*time.Second))
			k.Name = fmt.Sprintf("%s service %d", []string{"Billing", "search", "Payments", "alpha"}[rng.IntN(4)], rng.IntN(50))
			k.IsActive = rng.IntN(5) != 0
			switch rng.IntN(4) {
			case 0:
				k.ExpiresAt = ptrTo(now.Add(-time.Hour))
			case 1:
				k.ExpiresAt = ptrTo(now.Add(time.Duration(1+rng.IntN(3)) * time.Minute))
			}
			if rng.IntN(3) == 0 {
				k.LastUsedAt = ptrTo(now.Add(time.Duration(rng.IntN(30)) * time.Second))
			}
			if rng.IntN(2) == 0 {
				k.Permissions = []keyward.Permission{perm}
			}
			if o := rng.IntN(4); o < len(owners) {
				k.OwnerID = owners[o].ID
			}
			return k
		}
		for range 70 {
			k := newKey()
			must(t, db.CreateAPIKey(ctx, k))
			keys = append(keys, k)
		}
		defer sqlstore.SetListCountCap(3)() // every list walks its order
		defer sqlstore.SetAnchorStride(4)()
		ids := func(keys []*keyward.APIKey) []string {
			out := []string{}
			for _, k := range keys {
				out = append(out, k.ID)
			}
			return out
		}
		filters := []keyward.APIKeyFilter{
			{}, {Sort: "name"}, {Sort: "-name"}, {Sort: "createdAt"}, {Sort: "lastUsedAt"}, {Sort: "-lastUsedAt"},
			{Sort: "expiresAt"}, {Sort: "-expiresAt"}, {Sort: "id"}, {Sort: "-isActive,name"}, {Sort: "userName"},
			{Sort: "-userName"}, {Sort: "version,-name"},
			{Status: keyward.StatusActive}, {Status: keyward.StatusExpired, Sort: "name"},
			{Status: keyward.StatusActive, Sort: "-lastUsedAt"}, {Status: keyward.StatusInactive},
			{Query: "service"}, {Query: "ice", Sort: "name"}, {Permission: "orders_read"},
			{Permission: "orders_read", Status: keyward.StatusActive, Sort: "userName"},
			{OwnerID: owners[0].ID}, {OwnerID: owners[1].ID, Sort: "-name"},
			{Conditions: []keyward.Condition{{Field: "userName", Op: "contains", Values: []any{"owner"}}}, Sort: "name"},
			{Status: keyward.StatusInactive, Sort: "expiresAt"}, {Permission: "orders_read", Sort: "-lastUsedAt"},
		}
		// chained: anchors found at once (PostgreSQL); of them, in a list
		// sorted by a nullable field, among the values and among the NULLs;
		// in a list sorted by the owner's name, among the keys without an
		// owner and among the owners.
		anchored, chained, valueChains, nullChains, unownedChains, ownedChains := 0, 0, 0, 0, 0, 0
		defer sqlstore.SetListQueryHook(func(query string, _ []any) {
			if strings.HasPrefix(query, "WITH RECURSIVE") {
				chained++
				switch {
				case strings.Contains(query, " IS NULL) IS FALSE"):
					valueChains++
				case strings.Contains(query, "_at IS NULL ORDER BY"):
					nullChains++
				case strings.Contains(query, "SELECT '' AS s0"):
					unownedChains++
				case strings.Contains(query, "lower(u.user_name) AS s0"):
					ownedChains++
				}
			}
		})()
		check := func(step string, at time.Time) {
			t.Helper()
			for i := range 3 * len(filters) {
				f := filters[i%len(filters)]
				f.Page = keyward.Page{Number: 1 + rng.IntN(16), Size: 1 + rng.IntN(6)}
				f.Now = at
				got, err := db.ListAPIKeys(ctx, tn.ID, f)
				must(t, err)
				var want keyward.List[*keyward.APIKey]
				func() {
					defer sqlstore.SetAnchorStride(1 << 30)() // plain OFFSET
					want, err = db.ListAPIKeys(ctx, tn.ID, f)
				}()
				must(t, err)
				if !slices.Equal(ids(got.Items), ids(want.Items)) || (got.NextCursor == "") != (want.NextCursor == "") {
					t.Fatalf("%s: %+v: got %v (more: %v), want %v (more: %v)", step, f, ids(got.Items), got.NextCursor != "",
						ids(want.Items), want.NextCursor != "")
				}
				if len(want.Items) > 0 && f.Page.Offset() >= 4 {
					anchored++
				}
			}
		}
		check("first lists", now)
		check("again, from the anchors", now)
		if n := db.Anchors(); n == 0 || anchored < 20 || db.Dialect() == sqlstore.DialectPostgres && (chained == 0 || valueChains == 0 || nullChains == 0 || unownedChains == 0 || ownedChains == 0) {
			t.Fatalf("%d anchors kept, %d non-empty deep pages, %d chains of anchors (%d among values, %d among NULLs, "+
				"%d among keys without an owner, %d among owners): a weak test",
				n, anchored, chained, valueChains, nullChains, unownedChains, ownedChains)
		}
		// Keys without permissions: only their own rows change.
		var added []*keyward.APIKey
		for i := range 3 {
			k := newKey()
			k.Name, k.Permissions = fmt.Sprintf("aaa first %d", i), nil
			k.CreatedAt = now.Add(time.Hour) // first in the default order
			must(t, other.CreateAPIKey(ctx, k))
			added = append(added, k)
		}
		check("after inserts", now)
		for _, k := range added {
			must(t, other.DeleteAPIKey(ctx, tn.ID, k.ID, k.Version))
		}
		check("after deleting them", now)
		for _, i := range []int{3, 17, 40} {
			must(t, other.DeleteAPIKey(ctx, tn.ID, keys[i].ID, keys[i].Version))
		}
		check("after deletes", now)
		update := func(k *keyward.APIKey, change func(k *keyward.APIKey)) {
			t.Helper()
			change(k)
			k.Version++
			must(t, other.UpdateAPIKey(ctx, k, k.Version-1))
		}
		update(keys[5], func(k *keyward.APIKey) { k.Name = "AAA renamed" })
		check("after a rename", now)
		update(keys[6], func(k *keyward.APIKey) { k.IsActive = !k.IsActive })
		update(keys[7], func(k *keyward.APIKey) { k.ExpiresAt = ptrTo(now.Add(-time.Minute)) })
		check("after a deactivation and an expiry moved", now)
		update(keys[8], func(k *keyward.APIKey) {
			if len(k.Permissions) == 0 {
				k.Permissions = []keyward.Permission{perm}
			} else {
				k.Permissions = []keyward.Permission{}
			}
		})
		check("after a permission changed", now)
		must(t, other.TouchAPIKeys(ctx, map[keyward.KeyRef]time.Time{
			{TenantID: tn.ID, ID: keys[9].ID}: now.Add(time.Hour), {TenantID: tn.ID, ID: keys[10].ID}: now.Add(2 * time.Hour)}))
		check("after last uses", now)
		owners[2].UserName = "a-owner"
		owners[2].Version++
		must(t, other.UpdateUser(ctx, owners[2], owners[2].Version-1))
		check("after an owner renamed", now)
		check("after keys expired", now.Add(150*time.Second))
		check("before they expired again", now)
	})
}
