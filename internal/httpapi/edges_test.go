package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/console"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/dialect/piercloud"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signature"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

// fullServer is keyward as "keyward serve" wires it: the native API, every
// dialect and the console, over db, with the database's nonce store.
func fullServer(t testing.TB, db *sqlstore.DB, configure ...func(*keyward.Config)) *server {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return harness(t, db, logs, wiretest.Options{Logger: logger,
		Config: func(cfg *keyward.Config) {
			cfg.NonceStore = db.NonceStore(nil)
			configureAll(configure)(cfg)
		},
		Mount: func(api *httpapi.Server, svc *keyward.Service) {
			for _, mount := range []func(*http.ServeMux, *keyward.Service, dialect.Host){carbonext.Mount, freesewing.Mount, piercloud.Mount, portos.Mount} {
				mount(api.Mux(), svc, api)
			}
			console.Mount(api.Mux(), svc, logger)
		},
		Server: func(hs *http.Server) { hs.MaxHeaderBytes = 64 << 10 }})
}

// backends runs fn on a full server over SQLite and, when configured,
// PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Helper()
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) { fn(t, fullServer(t, db)) })
}

// problemField reports whether body is a problem (or a dialect's error
// shape, when native is false) naming field.
func problemField(body []byte, field string) bool {
	var p httpapi.Problem
	if json.Unmarshal(body, &p) != nil {
		return false
	}
	for _, f := range p.Errors {
		if f.Field == field {
			return true
		}
	}
	return strings.Contains(p.Detail, field)
}

// TestPageNumbersBounded: a page number whose offset would overflow is a
// 400 naming the page on every list, not page 1 under another label or a
// 500 (issue 12 #5).
func TestPageNumbersBounded(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		tests := []struct {
			path, field string
		}{
			{"/v1/apikeys?page=4611686018427387904", "page"},
			{"/v1/apikeys?page=10000001", "page"},
			{"/v1/users?page=4611686018427387904", "page"},
			{"/v1/audit?page=4611686018427387904", "page"},
			{"/v1/tenants?page=4611686018427387904", "page"},
			{"/v1/customers/applications?page=4611686018427387904", "page"},
			{"/apikeys?$skip=9223372036854775807", "$skip"},
		}
		for _, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				res := s.raw("GET", tt.path, "Bearer "+s.admin, nil)
				if res.Status != 400 || !problemField(res.Body, tt.field) {
					t.Errorf("got %d %s, want 400 naming %s", res.Status, res.Body, tt.field)
				}
			})
		}
		res := s.raw("GET", "/v1/apikeys?page=10000000", "Bearer "+s.admin, nil)
		if res.Status != 200 {
			t.Errorf("the last allowed page: got %d %s, want 200", res.Status, res.Body)
		}
	})
}

// TestSecretInPathNotLogged: a secret a client puts in a URL path never
// reaches the log, on any surface (issue 12 #8).
func TestSecretInPathNotLogged(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		var k keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "pasted"}, 201, &k)
		typo := k.ClientSecret[:len(k.ClientSecret)-1] + "0"
		for _, path := range []string{
			"/v1/apikeys/" + k.ClientSecret,
			"/v1/apikeys/" + typo + "/rotate",
			"/apikeys/" + k.ClientSecret,
			"/v1/customers/applications/" + k.ClientSecret,
			"/console/keys/" + k.ClientSecret,
			"/nowhere/" + k.ClientSecret,
		} {
			s.raw("GET", path, "Bearer "+s.admin, nil)
			s.raw("POST", path, "Bearer "+s.admin, strings.NewReader("{}"))
		}
		logs := s.logs.String()
		if !strings.Contains(logs, "[redacted]") {
			t.Fatalf("the log holds no redacted path: %s", logs)
		}
		for _, sec := range []string{k.ClientSecret, typo} {
			if strings.Contains(logs, sec[6:]) {
				t.Errorf("the log holds a secret (%.10s...)", sec)
			}
		}
	})
}

