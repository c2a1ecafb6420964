package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// testAPIKeyCursor checks keyset paging (APIKeyFilter.Cursor): following
// NextCursor from the first page visits every matching key exactly once,
// in the order of one big page, for every sort; keys created meanwhile
// are never seen twice and never displace another; filters and the tenant
// still apply to the keys after a cursor.
func testAPIKeyCursor(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "cursor")
	other := createTenant(t, s, "cursor-other")
	read := createPermission(t, s, tn.ID, "read")
	u1 := createUser(t, s, tn.ID, "Zed")
	u2 := createUser(t, s, tn.ID, "amy")
	h := time.Hour
	for i := range 23 {
		createKey(t, s, tn.ID, func(k *keyward.APIKey) {
			k.Name = []string{"Alpha", "alpha", "beta", "Gamma 100%", "gamma"}[i%5] + fmt.Sprint(i%3) // ties in name
			k.CreatedAt = at(time.Duration(i%7) * h)                                                  // ties in time
			k.IsActive = i%4 != 0
			k.Version = 1 + i%3
			if i%3 == 0 {
				k.LastUsedAt = ptr(at(time.Duration(i%2) * h)) // NULLs and ties
			}
			if i%5 == 1 {
				k.ExpiresAt = ptr(at(-h))
			}
			switch i % 3 {
			case 0:
				ownedBy(u1)(k)
			case 1:
				ownedBy(u2)(k)
			}
			if i%2 == 0 {
				k.Permissions = []keyward.Permission{*read}
			}
		})
		createKey(t, s, other.ID, func(k *keyward.APIKey) { k.Name = "alpha other" })
	}
	list := func(t *testing.T, tenantID string, f keyward.APIKeyFilter) keyward.List[*keyward.APIKey] {
		t.Helper()
		f.Now = t0
		l, err := s.ListAPIKeys(ctx, tenantID, f)
		must(t, "ListAPIKeys", err)
		return l
	}
	// walk follows the cursors of f from its first page, calling between
	// (if not nil) after each page.
	walk := func(t *testing.T, tenantID string, f keyward.APIKeyFilter, size int, between func()) []*keyward.APIKey {
		t.Helper()
		f.Page = keyward.Page{Number: 1, Size: size}
		var all []*keyward.APIKey
		for range 100 {
			l := list(t, tenantID, f)
			if len(l.Items) > size {
				t.Fatalf("got %d keys in a page of %d", len(l.Items), size)
			}
			all = append(all, l.Items...)
			if l.NextCursor == "" {
				return all
			}
			if len(l.Items) < size {
				t.Fatalf("a short page (%d of %d) with a next cursor", len(l.Items), size)
			}
			if between != nil {
				between()
			}
			f.Cursor = l.NextCursor
		}
		t.Fatal("the cursors never end")
		return nil
	}

	sorts := []string{"", "name", "-name", "createdAt", "-createdAt", "lastUsedAt", "-lastUsedAt", "expiresAt", "-expiresAt",
		"id", "-id", "isActive", "-isActive", "version", "-version", "userName", "-userName", "clientId", "description",
		"deviceName", "name,-createdAt", "-lastUsedAt,name", "isActive,-expiresAt,version"}
	t.Run("every sort", func(t *testing.T) {
		for _, sort := range sorts {
			want := list(t, tn.ID, keyward.APIKeyFilter{Sort: sort, Page: keyward.Page{Number: 1, Size: 100}}).Items
			for _, size := range []int{1, 4, 23} {
				got := walk(t, tn.ID, keyward.APIKeyFilter{Sort: sort}, size, nil)
				check(t, fmt.Sprintf("sort %q by %d", sort, size), keyIDs(got), keyIDs(want))
			}
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, f := range []keyward.APIKeyFilter{
			{Status: keyward.StatusInactive},
			{Status: keyward.StatusActive, Sort: "name"},
			{Status: keyward.StatusExpired, Sort: "-lastUsedAt"},
			{Query: "ALPHA", Sort: "-createdAt"},
			{Query: "a 1", Sort: "name"},
			{Query: "0%", Sort: "id"},
			{Permission: "read", Sort: "-name"},
			{OwnerID: u2.ID, Sort: "createdAt"},
			{Query: "gam", Permission: "read", OwnerID: u1.ID, Sort: "-version"},
		} {
			all := f
			all.Page = keyward.Page{Number: 1, Size: 100}
			want := list(t, tn.ID, all).Items
			if len(want) == 0 {
				t.Fatalf("%+v matches nothing: a weak test", f)
			}
			got := walk(t, tn.ID, f, 2, nil)
			check(t, fmt.Sprintf("%+v", f), keyIDs(got), keyIDs(want))
			for _, k := range got {
				if k.TenantID != tn.ID {
					t.Fatalf("key %s of tenant %s in the list of %s", k.ID, k.TenantID, tn.ID)
				}
			}
		}
	})

	t.Run("concurrent inserts", func(t *testing.T) {
		for _, sort := range []string{"", "name", "createdAt", "-lastUsedAt"} {
			before := list(t, tn.ID, keyward.APIKeyFilter{Sort: sort, Page: keyward.Page{Number: 1, Size: 1000}}).Items
			n := 0
			var created []string
			got := walk(t, tn.ID, keyward.APIKeyFilter{Sort: sort}, 3, func() {
				// New keys on both sides of the cursor.
				n++
				for _, d := range []time.Duration{-10 * h, 10 * h} {
					k := createKey(t, s, tn.ID, func(k *keyward.APIKey) {
						k.Name = fmt.Sprintf("%c new %s %d", "ABzz"[n%4], sort, n)
						k.CreatedAt = at(d + time.Duration(n)*time.Second)
						if n%2 == 0 {
							k.LastUsedAt = ptr(at(d))
						}
					})
					created = append(created, k.ID)
				}
			})
			ids := keyIDs(got)
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("sort %q: key %s listed twice", sort, id)
				}
				seen[id] = true
			}
			// Every key that was there is listed, in its order.
			var old []string
			for _, id := range ids {
				if !slices.Contains(created, id) {
					old = append(old, id)
				}
			}
			check(t, fmt.Sprintf("sort %q: the keys there before", sort), old, keyIDs(before))
		}
	})

	t.Run("tenant", func(t *testing.T) {
		// A cursor of one tenant, used in another, only positions the
		// other tenant's own list.
		l := list(t, tn.ID, keyward.APIKeyFilter{Sort: "name", Page: keyward.Page{Number: 1, Size: 1}})
		if l.NextCursor == "" {
			t.Fatal("no cursor")
		}
		got := list(t, other.ID, keyward.APIKeyFilter{Sort: "name", Cursor: l.NextCursor, Page: keyward.Page{Number: 1, Size: 100}})
		if len(got.Items) == 0 {
			t.Fatal("the other tenant's keys after the cursor are missing")
		}
		for _, k := range got.Items {
			if k.TenantID != other.ID {
				t.Fatalf("key %s of tenant %s listed in tenant %s", k.ID, k.TenantID, other.ID)
			}
		}
	})

	t.Run("invalid", func(t *testing.T) {
		l := list(t, tn.ID, keyward.APIKeyFilter{Sort: "name", Page: keyward.Page{Number: 1, Size: 1}})
		for _, f := range []keyward.APIKeyFilter{
			{Sort: "-name", Cursor: l.NextCursor},
			{Sort: "name", Cursor: "not a cursor"},
			{Sort: "name", Cursor: "eyJzIjoibmFtZSIsInYiOltdfQ"}, // {"s":"name","v":[]}
			{Sort: "createdAt", Cursor: "eyJzIjoiY3JlYXRlZEF0IiwidiI6W3siayI6InMiLCJ2IjoieCJ9LHsiayI6InMiLCJ2IjoieCJ9XX0"},
		} {
			f.Now, f.Page = t0, keyward.Page{Number: 1, Size: 10}
			_, err := s.ListAPIKeys(ctx, tn.ID, f)
			wantCode(t, "cursor "+f.Cursor, err, keyward.EINVALID)
		}
	})
}
