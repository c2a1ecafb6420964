// Package storetest is the contract suite of keyward.Store: every backend
// must pass Run. It checks what store.go promises, plus what the Service and
// clients rely on without it being spelled out there:
//
//   - times come back in UTC, equal (==) to what was stored;
//   - User.Permissions and APIKey.Permissions come back as a non-nil slice
//     of full Permission objects (with Children) ordered by name;
//   - APIKey.Meta comes back byte for byte, nil as nil; empty secret
//     material comes back nil;
//   - Update* store every field but ID, TenantID and CreatedAt (and, for a
//     key, CreatedBy);
//   - lists return a non-nil Items slice; "case-insensitive" matches fold
//     at least ASCII letters, and %, _ and \ in a query match themselves.
package storetest

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// Run runs the whole suite against stores from open, which must return a
// fresh, empty, migrated store released when t ends. open is called once
// per group of subtests, from parallel tests.
func Run(t *testing.T, open func(t *testing.T) keyward.Store) {
	groups := []struct {
		name string
		fn   func(t *testing.T, s keyward.Store)
	}{
		{"Tenants", testTenants},
		{"TenantList", testTenantList},
		{"Permissions", testPermissions},
		{"Users", testUsers},
		{"UserList", testUserList},
		{"APIKeys", testAPIKeys},
		{"APIKeyUpdates", testAPIKeyUpdates},
		{"APIKeyList", testAPIKeyList},
		{"APIKeyConditions", testAPIKeyConditions},
		{"APIKeyCursor", testAPIKeyCursor},
		{"APIKeySameIDs", testAPIKeySameIDs},
		{"APIKeyAllowlist", testAPIKeyAllowlist},
		{"APIKeysBySecretHashes", testAPIKeysBySecretHashes},
		{"KeyForVerification", testKeyForVerification},
		{"Idempotency", testIdempotency},
		{"Audit", testAudit},
		{"Tx", testTx},
		{"SigningKeys", testSigningKeys},
		{"Revocations", testRevocations},
		{"SecretGeneration", testSecretGeneration},
		{"KeyUsage", testKeyUsage},
		{"KeyOutcomes", testKeyOutcomes},
		{"RateLimits", testRateLimits},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.fn(t, open(t))
		})
	}
}

// t0 is the reference time of the suite: UTC, with microseconds.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// at returns t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

// cmpOpts compare times with ==: same instant, same (UTC) location.
var cmpOpts = cmp.Options{cmp.Comparer(func(a, b time.Time) bool { return a == b })}

// check reports a difference between got and want.
func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", what, d)
	}
}

// wantCode fails t unless err has the keyward error code code ("" for nil).
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := keyward.ErrorCode(err); got != code {
		t.Fatalf("%s: got error %v (code %q), want code %q", what, err, got, code)
	}
}

// must fails t on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// createTenant stores a tenant named name and returns it.
func createTenant(t *testing.T, s keyward.Store, name string) *keyward.Tenant {
	t.Helper()
	tn := &keyward.Tenant{ID: secret.NewID(), Name: name, Prefix: "kw", IsActive: true, CreatedAt: t0,
		UpdatedAt: t0, Version: 1}
	must(t, "creating tenant "+name, s.CreateTenant(t.Context(), tn))
	return tn
}

// createPermission stores a permission of tenantID named name, composed of
// children, and returns it as the store should return it.
func createPermission(t *testing.T, s keyward.StoreTx, tenantID, name string, children ...string) *keyward.Permission {
	t.Helper()
	p := &keyward.Permission{ID: secret.NewID(), TenantID: tenantID, Name: name, ContainerID: "c",
		Composite: len(children) > 0, Children: children, CreatedAt: t0}
	must(t, "creating permission "+name, s.CreatePermission(t.Context(), p))
	return p
}

// createUser stores a user of tenantID holding perms and returns it as the
// store should return it.
func createUser(t *testing.T, s keyward.StoreTx, tenantID, userName string, perms ...keyward.Permission) *keyward.User {
	t.Helper()
	u := &keyward.User{ID: secret.NewID(), TenantID: tenantID, UserName: userName, PasswordHash: "$argon2id$x",
		Level: 4, Permissions: byName(perms), IsActive: true, CreatedAt: t0, UpdatedAt: t0, Version: 1}
	must(t, "creating user "+userName, s.CreateUser(t.Context(), u))
	return u
}

// newKey returns a minimal key of tenantID, changed by mods, not stored.
func newKey(tenantID string, mods ...func(k *keyward.APIKey)) *keyward.APIKey {
	k := &keyward.APIKey{ID: secret.NewID(), TenantID: tenantID, ClientID: "kw_id_" + secret.NewID(), Name: "key",
		Permissions: []keyward.Permission{}, IsActive: true, TokenLifespanSeconds: 3600, Meta: []byte("{}"),
		SecretHint: "abcd", CreatedAt: t0, UpdatedAt: t0, CreatedBy: secret.NewID(), Version: 1, SecretGeneration: 1,
		SecretHash: randomBytes(32)}
	for _, m := range mods {
		m(k)
	}
	return k
}

// createKey stores newKey(tenantID, mods...) and returns it as the store
// should return it (with UserName as given by the caller).
func createKey(t *testing.T, s keyward.StoreTx, tenantID string, mods ...func(k *keyward.APIKey)) *keyward.APIKey {
	t.Helper()
	k := newKey(tenantID, mods...)
	k.Permissions = byName(k.Permissions)
	must(t, "creating key "+k.Name, s.CreateAPIKey(t.Context(), k))
	return k
}

// ownedBy makes a key owned by u.
func ownedBy(u *keyward.User) func(*keyward.APIKey) {
	return func(k *keyward.APIKey) { k.OwnerID, k.UserName = u.ID, u.UserName }
}

// byName returns perms sorted by name, as the store returns them; never nil.
func byName(perms []keyward.Permission) []keyward.Permission {
	out := append([]keyward.Permission{}, perms...)
	slices.SortFunc(out, func(a, b keyward.Permission) int {
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// ids returns the ids of keys, in order.
func keyIDs(keys []*keyward.APIKey) []string {
	out := []string{}
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

// mustGetKey reads key id of tenantID.
func mustGetKey(t *testing.T, s keyward.StoreTx, tenantID, id string) *keyward.APIKey {
	t.Helper()
	k, err := s.GetAPIKey(t.Context(), tenantID, id)
	must(t, "reading key "+id, err)
	return k
}

// sortedCopy returns a sorted copy of ss; never nil.
func sortedCopy(ss []string) []string {
	out := append([]string{}, ss...)
	slices.Sort(out)
	return out
}
