package portos_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// model is an ApiKey as GET /apikeys answers it, typed for computing.
type model struct {
	ID          string    `json:"id"`
	ClientID    string    `json:"clientId"`
	IsActive    bool      `json:"isActive"`
	CreatedAt   time.Time `json:"createdAt"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	UserName    string    `json:"userName"`
	DeviceName  string    `json:"deviceName"`
	Permissions []string  `json:"permissions"`
	V           int       `json:"_v"`
}

// value is a member of m: a string, bool, time or int, or a []string.
func (m model) value(member string) any {
	switch member {
	case "id":
		return m.ID
	case "clientId":
		return m.ClientID
	case "isActive":
		return m.IsActive
	case "createdAt":
		return m.CreatedAt
	case "name":
		return m.Name
	case "description":
		return m.Description
	case "userName":
		return m.UserName
	case "deviceName":
		return m.DeviceName
	case "permissions":
		return m.Permissions
	case "_v":
		return m.V
	}
	panic(member)
}

// compare orders two scalar member values as the database does: text by
// bytes (and by ASCII-folded bytes for sorting), booleans false first.
func compare(a, b any, fold bool) int {
	switch a := a.(type) {
	case string:
		if fold {
			return strings.Compare(strings.ToLower(a), strings.ToLower(b.(string)))
		}
		return strings.Compare(a, b.(string))
	case bool:
		return cmp.Compare(map[bool]int{false: 0, true: 1}[a], map[bool]int{false: 0, true: 1}[b.(bool)])
	case time.Time:
		return a.Compare(b.(time.Time))
	case int:
		return cmp.Compare(a, b.(int))
	}
	panic(fmt.Sprintf("%T", a))
}

// holds computes, independently of keyward, whether m passes op with args.
func holds(m model, member, op string, args []any) bool {
	v := m.value(member)
	if set, ok := v.([]string); ok {
		any := func(f func(string) bool) bool { return slices.ContainsFunc(set, f) }
		switch op {
		case "eq":
			return any(func(s string) bool { return s == args[0] })
		case "neq":
			return !any(func(s string) bool { return s == args[0] })
		case "in":
			return any(func(s string) bool { return slices.Contains(args, any2(s)) })
		case "contains":
			return any(func(s string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(args[0].(string))) })
		}
		panic(op)
	}
	switch op {
	case "eq":
		return compare(v, args[0], false) == 0
	case "neq":
		return compare(v, args[0], false) != 0
	case "gt":
		return compare(v, args[0], false) > 0
	case "gte":
		return compare(v, args[0], false) >= 0
	case "lt":
		return compare(v, args[0], false) < 0
	case "lte":
		return compare(v, args[0], false) <= 0
	case "in":
		return slices.ContainsFunc(args, func(a any) bool { return compare(v, a, false) == 0 })
	case "contains":
		return strings.Contains(strings.ToLower(v.(string)), strings.ToLower(args[0].(string)))
	}
	panic(op)
}

func any2(s string) any { return s }

// text writes a member value as NData does.
func text(v any) string {
	switch v := v.(type) {
	case time.Time:
		return v.Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(v)
	}
}

// TestNDataMatrix: every operator on every member, in each value form the
// NData syntax page allows (op:arg, upper-case operators and member names,
// bare values, in:a:b and in:a,b, True/FALSE), against the real server;
// the expected keys are computed here from the models the server returned.
// Combinations NData does not define are 400 naming the member. Then every
// sortable member in both directions and every spelling.
func TestNDataMatrix(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, portos.Mount)
		for _, p := range []string{"orders_read", "billing_read"} {
			s.Do("POST", "/v1/permissions", s.Admin, map[string]any{"name": p}, 201, nil)
		}
		s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "jane.ro", "password": "jane-password-1", "level": 4}, 201, nil)
		seed := []map[string]any{
			{"name": "alpha", "description": "north gate", "deviceName": "pos-1", "isActive": true, "permissions": []string{"orders_read"}},
			{"name": "Bravo", "description": "South gate", "deviceName": "POS-2", "userName": "jane.ro", "permissions": []string{}},
			{"name": "charlie", "description": "", "deviceName": "", "isActive": true, "permissions": []string{"orders_read", "billing_read"}},
			{"name": "delta", "description": "east", "deviceName": "kiosk", "userName": "jane.ro", "permissions": []string{"billing_read"}},
			{"name": "echo", "description": "West wing", "deviceName": "pos-1", "isActive": true},
			{"name": "foxtrot", "description": "north wing", "deviceName": "tablet", "userName": "jane.ro", "permissions": []string{"orders_read"}},
		}
		ids := []string{}
		for _, b := range seed {
			var k map[string]any
			s.Do("POST", "/apikeys", s.Admin, b, 201, &k)
			ids = append(ids, k["id"].(string))
			time.Sleep(2 * time.Millisecond) // distinct createdAt
		}
		// Versions 1 to 3.
		for _, i := range []int{1, 1, 3} {
			s.Do("PUT", "/apikeys/"+ids[i], s.Admin, map[string]any{"description": seed[i]["description"]}, 200, nil)
		}
		var all struct {
			Items      []model `json:"items"`
			Count      int     `json:"count"`
			TotalCount int     `json:"totalCount"`
		}
		s.Do("GET", "/apikeys", s.Admin, nil, 200, &all)
		if len(all.Items) != len(seed)+0 || all.TotalCount != len(seed) {
			t.Fatalf("got %d keys (total %d), want the %d made here", len(all.Items), all.TotalCount, len(seed))
		}
		keys := all.Items
		byID := map[string]model{}
		for _, k := range keys {
			byID[k.ID] = k
		}
		pick := byID[ids[1]] // the values tested are Bravo's, and others'
		other := byID[ids[3]]

		query := func(t *testing.T, q string) ([]string, dialecttest.Response) {
			t.Helper()
			res := s.Raw("GET", "/apikeys?"+q, "Bearer "+s.Admin, nil)
			var l struct {
				Items      []model `json:"items"`
				Count      int     `json:"count"`
				TotalCount int     `json:"totalCount"`
			}
			if res.Status != 200 {
				return nil, res
			}
			if err := json.Unmarshal(res.Body, &l); err != nil {
				t.Fatalf("%s: %s", q, res.Body)
			}
			if l.Count != len(l.Items) || l.TotalCount != len(l.Items) {
				t.Errorf("%s: got count %d totalCount %d for %d items", q, l.Count, l.TotalCount, len(l.Items))
			}
			got := []string{}
			for _, k := range l.Items {
				got = append(got, k.ID)
			}
			slices.Sort(got)
			return got, res
		}
		expect := func(member, op string, args []any) []string {
			want := []string{}
			for _, k := range keys {
				if holds(k, member, op, args) {
					want = append(want, k.ID)
				}
			}
			slices.Sort(want)
			return want
		}

		memberTypes := map[string]string{"id": "string", "clientId": "string", "name": "string", "description": "string",
			"userName": "string", "deviceName": "string", "isActive": "bool", "createdAt": "time", "_v": "int", "permissions": "set"}
		// values gives, per member, the arguments tested: a present value,
		// another key's, one no key has, and a fragment for contains.
		values := func(member string) []any {
			switch member {
			case "isActive":
				return []any{true, false}
			case "createdAt":
				return []any{pick.CreatedAt, other.CreatedAt}
			case "_v":
				return []any{pick.V, other.V, 7}
			case "permissions":
				return []any{"orders_read", "billing_read", "nothing"}
			}
			a, b := pick.value(member).(string), other.value(member).(string)
			return []any{a, b, "zz-none", strings.ToUpper(a[1:3])}
		}
		n := 0
		for member, typ := range memberTypes {
			for _, op := range []string{"eq", "neq", "gt", "gte", "lt", "lte", "in", "contains"} {
				valid := !(typ == "bool" && op != "eq" && op != "neq" && op != "in") &&
					!(op == "contains" && typ != "string" && typ != "set") &&
					!(typ == "set" && (op == "gt" || op == "gte" || op == "lt" || op == "lte"))
				vs := values(member)
				var cases []struct {
					q    string
					args []any
				}
				add := func(q string, args ...any) {
					cases = append(cases, struct {
						q    string
						args []any
					}{q, args})
				}
				for _, v := range vs {
					if typ == "bool" {
						add(member+"="+op+":"+strings.ToUpper(text(v)), v)
						add(member+"="+op+":"+strings.ToUpper(text(v)[:1])+text(v)[1:], v)
					}
					add(member+"="+op+":"+url.QueryEscape(text(v)), v)
					add(strings.ToUpper(member)+"="+strings.ToUpper(op)+":"+url.QueryEscape(text(v)), v)
					if op == "eq" {
						add(member+"="+url.QueryEscape(text(v)), v)
					}
				}
				if op == "in" {
					if typ != "time" {
						add(member+"=in:"+url.QueryEscape(text(vs[0]))+":"+url.QueryEscape(text(vs[1])), vs[0], vs[1])
					}
					add(member+"=in:"+url.QueryEscape(text(vs[0]))+","+url.QueryEscape(text(vs[1])), vs[0], vs[1])
				}
				for _, c := range cases {
					n++
					got, res := query(t, c.q)
					if !valid {
						if res.Status != 400 || !strings.Contains(strings.ToLower(string(res.Body)), `"field":"`+strings.ToLower(member)+`"`) {
							t.Errorf("%s: got %d %s, want 400 naming %s", c.q, res.Status, res.Body, member)
						}
						continue
					}
					if res.Status != 200 {
						t.Errorf("%s: got %d %s, want 200", c.q, res.Status, res.Body)
						continue
					}
					if want := expect(member, op, c.args); !slices.Equal(got, want) {
						t.Errorf("%s: got %v, want %v", c.q, got, want)
					}
				}
			}
		}
		// Operations on one member are ANDed, with ";" and by repetition.
		got, _ := query(t, "name=gte:b;lt:e&name=neq:delta")
		want := []string{}
		for _, k := range keys {
			if k.Name >= "b" && k.Name < "e" && k.Name != "delta" {
				want = append(want, k.ID)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("ANDed: got %v, want %v", got, want)
		}
		t.Logf("%d filter queries", n)

		// $sort: every member but permissions, both directions, every spelling.
		for member := range memberTypes {
			if member == "permissions" {
				continue
			}
			for _, desc := range []bool{false, true} {
				want := slices.Clone(keys)
				slices.SortStableFunc(want, func(a, b model) int {
					c := compare(a.value(member), b.value(member), true)
					if desc {
						c = -c
					}
					if c == 0 {
						c = strings.Compare(a.ID, b.ID)
					}
					return c
				})
				spellings := []string{member, strings.ToUpper(member), member + ":asc"}
				if desc {
					spellings = []string{"-" + member, member + ":desc", strings.ToUpper(member) + ":DESC"}
				}
				for _, sp := range spellings {
					res := s.Raw("GET", "/apikeys?$sort="+url.QueryEscape(sp), "Bearer "+s.Admin, nil)
					var l struct{ Items []model }
					json.Unmarshal(res.Body, &l)
					var gotIDs, wantIDs []string
					for _, k := range l.Items {
						gotIDs = append(gotIDs, k.Name)
					}
					for _, k := range want {
						wantIDs = append(wantIDs, k.Name)
					}
					if res.Status != 200 || !slices.Equal(gotIDs, wantIDs) {
						t.Errorf("$sort=%s: got %d %v, want %v", sp, res.Status, gotIDs, wantIDs)
					}
				}
			}
		}

		// Paging: $skip/$take, $count exact, no $take answers every match.
		tests := []struct {
			q                 string
			count, totalCount int
			items             bool
		}{
			{"$skip=2&$take=3", 3, 6, true},
			{"$skip=5&$take=3", 1, 6, true},
			{"$skip=9", 0, 6, true},
			{"$count=true", 6, 6, false},
			{"$count=True&$skip=2", 4, 6, false},
			{"$count=true&$take=2", 2, 6, false},
			{"$count=FALSE&isActive=True", 3, 3, true},
		}
		for _, tt := range tests {
			res := s.Raw("GET", "/apikeys?"+tt.q, "Bearer "+s.Admin, nil)
			var l map[string]any
			json.Unmarshal(res.Body, &l)
			_, hasItems := l["items"]
			if res.Status != 200 || l["count"] != float64(tt.count) || l["totalCount"] != float64(tt.totalCount) || hasItems != tt.items {
				t.Errorf("%s: got %d %s, want count %d totalCount %d items %v", tt.q, res.Status, res.Body, tt.count, tt.totalCount, tt.items)
			}
		}
	})
}
