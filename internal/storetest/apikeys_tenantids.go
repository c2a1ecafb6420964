package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// testAPIKeySameIDs: key ids are unique within a tenant only (a PUT may
// choose one). Two tenants' keys with one id are two keys: each keeps its
// own permissions, holder, last use and usage, and nothing done to one
// reaches the other.
func testAPIKeySameIDs(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	ta, tb := createTenant(t, s, "same-id-a"), createTenant(t, s, "same-id-b")
	pa, pb := createPermission(t, s, ta.ID, "same.a"), createPermission(t, s, tb.ID, "same.b")
	ua, ub := createUser(t, s, ta.ID, "holder-a"), createUser(t, s, tb.ID, "holder-b")
	id := secret.NewID()
	a := createKey(t, s, ta.ID, ownedBy(ua), func(k *keyward.APIKey) {
		k.ID, k.Name, k.Permissions, k.SecretHolderID, k.SecretHolderTenantID = id, "a", []keyward.Permission{*pa}, id, ta.ID
	})
	b := createKey(t, s, tb.ID, ownedBy(ub), func(k *keyward.APIKey) {
		k.ID, k.Name, k.Permissions, k.SecretHolderID, k.SecretHolderTenantID = id, "b", []keyward.Permission{*pb}, id, tb.ID
	})
	// A key of B that A's key id (acting in B, as a root admin's key may)
	// was shown the previous secret of.
	c := createKey(t, s, tb.ID, func(k *keyward.APIKey) {
		k.Name, k.PrevSecretHash, k.PrevSecretExpiresAt = "c", randomBytes(32), ptr(at(time.Hour))
		k.PrevSecretHolderID, k.PrevSecretHolderTenantID = id, ta.ID
	})
	check(t, "tenant A's key", mustGetKey(t, s, ta.ID, id), a)
	check(t, "tenant B's key", mustGetKey(t, s, tb.ID, id), b)

	// A third key with the id in A is still a duplicate.
	wantCode(t, "CreateAPIKey of A's id again in A", s.CreateAPIKey(ctx, newKey(ta.ID, func(k *keyward.APIKey) { k.ID = id })), keyward.ECONFLICT)

	t.Run("lists and conditions see their own tenant's key", func(t *testing.T) {
		shownA := []*keyward.APIKey{a, c}
		if tb.ID < ta.ID {
			shownA = []*keyward.APIKey{c, a}
		}
		for _, tt := range []struct {
			tenant, perm string
			want         *keyward.APIKey
			shown        []*keyward.APIKey
		}{{ta.ID, "same.a", a, shownA}, {tb.ID, "same.b", b, []*keyward.APIKey{b}}} {
			l, err := s.ListAPIKeys(ctx, tt.tenant, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10}, Permission: tt.perm})
			must(t, "ListAPIKeys", err)
			check(t, "keys holding "+tt.perm, l.Items, []*keyward.APIKey{tt.want})
			held, err := s.ListAPIKeysBySecretHolder(ctx, tt.tenant, id)
			must(t, "ListAPIKeysBySecretHolder", err)
			check(t, "keys shown to key "+tt.want.Name, held, tt.shown)
		}
	})

	t.Run("an update in A leaves B", func(t *testing.T) {
		changed := *a
		changed.Name, changed.Permissions, changed.IsActive, changed.Version = "a2", []keyward.Permission{}, false, a.Version+1
		must(t, "UpdateAPIKey", s.UpdateAPIKey(ctx, &changed, a.Version))
		check(t, "A's key", mustGetKey(t, s, ta.ID, id), &changed)
		check(t, "B's key", mustGetKey(t, s, tb.ID, id), b)
		*a = changed
		for _, tt := range []struct {
			tenant string
			want   bool
		}{{ta.ID, false}, {tb.ID, true}} {
			got, err := s.PrincipalActive(ctx, keyward.KindAPIKey, tt.tenant, id)
			must(t, "PrincipalActive", err)
			if got != tt.want {
				t.Errorf("PrincipalActive(%s): got %v, want %v", tt.tenant, got, tt.want)
			}
		}
	})

	t.Run("last use and usage are per tenant", func(t *testing.T) {
		must(t, "TouchAPIKeys", s.TouchAPIKeys(ctx, map[keyward.KeyRef]time.Time{{TenantID: tb.ID, ID: id}: at(time.Hour)}))
		must(t, "AddKeyUsage", s.AddKeyUsage(ctx, t0, map[keyward.KeyRef]int64{{TenantID: ta.ID, ID: id}: 3, {TenantID: tb.ID, ID: id}: 5}, nil))
		check(t, "A's key (untouched)", mustGetKey(t, s, ta.ID, id), a)
		wantB := *b
		wantB.LastUsedAt = ptr(at(time.Hour))
		check(t, "B's key (touched)", mustGetKey(t, s, tb.ID, id), &wantB)
		for _, tt := range []struct {
			tenant string
			want   int64
		}{{ta.ID, 3}, {tb.ID, 5}} {
			got, err := s.KeyUsage(ctx, tt.tenant, id, t0.Add(-time.Hour))
			must(t, "KeyUsage", err)
			check(t, "usage in "+tt.tenant, got, []keyward.UsageCount{{Start: t0.Truncate(time.Hour), Count: tt.want}})
		}
		*b = wantB
	})

	t.Run("deleting A's key leaves B's", func(t *testing.T) {
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, ta.ID, id, a.Version))
		_, err := s.GetAPIKey(ctx, ta.ID, id)
		wantCode(t, "GetAPIKey of A's deleted key", err, keyward.ENOTFOUND)
		check(t, "B's key", mustGetKey(t, s, tb.ID, id), b)
		got, err := s.KeyUsage(ctx, tb.ID, id, t0.Add(-time.Hour))
		must(t, "KeyUsage", err)
		check(t, "B's usage", got, []keyward.UsageCount{{Start: t0.Truncate(time.Hour), Count: 5}})
		wantCode(t, "DeleteAPIKey of A's id in A again", s.DeleteAPIKey(ctx, ta.ID, id, a.Version), keyward.ENOTFOUND)
	})
}
