package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func testUsers(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "users")
	other := createTenant(t, s, "users-other")
	zeta := createPermission(t, s, tn.ID, "zeta")
	alpha := createPermission(t, s, tn.ID, "alpha")
	group := createPermission(t, s, tn.ID, "group", zeta.ID, alpha.ID)

	t.Run("round trip", func(t *testing.T) {
		want := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: "Mixed.Case+1@x", PasswordHash: "$argon2id$v=19$abc",
			Level: 8, IsActive: false, CreatedAt: at(-time.Hour), UpdatedAt: t0, Version: 4,
			Permissions: []keyward.Permission{*zeta, *group, *alpha}}
		must(t, "CreateUser", s.CreateUser(ctx, want))
		want.Permissions = byName(want.Permissions)
		got, err := s.GetUser(ctx, tn.ID, want.ID)
		must(t, "GetUser", err)
		check(t, "GetUser", got, want)
		for _, name := range []string{"Mixed.Case+1@x", "mixed.case+1@x", "MIXED.CASE+1@X"} {
			got, err := s.GetUserByName(ctx, tn.ID, name)
			must(t, "GetUserByName "+name, err)
			check(t, "GetUserByName "+name, got, want)
		}

		bare := createUser(t, s, tn.ID, "bare")
		got, err = s.GetUser(ctx, tn.ID, bare.ID)
		must(t, "GetUser", err)
		check(t, "GetUser of a user without permissions", got, bare)
	})

	t.Run("tenant isolation", func(t *testing.T) {
		u := createUser(t, s, tn.ID, "isolated", *alpha)
		_, err := s.GetUser(ctx, other.ID, u.ID)
		wantCode(t, "GetUser in another tenant", err, keyward.ENOTFOUND)
		_, err = s.GetUserByName(ctx, other.ID, u.UserName)
		wantCode(t, "GetUserByName in another tenant", err, keyward.ENOTFOUND)
		_, err = s.GetUser(ctx, tn.ID, secret.NewID())
		wantCode(t, "GetUser of an unknown id", err, keyward.ENOTFOUND)
		_, err = s.GetUserByName(ctx, tn.ID, "nobody")
		wantCode(t, "GetUserByName of an unknown name", err, keyward.ENOTFOUND)

		moved := *u
		moved.TenantID, moved.Version = other.ID, 2
		wantCode(t, "UpdateUser with another tenant", s.UpdateUser(ctx, &moved, 1), keyward.ENOTFOUND)
		wantCode(t, "DeleteUser with another tenant", s.DeleteUser(ctx, other.ID, u.ID), keyward.ENOTFOUND)
		got, err := s.GetUser(ctx, tn.ID, u.ID)
		must(t, "GetUser", err)
		check(t, "user after cross-tenant writes", got, u)

		// The same userName is free in another tenant.
		createUser(t, s, other.ID, "ISOLATED")
	})

	t.Run("conflicts", func(t *testing.T) {
		first := createUser(t, s, tn.ID, "Taken")
		tests := []struct {
			name string
			id   string
			user string
		}{
			{"same userName", secret.NewID(), "Taken"},
			{"userName in another case", secret.NewID(), "tAKEN"},
			{"same id", first.ID, "fresh"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u := &keyward.User{ID: tt.id, TenantID: tn.ID, UserName: tt.user, PasswordHash: "h", CreatedAt: t0, UpdatedAt: t0}
				wantCode(t, "CreateUser", s.CreateUser(ctx, u), keyward.ECONFLICT)
			})
		}
		second := createUser(t, s, tn.ID, "second")
		second.UserName, second.Version = "TAKEN", 2
		wantCode(t, "UpdateUser to a taken userName", s.UpdateUser(ctx, second, 1), keyward.ECONFLICT)
	})

	t.Run("update", func(t *testing.T) {
		u := createUser(t, s, tn.ID, "changing", *alpha, *zeta)
		want := *u
		want.UserName, want.PasswordHash, want.Level, want.IsActive = "Changed", "$argon2id$new", 2, false
		want.UpdatedAt, want.Version = at(time.Minute), 2
		want.Permissions = []keyward.Permission{*group}
		changed := want
		changed.CreatedAt = at(time.Hour) // CreatedAt never changes
		must(t, "UpdateUser", s.UpdateUser(ctx, &changed, 1))
		got, err := s.GetUser(ctx, tn.ID, u.ID)
		must(t, "GetUser", err)
		check(t, "updated user", got, &want)

		stale := want
		stale.Level, stale.Version = 7, 3
		wantCode(t, "UpdateUser with a stale version", s.UpdateUser(ctx, &stale, 1), keyward.EVERSIONCONFLICT)
		unknown := want
		unknown.ID = secret.NewID()
		wantCode(t, "UpdateUser of an unknown id", s.UpdateUser(ctx, &unknown, 2), keyward.ENOTFOUND)
		got, err = s.GetUser(ctx, tn.ID, u.ID)
		must(t, "GetUser", err)
		check(t, "user after failed updates", got, &want)
	})

	t.Run("delete cascades to keys", func(t *testing.T) {
		owner := createUser(t, s, tn.ID, "owner", *alpha)
		keeper := createUser(t, s, tn.ID, "keeper")
		held := createPermission(t, s, tn.ID, "held.by.owned.key")
		owned := []*keyward.APIKey{
			createKey(t, s, tn.ID, ownedBy(owner)),
			createKey(t, s, tn.ID, ownedBy(owner), func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*held} }),
		}
		kept := createKey(t, s, tn.ID, ownedBy(keeper))
		unowned := createKey(t, s, tn.ID)

		must(t, "DeleteUser", s.DeleteUser(ctx, tn.ID, owner.ID))
		_, err := s.GetUser(ctx, tn.ID, owner.ID)
		wantCode(t, "GetUser after delete", err, keyward.ENOTFOUND)
		wantCode(t, "DeleteUser again", s.DeleteUser(ctx, tn.ID, owner.ID), keyward.ENOTFOUND)
		for _, k := range owned {
			_, err := s.GetAPIKey(ctx, tn.ID, k.ID)
			wantCode(t, "GetAPIKey of an owned key", err, keyward.ENOTFOUND)
			_, err = s.GetAPIKeyByClientID(ctx, k.ClientID)
			wantCode(t, "GetAPIKeyByClientID of an owned key", err, keyward.ENOTFOUND)
			_, err = s.GetAPIKeyBySecretHash(ctx, k.SecretHash)
			wantCode(t, "GetAPIKeyBySecretHash of an owned key", err, keyward.ENOTFOUND)
		}
		ids, err := s.ListAPIKeyIDsByOwner(ctx, tn.ID, owner.ID)
		must(t, "ListAPIKeyIDsByOwner", err)
		check(t, "keys of the deleted owner", ids, []string{})
		used, err := s.PermissionInUse(ctx, tn.ID, held.ID)
		must(t, "PermissionInUse", err)
		if used {
			t.Errorf("PermissionInUse of a permission only deleted keys held: got true, want false")
		}
		check(t, "key of another owner", mustGetKey(t, s, tn.ID, kept.ID), kept)
		check(t, "key without owner", mustGetKey(t, s, tn.ID, unowned.ID), unowned)
	})
}

