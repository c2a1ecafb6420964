package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

const adminPassword = "admin-password-1"

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a real keyward HTTP server on loopback over a real database.
type server struct {
	t     testing.TB
	URL   string
	svc   *keyward.Service
	logs  *syncBuffer
	admin string // admin login token
	clock *wiretest.Clock
}

func newServer(t testing.TB, db *sqlstore.DB, configure ...func(*keyward.Config)) *server {
	t.Helper()
	return newServerWith(t, db, nil, configure...)
}

// newServerWith is newServer with the dialects that mount adds.
func newServerWith(t testing.TB, db *sqlstore.DB, mount []func(*http.ServeMux, *keyward.Service, dialect.Host), configure ...func(*keyward.Config)) *server {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return harness(t, db, logs, wiretest.Options{Logger: logger, Config: configureAll(configure),
		Mount: func(api *httpapi.Server, svc *keyward.Service) {
			// The request log as serve writes it (json): each line
			// appended by hand, secrets redacted.
			api.LogRequestsTo(httpapi.JSONRequestLog(logs, slog.LevelDebug))
			for _, m := range mount {
				m(api.Mux(), svc, api)
			}
		}})
}

// harness starts the shared test server (wiretest) as this package's
// server, logging to logs.
func harness(t testing.TB, db *sqlstore.DB, logs *syncBuffer, o wiretest.Options) *server {
	t.Helper()
	o.AdminPassword = adminPassword
	w := wiretest.Start(t, db, o)
	return &server{t: t, URL: w.URL, svc: w.Svc, logs: logs, admin: w.Admin, clock: w.Clock}
}

// configureAll applies every configure function in turn.
func configureAll(configure []func(*keyward.Config)) func(*keyward.Config) {
	return func(cfg *keyward.Config) {
		for _, f := range configure {
			f(cfg)
		}
	}
}

// sqliteServer starts a server on a fresh SQLite database.
func sqliteServer(t testing.TB) *server {
	t.Helper()
	return newServer(t, sqltest.SQLite(t))
}

func (s *server) login(tenant, user, password string) string {
	s.t.Helper()
	var res keyward.LoginResult
	s.do("POST", "/v1/login", "", map[string]string{"userName": user, "password": password, "tenant": tenant}, 200, &res)
	return res.AccessToken
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// raw sends a request with an Authorization header value (may be empty).
func (s *server) raw(method, path, auth string, body io.Reader, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// do sends JSON as a bearer token and decodes the answer into out,
// failing unless the status is want.
func (s *server) do(method, path, token string, in any, want int, out any, header ...string) response {
	s.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			s.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	res := s.raw(method, path, auth, body, header...)
	if res.Status != want {
		s.t.Fatalf("%s %s: got status %d, want %d; body %s", method, path, res.Status, want, res.Body)
	}
	if out != nil {
		if err := json.Unmarshal(res.Body, out); err != nil {
			s.t.Fatalf("%s %s: decoding %s: %v", method, path, res.Body, err)
		}
	}
	return res
}

func basic(id, sec string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+sec))
}

func TestAuthenticationSchemes(t *testing.T) {
	s := sqliteServer(t)
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "schemes", "level": 3}, 201, &k)
	tests := []struct {
		name   string
		header []string
		want   int
	}{
		{"bearer secret", []string{"Authorization", "Bearer " + k.ClientSecret}, 200},
		{"x-api-key", []string{"X-API-Key", k.ClientSecret}, 200},
		{"basic", []string{"Authorization", basic(k.ClientID, k.ClientSecret)}, 200},
		{"basic wrong client id", []string{"Authorization", basic("kw_id_nope", k.ClientSecret)}, 401},
		{"basic wrong secret", []string{"Authorization", basic(k.ClientID, secret.NewSecret("kw"))}, 401},
		{"bearer garbage", []string{"Authorization", "Bearer nope"}, 401},
		{"unknown scheme", []string{"Authorization", "Digest x"}, 401},
		{"login token", []string{"Authorization", "Bearer " + s.admin}, 200},
		{"tampered login token", []string{"Authorization", "Bearer " + s.admin[:len(s.admin)-2] + "xx"}, 401},
		{"none", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.raw("GET", "/v1/whoami", "", nil, tt.header...)
			if res.Status != tt.want {
				t.Fatalf("got %d, want %d: %s", res.Status, tt.want, res.Body)
			}
			if tt.want == 401 {
				if !strings.Contains(res.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without WWW-Authenticate")
				}
				if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("got Content-Type %q, want application/problem+json", ct)
				}
				return
			}
			var who keyward.WhoAmI
			json.Unmarshal(res.Body, &who)
			if tt.name != "login token" && (who.Kind != "apikey" || who.ID != k.ID || who.Level != 3) {
				t.Errorf("got %+v, want the key at level 3", who)
			}
		})
	}
}

