package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestTokenAudiences: a key's audiences bound what its tokens may carry;
// resource (RFC 8707) and audience pick among them; introspection reports
// aud and follows the key's audiences as they change.
func TestTokenAudiences(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		const orders, billing = "https://orders.example.com", "billing"
		rs := s.newKey(map[string]any{"name": "rs", "permissions": []map[string]string{{"name": "keys:verify"}}})
		scoped := s.newKey(map[string]any{"name": "scoped", "audiences": []string{orders, billing}})
		plain := s.newKey(map[string]any{"name": "plain"})
		if got := strings.Join(scoped.Audiences, " "); got != orders+" "+billing {
			t.Fatalf("created with audiences %q", got)
		}
		if plain.Audiences == nil || len(plain.Audiences) != 0 {
			t.Fatalf("got audiences %#v for a key without, want []", plain.Audiences)
		}
		token := func(k keyward.IssuedKey, form url.Values) (int, string, string) {
			t.Helper()
			form.Set("grant_type", "client_credentials")
			res := s.form("/oauth2/token", basic(k.ClientID, k.ClientSecret), form)
			var tr struct{ AccessToken, Error string }
			json.Unmarshal(res.Body, &struct {
				AccessToken *string `json:"access_token"`
				Error       *string `json:"error"`
			}{&tr.AccessToken, &tr.Error})
			return res.Status, tr.AccessToken, tr.Error
		}
		aud := func(tok string) any {
			t.Helper()
			res := s.form("/oauth2/introspect", basic(rs.ClientID, rs.ClientSecret), url.Values{"token": {tok}})
			var in map[string]any
			json.Unmarshal(res.Body, &in)
			if in["active"] != true {
				return nil
			}
			return in["aud"]
		}
		tests := []struct {
			name      string
			key       keyward.IssuedKey
			form      url.Values
			wantError string
			wantAud   any // as introspection reports it
		}{
			{"default of a key with audiences: all", scoped, url.Values{}, "", []any{orders, billing}},
			{"resource allowed", scoped, url.Values{"resource": {orders}}, "", orders},
			{"audience allowed", scoped, url.Values{"audience": {billing}}, "", billing},
			{"resource and audience", scoped, url.Values{"resource": {orders}, "audience": {billing}}, "", []any{orders, billing}},
			{"repeated resource", scoped, url.Values{"resource": {orders, orders}}, "", orders},
			{"resource not allowed", scoped, url.Values{"resource": {"https://other.example.com"}}, "invalid_target", nil},
			{"keyward not allowed", scoped, url.Values{"audience": {"keyward"}}, "invalid_target", nil},
			{"resource not a URI", scoped, url.Values{"resource": {"billing"}}, "invalid_target", nil},
			{"resource with a fragment", scoped, url.Values{"resource": {orders + "#x"}}, "invalid_target", nil},
			{"default of a key without", plain, url.Values{}, "", "keyward"},
			{"keyward asked of a key without", plain, url.Values{"audience": {"keyward"}}, "", "keyward"},
			{"resource of a key without", plain, url.Values{"resource": {orders}}, "invalid_target", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, tok, e := token(tt.key, tt.form)
				if e != tt.wantError {
					t.Fatalf("got %d error %q, want %q", status, e, tt.wantError)
				}
				if e != "" {
					if status != 400 {
						t.Errorf("got status %d, want 400", status)
					}
					return
				}
				got, _ := json.Marshal(aud(tok))
				want, _ := json.Marshal(tt.wantAud)
				if string(got) != string(want) {
					t.Errorf("introspection aud: got %s, want %s", got, want)
				}
			})
		}

		t.Run("only keyward's audience reaches the management API", func(t *testing.T) {
			_, forOrders, _ := token(scoped, url.Values{"resource": {orders}})
			if res := s.raw("GET", "/v1/whoami", "Bearer "+forOrders, nil); res.Status != 401 {
				t.Errorf("a token for %s on /v1: got %d, want 401", orders, res.Status)
			}
			_, forKeyward, _ := token(plain, url.Values{})
			if res := s.raw("GET", "/v1/whoami", "Bearer "+forKeyward, nil); res.Status != 200 {
				t.Errorf("a token for keyward on /v1: got %d %s, want 200", res.Status, res.Body)
			}
		})

		t.Run("verify checks the audience it is given", func(t *testing.T) {
			_, forOrders, _ := token(scoped, url.Values{"resource": {orders}})
			for _, tt := range []struct {
				audience, want string
			}{{orders, keyward.CodeValid}, {"", keyward.CodeValid}, {billing, keyward.CodeNotFound}, {"keyward", keyward.CodeNotFound}} {
				var res keyward.VerifyResult
				s.do("POST", "/v1/keys/verify", rs.ClientSecret, map[string]any{"token": forOrders, "audience": tt.audience}, 200, &res)
				if res.Code != tt.want {
					t.Errorf("audience %q: got %s, want %s", tt.audience, res.Code, tt.want)
				}
			}
		})

		t.Run("removing an audience ends its tokens", func(t *testing.T) {
			_, forBilling, _ := token(scoped, url.Values{"audience": {billing}})
			_, forOrders, _ := token(scoped, url.Values{"resource": {orders}})
			var k keyward.APIKey
			res := s.do("GET", "/v1/apikeys/"+scoped.ID, s.admin, nil, 200, &k)
			s.do("PATCH", "/v1/apikeys/"+scoped.ID, s.admin, map[string]any{"audiences": []string{orders}}, 200, &k,
				"If-Match", res.Header.Get("ETag"))
			if aud(forBilling) != nil {
				t.Error("a token for a removed audience is still active")
			}
			if aud(forOrders) != orders {
				t.Error("a token for a kept audience is no longer active")
			}
			var audit struct {
				Items []struct {
					Details json.RawMessage `json:"details"`
				} `json:"items"`
			}
			s.do("GET", "/v1/audit?action=apikey.update", s.admin, nil, 200, &audit)
			if len(audit.Items) == 0 || !strings.Contains(string(audit.Items[0].Details), "audiences") {
				t.Errorf("the audit entry does not name the audiences: %+v", audit.Items)
			}
			// PUT without audiences clears them: tokens get the default again.
			s.do("PUT", "/v1/apikeys/"+scoped.ID, s.admin, map[string]any{"name": "scoped"}, 200, &k, "If-Match", `"`+strconv.Itoa(k.Version)+`"`)
			if len(k.Audiences) != 0 {
				t.Errorf("after PUT without audiences: %v", k.Audiences)
			}
			if _, tok, _ := token(scoped, url.Values{}); aud(tok) != "keyward" {
				t.Errorf("after clearing: aud %v, want keyward", aud(tok))
			}
		})

		t.Run("validation", func(t *testing.T) {
			many := make([]string, keyward.MaxAudiences+1)
			for i := range many {
				many[i] = "api-" + strings.Repeat("x", i+1)
			}
			for _, bad := range [][]string{many, {"has space"}, {"a", "a"}, {"https://x.example.com/#frag"}, {""},
				{strings.Repeat("a", keyward.MaxAudienceLen+1)}, {"https://"}, {"ünïcode"}} {
				res := s.raw("POST", "/v1/apikeys", "Bearer "+s.admin, strings.NewReader(mustJSONString(map[string]any{"name": "bad", "audiences": bad})),
					"Content-Type", "application/json")
				if res.Status != 400 || !strings.Contains(string(res.Body), `"field":"audiences`) {
					t.Errorf("audiences %q: got %d %s, want 400 naming audiences", bad, res.Status, res.Body)
				}
			}
			for _, good := range []string{"urn:example:orders", "https://api.example.com/v1", "orders-api", "spiffe://cluster/ns/svc"} {
				s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "good", "audiences": []string{good}}, 201, nil)
			}
		})

		t.Run("adding an audience is a grant", func(t *testing.T) {
			s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
			k := s.newKey(map[string]any{"name": "held", "level": 1, "permissions": []map[string]string{{"name": "orders_read"}}})
			// A manager of every key at level 5 who lacks orders_read.
			_, mgr := s.user("aud-manager", 5, "apikeys:write")
			s.do("PATCH", "/v1/apikeys/"+k.ID, mgr, map[string]any{"description": "renamed"}, 200, nil)
			res := s.raw("PATCH", "/v1/apikeys/"+k.ID, "Bearer "+mgr, strings.NewReader(`{"audiences":["https://payments.example.com"]}`),
				"Content-Type", "application/json")
			if res.Status != 403 {
				t.Errorf("adding an audience to a key holding what the caller lacks: got %d %s, want 403", res.Status, res.Body)
			}
		})
	})
}

func mustJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