func testUserList(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "list")
	other := createTenant(t, s, "list-other")
	p := createPermission(t, s, tn.ID, "p")
	names := []string{"bob", "Alice", "alice_2", "al%ce", "ALBERT", "carol", `al\ex`, "Al-ice", "alIce.3"}
	users := map[string]*keyward.User{}
	for _, n := range names {
		users[n] = createUser(t, s, tn.ID, n, *p)
	}
	createUser(t, s, other.ID, "alice")
	pick := func(names ...string) []*keyward.User {
		out := []*keyward.User{}
		for _, n := range names {
			out = append(out, users[n])
		}
		return out
	}
	// Ordered by lower(userName) in byte order: "%" < "-" < "\" < "b" < "i".
	sorted := pick("al%ce", "Al-ice", `al\ex`, "ALBERT", "Alice", "alIce.3", "alice_2", "bob", "carol")

	tests := []struct {
		name  string
		query string
		want  []*keyward.User
	}{
		{"everyone", "", sorted},
		{"case-insensitive", "ALI", pick("Alice", "alIce.3", "alice_2")},
		{"literal percent", "%", pick("al%ce")},
		{"literal underscore", "_", pick("alice_2")},
		{"literal backslash", `\`, pick(`al\ex`)},
		{"literal dash", "l-i", pick("Al-ice")},
		{"no match", "zz", []*keyward.User{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := keyward.Page{Number: 1, Size: 50}
			got, err := s.ListUsers(ctx, tn.ID, keyward.UserFilter{Page: page, Query: tt.query})
			must(t, "ListUsers", err)
			check(t, "ListUsers", got, keyward.List[*keyward.User]{Items: tt.want, Page: page, TotalCount: len(tt.want)})
		})
	}
	t.Run("sorted", func(t *testing.T) {
		st := createTenant(t, s, "list-sorted")
		mk := func(name string, level int, active bool, created time.Duration) *keyward.User {
			u := &keyward.User{ID: secret.NewID(), TenantID: st.ID, UserName: name, PasswordHash: "$argon2id$x",
				Level: level, Permissions: []keyward.Permission{}, IsActive: active, CreatedAt: t0.Add(created), UpdatedAt: t0, Version: 1}
			must(t, "creating user "+name, s.CreateUser(ctx, u))
			return u
		}
		b, a, c := mk("b", 2, true, time.Hour), mk("a", 5, false, 2*time.Hour), mk("c", 2, false, 0)
		for _, tt := range []struct {
			sort string
			want []*keyward.User
		}{
			{"", []*keyward.User{a, b, c}}, {"userName", []*keyward.User{a, b, c}}, {"-userName", []*keyward.User{c, b, a}},
			{"level", []*keyward.User{b, c, a}}, {"-level", []*keyward.User{a, b, c}},
			{"isActive", []*keyward.User{a, c, b}}, {"-isActive", []*keyward.User{b, a, c}},
			{"createdAt", []*keyward.User{c, b, a}}, {"-createdAt", []*keyward.User{a, b, c}},
		} {
			page := keyward.Page{Number: 1, Size: 10}
			got, err := s.ListUsers(ctx, st.ID, keyward.UserFilter{Page: page, Sort: tt.sort})
			must(t, "ListUsers", err)
			check(t, "ListUsers sorted by "+tt.sort, got, keyward.List[*keyward.User]{Items: tt.want, Page: page, TotalCount: 3})
		}
	})
	for _, page := range []keyward.Page{{Number: 1, Size: 4}, {Number: 2, Size: 4}, {Number: 3, Size: 4}, {Number: 4, Size: 4}} {
		t.Run("page "+strconv.Itoa(page.Number), func(t *testing.T) {
			got, err := s.ListUsers(ctx, tn.ID, keyward.UserFilter{Page: page})
			must(t, "ListUsers", err)
			want := []*keyward.User{}
			if lo := page.Offset(); lo < len(sorted) {
				want = sorted[lo:min(lo+page.Size, len(sorted))]
			}
			check(t, "ListUsers", got, keyward.List[*keyward.User]{Items: want, Page: page, TotalCount: len(sorted)})
		})
	}
}
