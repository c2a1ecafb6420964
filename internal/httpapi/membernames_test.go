package httpapi_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestMemberNamesExact (F4): member names match exactly. A verifier (only
// keys:verify) cannot make a key without orders:write pass a check for it
// by adding "Permissions": [] (or "permiſſions", or a Kelvin-sign "Key"),
// on verify or verify:batch; a key with apikeys:write cannot create a key
// of another level with "Level", nor import a line whose "Secret" or
// "Level" another reader would not see. Each is 400 naming the member.
func TestMemberNamesExact(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders:write"}, 201, nil)
		verifier := s.newKey(map[string]any{"name": "verifier", "level": 1, "permissions": refs("keys:verify")})
		reader := s.newKey(map[string]any{"name": "reader", "level": 1})
		writer := s.newKey(map[string]any{"name": "writer", "level": 8, "permissions": refs("apikeys:write")})

		unknown := func(what string, res response, field string) {
			t.Helper()
			var p struct {
				Errors []keyward.FieldError `json:"errors"`
			}
			_ = json.Unmarshal(res.Body, &p)
			if res.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Field != field || strings.Contains(string(res.Body), `"valid":true`) {
				t.Errorf("%s: got %d %s, want 400 naming %s", what, res.Status, res.Body, field)
			}
		}
		post := func(path, auth, body string, header ...string) response {
			return s.raw("POST", path, "Bearer "+auth, strings.NewReader(body), header...)
		}
		k := reader.ClientSecret
		for _, c := range []struct{ body, field string }{
			{`{"key":"` + k + `","permissions":["orders:write"],"Permissions":[]}`, "Permissions"},
			{`{"key":"` + k + `","permissions":["orders:write"],"permiſſions":[]}`, "permiſſions"},
			{`{"key":"` + k + `","permissions":["orders:write"],"\u212aey":"` + k + `"}`, "\u212aey"},
		} {
			unknown("verify "+c.body, post("/v1/keys/verify", verifier.ClientSecret, c.body), c.field)
			unknown("verify:batch "+c.body, post("/v1/keys/verify:batch", verifier.ClientSecret, `{"items":[{"key":"x"},`+c.body+`]}`), "items[1]."+c.field)
		}
		// The exact body is checked as it says.
		var v keyward.VerifyResult
		s.do("POST", "/v1/keys/verify", verifier.ClientSecret, map[string]any{"key": k, "permissions": []string{"orders:write"}}, 200, &v)
		if v.Valid || v.Code != keyward.CodeInsufficientPermissions {
			t.Errorf("verify without orders:write: got %+v", v)
		}

		unknown("create Level", post("/v1/apikeys", writer.ClientSecret, `{"name":"x","level":2,"Level":8}`), "Level")
		unknown("create rateLimit.Limit", post("/v1/apikeys", writer.ClientSecret, `{"name":"x","rateLimit":{"limit":1,"windowSeconds":60,"Limit":9}}`), "rateLimit.Limit")
		a, res := s.importKeys("Bearer "+writer.ClientSecret, ndjson(
			`{"name":"a","level":2,"Level":8,"secret":"Summer2024!Password-a"}`,
			`{"name":"b","secret":"Summer2024!Password-b","Secret":"Winter2024!Password-b"}`,
			`{"name":"c","secret":"Summer2024!Password-c"}`,
		), 200)
		if a.Created != 1 || len(a.Items) != 3 || a.Items[0].Problem == nil || a.Items[1].Problem == nil || a.Items[2].Problem != nil {
			t.Fatalf("import: got %s", res.Body)
		}
		for i, field := range []string{"Level", "Secret"} {
			if p := a.Items[i].Problem; len(p.Errors) != 1 || p.Errors[0].Field != field {
				t.Errorf("import line %d: got %+v, want %s", i+1, p, field)
			}
		}
	})
}

// goTypeInProblem matches what names a Go type in a problem: keyward's
// input types, Go's kinds, encoding/json's wording.
var goTypeInProblem = regexp.MustCompile(`APIKeyInput|ImportLine|VerifyRequest|RateLimit\b|Credits\b|Refill|NamedRateLimit|PermissionRef|` +
	`PermissionInput|UserInput|TenantInput|RotateInput|replaceBody|loginBody|signatureVerifyBody|verifyBatch|Optional|` +
	`\bu?int(8|16|32|64)?\b|float|time\.Time|\[\]|map\[|\*|Go |json:|struct|interface`)

// TestProblemsNameNoGoType (F11): every native endpoint's answer to a body
// of a wrong type names the JSON member ("level", "rateLimit.limit"),
// never a Go type ("APIKeyInput.level"), import lines and replace (an
// embedded struct) included.
func TestProblemsNameNoGoType(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		k := s.newKey(map[string]any{"name": "target", "level": 1})
		for _, tt := range []struct {
			method, path, body, field string
		}{
			{"POST", "/v1/apikeys", `{"name":"x","level":"8"}`, "level"},
			{"POST", "/v1/apikeys", `{"name":"x","rateLimit":{"limit":"1","windowSeconds":1}}`, "rateLimit.limit"},
			{"POST", "/v1/apikeys", `{"name":"x","credits":{"remaining":1,"refill":{"amount":[]}}}`, "credits.refill.amount"},
			{"POST", "/v1/apikeys", `{"name":"x","expiresIn":1.5}`, "expiresIn"},
			{"PATCH", "/v1/apikeys/" + k.ID, `{"isActive":"no"}`, "isActive"},
			{"PUT", "/v1/apikeys/" + k.ID, `{"name":"x","level":true}`, "level"},
			{"PUT", "/v1/apikeys/" + k.ID, `{"name":"x","permissions":[{"id":1}]}`, "permissions.id"},
			{"POST", "/v1/apikeys/" + k.ID + "/rotate", `{"gracePeriodSeconds":"60"}`, "gracePeriodSeconds"},
			{"POST", "/v1/keys/verify", `{"key":"k","cost":"1"}`, "cost"},
			{"POST", "/v1/keys/verify:batch", `{"items":[{"key":1}]}`, "items.key"},
			{"POST", "/v1/signatures/verify", `{"method":1}`, "method"},
			{"POST", "/v1/users", `{"userName":"u","level":"1"}`, "level"},
			{"POST", "/v1/tenants", `{"name":"t","isActive":1}`, "isActive"},
			{"POST", "/v1/permissions", `{"name":"p","children":{}}`, "children"},
			{"POST", "/v1/login", `{"userName":1}`, "userName"},
		} {
			res := s.raw(tt.method, tt.path, "Bearer "+s.admin, strings.NewReader(tt.body))
			if res.Status != 400 || !problemField(res.Body, tt.field) || goTypeInProblem.Match(res.Body) {
				t.Errorf("%s %s %s: got %d %s, want 400 naming %s and no Go type", tt.method, tt.path, tt.body, res.Status, res.Body, tt.field)
			}
		}
		a, res := s.importKeys("Bearer "+s.admin, ndjson(`{"name":"x","level":"2","secret":"Summer2024!Password-x"}`,
			`{"name":"y","rateLimit":{"limit":"1"},"secret":"Summer2024!Password-y"}`), 200)
		if goTypeInProblem.Match(res.Body) || len(a.Items) != 2 {
			t.Fatalf("import: %s names a Go type", res.Body)
		}
		for i, field := range []string{"level", "rateLimit.limit"} {
			if p := a.Items[i].Problem; p == nil || len(p.Errors) != 1 || p.Errors[0].Field != field {
				t.Errorf("import line %d: got %+v, want %s", i+1, p, field)
			}
		}
	})
}