// nws4Request builds a GET of path?query signed with NWS4 over signedQuery
// (normally the same query); doubleEncode percent-encodes each member of
// the Authorization value before the whole value, as some clients do.
func nws4Request(t *testing.T, s *server, k keyward.IssuedKey, path, query, signedQuery string, doubleEncode bool) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+path+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.RawQuery = query
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	bh := signature.BodySHA256(nil)
	req.Header.Set("X-Nd-Date", ts)
	req.Header.Set("X-Nd-Content-Sha256", bh)
	signedHeaders := []string{"host", "x-nd-content-sha256", "x-nd-date"}
	values := map[string]string{"host": req.URL.Host, "x-nd-content-sha256": bh, "x-nd-date": ts}
	cr := signature.NWS4CanonicalRequest("GET", path, signedQuery, values, signedHeaders, bh)
	sig := signature.NWS4Signature(k.ClientSecret, ts[:10], signature.NWS4StringToSign(ts, k.ClientID, cr))
	a := signature.NWS4Auth{Credential: k.ClientID, SignedHeaders: signedHeaders, Timestamp: ts, Signature: sig}
	auth := a.Format()
	if doubleEncode {
		e := url.QueryEscape
		auth = signature.NWS4Algorithm + " " + e("Credential="+e(a.Credential)+",SignedHeaders="+e(strings.Join(signedHeaders, ";"))+
			",Timestamp="+e(ts)+",Signature="+e(sig))
	}
	req.Header.Set("Authorization", auth)
	return req
}

// sendFor sends req and returns the status, the problem code and the body.
func sendFor(t *testing.T, req *http.Request) (int, string, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var p httpapi.Problem
	json.Unmarshal(b, &p)
	return res.StatusCode, p.Code, b
}

// keyNames lists the names in a native or Portos list answer.
func keyNames(b []byte) string {
	var l struct{ Items []struct{ Name string } }
	json.Unmarshal(b, &l)
	var names []string
	for _, k := range l.Items {
		names = append(names, k.Name)
	}
	return strings.Join(names, ",")
}

// TestNWS4HeaderEncodings: an Authorization whose members were encoded
// before the whole value is accepted like the singly encoded one (issue 12
// #10).
func TestNWS4HeaderEncodings(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		k := s.newKey(map[string]any{"name": "portos client", "hmacEnabled": true, "level": 4})
		for _, double := range []bool{false, true} {
			for _, path := range []string{"/v1/whoami", "/apikeys"} {
				code, p, b := sendFor(t, nws4Request(t, s, k, path, "", "", double))
				if code != 200 {
					t.Errorf("%s, members encoded twice %v: got %d %s %s, want 200", path, double, code, p, b)
				}
			}
		}
	})
}

