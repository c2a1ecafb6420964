package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func testPermissions(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "perms")
	other := createTenant(t, s, "perms-other")

	t.Run("round trip", func(t *testing.T) {
		minimal := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "rt.minimal", CreatedAt: t0}
		full := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "rt:Full_1", Description: ptr("reads everything"),
			ClientRole: true, ContainerID: "default", BuiltIn: true, CreatedAt: at(time.Microsecond),
			Attributes: map[string][]string{"team": {"b", "a"}, "empty": {}}}
		emptyish := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "rt-emptyish", Description: ptr(""),
			Attributes: map[string][]string{}, CreatedAt: t0}
		// Children keep the order they were given in, which is not name order.
		composite := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "rt.composite", Composite: true,
			Children: []string{minimal.ID, full.ID, emptyish.ID}, ContainerID: "x", CreatedAt: t0}
		for _, p := range []*keyward.Permission{minimal, full, emptyish, composite} {
			must(t, "CreatePermission "+p.Name, s.CreatePermission(ctx, p))
		}
		for _, want := range []*keyward.Permission{minimal, full, emptyish, composite} {
			got, err := s.GetPermission(ctx, tn.ID, want.ID)
			must(t, "GetPermission", err)
			check(t, "GetPermission "+want.Name, got, want)
		}
		list, err := s.ListPermissions(ctx, tn.ID)
		must(t, "ListPermissions", err)
		// Byte order: "-" < "." < ":".
		check(t, "ListPermissions", list, []*keyward.Permission{emptyish, composite, minimal, full})
	})

	t.Run("tenant isolation", func(t *testing.T) {
		mine := createPermission(t, s, tn.ID, "iso.shared")
		theirs := createPermission(t, s, other.ID, "iso.shared") // names are per tenant
		_, err := s.GetPermission(ctx, other.ID, mine.ID)
		wantCode(t, "GetPermission in another tenant", err, keyward.ENOTFOUND)
		_, err = s.GetPermission(ctx, tn.ID, secret.NewID())
		wantCode(t, "GetPermission of an unknown id", err, keyward.ENOTFOUND)
		list, err := s.ListPermissions(ctx, other.ID)
		must(t, "ListPermissions", err)
		check(t, "ListPermissions of the other tenant", list, []*keyward.Permission{theirs})
		empty, err := s.ListPermissions(ctx, secret.NewID())
		must(t, "ListPermissions", err)
		check(t, "ListPermissions of an unknown tenant", empty, []*keyward.Permission{})

		changed := *mine
		changed.TenantID, changed.Name = other.ID, "iso.moved"
		wantCode(t, "UpdatePermission with another tenant", s.UpdatePermission(ctx, &changed), keyward.ENOTFOUND)
		wantCode(t, "DeletePermission with another tenant", s.DeletePermission(ctx, other.ID, mine.ID), keyward.ENOTFOUND)
		got, err := s.GetPermission(ctx, tn.ID, mine.ID)
		must(t, "GetPermission", err)
		check(t, "permission after cross-tenant writes", got, mine)
	})

	t.Run("conflicts", func(t *testing.T) {
		p := createPermission(t, s, tn.ID, "dup.name")
		for name, dup := range map[string]*keyward.Permission{
			"same name": {ID: secret.NewID(), TenantID: tn.ID, Name: "dup.name", CreatedAt: t0},
			"same id":   {ID: p.ID, TenantID: tn.ID, Name: "dup.other", CreatedAt: t0},
		} {
			wantCode(t, "CreatePermission with the "+name, s.CreatePermission(ctx, dup), keyward.ECONFLICT)
		}
		q := createPermission(t, s, tn.ID, "dup.second")
		q.Name = "dup.name"
		wantCode(t, "UpdatePermission to a taken name", s.UpdatePermission(ctx, q), keyward.ECONFLICT)
	})

	t.Run("update", func(t *testing.T) {
		a := createPermission(t, s, tn.ID, "up.a")
		b := createPermission(t, s, tn.ID, "up.b")
		c := createPermission(t, s, tn.ID, "up.c")
		p := createPermission(t, s, tn.ID, "up.target", a.ID, b.ID)
		want := *p
		want.Name, want.Description, want.ClientRole, want.ContainerID, want.BuiltIn = "up.renamed", ptr("now described"), true, "y", true
		want.Attributes = map[string][]string{"k": {"v"}}
		want.Children = []string{c.ID, a.ID}
		changed := want
		changed.CreatedAt = at(time.Hour) // CreatedAt never changes
		must(t, "UpdatePermission", s.UpdatePermission(ctx, &changed))
		got, err := s.GetPermission(ctx, tn.ID, p.ID)
		must(t, "GetPermission", err)
		check(t, "updated permission", got, &want)

		// Back to a plain permission: no description, attributes or children.
		want.Description, want.Attributes, want.Children, want.Composite = nil, nil, nil, false
		must(t, "UpdatePermission", s.UpdatePermission(ctx, &want))
		got, err = s.GetPermission(ctx, tn.ID, p.ID)
		must(t, "GetPermission", err)
		check(t, "cleared permission", got, &want)

		unknown := *p
		unknown.ID = secret.NewID()
		wantCode(t, "UpdatePermission of an unknown id", s.UpdatePermission(ctx, &unknown), keyward.ENOTFOUND)
	})

	t.Run("in use and delete", func(t *testing.T) {
		byKey := createPermission(t, s, tn.ID, "use.key")
		byUser := createPermission(t, s, tn.ID, "use.user")
		child := createPermission(t, s, tn.ID, "use.child")
		free := createPermission(t, s, tn.ID, "use.free")
		parent := createPermission(t, s, tn.ID, "use.parent", child.ID)
		key := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*byKey} })
		user := createUser(t, s, tn.ID, "use-user", *byUser)

		tests := []struct {
			name     string
			tenantID string
			id       string
			want     bool
		}{
			{"held by a key", tn.ID, byKey.ID, true},
			{"held by a user", tn.ID, byUser.ID, true},
			{"member of a composite", tn.ID, child.ID, true},
			{"held by nothing", tn.ID, free.ID, false},
			{"a composite nothing holds", tn.ID, parent.ID, false},
			{"asked in another tenant", other.ID, byKey.ID, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.PermissionInUse(ctx, tt.tenantID, tt.id)
				must(t, "PermissionInUse", err)
				if got != tt.want {
					t.Errorf("PermissionInUse: got %v, want %v", got, tt.want)
				}
			})
		}

		// Releasing each holder frees the permission.
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, tn.ID, key.ID, key.Version))
		u := *user
		u.Permissions, u.Version = []keyward.Permission{}, 2
		must(t, "UpdateUser", s.UpdateUser(ctx, &u, 1))
		must(t, "DeletePermission of the composite", s.DeletePermission(ctx, tn.ID, parent.ID))
		for _, p := range []*keyward.Permission{byKey, byUser, child} {
			used, err := s.PermissionInUse(ctx, tn.ID, p.ID)
			must(t, "PermissionInUse", err)
			if used {
				t.Errorf("PermissionInUse(%s) after releasing it: got true, want false", p.Name)
			}
			must(t, "DeletePermission "+p.Name, s.DeletePermission(ctx, tn.ID, p.ID))
			_, err = s.GetPermission(ctx, tn.ID, p.ID)
			wantCode(t, "GetPermission after delete", err, keyward.ENOTFOUND)
		}
		wantCode(t, "DeletePermission again", s.DeletePermission(ctx, tn.ID, child.ID), keyward.ENOTFOUND)
		wantCode(t, "DeletePermission of an unknown id", s.DeletePermission(ctx, tn.ID, secret.NewID()), keyward.ENOTFOUND)
		got, err := s.GetPermission(ctx, tn.ID, free.ID)
		must(t, "GetPermission", err)
		check(t, "untouched permission", got, free)
	})
}
