package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTokenEndpointsRefuseTwoCredentials (F3): the token endpoints (native,
// the Keycloak realm's, Pier Cloud's) answer a request with two credentials,
// or a form parameter given twice, 400 invalid_request in their own shape
// (RFC 6749 §2.3 and §3.2) instead of using the first; one credential still
// gets a token.
func TestTokenEndpointsRefuseTwoCredentials(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		k := s.newKey(map[string]any{"name": "client", "level": 1})
		v := s.newKey(map[string]any{"name": "victim", "level": 1})
		const token, realm, pier = "/oauth2/token", "/auth/realms/default/protocol/openid-connect/token", "/auth"
		grant := url.Values{"grant_type": {"client_credentials"}}.Encode()
		post := func(id, sec string) string {
			return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {sec}}.Encode()
		}
		pierBody := func(id, sec string) string {
			b, _ := json.Marshal(map[string]string{"client_id": id, "client_secret": sec})
			return string(b)
		}
		kb, vb := basic(k.ClientID, k.ClientSecret), basic(v.ClientID, v.ClientSecret)
		tests := []struct {
			name, path string
			header     http.Header
			body       string
			want       int
			wantCode   string // error (OAuth2, Keycloak) or code (Pier Cloud)
		}{
			{"token: one Basic", token, http.Header{"Authorization": {kb}}, grant, 200, ""},
			{"token: one post", token, nil, post(k.ClientID, k.ClientSecret), 200, ""},
			{"token: two Basic", token, http.Header{"Authorization": {vb, kb}}, grant, 400, "invalid_request"},
			{"token: Basic and X-API-Key", token, http.Header{"Authorization": {kb}, "X-Api-Key": {"junk"}}, grant, 400, "invalid_request"},
			{"token: X-API-Key and post", token, http.Header{"X-Api-Key": {"junk"}}, post(k.ClientID, k.ClientSecret), 400, "invalid_request"},
			{"token: scope twice", token, http.Header{"Authorization": {kb}}, grant + "&scope=&scope=apikeys:read", 400, "invalid_request"},
			{"realm: one Basic", realm, http.Header{"Authorization": {kb}}, grant, 200, ""},
			{"realm: one post", realm, nil, post(k.ClientID, k.ClientSecret), 200, ""},
			{"realm: Basic and client_id of it", realm, http.Header{"Authorization": {kb}}, grant + "&client_id=" + k.ClientID, 200, ""},
			{"realm: two Basic", realm, http.Header{"Authorization": {vb, kb}}, grant, 400, "invalid_request"},
			{"realm: Basic and X-API-Key", realm, http.Header{"Authorization": {kb}, "X-Api-Key": {"junk"}}, grant, 400, "invalid_request"},
			{"realm: Basic and post", realm, http.Header{"Authorization": {kb}}, post(v.ClientID, v.ClientSecret), 400, "invalid_request"},
			{"realm: Basic and the same post", realm, http.Header{"Authorization": {kb}}, post(k.ClientID, k.ClientSecret), 400, "invalid_request"},
			{"realm: Basic and another client_id", realm, http.Header{"Authorization": {kb}}, grant + "&client_id=" + v.ClientID, 400, "invalid_request"},
			{"realm: X-API-Key and post", realm, http.Header{"X-Api-Key": {"junk"}}, post(k.ClientID, k.ClientSecret), 400, "invalid_request"},
			{"realm: client_id twice", realm, nil, post(k.ClientID, k.ClientSecret) + "&client_id=" + v.ClientID, 400, "invalid_request"},
			{"realm: client_secret twice", realm, nil, post(k.ClientID, k.ClientSecret) + "&client_secret=x", 400, "invalid_request"},
			{"realm: grant_type twice", realm, http.Header{"Authorization": {kb}}, grant + "&grant_type=password", 400, "invalid_request"},
			{"realm: scope twice", realm, http.Header{"Authorization": {kb}}, grant + "&scope=&scope=apikeys:read", 400, "invalid_request"},
			{"pier: body", pier, nil, pierBody(k.ClientID, k.ClientSecret), 201, ""},
			{"pier: body and Basic", pier, http.Header{"Authorization": {vb}}, pierBody(k.ClientID, k.ClientSecret), 400, "bad-request/invalid-parameters"},
			{"pier: body and X-API-Key", pier, http.Header{"X-Api-Key": {v.ClientSecret}}, pierBody(k.ClientID, k.ClientSecret), 400, "bad-request/invalid-parameters"},
			{"pier: body and Bearer", pier, http.Header{"Authorization": {"Bearer junk"}}, pierBody(k.ClientID, k.ClientSecret), 400, "bad-request/invalid-parameters"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", s.URL+tt.path, strings.NewReader(tt.body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if tt.path == pier {
					req.Header.Set("Content-Type", "application/json")
				}
				for name, vals := range tt.header {
					req.Header[name] = vals
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				var e struct{ Error, Code string }
				json.Unmarshal(b, &e)
				got := e.Error
				if tt.path == pier && res.StatusCode != 201 {
					got = e.Code
				}
				if res.StatusCode != tt.want || got != tt.wantCode {
					t.Errorf("got %d %q (%.120s), want %d %q", res.StatusCode, got, b, tt.want, tt.wantCode)
				}
			})
		}
	})
}