// TestNWS4UnsignedQueryNeverReachesHandler: NWS4 signs a value only up to
// a second '=', and not the order of repeated members; neither an unsigned
// tail nor a reordering may change what the handler acts on (issue 12 #11).
func TestNWS4UnsignedQueryNeverReachesHandler(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		k := s.newKey(map[string]any{"name": "portos client", "hmacEnabled": true, "level": 4})
		s.newKey(map[string]any{"name": "aa=secret", "level": 1})
		s.newKey(map[string]any{"name": "bb", "level": 1})
		s.newKey(map[string]any{"name": "zz=target", "level": 1})

		// A tail after a second '=' is refused, signed or swapped.
		for _, path := range []string{"/v1/apikeys", "/apikeys"} {
			for _, query := range []string{"q=zz=nothing", "q=zz=target"} {
				code, p, b := sendFor(t, nws4Request(t, s, k, path, query, "q=zz=nothing", false))
				if code != 401 || p != keyward.ESIGCOMPONENT {
					t.Errorf("%s?%s signed as q=zz=nothing: got %d %q %s, want 401 %s", path, query, code, p, b, keyward.ESIGCOMPONENT)
				}
			}
		}
		if code, _, b := sendFor(t, nws4Request(t, s, k, "/v1/apikeys", "q=zz%3Dtarget", "q=zz%3Dtarget", false)); code != 200 || keyNames(b) != "zz=target" {
			t.Errorf("q=zz%%3Dtarget signed: got %d %s, want 200 with the key zz=target", code, b)
		}

		// Repeated members: the order is not signed, so the handler sees one
		// order whatever the client sent.
		_, _, first := sendFor(t, nws4Request(t, s, k, "/v1/apikeys", "q=bb&q=aa&sort=name", "q=bb&q=aa&sort=name", false))
		_, _, swapped := sendFor(t, nws4Request(t, s, k, "/v1/apikeys", "q=aa&q=bb&sort=name", "q=bb&q=aa&sort=name", false))
		if keyNames(first) == "" || keyNames(first) != keyNames(swapped) {
			t.Errorf("a reordered signed query: got %q, then %q; want the same answer", keyNames(first), keyNames(swapped))
		}

		// The verifier endpoint refuses such a signature too.
		verifier := s.newKey(map[string]any{"name": "verifier", "permissions": []map[string]string{{"name": "keys:verify"}}})
		req := nws4Request(t, s, k, "/orders", "q=zz=target", "q=zz=nothing", false)
		headers := map[string]string{}
		for name := range req.Header {
			headers[name] = req.Header.Get(name)
		}
		var res keyward.VerifyResult
		s.do("POST", "/v1/signatures/verify", verifier.ClientSecret, map[string]any{"method": "GET", "authority": req.URL.Host,
			"path": "/orders", "query": "q=zz=target", "headers": headers}, 200, &res)
		if res.Valid || res.Reason != keyward.ESIGCOMPONENT {
			t.Errorf("verify q=zz=target signed as q=zz=nothing: got valid=%v %s %s, want invalid %s", res.Valid, res.Code, res.Reason, keyward.ESIGCOMPONENT)
		}
	})
}

