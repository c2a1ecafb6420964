package storetest

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

func testAPIKeyList(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "list")
	other := createTenant(t, s, "list-other")
	read := createPermission(t, s, tn.ID, "read")
	write := createPermission(t, s, tn.ID, "write")
	composite := createPermission(t, s, tn.ID, "composite", read.ID)
	u1 := createUser(t, s, tn.ID, "user-1")
	u2 := createUser(t, s, tn.ID, "user-2")

	type spec struct {
		name      string
		active    bool
		expires   *time.Time
		lastUsed  *time.Time
		created   time.Time
		owner     *keyward.User
		perms     []keyward.Permission
		otherName string // the name of a matching key in the other tenant
	}
	h := time.Hour
	specs := []spec{
		1: {"Alpha", true, nil, ptr(at(-h)), at(-5 * h), u1, []keyward.Permission{*read}, "alpha"},
		2: {"alpha", true, ptr(at(time.Microsecond)), nil, at(-4 * h), u2, []keyward.Permission{*write, *read}, "Alpha"},
		3: {"beta 100%", true, ptr(t0), ptr(at(-h)), at(-3 * h), nil, []keyward.Permission{*write}, "100%"},
		4: {"snake_case", true, ptr(at(-time.Microsecond)), ptr(at(-2 * h)), at(-3 * h), u1, []keyward.Permission{*composite}, "snake_case"},
		5: {"snakeXcase", false, nil, nil, at(-2 * h), nil, nil, ""},
		6: {`back\slash`, false, ptr(at(-h)), ptr(t0), at(-h), u2, nil, `back\slash`},
		7: {"Gamma", true, ptr(at(24 * h)), ptr(at(-3 * h)), at(-h), u1, nil, ""},
		8: {"a-c", true, ptr(at(24 * h)), nil, t0, nil, nil, "a-c"},
	}
	keys := make([]*keyward.APIKey, len(specs))
	for i, sp := range specs[1:] {
		keys[i+1] = createKey(t, s, tn.ID, func(k *keyward.APIKey) {
			k.Name, k.IsActive, k.ExpiresAt, k.LastUsedAt, k.CreatedAt, k.Permissions = sp.name, sp.active, sp.expires,
				sp.lastUsed, sp.created, sp.perms
			if sp.owner != nil {
				ownedBy(sp.owner)(k)
			}
		})
		if sp.otherName != "" {
			createKey(t, s, other.ID, func(k *keyward.APIKey) { k.Name, k.ExpiresAt = sp.otherName, sp.expires })
		}
	}
	// pick returns keys by number, in the order given: "8 1,2 6" is key 8,
	// then keys 1 and 2 (a tie, so ordered by id), then key 6.
	pick := func(order string) []*keyward.APIKey {
		out := []*keyward.APIKey{}
		for _, group := range strings.Fields(order) {
			var tie []*keyward.APIKey
			for _, n := range strings.Split(group, ",") {
				i, err := strconv.Atoi(n)
				if err != nil {
					t.Fatalf("pick(%q): %v", order, err)
				}
				tie = append(tie, keys[i])
			}
			slices.SortFunc(tie, func(a, b *keyward.APIKey) int { return strings.Compare(a.ID, b.ID) })
			out = append(out, tie...)
		}
		return out
	}
	byName := pick("8 1,2 6 3 7 4 5")

	list := func(t *testing.T, f keyward.APIKeyFilter) keyward.List[*keyward.APIKey] {
		t.Helper()
		if f.Page == (keyward.Page{}) {
			f.Page = keyward.Page{Number: 1, Size: 100}
		}
		f.Now = t0
		got, err := s.ListAPIKeys(ctx, tn.ID, f)
		must(t, "ListAPIKeys", err)
		return got
	}
	checkItems := func(t *testing.T, got keyward.List[*keyward.APIKey], want []*keyward.APIKey) {
		t.Helper()
		check(t, "ids", keyIDs(got.Items), keyIDs(want)) // a short diff first
		check(t, "ListAPIKeys", got, keyward.List[*keyward.APIKey]{Items: want, Page: got.Page, TotalCount: len(want)})
	}

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			name string
			f    keyward.APIKeyFilter
			want []*keyward.APIKey
		}{
			{"no filter", keyward.APIKeyFilter{Sort: "name"}, byName},
			{"status all", keyward.APIKeyFilter{Status: keyward.StatusAll, Sort: "name"}, byName},
			{"status active", keyward.APIKeyFilter{Status: keyward.StatusActive, Sort: "name"}, pick("8 1,2 7")},
			{"status inactive", keyward.APIKeyFilter{Status: keyward.StatusInactive, Sort: "name"}, pick("6 5")},
			{"status expired", keyward.APIKeyFilter{Status: keyward.StatusExpired, Sort: "name"}, pick("6 3 4")},
			{"query ignores case", keyward.APIKeyFilter{Query: "ALPHA", Sort: "name"}, pick("1,2")},
			{"query of a substring", keyward.APIKeyFilter{Query: "ake", Sort: "name"}, pick("4 5")},
			{"query with a literal percent", keyward.APIKeyFilter{Query: "%", Sort: "name"}, pick("3")},
			{"query with a literal underscore", keyward.APIKeyFilter{Query: "e_c", Sort: "name"}, pick("4")},
			{"query with a literal backslash", keyward.APIKeyFilter{Query: `k\s`, Sort: "name"}, pick("6")},
			{"query matching nothing", keyward.APIKeyFilter{Query: "zzz"}, pick("")},
			{"explicit permission", keyward.APIKeyFilter{Permission: "read", Sort: "name"}, pick("1,2")},
			{"another permission", keyward.APIKeyFilter{Permission: "write", Sort: "name"}, pick("2 3")},
			{"composite permission", keyward.APIKeyFilter{Permission: "composite"}, pick("4")},
			{"unknown permission", keyward.APIKeyFilter{Permission: "nope"}, pick("")},
			{"owner", keyward.APIKeyFilter{OwnerID: u1.ID, Sort: "name"}, pick("1 7 4")},
			{"another owner", keyward.APIKeyFilter{OwnerID: u2.ID, Sort: "name"}, pick("2 6")},
			{"every filter", keyward.APIKeyFilter{Status: keyward.StatusActive, Query: "a", Permission: "read", OwnerID: u2.ID}, pick("2")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				checkItems(t, list(t, tt.f), tt.want)
			})
		}
	})

	t.Run("sort", func(t *testing.T) {
		tests := []struct {
			sort string
			want []*keyward.APIKey
		}{
			// Hand-written anchors for the model below.
			{"name", byName},
			{"-name", pick("5 4 7 3 6 1,2 8")},
			{"lastUsedAt", pick("7 4 1,3 6 2,5,8")},
			{"-lastUsedAt", pick("6 1,3 4 7 2,5,8")},
			{"expiresAt", pick("6 4 3 2 7,8 1,5")},
			{"-expiresAt", pick("7,8 2 3 4 6 1,5")},
			{"createdAt", pick("1 2 3,4 5 6,7 8")},
			{"-createdAt", pick("8 6,7 5 3,4 2 1")},
			{"", pick("8 6,7 5 3,4 2 1")},
		}
		for _, tt := range tests {
			t.Run(cmp.Or(tt.sort, "default"), func(t *testing.T) {
				checkItems(t, list(t, keyward.APIKeyFilter{Sort: tt.sort}), tt.want)
				if model := sortKeys(keys[1:], tt.sort); !slices.Equal(keyIDs(model), keyIDs(tt.want)) {
					t.Errorf("the suite's own model of %q disagrees with its expectation", tt.sort)
				}
			})
		}
	})

	t.Run("paging", func(t *testing.T) {
		for _, sort := range []string{"name", "-name", "createdAt", "-createdAt", "lastUsedAt", "-lastUsedAt", "expiresAt", "-expiresAt"} {
			want := sortKeys(keys[1:], sort)
			for _, size := range []int{1, 3, 8} {
				t.Run(sort+" by "+strconv.Itoa(size), func(t *testing.T) {
					var all []*keyward.APIKey
					for n := 1; n <= len(want)/size+1; n++ {
						page := keyward.Page{Number: n, Size: size}
						got := list(t, keyward.APIKeyFilter{Sort: sort, Page: page})
						if got.TotalCount != len(want) || got.Page != page {
							t.Fatalf("page %d: got total %d and page %+v, want %d and %+v", n, got.TotalCount, got.Page, len(want), page)
						}
						if len(got.Items) > size {
							t.Fatalf("page %d: got %d items, want at most %d", n, len(got.Items), size)
						}
						all = append(all, got.Items...)
					}
					check(t, "pages joined", keyIDs(all), keyIDs(want))
				})
			}
		}
		page := keyward.Page{Number: 2, Size: 2}
		got := list(t, keyward.APIKeyFilter{Status: keyward.StatusExpired, Page: page, Sort: "name"})
		check(t, "a filtered page", got, keyward.List[*keyward.APIKey]{Items: pick("4"), Page: page, TotalCount: 3})
	})
}

// sortKeys is the suite's model of APIKeyFilter.Sort: NULLs last in both
// directions, names compared after folding ASCII case, ties by id.
func sortKeys(keys []*keyward.APIKey, sort string) []*keyward.APIKey {
	if sort == "" {
		sort = "-createdAt"
	}
	field, desc := strings.CutPrefix(sort, "-")
	nullable := func(a, b *time.Time) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return 2 // after, whatever the direction
		case b == nil:
			return -2
		}
		return a.Compare(*b)
	}
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b *keyward.APIKey) int {
		var c int
		switch field {
		case "name":
			c = strings.Compare(foldASCII(a.Name), foldASCII(b.Name))
		case "createdAt":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "lastUsedAt":
			c = nullable(a.LastUsedAt, b.LastUsedAt)
		case "expiresAt":
			c = nullable(a.ExpiresAt, b.ExpiresAt)
		}
		if desc && c >= -1 && c <= 1 {
			c = -c
		}
		return cmp.Or(c, strings.Compare(a.ID, b.ID))
	})
	return out
}

func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
