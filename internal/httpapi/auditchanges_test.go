package httpapi_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestAuditRecordsOldAndNew: each change's audit entry holds exactly the
// old and new values of the fields it changed, sets as added/removed, and
// a password as withheld; no secret, password or hash appears in any row.
func TestAuditRecordsOldAndNew(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		type perm struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		var read, write, comp perm
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders:read"}, 201, &read)
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders:write"}, 201, &write)
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders:all",
			"children": []map[string]string{{"name": "orders:read"}}}, 201, &comp)
		var key struct {
			ID           string `json:"id"`
			ClientSecret string `json:"clientSecret"`
		}
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "Old name", "level": 3, "hmacEnabled": true,
			"permissions": []map[string]string{{"name": "orders:read"}}}, 201, &key)
		s.do("PATCH", "/v1/apikeys/"+key.ID, s.admin, map[string]any{"name": "Neuer Name ✓", "level": 5,
			"permissions": []map[string]string{{"name": "orders:write"}}, "hmacEnabled": false,
			"rateLimit": map[string]int{"limit": 100, "windowSeconds": 60}, "meta": map[string]string{"team": "x"}}, 200, nil)
		var rotated struct {
			ClientSecret string `json:"clientSecret"`
		}
		s.do("POST", "/v1/apikeys/"+key.ID+"/rotate", s.admin, nil, 200, &rotated)
		var user struct {
			ID string `json:"id"`
		}
		const pw1, pw2 = "first-password-Zq81", "second-password-Kx27"
		s.do("POST", "/v1/users", s.admin, map[string]any{"userName": "ana", "password": pw1, "level": 2}, 201, &user)
		s.do("PATCH", "/v1/users/"+user.ID, s.admin, map[string]any{"level": 4, "password": pw2,
			"permissions": []map[string]string{{"name": "orders:read"}}}, 200, nil)
		s.do("PATCH", "/v1/permissions/"+comp.ID, s.admin, map[string]any{
			"children": []map[string]string{{"name": "orders:write"}}}, 200, nil)

		var page struct {
			Items []struct {
				Action   string          `json:"action"`
				TargetID string          `json:"targetId"`
				Details  json.RawMessage `json:"details"`
			} `json:"items"`
		}
		res := s.do("GET", "/v1/audit?pageSize=100", s.admin, nil, 200, &page)
		for _, leak := range []string{key.ClientSecret, rotated.ClientSecret, pw1, pw2, "$argon2"} {
			if leak != "" && strings.Contains(string(res.Body), leak) {
				t.Errorf("the audit log holds a secret (%.12q…)", leak)
			}
		}
		changes := func(action, target string) any {
			t.Helper()
			for _, e := range page.Items {
				if e.Action == action && e.TargetID == target {
					var d struct {
						Changes any `json:"changes"`
					}
					if err := json.Unmarshal(e.Details, &d); err != nil {
						t.Fatal(err)
					}
					return d.Changes
				}
			}
			t.Fatalf("no %s entry for %s", action, target)
			return nil
		}
		j := func(s string) any {
			var v any
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		for _, tc := range []struct {
			action, target string
			want           string
		}{
			{"apikey.update", key.ID, `[{"field":"name","old":"Old name","new":"Neuer Name ✓"},
				{"field":"level","old":3,"new":5},
				{"field":"permissions","added":["orders:write"],"removed":["orders:read"]},
				{"field":"hmacEnabled","old":true,"new":false},
				{"field":"rateLimit","old":null,"new":{"limit":100,"windowSeconds":60}},
				{"field":"meta","withheld":true}]`},
			{"user.update", user.ID, `[{"field":"level","old":2,"new":4},
				{"field":"permissions","added":["orders:read"],"removed":[]},
				{"field":"password","withheld":true}]`},
			{"permission.update", comp.ID, `[{"field":"members","added":["orders:write"],"removed":["orders:read"]}]`},
		} {
			if got, want := changes(tc.action, tc.target), j(tc.want); !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				t.Errorf("%s changes: got %s, want %s", tc.action, g, tc.want)
			}
		}
	})
}