// TestBadBytesRefusedEverywhere: a string that is not valid UTF-8, or holds
// NUL, is refused with a 400 naming the field, in each surface's own
// shape, before it reaches either database (issue 12 #1, #2).
func TestBadBytesRefusedEverywhere(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		k := s.newKey(map[string]any{"name": "client", "level": 4})
		keyAuth := basic(k.ClientID, k.ClientSecret)
		admin := "Bearer " + s.admin
		form := "application/x-www-form-urlencoded"
		tests := []struct {
			name, method, path, auth, body, contentType string
			header                                      []string
			want                                        string // a field name or error text the answer must hold
		}{
			{"native query NUL", "GET", "/v1/apikeys?q=%00", admin, "", "", nil, `"field":"q"`},
			{"native tenant", "GET", "/v1/apikeys?tenant=%FF", admin, "", "", nil, `"field":"tenant"`},
			{"native audit action", "GET", "/v1/audit?action=%FF", admin, "", "", nil, `"field":"action"`},
			{"native users q", "GET", "/v1/users?q=%FF", admin, "", "", nil, `"field":"q"`},
			{"native path value", "GET", "/v1/tenants/%FF", admin, "", "", nil, `"field":"id"`},
			{"login NUL escape", "POST", "/v1/login", "", `{"userName":"admin\u0000","password":"x"}`, "", nil, `"field":"userName"`},
			{"login raw 0xFF", "POST", "/v1/login", "", "{\"userName\":\"adm\xffin\",\"password\":\"x\"}", "", nil, `"field":"userName"`},
			{"login tenant", "POST", "/v1/login", "", "{\"userName\":\"admin\",\"password\":\"x\",\"tenant\":\"\xff\"}", "", nil, `"field":"tenant"`},
			{"create name", "POST", "/v1/apikeys", admin, "{\"name\":\"bad\xff\"}", "", nil, `"field":"name"`},
			{"create meta", "POST", "/v1/apikeys", admin, "{\"name\":\"x\",\"meta\":{\"team\":\"\xff\"}}", "", nil, `"field":"meta"`},
			{"create lone surrogate", "POST", "/v1/apikeys", admin, `{"name":"x\ud800"}`, "", nil, `"field":"name"`},
			{"oauth user agent", "POST", "/oauth2/token", "", "grant_type=client_credentials", form, []string{"User-Agent", "\xff"}, `"error_description":"User-Agent: must be valid UTF-8`},
			{"create meta NUL", "POST", "/v1/apikeys", admin, `{"name":"x","meta":{"team":"\u0000"}}`, "", nil, `"field":"meta"`},
			{"user agent", "GET", "/v1/whoami", admin, "", "", []string{"User-Agent", "agent\xff"}, `"field":"User-Agent"`},
			{"oauth form", "POST", "/oauth2/token", "", "grant_type=client_credentials&client_id=%FF&client_secret=x", form, nil, `"error_description":"client_id: must be valid UTF-8`},
			{"keycloak realm", "POST", "/auth/realms/%FF/protocol/openid-connect/token", "", "grant_type=client_credentials&client_id=a&client_secret=b", form, nil, `"error":"invalid_request"`},
			{"keycloak form", "POST", "/auth/realms/default/protocol/openid-connect/token", "", "grant_type=client_credentials&client_id=%00&client_secret=b", form, nil, `"error":"invalid_request"`},
			{"carbonext customer-id", "GET", "/v1/customers/applications?customer-id=%FF", admin, "", "", nil, `"field":"customer-id"`},
			{"carbonext body", "POST", "/v1/customers/applications", admin, "{\"displayName\":\"\xff\"}", "", nil, `"field":"displayName"`},
			{"portos filter NUL", "GET", "/apikeys?name=contains:%00", admin, "", "", nil, `"field":"name"`},
			{"portos body", "POST", "/apikeys", admin, "{\"name\":\"\xff\"}", "", nil, `"field":"name"`},
			{"freesewing query", "GET", "/apikeys/key?x=%FF", keyAuth, "", "", nil, `"result":"error"`},
			{"freesewing body", "POST", "/apikeys/key", keyAuth, "{\"name\":\"\xff\",\"level\":1,\"expiresIn\":60}", "", nil, `"result":"error"`},
			{"piercloud body", "POST", "/auth", "", "{\"client_id\":\"\xff\",\"client_secret\":\"x\"}", "", nil, `"code":"bad-request/invalid-parameters"`},
			{"console query", "GET", "/console/keys?q=%FF", "", "", "", nil, "not valid UTF-8"},
			{"console login form", "POST", "/console/login", "", "userName=%FF&password=x", form, nil, "not valid UTF-8"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var body io.Reader
				if tt.body != "" {
					body = strings.NewReader(tt.body)
				}
				header := tt.header
				if tt.contentType != "" {
					header = append([]string{"Content-Type", tt.contentType}, header...)
				}
				res := s.raw(tt.method, tt.path, tt.auth, body, header...)
				if res.Status != 400 || !strings.Contains(string(res.Body), tt.want) {
					t.Errorf("got %d %s, want 400 holding %s", res.Status, res.Body, tt.want)
				}
				if !utf8.Valid(res.Body) {
					t.Errorf("the answer is not valid UTF-8: %q", res.Body)
				}
			})
		}
		var l httpapi.ListEnvelope[keyward.APIKey]
		s.do("GET", "/v1/apikeys", s.admin, nil, 200, &l)
		if l.TotalCount != 1 {
			t.Errorf("after refused requests: got %d keys, want 1", l.TotalCount)
		}
	})
}

// TestLongUserAgentAudited: a User-Agent longer than the audit keeps, cut
// in the middle of a character, still lets every change through, and the
// audit keeps valid UTF-8 (issue 12 #1).
func TestLongUserAgentAudited(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		ua := strings.Repeat("agent/1.0 ", 51) + "a" + "é" // 511 bytes, then a 2-byte rune
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "audited"}, 201, nil, "User-Agent", ua)
		var l httpapi.ListEnvelope[keyward.AuditEntry]
		s.do("GET", "/v1/audit?action=apikey.create", s.admin, nil, 200, &l)
		if len(l.Items) == 0 {
			s.do("GET", "/v1/audit", s.admin, nil, 200, &l)
		}
		if len(l.Items) == 0 || !utf8.ValidString(l.Items[0].UserAgent) || !strings.HasPrefix(ua, l.Items[0].UserAgent) || len(l.Items[0].UserAgent) < 500 {
			t.Errorf("got audit entries %+v, want the newest with the user agent cut before the é", l.Items)
		}
	})
}

