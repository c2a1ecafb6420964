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
	t.Run("unknown field", func(t *testing.T) {
		_, err := s.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 10},
			Conditions: []keyward.Condition{cond("secret_hash", "eq", "x")}})
		wantCode(t, "filter on secret_hash", err, keyward.EINVALID)
	})
}