// TestBadInputChangesNothing: every kind of bad input gets a problem body
// with the right status, and no key is created or changed.
func TestBadInputChangesNothing(t *testing.T) {
	s := sqliteServer(t)
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "original"}, 201, &k)
	tests := []struct {
		name, method, path, body string
		want                     int
		field                    string
	}{
		{"malformed json", "POST", "/v1/apikeys", `{"name": "x"`, 400, ""},
		{"not json", "POST", "/v1/apikeys", `name=x`, 400, ""},
		{"unknown field", "POST", "/v1/apikeys", `{"name": "x", "owner": "me"}`, 400, "owner"},
		{"wrong type", "POST", "/v1/apikeys", `{"name": 5}`, 400, "name"},
		{"trailing data", "POST", "/v1/apikeys", `{"name": "x"} {}`, 400, ""},
		{"empty body", "POST", "/v1/apikeys", ``, 400, ""},
		{"missing name", "POST", "/v1/apikeys", `{}`, 400, "name"},
		{"level range", "POST", "/v1/apikeys", `{"name": "x", "level": 9}`, 400, "level"},
		{"lifespan range", "POST", "/v1/apikeys", `{"name": "x", "tokenLifespanSeconds": 59}`, 400, "tokenLifespanSeconds"},
		{"meta not object", "POST", "/v1/apikeys", `{"name": "x", "meta": [1]}`, 400, "meta"},
		{"meta too large", "POST", "/v1/apikeys", `{"name": "x", "meta": {"a": "` + strings.Repeat("a", 9000) + `"}}`, 400, "meta"},
		{"expires in past", "POST", "/v1/apikeys", `{"name": "x", "expiresAt": "2001-01-01T00:00:00Z"}`, 400, "expiresAt"},
		{"bad time", "POST", "/v1/apikeys", `{"name": "x", "expiresAt": "tomorrow"}`, 400, ""},
		{"oversize", "POST", "/v1/apikeys", `{"name": "` + strings.Repeat("a", 2<<20) + `"}`, 413, ""},
		{"page-size too big", "GET", "/v1/apikeys?page-size=501", ``, 400, "page-size"},
		{"page-size zero", "GET", "/v1/apikeys?page-size=0", ``, 400, "page-size"},
		{"page not a number", "GET", "/v1/apikeys?page=two", ``, 400, "page"},
		{"unknown sort", "GET", "/v1/apikeys?sort=secret", ``, 400, "sort"},
		{"unknown status", "GET", "/v1/apikeys?status=maybe", ``, 400, "status"},
		{"bad uuid get", "GET", "/v1/apikeys/not-a-uuid", ``, 400, "id"},
		{"bad uuid patch", "PATCH", "/v1/apikeys/not-a-uuid", `{"name": "y"}`, 400, "id"},
		{"bad uuid delete", "DELETE", "/v1/apikeys/1234", ``, 400, "id"},
		{"patch clientId", "PATCH", "/v1/apikeys/" + k.ID, `{"clientId": "new"}`, 400, "clientId"},
		{"patch unknown field", "PATCH", "/v1/apikeys/" + k.ID, `{"name": "y", "secret": "z"}`, 400, "secret"},
		{"patch bad level", "PATCH", "/v1/apikeys/" + k.ID, `{"name": "y", "level": -1}`, 400, "level"},
		{"rotate grace range", "POST", "/v1/apikeys/" + k.ID + "/rotate", `{"gracePeriodSeconds": 86401}`, 400, "gracePeriodSeconds"},
		{"audit since", "GET", "/v1/audit?since=yesterday", ``, 400, "since"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" || tt.method != "GET" {
				body = strings.NewReader(tt.body)
			}
			res := s.raw(tt.method, tt.path, "Bearer "+s.admin, body)
			if res.Status != tt.want {
				t.Fatalf("got %d, want %d: %s", res.Status, tt.want, res.Body)
			}
			var p httpapi.Problem
			if err := json.Unmarshal(res.Body, &p); err != nil || p.Status != tt.want || p.Code == "" || p.Title == "" || p.Type == "" {
				t.Fatalf("got body %s, want a problem with status %d", res.Body, tt.want)
			}
			if tt.field != "" {
				found := false
				for _, f := range p.Errors {
					found = found || f.Field == tt.field
				}
				if !found {
					t.Errorf("got errors %+v, want one for field %q", p.Errors, tt.field)
				}
			}
		})
	}
	var l httpapi.ListEnvelope[keyward.APIKey]
	s.do("GET", "/v1/apikeys", s.admin, nil, 200, &l)
	if l.TotalCount != 1 || l.Items[0].Name != "original" || l.Items[0].Version != 1 {
		t.Errorf("after bad input: got %d keys, first %q version %d; want the original key unchanged", l.TotalCount, l.Items[0].Name, l.Items[0].Version)
	}
}

