package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/dialect/piercloud"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

// dualStackServer is one keyward server, with every dialect, reached on
// 127.0.0.1 (an untrusted peer) and on [::1] (a trusted proxy, so its
// X-Forwarded-For names the client).
func dualStackServer(t *testing.T, db *sqlstore.DB) (v4, v6 *server) {
	t.Helper()
	l4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	w := wiretest.Start(t, db, wiretest.Options{Logger: logger, AdminPassword: adminPassword, Listeners: []net.Listener{l4, l6},
		Config: func(cfg *keyward.Config) { cfg.NonceStore = db.NonceStore(nil) },
		Mount: func(api *httpapi.Server, svc *keyward.Service) {
			api.TrustProxies([]netip.Prefix{netip.MustParsePrefix("::1/128")})
			for _, mount := range []func(*http.ServeMux, *keyward.Service, dialect.Host){carbonext.Mount, freesewing.Mount, piercloud.Mount, portos.Mount} {
				mount(api.Mux(), svc, api)
			}
		}})
	v4 = &server{t: t, URL: w.URLs[0], svc: w.Svc, logs: logs, admin: w.Admin, clock: w.Clock}
	v6 = &server{t: t, URL: w.URLs[1], svc: w.Svc, logs: logs, admin: w.Admin, clock: w.Clock}
	return v4, v6
}

