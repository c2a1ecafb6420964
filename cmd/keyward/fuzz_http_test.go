package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/console"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

// surfaceRoutes lists the routes of the dialects, the console and the API
// reference (/docs), which have no route table of their own to ask (the
// native API's comes from httpapi.Server.Patterns). fuzzSurface checks that
// each still matches.
var surfaceRoutes = []string{
	"POST /v1/customers/applications", "GET /v1/customers/applications",
	"GET /v1/customers/applications/{id}", "POST /auth/realms/{tenant}/protocol/openid-connect/token",
	"POST /apikeys/jwt", "GET /apikeys/jwt", "GET /apikeys/{id}/jwt", "DELETE /apikeys/{id}/jwt",
	"POST /apikeys/key", "GET /apikeys/key", "GET /apikeys/{id}/key", "DELETE /apikeys/{id}/key", "GET /whoami/key",
	"POST /auth",
	"GET /apikeys", "GET /apikeys/{id}", "POST /apikeys", "PUT /apikeys/{id}", "DELETE /apikeys/{id}",
	"GET /console/login", "POST /console/login", "POST /console/logout", "GET /console/keys", "GET /console/keys/new",
	"POST /console/keys", "GET /console/keys/{id}", "GET /console/keys/{id}/edit", "POST /console/keys/{id}/edit",
	"POST /console/keys/{id}/active", "GET /console/keys/{id}/rotate", "POST /console/keys/{id}/rotate",
	"GET /console/keys/{id}/delete", "POST /console/keys/{id}/delete", "GET /console/users", "POST /console/users",
	"GET /console/users/{id}/edit", "POST /console/users/{id}/edit", "POST /console/users/{id}/active",
	"GET /console/users/{id}/delete", "POST /console/users/{id}/delete", "GET /console/permissions",
	"POST /console/permissions", "GET /console/permissions/{id}/delete", "POST /console/permissions/{id}/delete",
	"GET /console/audit", "GET /console/static/", "GET /docs", "GET /docs/docs.css",
}

// fuzzSurface is keyward's whole HTTP surface in process, on SQLite or
// PostgreSQL.
type fuzzSurface struct {
	h       http.Handler
	db      *sqlstore.DB
	routes  []string // "METHOD /path/{x}"
	admin   string   // login token of the level-8 admin
	keyID   string
	client  string // the key's client id
	secret  string
	userID  string
	permID  string
	tenant  string
	methods []string
}

// newFuzzSurface serves keyward over db, a fresh migrated store.
func newFuzzSurface(tb testing.TB, db *sqlstore.DB) *fuzzSurface {
	tb.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	svc, err := wire.NewService(keyward.Config{
		Store: sqlstore.Guard(db, sqlstore.Limits{}), MasterKey: secret.RandomBytes(32), Logger: logger,
		PublicURL: "http://keyward.test",
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close() })
	const password = "fuzz-admin-password"
	if _, err := svc.Bootstrap(ctx, password); err != nil {
		tb.Fatal(err)
	}
	api := httpapi.New(svc, logger, nil)
	for _, name := range dialectNames() {
		dialectMounts[name](api.Mux(), svc, api)
	}
	console.Mount(api.Mux(), svc, logger)
	api.StoreBudget(5 * time.Second)
	s := &fuzzSurface{h: api, db: db, routes: append(api.Patterns(), surfaceRoutes...),
		methods: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}}
	for _, r := range surfaceRoutes {
		method, path, _ := strings.Cut(r, " ")
		req := httptest.NewRequest(method, strings.NewReplacer("{id}", "x", "{tenant}", "default").Replace(path), nil)
		if _, pattern := api.Mux().Handler(req); pattern != r {
			tb.Fatalf("route %q is served as %q: update surfaceRoutes", r, pattern)
		}
	}

	call := func(method, path, auth string, body any) map[string]any {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest(method, path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		if rec.Code >= 300 {
			tb.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return out
	}
	s.admin = call("POST", "/v1/login", "", map[string]string{"userName": "admin", "password": password})["accessToken"].(string)
	p := call("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"})
	s.permID = p["id"].(string)
	k := call("POST", "/v1/apikeys", s.admin, map[string]any{"name": "fuzz", "level": 8, "hmacEnabled": true,
		"permissions": []map[string]string{{"name": "orders_read"}, {"name": "keys:verify"}}})
	s.keyID, s.client, s.secret, s.tenant = k["id"].(string), k["clientId"].(string), k["clientSecret"].(string), k["tenantId"].(string)
	s.userID = call("POST", "/v1/users", s.admin, map[string]any{"userName": "fuzzer", "password": "fuzzer-password-1", "level": 2})["id"].(string)
	return s
}