func TestETagAndVersions(t *testing.T) {
	s := sqliteServer(t)
	var k keyward.IssuedKey
	res := s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "v"}, 201, &k)
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("create response without Cache-Control: no-store")
	}
	res = s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, nil)
	if got := res.Header.Get("ETag"); got != `"1"` {
		t.Errorf("got ETag %q, want \"1\"", got)
	}
	if bytes.Contains(res.Body, []byte("clientSecret")) {
		t.Errorf("GET returns clientSecret: %s", res.Body)
	}
	s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"name": "w"}, 412, nil, "If-Match", `"7"`)
	s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"name": "w"}, 200, nil, "If-Match", `"1"`)
	s.do("PUT", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"name": "x", "version": 1}, 409, nil)
	s.do("PUT", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"name": "x"}, 412, nil, "If-Match", `"1"`)
	var rep keyward.APIKey
	s.do("PUT", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"name": "x", "version": 2}, 200, &rep)
	if rep.Name != "x" || rep.Version != 3 {
		t.Errorf("PUT replace: got name %q version %d, want x 3", rep.Name, rep.Version)
	}
	id := secret.NewID()
	var created keyward.IssuedKey
	s.do("PUT", "/v1/apikeys/"+id, s.admin, map[string]any{"name": "new"}, 201, &created)
	if created.ID != id || created.ClientSecret == "" {
		t.Errorf("PUT create: got id %s secret %v, want %s and a secret", created.ID, created.ClientSecret != "", id)
	}
	var del keyward.APIKey
	s.do("DELETE", "/v1/apikeys/"+id, s.admin, nil, 200, &del)
	if del.ID != id || del.Name != "new" {
		t.Errorf("DELETE returned %+v, want the deleted key", del)
	}
	s.do("GET", "/v1/apikeys/"+id, s.admin, nil, 404, nil)
	var rot keyward.IssuedKey
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", s.admin, map[string]any{"gracePeriodSeconds": 60}, 200, &rot)
	if rot.ClientSecret == "" || rot.ClientID != k.ClientID {
		t.Errorf("rotate: got clientId %s secret %v", rot.ClientID, rot.ClientSecret != "")
	}
	s.do("GET", "/v1/whoami", rot.ClientSecret, nil, 200, nil)
	s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil) // still in grace
}

func TestListAPIKeys(t *testing.T) {
	s := sqliteServer(t)
	for _, n := range []string{"Alpha", "beta", "Gamma", "alphabet", "100% juice"} {
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": n}, 201, nil)
	}
	var off keyward.IssuedKey
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "off", "isActive": false}, 201, &off)
	tests := []struct {
		query     string
		wantNames string
		wantTotal int
		wantPages int
		wantNext  bool
	}{
		{"?q=ALPHA&sort=name", "Alpha,alphabet", 2, 1, false},
		{"?q=%25&sort=name", "100% juice", 1, 1, false},
		{"?status=inactive", "off", 1, 1, false},
		{"?status=active&sort=name&page-size=2", "100% juice,Alpha", 5, 3, true},
		{"?status=active&sort=name&page-size=2&page=3", "Gamma", 5, 3, false},
		{"?sort=-name&page-size=1", "off", 6, 6, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var l httpapi.ListEnvelope[keyward.APIKey]
			s.do("GET", "/v1/apikeys"+tt.query, s.admin, nil, 200, &l)
			var names []string
			for _, k := range l.Items {
				names = append(names, k.Name)
			}
			if strings.Join(names, ",") != tt.wantNames || l.TotalCount != tt.wantTotal || l.TotalPages != tt.wantPages || l.HasNextPage != tt.wantNext {
				t.Errorf("got %v total=%d pages=%d next=%v, want %s total=%d pages=%d next=%v",
					names, l.TotalCount, l.TotalPages, l.HasNextPage, tt.wantNames, tt.wantTotal, tt.wantPages, tt.wantNext)
			}
		})
	}
}