// backendsWith is backends with a Config change.
func backendsWith(t *testing.T, configure func(*keyward.Config), fn func(t *testing.T, s *server)) {
	t.Helper()
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) { fn(t, fullServer(t, db, configure)) })
}

// slowBody is a 10 MiB request body that trickles in 4 KiB every 5 ms
// (about 13 s in all), as an attacker holding a server's memory would send.
type slowBody struct{ left int }

func (b *slowBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(5 * time.Millisecond)
	n := min(len(p), 4096, b.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	b.left -= n
	return n, nil
}

// TestSignedBodyNotBufferedBeforeIdentification: a signed request whose
// keyid names no HMAC key, or that comes from a blocked address, is
// answered from its headers, without waiting for (or buffering) its body
// (issue 12 #13).
func TestSignedBodyNotBufferedBeforeIdentification(t *testing.T) {
	backendsWith(t, func(c *keyward.Config) { c.FailedAuthLimit = &keyward.RateLimit{Limit: 2, WindowSeconds: 3600} }, func(t *testing.T, s *server) {
		hmacKey := s.newKey(map[string]any{"name": "signer", "hmacEnabled": true, "level": 4})
		client := &http.Client{Timeout: 5 * time.Second}
		post := func(keyid, sec string) (int, string) {
			t.Helper()
			req := signed(t, s, "POST", "/v1/apikeys", []byte(`{"name":"x"}`), keyid, sec, nil)
			req.Body, req.ContentLength, req.GetBody = io.NopCloser(&slowBody{left: 10 << 20}), -1, nil
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("keyid %s: no answer before the body ended: %v", keyid, err)
			}
			defer res.Body.Close()
			var p httpapi.Problem
			json.NewDecoder(res.Body).Decode(&p)
			return res.StatusCode, p.Code
		}
		for _, tt := range []struct {
			keyid, secret string
			wantStatus    int
			wantCode      string
		}{
			{hmacKey.ClientID, secret.NewSecret("kw"), 401, keyward.ESIGINVALID}, // a known client id, not its secret
			{"kw_id_nobodyHasThisId00", hmacKey.ClientSecret, 401, keyward.ESIGINVALID},
			{hmacKey.ClientID, hmacKey.ClientSecret, 429, keyward.ERATELIMITED}, // two failures: the address is now blocked
		} {
			if status, code := post(tt.keyid, tt.secret); status != tt.wantStatus || code != tt.wantCode {
				t.Errorf("keyid %s: got %d %s, want %d %s", tt.keyid, status, code, tt.wantStatus, tt.wantCode)
			}
		}
	})
}