func TestAllowedCIDRsEveryScheme(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		v4, v6 := dualStackServer(t, db)
		create := func(name string, cidrs ...string) keyward.IssuedKey {
			var k keyward.IssuedKey
			v4.do("POST", "/v1/apikeys", v4.admin, map[string]any{"name": name, "level": 8, "hmacEnabled": true,
				"allowedCidrs": cidrs}, 201, &k)
			return k
		}
		keys := map[string]keyward.IssuedKey{
			"v4":    create("v4 loopback", "127.0.0.0/8"),
			"v6":    create("v6 loopback", "::1"),
			"proxy": create("behind the proxy", "198.51.100.0/24", "2001:db8::/32"),
			"open":  create("anywhere"),
		}
		if got := keys["v6"].AllowedCIDRs; len(got) != 1 || got[0] != "::1/128" {
			t.Fatalf("a bare address: got %v, want [::1/128]", got)
		}
		// A token is issued where the key is allowed, then used everywhere.
		tokenOf := func(s *server, xff string, k keyward.IssuedKey) string {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ClientID}, "client_secret": {k.ClientSecret}}
			h := []string{"Content-Type", "application/x-www-form-urlencoded"}
			if xff != "" {
				h = append(h, "X-Forwarded-For", xff)
			}
			res := s.raw("POST", "/oauth2/token", "", strings.NewReader(form.Encode()), h...)
			if res.Status != 200 {
				return ""
			}
			var tok keyward.TokenResponse
			json.Unmarshal(res.Body, &tok)
			return tok.AccessToken
		}
		via := []struct {
			name string
			s    *server
			xff  string
		}{
			{"IPv4", v4, ""},
			{"IPv4 untrusted X-Forwarded-For", v4, "198.51.100.7"},
			{"IPv6", v6, ""},
			{"IPv6 proxy forwarding 198.51.100.7", v6, "198.51.100.7"},
			{"IPv6 proxy forwarding 2001:db8::9", v6, "2001:db8::9"},
			{"IPv6 proxy forwarding 203.0.113.1", v6, "203.0.113.1"},
		}
		// allowed[key][via] says where each key works.
		allowed := map[string][]bool{
			"v4":    {true, true, false, false, false, false},
			"v6":    {false, false, true, false, false, false},
			"proxy": {false, false, false, true, true, false},
			"open":  {true, true, true, true, true, true},
		}
		type scheme struct {
			name string
			req  func(s *server, k keyward.IssuedKey) *http.Request
			// ok is the status of an allowed request; refused ones are 403.
			ok int
			// code is the refused answer's error code in the scheme's shape.
			code func(body []byte) string
		}
		problemCode := func(b []byte) string {
			var p struct {
				Code  string `json:"code"`
				Error string `json:"error"`
			}
			json.Unmarshal(b, &p)
			return p.Code + p.Error
		}
		get := func(path string, set func(r *http.Request, k keyward.IssuedKey)) func(s *server, k keyward.IssuedKey) *http.Request {
			return func(s *server, k keyward.IssuedKey) *http.Request {
				r, _ := http.NewRequest("GET", s.URL+path, nil)
				set(r, k)
				return r
			}
		}
		postForm := func(path string, form func(k keyward.IssuedKey) url.Values) func(s *server, k keyward.IssuedKey) *http.Request {
			return func(s *server, k keyward.IssuedKey) *http.Request {
				r, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(form(k).Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			}
		}
		tokens := map[string]string{}
		for name, k := range keys {
			i := 0
			for !allowed[name][i] {
				i++
			}
			if tokens[name] = tokenOf(via[i].s, via[i].xff, k); tokens[name] == "" {
				t.Fatalf("no token for key %s from %s", name, via[i].name)
			}
		}
		schemes := []scheme{
			{"bearer secret", get("/v1/whoami", func(r *http.Request, k keyward.IssuedKey) { r.Header.Set("Authorization", "Bearer "+k.ClientSecret) }), 200, problemCode},
			{"X-API-Key", get("/v1/whoami", func(r *http.Request, k keyward.IssuedKey) { r.Header.Set("X-API-Key", k.ClientSecret) }), 200, problemCode},
			{"Basic", get("/v1/whoami", func(r *http.Request, k keyward.IssuedKey) {
				r.Header.Set("Authorization", basic(k.ClientID, k.ClientSecret))
			}), 200, problemCode},
			{"keyward-v1 signature", func(s *server, k keyward.IssuedKey) *http.Request {
				return signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, nil)
			}, 200, problemCode},
			{"Portos NWS4", func(s *server, k keyward.IssuedKey) *http.Request {
				r, _ := http.NewRequest("GET", s.URL+"/apikeys", nil)
				nws4(t, r, nil, k.ClientID, k.ClientSecret, time.Now())
				return r
			}, 200, problemCode},
			{"Carbonext bearer", get("/v1/customers/applications", func(r *http.Request, k keyward.IssuedKey) { r.Header.Set("Authorization", "Bearer "+k.ClientSecret) }), 200, problemCode},
			{"FreeSewing Basic", get("/whoami/key", func(r *http.Request, k keyward.IssuedKey) {
				r.Header.Set("Authorization", basic(k.ClientID, k.ClientSecret))
			}), 200,
				func(b []byte) string { return "" }},
			{"access token, used", get("/v1/whoami", func(r *http.Request, k keyward.IssuedKey) {
				for name, kk := range keys {
					if kk.ID == k.ID {
						r.Header.Set("Authorization", "Bearer "+tokens[name])
					}
				}
			}), 200, problemCode},
			{"access token, issued", postForm("/oauth2/token", func(k keyward.IssuedKey) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ClientID}, "client_secret": {k.ClientSecret}}
			}), 200, func(b []byte) string {
				if problemCode(b) == "unauthorized_client" {
					return "ip_not_allowed"
				}
				return problemCode(b)
			}},
			{"Carbonext token", postForm("/auth/realms/default/protocol/openid-connect/token", func(k keyward.IssuedKey) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ClientID}, "client_secret": {k.ClientSecret}}
			}), 200, func(b []byte) string {
				if problemCode(b) == "unauthorized_client" {
					return "ip_not_allowed"
				}
				return problemCode(b)
			}},
			{"Pier Cloud token", func(s *server, k keyward.IssuedKey) *http.Request {
				b, _ := json.Marshal(map[string]string{"client_id": k.ClientID, "client_secret": k.ClientSecret})
				r, _ := http.NewRequest("POST", s.URL+"/auth", strings.NewReader(string(b)))
				r.Header.Set("Content-Type", "application/json")
				return r
			}, 201, problemCode},
		}
		for _, sc := range schemes {
			for name, k := range keys {
				for i, v := range via {
					req := sc.req(v.s, k)
					if v.xff != "" {
						req.Header.Set("X-Forwarded-For", v.xff)
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					var body []byte
					body, _ = readAll(res)
					want := sc.ok
					if !allowed[name][i] {
						want = http.StatusForbidden
					}
					if res.StatusCode != want {
						t.Errorf("%s, key %s, %s: got %d, want %d: %s", sc.name, name, v.name, res.StatusCode, want, body)
						continue
					}
					if want == http.StatusForbidden && sc.name != "FreeSewing Basic" {
						if code := sc.code(body); code != keyward.EIPNOTALLOWED {
							t.Errorf("%s, key %s, %s: got code %q, want %s", sc.name, name, v.name, code, keyward.EIPNOTALLOWED)
						}
					}
				}
			}
		}
	})
}

