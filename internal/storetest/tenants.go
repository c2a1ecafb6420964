package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func testTenants(t *testing.T, s keyward.Store) {
	ctx := t.Context()

	t.Run("round trip", func(t *testing.T) {
		for _, want := range []*keyward.Tenant{
			{ID: secret.NewID(), Name: "root", Prefix: "kw", IsActive: true, IsRoot: true, CreatedAt: t0,
				UpdatedAt: at(time.Microsecond), Version: 1},
			{ID: secret.NewID(), Name: "off", Prefix: "cbx_b2b", IsActive: false, IsRoot: false, CreatedAt: at(-time.Hour),
				UpdatedAt: at(time.Hour), Version: 7},
		} {
			must(t, "CreateTenant", s.CreateTenant(ctx, want))
			got, err := s.GetTenant(ctx, want.ID)
			must(t, "GetTenant", err)
			check(t, "GetTenant", got, want)
			got, err = s.GetTenantByName(ctx, want.Name)
			must(t, "GetTenantByName", err)
			check(t, "GetTenantByName", got, want)
		}
	})

	t.Run("not found", func(t *testing.T) {
		createTenant(t, s, "present")
		_, err := s.GetTenant(ctx, secret.NewID())
		wantCode(t, "GetTenant of an unknown id", err, keyward.ENOTFOUND)
		_, err = s.GetTenantByName(ctx, "absent")
		wantCode(t, "GetTenantByName of an unknown name", err, keyward.ENOTFOUND)
		_, err = s.GetTenantByName(ctx, "PRESENT")
		wantCode(t, "GetTenantByName in another case", err, keyward.ENOTFOUND)
	})

	t.Run("conflicts", func(t *testing.T) {
		first := createTenant(t, s, "taken")
		tests := []struct {
			name string
			tn   keyward.Tenant
		}{
			{"same name", keyward.Tenant{ID: secret.NewID(), Name: "taken", Prefix: "kw", CreatedAt: t0, UpdatedAt: t0}},
			{"same id", keyward.Tenant{ID: first.ID, Name: "other", Prefix: "kw", CreatedAt: t0, UpdatedAt: t0}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantCode(t, "CreateTenant", s.CreateTenant(ctx, &tt.tn), keyward.ECONFLICT)
			})
		}
		got, err := s.GetTenant(ctx, first.ID)
		must(t, "GetTenant", err)
		check(t, "tenant after failed creates", got, first)
	})

	t.Run("update", func(t *testing.T) {
		tn := createTenant(t, s, "before")
		want := *tn
		want.Name, want.Prefix, want.IsActive, want.IsRoot = "after", "pf_2", false, true
		want.UpdatedAt, want.Version = at(time.Minute), 2
		changed := want
		changed.CreatedAt = at(time.Hour) // CreatedAt never changes
		must(t, "UpdateTenant", s.UpdateTenant(ctx, &changed, 1))
		got, err := s.GetTenant(ctx, tn.ID)
		must(t, "GetTenant", err)
		check(t, "updated tenant", got, &want)
		_, err = s.GetTenantByName(ctx, "before")
		wantCode(t, "GetTenantByName of the old name", err, keyward.ENOTFOUND)
	})

	t.Run("update errors", func(t *testing.T) {
		tn := createTenant(t, s, "guarded")
		createTenant(t, s, "occupied")
		tests := []struct {
			name   string
			change func(tn *keyward.Tenant)
			expect int
			code   string
		}{
			{"stale version", func(tn *keyward.Tenant) { tn.Version = 3 }, 2, keyward.EVERSIONCONFLICT},
			{"version from the future", func(tn *keyward.Tenant) { tn.Version = 3 }, 0, keyward.EVERSIONCONFLICT},
			{"unknown id", func(tn *keyward.Tenant) { tn.ID = secret.NewID() }, 1, keyward.ENOTFOUND},
			{"duplicate name", func(tn *keyward.Tenant) { tn.Name = "occupied"; tn.Version = 2 }, 1, keyward.ECONFLICT},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				changed := *tn
				changed.Prefix = "changed"
				tt.change(&changed)
				wantCode(t, "UpdateTenant", s.UpdateTenant(ctx, &changed, tt.expect), tt.code)
				got, err := s.GetTenant(ctx, tn.ID)
				must(t, "GetTenant", err)
				check(t, "tenant after a failed update", got, tn)
			})
		}
	})
}

func testTenantList(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	n, err := s.CountTenants(ctx)
	must(t, "CountTenants", err)
	if n != 0 {
		t.Fatalf("CountTenants of an empty store: got %d, want 0", n)
	}
	list, err := s.ListTenants(ctx, keyward.Page{Number: 1, Size: 10})
	must(t, "ListTenants", err)
	check(t, "ListTenants of an empty store", list, keyward.List[*keyward.Tenant]{
		Items: []*keyward.Tenant{}, Page: keyward.Page{Number: 1, Size: 10}})

	var all []*keyward.Tenant
	for _, name := range []string{"delta", "alpha", "c-3", "charlie", "bravo", "c_2", "echo", "c1"} {
		all = append(all, createTenant(t, s, name))
	}
	// Byte order: "-" < "1" < "_" < "h".
	byName := []*keyward.Tenant{all[1], all[4], all[2], all[7], all[5], all[3], all[0], all[6]}
	n, err = s.CountTenants(ctx)
	must(t, "CountTenants", err)
	if n != len(all) {
		t.Errorf("CountTenants: got %d, want %d", n, len(all))
	}
	tests := []struct {
		page keyward.Page
		want []*keyward.Tenant
	}{
		{keyward.Page{Number: 1, Size: 100}, byName},
		{keyward.Page{Number: 1, Size: 3}, byName[:3]},
		{keyward.Page{Number: 2, Size: 3}, byName[3:6]},
		{keyward.Page{Number: 3, Size: 3}, byName[6:]},
		{keyward.Page{Number: 4, Size: 3}, []*keyward.Tenant{}},
	}
	for _, tt := range tests {
		t.Run("page "+strconv.Itoa(tt.page.Number)+" of "+strconv.Itoa(tt.page.Size), func(t *testing.T) {
			got, err := s.ListTenants(ctx, tt.page)
			must(t, "ListTenants", err)
			check(t, "ListTenants", got, keyward.List[*keyward.Tenant]{Items: tt.want, Page: tt.page, TotalCount: len(all)})
		})
	}
}