// snapshot is everything a refused request must leave as it was.
func (s *fuzzSurface) snapshot(tb testing.TB) string {
	tb.Helper()
	var out string
	query := snapshotSQLite
	if s.db.Dialect() == "postgres" {
		query = snapshotPostgres
	}
	err := s.db.QueryRowForTest(context.Background(), query, &out)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// snapshotSQLite and snapshotPostgres sum up, in one string, every table a
// request may change.
const (
	snapshotSQLite = `SELECT
		(SELECT count(*) || '/' || coalesce(sum(version), 0) || '/' || coalesce(group_concat(is_active || secret_generation), '') FROM api_keys) || ' ' ||
		(SELECT count(*) || '/' || coalesce(sum(version), 0) FROM users) || ' ' ||
		(SELECT count(*) || '/' || coalesce(group_concat(name || ':' || coalesce(description, '')), '') FROM permissions) || ' ' ||
		(SELECT count(*) || '/' || coalesce(sum(version), 0) FROM tenants) || ' ' ||
		(SELECT count(*) FROM revoked_tokens) || ' ' ||
		(SELECT count(*) FROM audit)`
	snapshotPostgres = `SELECT
		(SELECT count(*) || '/' || coalesce(sum(version), 0) || '/' || coalesce(string_agg(is_active::text || secret_generation::text, ',' ORDER BY id), '') FROM api_keys) || ' ' ||
		(SELECT count(*) || '/' || coalesce(sum(version), 0) FROM users) || ' ' ||
		(SELECT count(*) || '/' || coalesce(string_agg(name || ':' || coalesce(description, ''), ',' ORDER BY name), '') FROM permissions) || ' ' ||
		(SELECT count(*) || '/' || coalesce(sum(version), 0) FROM tenants) || ' ' ||
		(SELECT count(*) FROM revoked_tokens) || ' ' ||
		(SELECT count(*) FROM audit)`
)

// request builds the request the fuzzer describes, as Go's server would
// read it off the wire; nil when no server would accept it.
func (s *fuzzSurface) request(route uint16, methodSel, authSel uint8, seg, extra, query, header string, body []byte) *http.Request {
	pattern := s.routes[int(route)%len(s.routes)]
	method, path, _ := strings.Cut(pattern, " ")
	if methodSel%4 == 0 {
		method = s.methods[int(methodSel/4)%len(s.methods)]
	}
	for _, name := range []string{"{id}", "{tenant}"} {
		v := seg
		switch {
		case seg == "" && name == "{tenant}":
			v = "default"
		case seg == "":
			v = map[bool]string{true: s.keyID, false: []string{s.userID, s.permID, s.tenant}[authSel%3]}[authSel%2 == 0]
		}
		path = strings.ReplaceAll(path, name, url.PathEscape(v))
	}
	if extra != "" {
		path += "/" + url.PathEscape(extra)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", method, path)
	if query != "" {
		b.WriteString("?" + escapeQuery(query))
	}
	b.WriteString(" HTTP/1.1\r\nHost: keyward.test\r\n")
	switch authSel % 6 {
	case 1:
		b.WriteString("Authorization: Bearer " + s.admin + "\r\n")
	case 2:
		b.WriteString("Authorization: Bearer " + s.secret + "\r\n")
	case 3:
		b.WriteString("Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(s.client+":"+s.secret)) + "\r\n")
	case 4:
		b.WriteString("X-API-Key: " + s.secret + "\r\n")
	}
	if len(body) > 0 && !strings.Contains(strings.ToLower(header), "content-type") {
		ct := "application/json"
		if authSel&0x40 != 0 {
			ct = "application/x-www-form-urlencoded"
		}
		b.WriteString("Content-Type: " + ct + "\r\n")
	}
	head := b.String()
	for _, h := range []string{header, ""} {
		var raw bytes.Buffer
		raw.WriteString(head)
		for _, line := range strings.Split(h, "\n") {
			if line = strings.TrimRight(line, "\r"); line != "" {
				raw.WriteString(line + "\r\n")
			}
		}
		fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n", len(body))
		raw.Write(body)
		req, err := http.ReadRequest(bufio.NewReader(&raw))
		if err != nil {
			continue
		}
		req.RemoteAddr = "192.0.2.1:1234"
		return req
	}
	return nil
}

// escapeQuery percent-encodes what cannot stand in a request line, keeping
// the query's structure (&, =, and % escapes, valid or not).
func escapeQuery(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c > 0x20 && c < 0x7f && c != '#' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// checkRefusal reports what is wrong with a 4xx answer: it must be a
// problem+json whose status is the answer's, or the dialect's own error
// shape, or a console page.
func checkRefusal(req *http.Request, res *http.Response, body []byte) string {
	if strings.HasPrefix(req.URL.Path, "/console") {
		return ""
	}
	ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if req.Method == http.MethodHead {
		return ""
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Sprintf("the body is not a JSON object (Content-Type %q): %q", ct, body)
	}
	str := func(k string) bool { s, ok := m[k].(string); return ok && s != "" }
	status, _ := m["status"].(float64)
	switch {
	case ct == "application/problem+json":
		if !str("type") || !str("title") || !str("code") || int(status) != res.StatusCode {
			return fmt.Sprintf("an invalid problem: %s", body)
		}
		if res.StatusCode == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
			return "401 without WWW-Authenticate"
		}
		return ""
	case ct != "application/json":
		return fmt.Sprintf("Content-Type %q", ct)
	case str("error"): // OAuth2 (RFC 6749 §5.2) and FreeSewing {result, error}
		return ""
	case str("code") && str("message"): // Pier Cloud
		return ""
	case str("title") && int(status) == res.StatusCode: // Portos
		return ""
	}
	return fmt.Sprintf("an error body in no known shape: %s", body)
}

// FuzzHTTPSurface sends random requests — a method, a route of any surface
// with mutated segments, headers, query and body — to keyward in process on
// SQLite: no request may answer 5xx (a panic is one) or hang, every 4xx is
// a valid problem or the dialect's own error shape, and a refused request
// changes nothing.
func FuzzHTTPSurface(f *testing.F) { fuzzHTTP(f, sqltest.SQLite(f)) }

// FuzzHTTPSurfacePostgres is FuzzHTTPSurface on PostgreSQL, in a schema of
// its own (each fuzzing worker gets one); it skips when
// KEYWARD_TEST_POSTGRES_URL is unset. Its corpus directory is
// FuzzHTTPSurface's (a symbolic link), so what either finds both replay.
func FuzzHTTPSurfacePostgres(f *testing.F) { fuzzHTTP(f, sqltest.Postgres(f)) }

func fuzzHTTP(f *testing.F, db *sqlstore.DB) {
	s := newFuzzSurface(f, db)
	for i := range s.routes {
		f.Add(uint16(i), uint8(1), uint8(1), "", "", "", "", []byte(nil))
		f.Add(uint16(i), uint8(1), uint8(2), "", "", "page=2&page-size=1", "", []byte(`{"name":"x"}`))
	}
	f.Add(uint16(0), uint8(0), uint8(0), "\xff", "", "q=%00&tenant=%FF", "User-Agent: \xff", []byte("\xff"))
	f.Add(uint16(5), uint8(1), uint8(0), "", "", "", "Signature-Input: kw=();keyid=\"x\"\nSignature: kw=:AA==:", []byte("{}"))
	f.Add(uint16(9), uint8(1), uint8(1), "", "", "page=4611686018427387904", "", []byte(nil))
	f.Fuzz(func(t *testing.T, route uint16, methodSel, authSel uint8, seg, extra, query, header string, body []byte) {
		req := s.request(route, methodSel, authSel, seg, extra, query, header, body)
		if req == nil {
			return
		}
		before := s.snapshot(t)
		rec := httptest.NewRecorder()
		start := time.Now()
		s.h.ServeHTTP(rec, req)
		// Past the store budget (5 s) plus slack, a request hung.
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s %s: answered after %s, want within 10s", req.Method, req.URL.RequestURI(), took)
		} else if took > time.Second {
			t.Logf("%s %s: slow: %s", req.Method, req.URL.RequestURI(), took)
		}
		res := rec.Result()
		out, _ := io.ReadAll(res.Body)
		what := req.Method + " " + req.URL.RequestURI()
		if res.StatusCode >= 500 {
			t.Fatalf("%s: got %d %s, want no 5xx", what, res.StatusCode, out)
		}
		if res.StatusCode < 400 {
			return
		}
		if msg := checkRefusal(req, res, out); msg != "" {
			t.Errorf("%s: %d: %s", what, res.StatusCode, msg)
		}
		if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
			if _, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil {
				t.Errorf("%s: %d without Retry-After", what, res.StatusCode)
			}
		}
		if after := s.snapshot(t); after != before {
			t.Errorf("%s: refused with %d, but the data changed:\n before %s\n after  %s", what, res.StatusCode, before, after)
		}
	})
}
