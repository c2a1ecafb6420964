package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// testAPIKeyConditions: NData-style conditions, multi-field sorts and
// skip/take paging.
func testAPIKeyConditions(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "conditions")
	a := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.Name, k.CreatedAt, k.UpdatedAt = "Alpha", at(1*time.Hour), at(1*time.Hour) })
	b := createKey(t, s, tn.ID, func(k *keyward.APIKey) {
		k.Name, k.IsActive, k.CreatedAt, k.UpdatedAt = "beta", false, at(2*time.Hour), at(2*time.Hour)
	})
	c := createKey(t, s, tn.ID, func(k *keyward.APIKey) {
		k.Name, k.CreatedAt, k.UpdatedAt = "gamma_50%", at(3*time.Hour), at(3*time.Hour)
	})
	d := createKey(t, s, tn.ID, func(k *keyward.APIKey) {
		k.Name, k.IsActive, k.CreatedAt, k.UpdatedAt = "Alpha", false, at(4*time.Hour), at(4*time.Hour)
	})
	other := createTenant(t, s, "conditions-other")
	createKey(t, s, other.ID, func(k *keyward.APIKey) { k.Name = "Alpha" })

	cond := func(field, op string, values ...any) keyward.Condition {
		return keyward.Condition{Field: field, Op: op, Values: values}
	}
	tests := []struct {
		name  string
		f     keyward.APIKeyFilter
		want  []*keyward.APIKey
		total int
	}{
		{"id eq", keyward.APIKeyFilter{Conditions: []keyward.Condition{cond("id", "eq", b.ID)}}, []*keyward.APIKey{b}, 1},
		{"id in", keyward.APIKeyFilter{Sort: "createdAt", Conditions: []keyward.Condition{cond("id", "in", a.ID, c.ID, "nope")}}, []*keyward.APIKey{a, c}, 2},
		{"isActive eq false", keyward.APIKeyFilter{Sort: "createdAt", Conditions: []keyward.Condition{cond("isActive", "eq", false)}}, []*keyward.APIKey{b, d}, 2},
		{"isActive neq false", keyward.APIKeyFilter{Sort: "createdAt", Conditions: []keyward.Condition{cond("isActive", "neq", false)}}, []*keyward.APIKey{a, c}, 2},
		{"createdAt range ANDed", keyward.APIKeyFilter{Sort: "createdAt", Conditions: []keyward.Condition{
			cond("createdAt", "gt", at(time.Hour)), cond("createdAt", "lte", at(3*time.Hour))}}, []*keyward.APIKey{b, c}, 2},
		{"name contains literal %", keyward.APIKeyFilter{Conditions: []keyward.Condition{cond("name", "contains", "50%")}}, []*keyward.APIKey{c}, 1},
		{"name contains any case", keyward.APIKeyFilter{Sort: "createdAt", Conditions: []keyward.Condition{cond("name", "contains", "ALPHA")}}, []*keyward.APIKey{a, d}, 2},
		{"name eq is exact", keyward.APIKeyFilter{Conditions: []keyward.Condition{cond("name", "eq", "beta")}}, []*keyward.APIKey{b}, 1},
		{"multi-field sort", keyward.APIKeyFilter{Sort: "name,-createdAt"}, []*keyward.APIKey{d, a, b, c}, 4},
		{"sort by isActive then id", keyward.APIKeyFilter{Sort: "-isActive,createdAt"}, []*keyward.APIKey{a, c, b, d}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Page = keyward.Page{Number: 1, Size: 10}
			got, err := s.ListAPIKeys(ctx, tn.ID, tt.f)
			must(t, "listing", err)
			check(t, "ids", keyIDs(got.Items), keyIDs(tt.want))
			if got.TotalCount != tt.total {
				t.Errorf("got total %d, want %d", got.TotalCount, tt.total)
			}
		})
	}
	t.Run("skip and take", func(t *testing.T) {
		got, err := s.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Page: keyward.Page{Skip: 1, Size: 2}, Sort: "createdAt"})
		must(t, "listing", err)
		check(t, "ids", keyIDs(got.Items), keyIDs([]*keyward.APIKey{b, c}))
		if got.TotalCount != 4 {
			t.Errorf("got total %d, want 4", got.TotalCount)
		}
	})
	t.Run("every member", func(t *testing.T) {
		testAPIKeyMemberConditions(t, s)
	})
	t.Run("unknown field", func(t *testing.T) {
		_, err := s.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10},
			Conditions: []keyward.Condition{cond("secret_hash", "eq", "x")}})
		wantCode(t, "filter on secret_hash", err, keyward.EINVALID)
	})
}

