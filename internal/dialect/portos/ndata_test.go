package portos

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward"
)

func TestParseQuery(t *testing.T) {
	t1 := time.Date(2023, 7, 13, 14, 35, 49, 506000000, time.UTC)
	c := func(field, op string, values ...any) keyward.Condition {
		return keyward.Condition{Field: field, Op: op, Values: values}
	}
	tests := []struct {
		query string
		want  *Query
	}{
		{"", &Query{Take: DefaultTake}},
		{"isActive=True&$count=True", &Query{Take: DefaultTake, CountOnly: true, Conditions: []keyward.Condition{c("isActive", "eq", true)}}},
		{"isActive=in:true:FALSE", &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("isActive", "in", true, false)}}},
		{"id=in:a:b", &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("id", "in", "a", "b")}}},
		{"_v=gte:2&UserName=EQ:jane.ro", nil},
		{"$take=5", &Query{Take: 5, TakeGiven: true}},
		{"$sort=NAME,-_v,createdat:DESC,Name", &Query{Take: DefaultTake, Sort: "name,-version,-createdAt"}},
		{"permissions=contains:order", &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("permissions", "contains", "order")}}},
		{"isActive=eq:true", &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("isActive", "eq", true)}}},
		{"isActive=false", &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("isActive", "eq", false)}}},
		{"id=in:a,b,c", &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("id", "in", "a", "b", "c")}}},
		{"createdAt=gte:2023-07-13T14:35:49.506Z;lt:2023-07-13T14:35:49.506Z", &Query{Take: DefaultTake,
			Conditions: []keyward.Condition{c("createdAt", "gte", t1), c("createdAt", "lt", t1)}}},
		{"createdAt=2023-07-13T14:35:49.506Z", &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("createdAt", "eq", t1)}}},
		{"name=contains:api&name=neq:x", &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("name", "contains", "api"), c("name", "neq", "x")}}},
		{"$skip=5&$take=10&$sort=name,-createdAt", &Query{Skip: 5, Take: 10, TakeGiven: true, Sort: "name,-createdAt"}},
		{"$sort=name:desc,id:asc", &Query{Take: DefaultTake, Sort: "-name,id"}},
		{"$count=true", &Query{Take: DefaultTake, CountOnly: true}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				// Map order: compare as a set.
				tt.want = &Query{Take: DefaultTake, Conditions: []keyward.Condition{c("version", "gte", 2), c("userName", "eq", "jane.ro")}}
				if len(got.Conditions) == 2 && got.Conditions[0].Field == "userName" {
					got.Conditions[0], got.Conditions[1] = got.Conditions[1], got.Conditions[0]
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct{ query, member string }{
		{"isActive=eq:maybe", "isActive"},
		{"isActive=gt:true", "isActive"},
		{"isActive=contains:t", "isActive"},
		{"createdAt=gte:yesterday", "createdAt"},
		{"id=like:x", "id"},
		{"secretHash=eq:x", "secretHash"},
		{"$skip=-1", "$skip"},
		{"$take=0", "$take"},
		{"$take=501", "$take"},
		{"$take=ten", "$take"},
		{"$sort=secret", "$sort"},
		{"$sort=permissions", "$sort"},
		{"$sort=" + strings.Repeat("name,", 2000) + "id", "$sort"},
		{"permissions=gt:x", "permissions"},
		{"_v=eq:two", "_v"},
		{"clientSecret=eq:x", "clientSecret"},
		{"$sort=name:up", "$sort"},
		{"$count=yes", "$count"},
		{"$count=1", "$count"},
		{"name=%zz", "name"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := ParseQuery(tt.query)
			e, ok := err.(*keyward.Error)
			if !ok || e.Code != keyward.EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != tt.member {
				t.Errorf("got %v, want EINVALID naming %s", err, tt.member)
			}
		})
	}
}

// FuzzParseQuery: any query parses or fails with EINVALID naming a member;
// what parses has only known members, operators and typed values.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"isActive=eq:true", "id=in:a,b", "createdAt=gte:2023-07-13T14:35:49Z;lt:2024-01-01T00:00:00Z",
		"$skip=1&$take=2&$sort=name,-id", "$sort=name:desc", "$count=true", "name=contains:%25", "x=y", "id=;;;", "id=in:"} {
		f.Add(s)
	}
	fields := map[string]bool{}
	for _, m := range members {
		fields[m.field] = true
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := ParseQuery(raw)
		if err != nil {
			if e, ok := err.(*keyward.Error); !ok || e.Code != keyward.EINVALID || len(e.Fields) != 1 {
				t.Fatalf("%q: got %v", raw, err)
			}
			return
		}
		if got.Take < 1 || got.Take > keyward.MaxPageSize || got.Skip < 0 {
			t.Fatalf("%q: skip %d take %d", raw, got.Skip, got.Take)
		}
		for _, c := range got.Conditions {
			if !fields[c.Field] || !ops[c.Op] || len(c.Values) == 0 {
				t.Fatalf("%q: bad condition %+v", raw, c)
			}
		}
	})
}
