package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

// loadDoc fetches /openapi.json from s and loads it with kin-openapi.
func loadDoc(t *testing.T, s *server) *openapi3.T {
	t.Helper()
	res := s.do("GET", "/openapi.json", "", nil, 200, nil)
	doc, err := openapi3.NewLoader().LoadFromData(res.Body)
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentValid(t *testing.T) {
	doc := loadDoc(t, sqliteServer(t))
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("got openapi %q, want 3.1.0", doc.OpenAPI)
	}
}

// TestOpenAPICoversRoutes: the document describes exactly the routes the
// server serves.
func TestOpenAPICoversRoutes(t *testing.T) {
	s := sqliteServer(t)
	doc := loadDoc(t, s)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	served := httpapi.New(s.svc, nil, nil).Patterns()
	sort.Strings(documented)
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Errorf("documented routes:\n%s\n\nserved routes:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
}

// validating is an http.RoundTripper that checks every request and
// response against the document and records which operations and statuses
// were exercised.
type validating struct {
	t      *testing.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool // "METHOD /path status"
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("%s %s: not in the document: %v", req.Method, req.URL.Path, err)
		return http.DefaultTransport.RoundTrip(req)
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	reqErr := openapi3filter.ValidateRequest(req.Context(), in)
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	// A request the document calls invalid must be refused by the server.
	if reqErr != nil && res.StatusCode < 400 {
		v.t.Errorf("%s %s: the document rejects the request (%v) but the server answered %d", req.Method, req.URL.Path, reqErr, res.StatusCode)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		v.t.Errorf("%s %s → %d: the response does not match the document: %v\nbody: %s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
	v.mu.Lock()
	v.seen[req.Method+" "+route.Path] = true
	v.mu.Unlock()
	return res, nil
}

// TestOpenAPIMatchesLiveResponses drives every route, with successes and
// errors, and validates each request and response against the document.
func TestOpenAPIMatchesLiveResponses(t *testing.T) {
	openapi3filter.RegisterBodyDecoder("text/plain", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
	s := sqliteServer(t)
	doc := loadDoc(t, s)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	v := &validating{t: t, router: router, seen: map[string]bool{}}
	prev := http.DefaultClient.Transport
	http.DefaultClient.Transport = v
	defer func() { http.DefaultClient.Transport = prev }()

	admin := s.admin
	s.do("GET", "/healthz", "", nil, 200, nil)
	s.do("GET", "/readyz", "", nil, 200, nil)
	s.do("GET", "/metrics", "", nil, 200, nil)
	s.do("GET", "/openapi.json", "", nil, 200, nil)
	s.do("POST", "/v1/login", "", map[string]string{"userName": "admin", "password": "wrong-password"}, 401, nil)
	s.do("GET", "/v1/whoami", admin, nil, 200, nil)
	s.do("GET", "/v1/whoami", "", nil, 401, nil)

	var perm keyward.Permission
	s.do("POST", "/v1/permissions", admin, map[string]any{"name": "orders_read", "description": "read orders"}, 201, &perm)
	s.do("POST", "/v1/permissions", admin, map[string]any{"name": "orders_read"}, 409, nil)
	s.do("POST", "/v1/permissions", admin, map[string]any{"name": "orders_all", "children": []map[string]string{{"name": "orders_read"}}}, 201, nil)
	s.do("GET", "/v1/permissions", admin, nil, 200, nil)
	s.do("GET", "/v1/permissions/"+perm.ID, admin, nil, 200, nil)
	s.do("PATCH", "/v1/permissions/"+perm.ID, admin, map[string]any{"description": "changed"}, 200, nil)

	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys", admin, map[string]any{"name": "documented", "level": 2, "expiresIn": 3600,
		"permissions": []map[string]string{{"name": "orders_read"}, {"name": "keys:verify"}}, "meta": map[string]any{"a": 1}}, 201, &k)
	s.do("POST", "/v1/apikeys", admin, map[string]any{"level": 2}, 400, nil)
	s.raw("POST", "/v1/apikeys", "Bearer "+admin, strings.NewReader(`{"name": "`+strings.Repeat("a", 2<<20)+`"}`))
	s.do("GET", "/v1/apikeys?q=doc&status=active&sort=-createdAt&page=1&page-size=5", admin, nil, 200, nil)
	s.do("GET", "/v1/apikeys?page-size=900", admin, nil, 400, nil)
	s.do("GET", "/v1/apikeys/"+k.ID, admin, nil, 200, nil)
	s.do("GET", "/v1/apikeys/"+secret.NewID(), admin, nil, 404, nil)
	s.do("PATCH", "/v1/apikeys/"+k.ID, admin, map[string]any{"name": "renamed", "expiresAt": nil}, 200, nil)
	s.do("PATCH", "/v1/apikeys/"+k.ID, admin, map[string]any{"name": "x"}, 412, nil, "If-Match", `"99"`)
	s.do("PUT", "/v1/apikeys/"+k.ID, admin, map[string]any{"name": "replaced", "version": 99}, 409, nil)
	s.do("PUT", "/v1/apikeys/"+k.ID, admin, map[string]any{"name": "replaced", "version": 2,
		"permissions": []map[string]string{{"name": "orders_read"}, {"name": "keys:verify"}}}, 200, nil)
	s.do("PUT", "/v1/apikeys/"+secret.NewID(), admin, map[string]any{"name": "put-created"}, 201, nil)
	var rot keyward.IssuedKey
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", admin, map[string]any{"gracePeriodSeconds": 60}, 200, &rot)
	s.do("POST", "/v1/keys/verify", rot.ClientSecret, map[string]any{"key": rot.ClientSecret, "permissions": []string{"orders_read"}}, 200, nil)
	s.do("POST", "/v1/keys/verify", rot.ClientSecret, map[string]any{"key": secret.NewSecret("kw")}, 200, nil)
	s.do("POST", "/v1/keys/verify", admin, map[string]any{}, 400, nil)
	s.do("POST", "/v1/keys/verify:batch", rot.ClientSecret, map[string]any{"items": []map[string]any{
		{"key": rot.ClientSecret, "permissions": []string{"orders_read"}}, {"key": secret.NewSecret("kw")}}}, 200, nil)
	s.do("POST", "/v1/keys/verify:batch", admin, map[string]any{"items": []map[string]any{}}, 400, nil)
	s.do("POST", "/v1/signatures/verify", rot.ClientSecret, map[string]any{"method": "GET", "authority": "api.example.com",
		"path": "/orders", "headers": map[string]string{"Signature-Input": "x", "Signature": "y"}}, 200, nil)
	s.do("POST", "/v1/signatures/verify", rot.ClientSecret, map[string]any{"method": "GET"}, 400, nil)
	if err := s.svc.FlushLastUsed(t.Context()); err != nil {
		t.Fatal(err)
	}
	var usage keyward.KeyUsage
	s.do("GET", "/v1/apikeys/"+k.ID+"/usage?days=7", admin, nil, 200, &usage)
	if len(usage.Days) != 7 || usage.Total < 2 {
		t.Errorf("usage after two verifications: got %d days, total %d", len(usage.Days), usage.Total)
	}
	s.do("GET", "/v1/apikeys/"+k.ID+"/usage?days=91", admin, nil, 400, nil)

	var u keyward.User
	s.do("POST", "/v1/users", admin, map[string]any{"userName": "docs", "password": "docs-password", "level": 2}, 201, &u)
	s.do("GET", "/v1/users?q=do", admin, nil, 200, nil)
	s.do("GET", "/v1/users/"+u.ID, admin, nil, 200, nil)
	s.do("PATCH", "/v1/users/"+u.ID, admin, map[string]any{"level": 3}, 200, nil)
	docsLogin := s.login("", "docs", "docs-password")
	s.do("POST", "/v1/users", docsLogin, map[string]any{"userName": "nope", "password": "nope-password"}, 403, nil)

	var tn keyward.Tenant
	s.do("POST", "/v1/tenants", admin, map[string]any{"name": "documented", "prefix": "doc"}, 201, &tn)
	s.do("GET", "/v1/tenants", admin, nil, 200, nil)
	s.do("GET", "/v1/tenants/"+tn.ID, admin, nil, 200, nil)
	s.do("PATCH", "/v1/tenants/"+tn.ID, admin, map[string]any{"prefix": "doc2"}, 200, nil)
	s.do("GET", "/v1/audit?action=apikey.create&page-size=3", admin, nil, 200, nil)

	s.do("GET", "/.well-known/jwks.json", "", nil, 200, nil)
	s.do("GET", "/.well-known/oauth-authorization-server", "", nil, 200, nil)
	s.do("GET", "/.well-known/oauth-authorization-server/not-the-issuer", "", nil, 404, nil)
	tokRes := s.form("/oauth2/token", basic(rot.ClientID, rot.ClientSecret), url.Values{"grant_type": {"client_credentials"}})
	var tr keyward.TokenResponse
	json.Unmarshal(tokRes.Body, &tr)
	s.form("/oauth2/token", basic(rot.ClientID, rot.ClientSecret), url.Values{"grant_type": {"password"}})
	s.form("/oauth2/token", basic(rot.ClientID, "wrong"), url.Values{"grant_type": {"client_credentials"}})
	s.form("/oauth2/introspect", "Bearer "+rot.ClientSecret, url.Values{"token": {tr.AccessToken}})
	s.form("/oauth2/revoke", basic(rot.ClientID, rot.ClientSecret), url.Values{"token": {tr.AccessToken}})
	s.form("/oauth2/introspect", "Bearer "+rot.ClientSecret, url.Values{"token": {tr.AccessToken}})

	s.do("DELETE", "/v1/apikeys/"+k.ID, admin, nil, 200, nil)
	s.do("DELETE", "/v1/permissions/"+perm.ID, admin, nil, 409, nil) // held by orders_all
	s.do("DELETE", "/v1/users/"+u.ID, admin, nil, 200, nil)

	for _, pattern := range httpapi.New(s.svc, nil, nil).Patterns() {
		if !v.seen[pattern] {
			t.Errorf("route %s was not exercised", pattern)
		}
	}
}

// noStore are the operations that never call the store, so never answer
// 503 database_unavailable.
var noStore = map[string]bool{"healthz": true, "metrics": true, "openapi": true, "oauthMetadata": true, "openidConfiguration": true}

// TestOpenAPIDocumentsEveryStatus: every status an operation can answer is
// in the document — statically (bad bytes make every route answer 400, a
// path answers 405 for another method, a store call past its budget 503
// with Retry-After), and live: every route with bad bytes, with a store
// whose budget is spent, and with a method the path does not accept, each
// answer validated against the document.
func TestOpenAPIDocumentsEveryStatus(t *testing.T) {
	openapi3filter.RegisterBodyDecoder("text/plain", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
	db := sqltest.SQLite(t)
	logger := slog.New(slog.DiscardHandler)
	var spent atomic.Bool // every request's store budget is already over
	s := harness(t, db, &syncBuffer{}, wiretest.Options{Logger: logger,
		Config: func(cfg *keyward.Config) { cfg.Store = sqlstore.Guard(db, sqlstore.Limits{}) },
		Handler: func(api http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if spent.Load() {
					r = r.WithContext(keyward.WithStoreBudget(r.Context(), time.Now().Add(-time.Second)))
				}
				api.ServeHTTP(w, r)
			})
		}})
	k := s.newKey(map[string]any{"name": "walker", "level": 8})
	doc := loadDoc(t, s)

	problem := doc.Components.Schemas["Problem"].Value
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			what := method + " " + path
			for _, status := range []int{400, 405} {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s: %d is not documented", what, status)
				}
			}
			if op.Security == nil || len(*op.Security) > 0 {
				if op.Responses.Status(401) == nil {
					t.Errorf("%s: authenticated, but 401 is not documented", what)
				}
			}
			if !noStore[op.OperationID] {
				r := op.Responses.Status(503)
				if r == nil || r.Value.Headers["Retry-After"] == nil {
					t.Errorf("%s: 503 with Retry-After is not documented", what)
				}
			}
		}
	}

	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	v := &validating{t: t, router: router, seen: map[string]bool{}}
	prev := http.DefaultClient.Transport
	http.DefaultClient.Transport = v
	defer func() { http.DefaultClient.Transport = prev }()

	// send sends each native route with the key's credentials (form bodies
	// to the OAuth2 endpoints, JSON elsewhere) and returns the answers.
	send := func(header ...string) map[string]response {
		out := map[string]response{}
		for _, pattern := range httpapi.New(s.svc, nil, nil).Patterns() {
			method, path, _ := strings.Cut(pattern, " ")
			path = strings.ReplaceAll(path, "{id}", k.ID)
			var body io.Reader
			h := header
			if strings.HasPrefix(path, "/oauth2/") {
				body = strings.NewReader("grant_type=client_credentials&token=x")
				h = append([]string{"Content-Type", "application/x-www-form-urlencoded"}, h...)
			} else if method != "GET" && method != "DELETE" {
				body = strings.NewReader(`{}`)
			}
			out[pattern] = s.raw(method, path, basic(k.ClientID, k.ClientSecret), body, h...)
		}
		return out
	}
	for pattern, res := range send("User-Agent", "agent\xff") {
		if res.Status != 400 {
			t.Errorf("%s with a bad User-Agent: got %d %s, want 400", pattern, res.Status, res.Body)
		}
	}
	spent.Store(true)
	unavailable := 0
	for pattern, res := range send() {
		if res.Status != 503 {
			continue
		}
		unavailable++
		var p httpapi.Problem
		json.Unmarshal(res.Body, &p)
		want := keyward.EDBUNAVAILABLE
		if pattern == "GET /readyz" {
			want = keyward.EUNAVAILABLE // the readiness probe's own answer
		}
		if p.Code != want || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s past the store budget: got %s, Retry-After %q; want %s with Retry-After", pattern, res.Body, res.Header.Get("Retry-After"), want)
		}
	}
	if unavailable < 20 {
		t.Errorf("past the store budget, %d routes answered 503; want most of them", unavailable)
	}
	spent.Store(false)

	// 405: the router finds no operation for such a request, so check the
	// answer against the shared MethodNotAllowed response here.
	http.DefaultClient.Transport = prev
	mna := doc.Components.Responses["MethodNotAllowed"]
	if mna == nil {
		t.Fatal("components.responses.MethodNotAllowed is missing")
	}
	for path, item := range doc.Paths.Map() {
		method := "DELETE"
		if item.Delete != nil {
			method = "POST"
			if item.Post != nil {
				method = "PUT"
			}
		}
		res := s.raw(method, strings.ReplaceAll(path, "{id}", k.ID), s.admin, nil)
		var body any
		json.Unmarshal(res.Body, &body)
		if res.Status != 405 || res.Header.Get("Allow") == "" || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: got %d (Allow %q, %s), want a 405 problem with Allow", method, path, res.Status, res.Header.Get("Allow"), res.Header.Get("Content-Type"))
		} else if err := problem.VisitJSON(body); err != nil {
			t.Errorf("%s %s: the 405 body does not match Problem: %v", method, path, err)
		}
	}
}