// testAPIKeyMemberConditions: conditions and sorts on the members Portos'
// ApiKey has beyond id, name, isActive and createdAt: clientId,
// description, deviceName, userName (the owner's), version and the names of
// the explicit permissions.
func testAPIKeyMemberConditions(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "members")
	orders := createPermission(t, s, tn.ID, "orders_read")
	billing := createPermission(t, s, tn.ID, "billing_read")
	jane := createUser(t, s, tn.ID, "jane.ro")
	zed := createUser(t, s, tn.ID, "Zed")
	a := createKey(t, s, tn.ID, ownedBy(jane), func(k *keyward.APIKey) {
		k.Name, k.Description, k.DeviceName, k.Version = "a", "Front Office", "POS-1", 1
		k.Permissions = []keyward.Permission{*orders}
	})
	b := createKey(t, s, tn.ID, ownedBy(zed), func(k *keyward.APIKey) {
		k.Name, k.Description, k.DeviceName, k.Version = "b", "back office", "pos-2", 3
		k.Permissions = []keyward.Permission{*orders, *billing}
	})
	c := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.Name, k.DeviceName, k.Version = "c", "", 2 })
	cond := func(field, op string, values ...any) []keyward.Condition {
		return []keyward.Condition{{Field: field, Op: op, Values: values}}
	}
	tests := []struct {
		name string
		f    keyward.APIKeyFilter
		want []*keyward.APIKey
	}{
		{"clientId eq", keyward.APIKeyFilter{Conditions: cond("clientId", "eq", b.ClientID)}, []*keyward.APIKey{b}},
		{"clientId in", keyward.APIKeyFilter{Conditions: cond("clientId", "in", a.ClientID, c.ClientID)}, []*keyward.APIKey{a, c}},
		{"description contains any case", keyward.APIKeyFilter{Conditions: cond("description", "contains", "OFFICE")}, []*keyward.APIKey{a, b}},
		{"deviceName neq", keyward.APIKeyFilter{Conditions: cond("deviceName", "neq", "POS-1")}, []*keyward.APIKey{b, c}},
		{"userName eq", keyward.APIKeyFilter{Conditions: cond("userName", "eq", "jane.ro")}, []*keyward.APIKey{a}},
		{"userName eq empty: ownerless", keyward.APIKeyFilter{Conditions: cond("userName", "eq", "")}, []*keyward.APIKey{c}},
		{"version gte", keyward.APIKeyFilter{Conditions: cond("version", "gte", 2)}, []*keyward.APIKey{b, c}},
		{"version in", keyward.APIKeyFilter{Conditions: cond("version", "in", 1, 3)}, []*keyward.APIKey{a, b}},
		{"permissions eq: holds", keyward.APIKeyFilter{Conditions: cond("permissions", "eq", "billing_read")}, []*keyward.APIKey{b}},
		{"permissions neq: holds none equal", keyward.APIKeyFilter{Conditions: cond("permissions", "neq", "billing_read")}, []*keyward.APIKey{a, c}},
		{"permissions in", keyward.APIKeyFilter{Conditions: cond("permissions", "in", "orders_read", "x")}, []*keyward.APIKey{a, b}},
		{"permissions contains", keyward.APIKeyFilter{Conditions: cond("permissions", "contains", "BILL")}, []*keyward.APIKey{b}},
		{"sort deviceName ignores case", keyward.APIKeyFilter{Sort: "deviceName"}, []*keyward.APIKey{c, a, b}},
		{"sort userName desc", keyward.APIKeyFilter{Sort: "-userName"}, []*keyward.APIKey{b, a, c}},
		{"sort version", keyward.APIKeyFilter{Sort: "-version"}, []*keyward.APIKey{b, c, a}},
		{"sort description, clientId", keyward.APIKeyFilter{Sort: "description,clientId"}, []*keyward.APIKey{c, b, a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.f.Sort == "" {
				tt.f.Sort = "name"
			}
			tt.f.Page = keyward.Page{Number: 1, Size: 10}
			got, err := s.ListAPIKeys(ctx, tn.ID, tt.f)
			must(t, "listing", err)
			check(t, "ids", keyIDs(got.Items), keyIDs(tt.want))
			if got.TotalCount != len(tt.want) {
				t.Errorf("got total %d, want %d", got.TotalCount, len(tt.want))
			}
		})
	}
}