func readAll(res *http.Response) ([]byte, error) {
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return []byte(b.String()), nil
		}
	}
}

// TestAllowedCIDRsChanges: the allowlist is validated and normalised,
// follows create/PATCH/PUT semantics, binds tokens already issued and
// verify's ip, and only someone who covers the key may widen it.
func TestAllowedCIDRsChanges(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		t.Run("validation", func(t *testing.T) {
			many := make([]string, keyward.MaxAllowedCIDRs+1)
			for i := range many {
				many[i] = "10.0.0." + strconv.Itoa(i%250)
			}
			for _, bad := range [][]string{{"nope"}, {"10.0.0.0/33"}, {""}, {"fe80::1%eth0"}, many} {
				res := s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "bad", "allowedCidrs": bad}, 400, nil)
				if !strings.Contains(string(res.Body), `"field":"allowedCidrs`) {
					t.Errorf("%.40v: got %s, want a field error on allowedCidrs", bad, res.Body)
				}
			}
			var k keyward.IssuedKey
			s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "norm",
				"allowedCidrs": []string{"10.1.2.3/8", "10.0.0.0/8", "2001:DB8::1", "::ffff:192.0.2.1", "192.0.2.1"}}, 201, &k)
			want := []string{"10.0.0.0/8", "2001:db8::1/128", "192.0.2.1/32"}
			if !slices.Equal(k.AllowedCIDRs, want) {
				t.Errorf("got %v, want %v", k.AllowedCIDRs, want)
			}
		})

		t.Run("changes, tokens and verify", func(t *testing.T) {
			var k keyward.IssuedKey
			s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "bound", "level": 3, "allowedCidrs": []string{"127.0.0.1"}}, 201, &k)
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ClientID}, "client_secret": {k.ClientSecret}}
			var tok keyward.TokenResponse
			res := s.raw("POST", "/oauth2/token", "", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
			if res.Status != 200 {
				t.Fatalf("token from an allowed address: got %d %s", res.Status, res.Body)
			}
			json.Unmarshal(res.Body, &tok)
			s.do("GET", "/v1/whoami", tok.AccessToken, nil, 200, nil)

			verify := func(body map[string]any) string {
				var v keyward.VerifyResult
				s.do("POST", "/v1/keys/verify", s.admin, body, 200, &v)
				return v.Code
			}
			for _, tt := range []struct {
				name string
				body map[string]any
				want string
			}{
				{"key from an allowed ip", map[string]any{"key": k.ClientSecret, "ip": "127.0.0.1"}, keyward.CodeValid},
				{"key as IPv4-mapped IPv6", map[string]any{"key": k.ClientSecret, "ip": "::ffff:127.0.0.1"}, keyward.CodeValid},
				{"key from elsewhere", map[string]any{"key": k.ClientSecret, "ip": "203.0.113.1"}, keyward.CodeIPNotAllowed},
				{"key without ip", map[string]any{"key": k.ClientSecret}, keyward.CodeIPNotAllowed},
				{"client credentials from elsewhere", map[string]any{"clientId": k.ClientID, "clientSecret": k.ClientSecret, "ip": "::1"}, keyward.CodeIPNotAllowed},
				{"token from an allowed ip", map[string]any{"token": tok.AccessToken, "ip": "127.0.0.1"}, keyward.CodeValid},
				{"token from elsewhere", map[string]any{"token": tok.AccessToken, "ip": "198.51.100.1"}, keyward.CodeIPNotAllowed},
				{"token without ip", map[string]any{"token": tok.AccessToken}, keyward.CodeIPNotAllowed},
				{"wrong key is still not found", map[string]any{"key": secret.NewSecret("kw"), "ip": "203.0.113.1"}, keyward.CodeNotFound},
			} {
				if got := verify(tt.body); got != tt.want {
					t.Errorf("verify %s: got %s, want %s", tt.name, got, tt.want)
				}
			}
			s.do("POST", "/v1/keys/verify", s.admin, map[string]any{"key": k.ClientSecret, "ip": "not-an-ip"}, 400, nil)

			// Moving the allowlist away binds the token issued before, at once.
			var got keyward.APIKey
			res = s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"allowedCidrs": []string{"203.0.113.0/24"}}, 200, &got)
			if got.Version != k.Version+1 || res.Header.Get("ETag") != `"`+strconv.Itoa(got.Version)+`"` {
				t.Errorf("PATCH: got version %d, ETag %s; want %d", got.Version, res.Header.Get("ETag"), k.Version+1)
			}
			for _, cred := range []string{tok.AccessToken, k.ClientSecret} {
				if res := s.raw("GET", "/v1/whoami", "Bearer "+cred, nil); res.Status != 403 || !strings.Contains(string(res.Body), `"code":"ip_not_allowed"`) {
					t.Errorf("after the change: got %d %s, want 403 ip_not_allowed", res.Status, res.Body)
				}
			}
			if c := verify(map[string]any{"key": k.ClientSecret, "ip": "203.0.113.9"}); c != keyward.CodeValid {
				t.Errorf("verify from the new range: got %s", c)
			}
			// PATCH with null removes it; PUT without it too.
			got = keyward.APIKey{}
			s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"allowedCidrs": nil}, 200, &got)
			if len(got.AllowedCIDRs) != 0 {
				t.Errorf("PATCH null: got %v", got.AllowedCIDRs)
			}
			s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil)
			s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"allowedCidrs": []string{"192.0.2.0/24"}}, 200, &got)
			v := got.Version
			got = keyward.APIKey{}
			s.do("PUT", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"name": "bound", "level": 3, "version": v}, 200, &got)
			if len(got.AllowedCIDRs) != 0 {
				t.Errorf("PUT without allowedCidrs: got %v, want none", got.AllowedCIDRs)
			}
			var read keyward.APIKey
			s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"allowedCidrs": []string{"127.0.0.0/8"}}, 200, nil)
			s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, &read)
			if !slices.Equal(read.AllowedCIDRs, []string{"127.0.0.0/8"}) {
				t.Errorf("GET: got %v", read.AllowedCIDRs)
			}
		})

		t.Run("widening needs the key's rights", func(t *testing.T) {
			s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
			_, seven := s.user("seven", 7)
			var k keyward.IssuedKey
			s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "orders", "level": 7, "permissions": refs("orders_read"),
				"allowedCidrs": []string{"10.0.0.0/8", "127.0.0.1"}}, 201, &k)
			steps := []struct {
				name  string
				token string
				body  map[string]any
				want  int
			}{
				{"rename, no grant", seven, map[string]any{"name": "orders 2"}, 200},
				{"narrow", seven, map[string]any{"allowedCidrs": []string{"10.1.0.0/16", "127.0.0.1"}}, 200},
				{"same again", seven, map[string]any{"allowedCidrs": []string{"127.0.0.1/32", "10.1.0.0/16"}}, 200},
				{"widen", seven, map[string]any{"allowedCidrs": []string{"10.0.0.0/8", "127.0.0.1"}}, 403},
				{"add an address", seven, map[string]any{"allowedCidrs": []string{"10.1.0.0/16", "127.0.0.1", "192.0.2.1"}}, 403},
				{"remove", seven, map[string]any{"allowedCidrs": nil}, 403},
				{"remove as empty", seven, map[string]any{"allowedCidrs": []string{}}, 403},
				{"the key widens itself", k.ClientSecret, map[string]any{"allowedCidrs": []string{"0.0.0.0/0"}}, 403},
				{"the key narrows itself", k.ClientSecret, map[string]any{"allowedCidrs": []string{"127.0.0.1"}}, 200},
				{"who covers it widens", s.admin, map[string]any{"allowedCidrs": []string{"0.0.0.0/0", "::/0"}}, 200},
			}
			for _, st := range steps {
				s.do("PATCH", "/v1/apikeys/"+k.ID, st.token, st.body, st.want, nil)
			}
		})
	})
}