// TestBasicNeedsTheClientID (F6): Basic with an empty user name is refused
// as one with another key's client id is (401), on /v1, the OAuth2
// endpoints and every dialect, and so is client_secret_post with an empty
// client_id on the realm's token endpoint; the key's own client id works.
func TestBasicNeedsTheClientID(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		k := s.newKey(map[string]any{"name": "client", "level": 1, "permissions": refs("apikeys:read", "keys:verify")})
		other := s.newKey(map[string]any{"name": "other", "level": 1})
		const realm = "/auth/realms/default/protocol/openid-connect/token"
		for _, user := range []struct {
			name, id string
			ok       bool
		}{{"own client id", k.ClientID, true}, {"empty user name", "", false}, {"another client id", other.ClientID, false}} {
			auth := basic(user.id, k.ClientSecret)
			for _, tt := range []struct {
				method, path, form string
				refused            int // as the endpoint refuses bad credentials
			}{
				{"GET", "/v1/whoami", "", 401},
				{"POST", "/oauth2/token", "grant_type=client_credentials", 401},
				{"POST", "/oauth2/introspect", "token=x", 401},
				{"POST", realm, "grant_type=client_credentials", 401},
				{"GET", "/whoami/key", "", 403},                // FreeSewing answers bad credentials 403
				{"GET", "/apikeys", "", 401},                   // Portos
				{"GET", "/v1/customers/applications", "", 401}, // Carbonext
			} {
				var body io.Reader
				header := []string{}
				if tt.form != "" {
					body = strings.NewReader(tt.form)
					header = []string{"Content-Type", "application/x-www-form-urlencoded"}
				}
				want := tt.refused
				if user.ok {
					want = 200
				}
				if res := s.raw(tt.method, tt.path, auth, body, header...); res.Status != want {
					t.Errorf("%s %s, Basic with the %s: got %d (%.120s), want %d", tt.method, tt.path, user.name, res.Status, res.Body, want)
				}
			}
		}
		for _, tt := range []struct {
			name, id string
			want     int
		}{{"own client_id", k.ClientID, 200}, {"empty client_id", "", 401}, {"another client_id", other.ClientID, 401}} {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tt.id}, "client_secret": {k.ClientSecret}}
			for _, path := range []string{"/oauth2/token", realm} {
				if res := s.form(path, "", form); res.Status != tt.want {
					t.Errorf("%s, post with the %s: got %d (%.120s), want %d", path, tt.name, res.Status, res.Body, tt.want)
				}
			}
		}
	})
}
