package keyward

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRightsMemo: the memo answers what computing the rights afresh
// answers, whatever changed between two misses (the key's grant, its
// owner's rights, the owner itself, the catalog), shares one answer between
// keys with the same inputs, and stays bounded.
func TestRightsMemo(t *testing.T) {
	read := &Permission{ID: "p1", Name: "orders_read"}
	write := &Permission{ID: "p2", Name: "orders_write"}
	bundleRead := &Permission{ID: "p3", Name: "bundle", Composite: true, Children: []string{"p1"}}
	bundleWrite := &Permission{ID: "p3", Name: "bundle", Composite: true, Children: []string{"p2"}}
	catalogA := []*Permission{read, write, bundleRead}
	catalogB := []*Permission{read, write, bundleWrite} // bundle's members changed: a new catalog
	grant := func(ids ...string) []Permission {
		out := []Permission{}
		for _, id := range ids {
			out = append(out, Permission{ID: id})
		}
		return out
	}
	owner := func(level int, ids ...string) *User { return &User{ID: "u", Level: level, Permissions: grant(ids...)} }
	var m rightsMemo
	for _, tc := range []struct {
		name    string
		key     *APIKey
		owner   *User
		catalog []*Permission
		want    []string // explicit permissions
	}{
		{"a composite", &APIKey{Level: 1, Permissions: grant("p3")}, nil, catalogA, []string{"bundle", "orders_read"}},
		{"its members changed", &APIKey{Level: 1, Permissions: grant("p3")}, nil, catalogB, []string{"bundle", "orders_write"}},
		{"back to the first catalog", &APIKey{Level: 1, Permissions: grant("p3")}, nil, catalogA, []string{"bundle", "orders_read"}},
		{"owned by a user holding orders_read", &APIKey{Level: 1, Permissions: grant("p3")}, owner(1, "p1"), catalogA, []string{"orders_read"}},
		{"the owner lost it", &APIKey{Level: 1, Permissions: grant("p3")}, owner(1), catalogA, nil},
		{"the owner gone", &APIKey{Level: 1, Permissions: grant("p3")}, nil, catalogA, []string{"bundle", "orders_read"}},
		{"another grant", &APIKey{Level: 1, Permissions: grant("p1", "p2")}, nil, catalogA, []string{"orders_read", "orders_write"}},
		{"acting as its owner", &APIKey{Level: 1, ActsAsOwner: true}, owner(1, "p2"), catalogA, []string{"orders_write"}},
		{"the same without acting as its owner", &APIKey{Level: 1}, owner(1, "p2"), catalogA, nil},
		{"in the root tenant", &APIKey{Level: 1, Permissions: grant("p1")}, nil, catalogA, []string{"orders_read"}},
	} {
		root := tc.name == "in the root tenant"
		got := m.rightsOf(tc.key, tc.owner, root, tc.catalog)
		want := computeKeyRights(tc.key, tc.owner, root, tc.catalog)
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(keyRights{})); diff != "" {
			t.Errorf("%s: memo differs from a fresh computation (-want +got):\n%s", tc.name, diff)
		}
		if diff := cmp.Diff(tc.want, got.Permissions); diff != "" {
			t.Errorf("%s: permissions (-want +got):\n%s", tc.name, diff)
		}
		if again := m.rightsOf(&APIKey{Level: tc.key.Level, Permissions: tc.key.Permissions, ActsAsOwner: tc.key.ActsAsOwner},
			tc.owner, root, tc.catalog); again != got {
			t.Errorf("%s: another key with the same inputs got other rights", tc.name)
		}
	}
	for i := range maxRightsMemo + 10 {
		m.rightsOf(&APIKey{Level: 1, Permissions: grant(fmt.Sprint("x", i))}, nil, false, catalogA)
	}
	if n := len(m.entries); n > maxRightsMemo {
		t.Errorf("the memo holds %d entries; want at most %d", n, maxRightsMemo)
	}
}
