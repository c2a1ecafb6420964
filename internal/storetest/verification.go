package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// testKeyForVerification checks the verify path's one read: the key as
// GetAPIKeyBySecretHash returns it (permissions as ids), its tenant's and
// owner's state, and a catalog version that changes with the catalog only.
func testKeyForVerification(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "verification")
	other := createTenant(t, s, "verification-other")
	read := createPermission(t, s, tn.ID, "orders:read")
	write := createPermission(t, s, tn.ID, "orders.write")
	all := createPermission(t, s, tn.ID, "orders_all", read.ID, write.ID)
	u := createUser(t, s, tn.ID, "alice", *read, *write)
	must(t, "SetUserRateLimits", s.SetUserRateLimits(ctx, tn.ID, u.ID, []keyward.NamedRateLimit{
		{Name: "daily", Limit: 1000, WindowSeconds: 86400}, {Name: "burst.1-x", Limit: 10, WindowSeconds: 1}}))
	k := createKey(t, s, tn.ID, ownedBy(u), func(k *keyward.APIKey) {
		k.Permissions = []keyward.Permission{*all, *read}
		k.PrevSecretHash = randomBytes(32)
		k.PrevSecretExpiresAt = ptr(at(3600e9))
		k.RateLimit = &keyward.RateLimit{Limit: 5, WindowSeconds: 60}
		k.AllowedCIDRs = []string{"10.0.0.0/8"}
		k.Audiences = keyward.Audiences{"api"}
	})
	credits := &keyward.Credits{Remaining: 42, Refill: &keyward.Refill{Amount: 100, Interval: "monthly", DayOfMonth: 3}, Period: 7}
	must(t, "SetKeyCredits", s.SetKeyCredits(ctx, tn.ID, k.ID, credits))
	must(t, "SetKeyRateLimits", s.SetKeyRateLimits(ctx, tn.ID, k.ID, []keyward.NamedRateLimit{{Name: "minute", Limit: 60, WindowSeconds: 60}}))
	ownerless := createKey(t, s, other.ID)

	onlyIDs := func(perms []keyward.Permission) []keyward.Permission {
		out := []keyward.Permission{}
		for _, p := range perms {
			out = append(out, keyward.Permission{ID: p.ID})
		}
		slices.SortFunc(out, func(a, b keyward.Permission) int { return strings.Compare(a.ID, b.ID) })
		return out
	}
	for _, hash := range [][]byte{k.SecretHash, k.PrevSecretHash} {
		rec, err := s.KeyForVerification(ctx, hash)
		must(t, "KeyForVerification", err)
		want, err := s.GetAPIKeyBySecretHash(ctx, hash)
		must(t, "GetAPIKeyBySecretHash", err)
		want.Permissions = onlyIDs(want.Permissions)
		check(t, "KeyForVerification key", rec.Key, keyward.VerificationKey(want))
		check(t, "KeyForVerification tenant", [2]bool{rec.TenantActive, rec.TenantRoot}, [2]bool{true, false})
		check(t, "KeyForVerification owner", rec.Owner, &keyward.User{ID: u.ID, TenantID: tn.ID, Level: u.Level, IsActive: true,
			Permissions: onlyIDs(u.Permissions), RateLimits: []keyward.NamedRateLimit{
				{Name: "burst.1-x", Limit: 10, WindowSeconds: 1}, {Name: "daily", Limit: 1000, WindowSeconds: 86400}}})
	}
	rec, err := s.KeyForVerification(ctx, ownerless.SecretHash)
	must(t, "KeyForVerification of an ownerless key", err)
	check(t, "ownerless key", rec.Key, keyward.VerificationKey(ownerless))
	if rec.Owner != nil {
		t.Errorf("ownerless key: owner %+v", rec.Owner)
	}
	_, err = s.KeyForVerification(ctx, randomBytes(32))
	wantCode(t, "KeyForVerification of an unknown hash", err, keyward.ENOTFOUND)
	_, err = s.KeyForVerification(ctx, nil)
	wantCode(t, "KeyForVerification of no hash", err, keyward.ENOTFOUND)

	// The tenant's and the owner's state.
	tn.IsActive, tn.Version = false, 2
	must(t, "UpdateTenant", s.UpdateTenant(ctx, tn, 1))
	u.IsActive, u.Level, u.Version = false, 2, 2
	must(t, "UpdateUser", s.UpdateUser(ctx, u, 1))
	rec, err = s.KeyForVerification(ctx, k.SecretHash)
	must(t, "KeyForVerification", err)
	if rec.TenantActive || rec.Owner == nil || rec.Owner.IsActive || rec.Owner.Level != 2 {
		t.Errorf("after deactivating: tenant active %v, owner %+v", rec.TenantActive, rec.Owner)
	}

	// The catalog version changes with the catalog, and only with it.
	version := func() string {
		t.Helper()
		rec, err := s.KeyForVerification(ctx, k.SecretHash)
		must(t, "KeyForVerification", err)
		return rec.CatalogVersion
	}
	seen := map[string]string{}
	changed := func(what string) {
		t.Helper()
		v := version()
		if prev, ok := seen[v]; ok {
			t.Errorf("after %s, the catalog version is the one after %s", what, prev)
		}
		seen[v] = what
	}
	changed("the start")
	if v := version(); seen[v] != "the start" {
		t.Errorf("the catalog version changed without a change")
	}
	createPermission(t, s, other.ID, "elsewhere")
	u.Level, u.Version = 3, 3
	must(t, "UpdateUser", s.UpdateUser(ctx, u, 2))
	if v := version(); seen[v] != "the start" {
		t.Errorf("the catalog version changed with another tenant's catalog or a user")
	}
	extra := createPermission(t, s, tn.ID, "extra")
	changed("a create")
	extra.Name = "extra2"
	must(t, "UpdatePermission", s.UpdatePermission(ctx, extra))
	changed("a rename")
	all.Children = []string{read.ID}
	must(t, "UpdatePermission", s.UpdatePermission(ctx, all))
	changed("a member removed")
	all.Children = []string{read.ID, extra.ID}
	must(t, "UpdatePermission", s.UpdatePermission(ctx, all))
	changed("a member added")
	all.Children = []string{write.ID, extra.ID}
	must(t, "UpdatePermission", s.UpdatePermission(ctx, all))
	changed("a member replaced")
	all.Children = []string{read.ID, write.ID} // as after the rename: the version may repeat
	must(t, "UpdatePermission", s.UpdatePermission(ctx, all))
	if prev, ok := seen[version()]; ok && prev != "a rename" {
		t.Errorf("after the members of a rename's catalog, the catalog version is the one after %s", prev)
	}
	must(t, "DeletePermission", s.DeletePermission(ctx, tn.ID, extra.ID))
	// The catalog is now as it was at the start: the version may be the
	// start's again (a version names a catalog, not a moment), never one
	// of a catalog that differs.
	if prev, ok := seen[version()]; ok && prev != "the start" {
		t.Errorf("after a delete, the catalog version is the one after %s", prev)
	}
}