// TestSignedRequestsOneAnswer: an unauthenticated signed request learns
// nothing about its keyid: unknown, disabled, expired and non-HMAC keys get
// the answer of a wrong signature; the log and verifiers get the detail
// (issue 12 #16).
func TestSignedRequestsOneAnswer(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		hmacKey := s.newKey(map[string]any{"name": "signer", "hmacEnabled": true, "level": 4})
		off := s.newKey(map[string]any{"name": "off", "hmacEnabled": true, "level": 4, "isActive": false})
		plain := s.newKey(map[string]any{"name": "plain", "level": 4})
		wrong := secret.NewSecret("kw")
		tests := []struct {
			name, keyid, secret, path string
		}{
			{"wrong signature", hmacKey.ClientID, wrong, "/v1/whoami"},
			{"unknown key", "kw_id_nobodyHasThisId00", wrong, "/v1/whoami"},
			{"disabled key", off.ClientID, off.ClientSecret, "/v1/whoami"},
			{"key without hmac", plain.ClientID, plain.ClientSecret, "/v1/whoami"},
			{"portos, disabled key", off.ClientID, off.ClientSecret, "/apikeys"},
			{"carbonext, key without hmac", plain.ClientID, plain.ClientSecret, "/v1/customers/applications"},
		}
		var first string
		for _, tt := range tests {
			res, err := http.DefaultClient.Do(signed(t, s, "GET", tt.path, nil, tt.keyid, tt.secret, nil))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var p httpapi.Problem
			json.Unmarshal(b, &p)
			got := fmt.Sprintf("%d %s %s %s", res.StatusCode, p.Code, p.Detail, res.Header.Get("WWW-Authenticate"))
			if first == "" {
				first = got
			}
			if got != first || p.Code != keyward.ESIGINVALID {
				t.Errorf("%s: got %q, want the same answer as a wrong signature, %q", tt.name, got, first)
			}
		}
		if logs := s.logs.String(); !strings.Contains(logs, keyward.EKEYDISABLED) || !strings.Contains(logs, keyward.EHMACNOTENABLED) {
			t.Errorf("the log lacks the detail (key_disabled, hmac_not_enabled)")
		}
		verifier := s.newKey(map[string]any{"name": "verifier", "permissions": []map[string]string{{"name": "keys:verify"}}})
		req := signed(t, s, "GET", "/orders", nil, off.ClientID, off.ClientSecret, nil)
		headers := map[string]string{}
		for name := range req.Header {
			headers[name] = req.Header.Get(name)
		}
		var res keyward.VerifyResult
		s.do("POST", "/v1/signatures/verify", verifier.ClientSecret, map[string]any{"method": "GET", "authority": req.URL.Host,
			"path": "/orders", "headers": headers}, 200, &res)
		if res.Code != keyward.CodeDisabled {
			t.Errorf("a verifier asking about a disabled key's signature: got %s, want %s", res.Code, keyward.CodeDisabled)
		}
	})
}

// cacheLookups is the number of verify-path key lookups /metrics counts.
func cacheLookups(t *testing.T, s *server) float64 {
	t.Helper()
	res := s.raw("GET", "/metrics", "", nil)
	total := 0.0
	for _, line := range strings.Split(string(res.Body), "\n") {
		for _, name := range []string{"keyward_key_cache_hits_total ", "keyward_key_cache_misses_total "} {
			if v, ok := strings.CutPrefix(line, name); ok {
				f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				total += f
			}
		}
	}
	return total
}

// TestKeycloakRealmLookupSameWork: a token request to a realm that does
// not exist does the same work (a key lookup) as one to a realm that does,
// so its time does not tell which realms exist (issue 12 #16).
func TestKeycloakRealmLookupSameWork(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		k := s.newKey(map[string]any{"name": "realm client", "level": 1})
		for _, realm := range []string{"default", "no-such-realm"} {
			before := cacheLookups(t, s)
			res := s.form("/auth/realms/"+realm+"/protocol/openid-connect/token", "",
				url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ClientID}, "client_secret": {secret.NewSecret("kw")}})
			if res.Status != 401 {
				t.Errorf("realm %s, wrong secret: got %d %s, want 401", realm, res.Status, res.Body)
			}
			if got := cacheLookups(t, s) - before; got != 1 {
				t.Errorf("realm %s: got %v key lookups, want 1", realm, got)
			}
		}
	})
}