// TestNoSecretInLogs runs a session of requests and checks the log holds
// none of the secrets or passwords involved.
func TestNoSecretInLogs(t *testing.T) {
	s := sqliteServer(t)
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "logged", "permissions": []map[string]string{{"name": "keys:verify"}}}, 201, &k)
	s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil)
	s.raw("GET", "/v1/whoami?key="+k.ClientSecret, basic(k.ClientID, k.ClientSecret+"x"), nil)
	s.do("POST", "/v1/keys/verify", k.ClientSecret, map[string]string{"key": k.ClientSecret}, 200, nil)
	var rot keyward.IssuedKey
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", s.admin, nil, 200, &rot)
	s.do("POST", "/v1/login", "", map[string]string{"userName": "admin", "password": "wrong-password"}, 401, nil)
	logs := s.logs.String()
	if !strings.Contains(logs, `"route":"GET /v1/whoami"`) {
		t.Fatalf("request log lines missing: %s", logs)
	}
	for _, sec := range []string{k.ClientSecret, rot.ClientSecret, adminPassword, "wrong-password", s.admin} {
		if strings.Contains(logs, sec) {
			t.Errorf("the log holds a secret (%.10s...)", sec)
		}
	}
}

func TestOperationalEndpoints(t *testing.T) {
	s := sqliteServer(t)
	s.do("GET", "/healthz", "", nil, 200, nil)
	s.do("GET", "/readyz", "", nil, 200, nil)
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "m", "permissions": []map[string]string{{"name": "keys:verify"}}}, 201, &k)
	s.do("POST", "/v1/keys/verify", k.ClientSecret, map[string]string{"key": k.ClientSecret}, 200, nil)
	res := s.do("GET", "/metrics", "", nil, 200, nil)
	for _, want := range []string{
		`keyward_http_requests_total{method="POST",route="/v1/apikeys",status="201"} 1`,
		`keyward_verifications_total{code="VALID"} 1`,
		"keyward_key_cache_hits_total",
		"keyward_key_cache_entries 1\n", // the key, verifier and verified
		"keyward_key_cache_capacity 1e+06\n",
		"keyward_key_cache_evictions_total 0\n",
		"process_resident_memory_bytes",
		"keyward_http_request_duration_seconds_bucket",
	} {
		if !bytes.Contains(res.Body, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if bytes.Contains(res.Body, []byte(k.ClientSecret)) || bytes.Contains(res.Body, []byte(k.ID)) {
		t.Errorf("metrics name a key")
	}
	if id := res.Header.Get("X-Request-Id"); len(id) != 16 {
		t.Errorf("got X-Request-Id %q, want 16 hex characters", id)
	}
}

func TestRootAdminActsInOtherTenant(t *testing.T) {
	s := sqliteServer(t)
	var tn keyward.Tenant
	s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": "acme", "prefix": "acme"}, 201, &tn)
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys?tenant=acme", s.admin, map[string]any{"name": "in acme"}, 201, &k)
	if k.TenantID != tn.ID || !strings.HasPrefix(k.ClientID, "acme_id_") {
		t.Errorf("got tenant %s clientId %s, want %s and prefix acme_id_", k.TenantID, k.ClientID, tn.ID)
	}
	var l httpapi.ListEnvelope[keyward.APIKey]
	s.do("GET", "/v1/apikeys", s.admin, nil, 200, &l)
	if l.TotalCount != 0 {
		t.Errorf("root tenant lists %d keys of acme", l.TotalCount)
	}
	// A tenant's own admin may not switch tenants.
	var u keyward.User
	s.do("POST", "/v1/users?tenant=acme", s.admin, map[string]any{"userName": "boss", "password": "boss-password", "level": 8}, 201, &u)
	boss := s.login("acme", "boss", "boss-password")
	s.do("GET", "/v1/apikeys?tenant=default", boss, nil, 404, nil)
	s.do("GET", "/v1/tenants", boss, nil, 403, nil)
	s.do("POST", "/v1/tenants", boss, map[string]any{"name": "evil"}, 403, nil)
}