// TestRequestListsBounded: every list a request carries is bounded, with a
// 400 naming the bound, so none costs more than a little and every token
// fits a header (issue 12 #14).
func TestRequestListsBounded(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		terms := func(n int, term, sep string) string {
			out := make([]string, n)
			for i := range out {
				out[i] = term
			}
			return strings.Join(out, sep)
		}
		manyPerms := make([]map[string]string, keyward.MaxPermissionRefs+1)
		for i := range manyPerms {
			manyPerms[i] = map[string]string{"name": "apikeys:read"}
		}
		admin := "Bearer " + s.admin
		k := s.newKey(map[string]any{"name": "token client", "level": 1, "permissions": []map[string]string{{"name": "apikeys:read"}}})
		tests := []struct {
			name, method, path, body, contentType, auth, want string
		}{
			{"native sort", "GET", "/v1/apikeys?sort=" + terms(2000, "name", ","), "", "", admin, `"field":"sort"`},
			{"portos sort", "GET", "/apikeys?$sort=" + terms(2000, "name", ","), "", "", admin, `"field":"$sort"`},
			{"portos filters", "GET", "/apikeys?name=" + terms(100, "contains:a", ";"), "", "", admin, `at most 32 conditions`},
			{"key permissions", "POST", "/v1/apikeys", mustJSON(t, map[string]any{"name": "many", "permissions": manyPerms}), "", admin, `"field":"permissions"`},
			{"user permissions", "POST", "/v1/users", mustJSON(t, map[string]any{"userName": "many", "password": "long-enough-1", "permissions": manyPerms}), "", admin, `"field":"permissions"`},
			{"token scope terms", "POST", "/oauth2/token", "grant_type=client_credentials&scope=" + terms(10000, "apikeys:read", "+"), "application/x-www-form-urlencoded",
				basic(k.ClientID, k.ClientSecret), `"error":"invalid_scope"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var body io.Reader
				var header []string
				if tt.body != "" {
					body = strings.NewReader(tt.body)
				}
				if tt.contentType != "" {
					header = []string{"Content-Type", tt.contentType}
				}
				res := s.raw(tt.method, tt.path, tt.auth, body, header...)
				if res.Status != 400 || !strings.Contains(string(res.Body), tt.want) {
					t.Errorf("got %d %.300s, want 400 holding %s", res.Status, res.Body, tt.want)
				}
			})
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBadBasicCredentialsRefused: Basic credentials that decode to invalid
// UTF-8 or hold NUL (raw, or form-encoded as OAuth2 clients send them) are
// bad bytes like any other: 400 in each surface's own shape, not 401.
func TestBadBasicCredentialsRefused(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		k := s.newKey(map[string]any{"name": "client", "level": 4})
		form := []string{"Content-Type", "application/x-www-form-urlencoded"}
		creds := map[string]string{
			"invalid UTF-8 id":     k.ClientID + "\xff:" + k.ClientSecret,
			"NUL in secret":        k.ClientID + ":" + k.ClientSecret + "\x00",
			"form-encoded 0xFF id": "%FF" + k.ClientID + ":" + k.ClientSecret,
			"form-encoded NUL":     k.ClientID + ":%00",
		}
		surfaces := []struct {
			name, method, path, body string
			header                   []string
			want                     string // what the 400 answer must hold
		}{
			{"native", "GET", "/v1/whoami", "", nil, `"field":"Authorization"`},
			{"native verify", "POST", "/v1/keys/verify", `{"key":"x"}`, nil, `"field":"Authorization"`},
			{"oauth2 token", "POST", "/oauth2/token", "grant_type=client_credentials", form, `"error":"invalid_request"`},
			{"oauth2 introspect", "POST", "/oauth2/introspect", "token=x", form, "Authorization"},
			{"oauth2 revoke", "POST", "/oauth2/revoke", "token=x", form, `"error":"invalid_request"`},
			{"keycloak token", "POST", "/auth/realms/default/protocol/openid-connect/token", "grant_type=client_credentials", form, `"error":"invalid_request"`},
			{"carbonext", "GET", "/v1/customers/applications", "", nil, `"field":"Authorization"`},
			{"freesewing", "GET", "/apikeys/key", "", nil, `"result":"error"`},
			{"portos", "GET", "/apikeys", "", nil, `"status":400`},
		}
		for _, sf := range surfaces {
			for name, c := range creds {
				t.Run(sf.name+"/"+name, func(t *testing.T) {
					var body io.Reader
					if sf.body != "" {
						body = strings.NewReader(sf.body)
					}
					auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(c))
					res := s.raw(sf.method, sf.path, auth, body, sf.header...)
					if res.Status != 400 || !strings.Contains(string(res.Body), sf.want) {
						t.Errorf("got %d %s, want 400 holding %s", res.Status, res.Body, sf.want)
					}
					if !utf8.Valid(res.Body) {
						t.Errorf("the answer is not valid UTF-8: %q", res.Body)
					}
				})
			}
		}
		// The same key with clean credentials still works everywhere.
		res := s.raw("GET", "/v1/whoami", basic(k.ClientID, k.ClientSecret), nil)
		if res.Status != 200 {
			t.Errorf("clean Basic credentials: got %d %s, want 200", res.Status, res.Body)
		}
	})
}
