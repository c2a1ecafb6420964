package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	akToken    = "kw_sk_cliTOKENcliTOKENcliTOKENcliTOKENcliTOKENabc123456"
	akSecret   = "kw_sk_newSECRETnewSECRETnewSECRETnewSECRETnewSabc12345"
	akPassword = "admin-password-123"
	akKeyID    = "0b8e3c9a-1f1e-4c61-9d0e-5e7f6a1b2c3d"
)

// akRequest is a request the fake server received.
type akRequest struct {
	Method, Path string
	Query        url.Values
	Auth         string
	IfMatch      string
	Body         map[string]any
}

// akReply is what the fake server answers a route with.
type akReply struct {
	status int
	body   string
}

// akFake is a stand-in for the keyward API: it answers each "METHOD /path"
// with a canned reply and records every request.
type akFake struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []akRequest
	routes map[string]akReply
}

func newAKFake(t *testing.T, routes map[string]akReply) *akFake {
	t.Helper()
	f := &akFake{t: t, routes: routes}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *akFake) serve(w http.ResponseWriter, r *http.Request) {
	rec := akRequest{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(),
		Auth: r.Header.Get("Authorization"), IfMatch: r.Header.Get("If-Match")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &rec.Body); err != nil {
			f.t.Errorf("request body is not a JSON object: %s", b)
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	f.mu.Unlock()
	rep, ok := f.routes[r.Method+" "+r.URL.Path]
	if !ok {
		rep = akReply{404, `{"title":"Not Found","status":404,"detail":"api key not found","code":"not_found"}`}
	}
	if rep.status >= 400 {
		w.Header().Set("Content-Type", "application/problem+json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

// requests returns what the server received so far.
func (f *akFake) requests() []akRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]akRequest(nil), f.reqs...)
}

// only returns the one request the server received.
func (f *akFake) only() akRequest {
	f.t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		f.t.Fatalf("the server got %d requests, want 1: %+v", len(reqs), reqs)
	}
	return reqs[0]
}

// env is the environment of a CLI run against f with a token.
func (f *akFake) env() map[string]string {
	return map[string]string{"KEYWARD_SERVER": f.srv.URL, "KEYWARD_TOKEN": akToken}
}

// akRun runs "keyward args..." with env and stdin.
func akRun(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// akKey returns the JSON of a key with the given name, status and times.
func akKey(id, clientID, name string, active bool, level int, expiresAt, lastUsedAt string) string {
	k := map[string]any{
		"id": id, "tenantId": "t1", "clientId": clientID, "name": name, "description": "for invoices",
		"ownerId": "u1", "userName": "admin", "deviceName": "", "level": level, "isActive": active,
		"expiresAt": nil, "lastUsedAt": nil, "tokenLifespanSeconds": 3600, "hmacEnabled": false, "meta": map[string]any{},
		"secretHint": "wxyz", "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-02T00:00:00Z", "createdBy": "u1",
		"version": 3,
	}
	k["permissions"] = []map[string]any{{"id": "p1", "name": "orders_read"}, {"id": "p2", "name": "apikeys:read"}}
	if expiresAt != "" {
		k["expiresAt"] = expiresAt
	}
	if lastUsedAt != "" {
		k["lastUsedAt"] = lastUsedAt
	}
	b, _ := json.Marshal(k)
	return string(b)
}

var akKeyJSON = akKey(akKeyID, "kw_id_billing", "billing", true, 2, "", "")

func akIssued() string {
	var m map[string]any
	json.Unmarshal([]byte(akKeyJSON), &m)
	m["clientSecret"] = akSecret
	b, _ := json.Marshal(m)
	return string(b)
}

// akNoSecrets fails when the secret, the token or the password shows in s.
func akNoSecrets(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range []string{akSecret, akToken, akPassword} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows a secret: %q", where, s)
		}
	}
}

func TestAPIKeysCreate(t *testing.T) {
	f := newAKFake(t, map[string]akReply{"POST /v1/apikeys": {201, akIssued()}})
	code, out, errs := akRun(t, f.env(), "", "apikeys", "create", "--name", "billing", "--description", "for invoices",
		"--client-id", "billing", "--permission", "orders_read", "--permission", "a, b", "--level", "0",
		"--expires-in", "30d", "--token-lifespan", "1h", "--hmac", "--device-name", "laptop", "--owner", "u1",
		"--meta", `{"team":"billing"}`, "--audience", "https://orders.example.com", "--audience", "billing, urn:x")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if out != akSecret+"\n" {
		t.Errorf("stdout = %q, want the secret alone", out)
	}
	if !strings.Contains(errs, "shown only once") || !strings.Contains(errs, akKeyID) || !strings.Contains(errs, "kw_id_billing") {
		t.Errorf("stderr = %q, want the key id, client id and the shown-once warning", errs)
	}
	akNoSecrets(t, "stderr", errs)
	got := f.only()
	want := akRequest{Method: "POST", Path: "/v1/apikeys", Query: url.Values{}, Auth: "Bearer " + akToken,
		Body: map[string]any{
			"name": "billing", "description": "for invoices", "clientId": "billing", "level": 0.0,
			"expiresIn": 30 * 86400.0, "tokenLifespanSeconds": 3600.0, "hmacEnabled": true,
			"deviceName": "laptop", "ownerId": "u1", "meta": map[string]any{"team": "billing"},
			"audiences":   []any{"https://orders.example.com", "billing", "urn:x"},
			"permissions": []any{map[string]any{"name": "orders_read"}, map[string]any{"name": "a"}, map[string]any{"name": "b"}},
		}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestAPIKeysCreateMinimalAndJSON(t *testing.T) {
	f := newAKFake(t, map[string]akReply{"POST /v1/apikeys": {201, akIssued()}})
	code, out, errs := akRun(t, f.env(), "", "apikeys", "create", "--json", "--name", "billing")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v: %q", err, out)
	}
	if got["clientSecret"] != akSecret || got["id"] != akKeyID {
		t.Errorf("--json printed %v, want the whole answer with the secret", got)
	}
	if !strings.Contains(errs, "shown only once") {
		t.Errorf("stderr = %q, want the warning", errs)
	}
	akNoSecrets(t, "stderr", errs)
	if diff := cmp.Diff(map[string]any{"name": "billing"}, f.only().Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestAPIKeysList(t *testing.T) {
	page := `{"items":[` +
		akKey("k1", "kw_id_one", "one", true, 0, "2999-06-01T12:30:00Z", "2025-02-03T04:05:06Z") + "," +
		akKey("k2", "kw_id_two", "two\tlines\nand \x1b[31mcolour", false, 4, "", "") + "," +
		akKey("k3", "kw_id_three", "three", true, 8, "2020-01-01T00:00:00Z", "") +
		`],"pageIndex":2,"pageSize":3,"totalPages":14,"totalCount":41,"hasPreviousPage":true,"hasNextPage":true}`
	f := newAKFake(t, map[string]akReply{"GET /v1/apikeys": {200, page}})
	code, out, errs := akRun(t, f.env(), "", "apikeys", "list", "--page", "2", "--page-size", "3", "--q", "o",
		"--status", "all", "--permission", "orders_read", "--owner", "u1", "--sort", "-name", "--tenant", "acme")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	want := strings.Join([]string{
		"ID  CLIENT ID    NAME                       STATUS    LEVEL  EXPIRES               LAST USED",
		"k1  kw_id_one    one                        active    0      2999-06-01 12:30 UTC  2025-02-03 04:05 UTC",
		"k2  kw_id_two    two lines and  [31mcolour  inactive  4      never                 never",
		"k3  kw_id_three  three                      expired   8      2020-01-01 00:00 UTC  never",
		"page 2 of 14, 41 keys",
		"",
	}, "\n")
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	wantQuery := url.Values{"page": {"2"}, "page-size": {"3"}, "q": {"o"}, "status": {"all"},
		"permission": {"orders_read"}, "ownerId": {"u1"}, "sort": {"-name"}, "tenant": {"acme"}}
	if diff := cmp.Diff(wantQuery, f.only().Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

func TestAPIKeysListEmptyAndJSON(t *testing.T) {
	empty := `{"items":[],"pageIndex":1,"pageSize":20,"totalPages":0,"totalCount":0,"hasPreviousPage":false,"hasNextPage":false}`
	f := newAKFake(t, map[string]akReply{"GET /v1/apikeys": {200, empty}})
	code, out, _ := akRun(t, f.env(), "", "apikeys", "list")
	if code != exitOK || !strings.HasSuffix(out, "page 1 of 1, 0 keys\n") {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	if q := f.only().Query; q.Get("page") != "1" || q.Get("page-size") != "20" {
		t.Errorf("query = %v, want the default page", q)
	}

	code, out, _ = akRun(t, f.env(), "", "apikeys", "list", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil {
		t.Fatalf("exit %d, stdout %q: %v", code, out, err)
	}
	if got["totalCount"] != 0.0 || got["items"] == nil {
		t.Errorf("--json printed %v", got)
	}
}

func TestAPIKeysGet(t *testing.T) {
	f := newAKFake(t, map[string]akReply{"GET /v1/apikeys/" + akKeyID: {200, akKeyJSON}})
	for _, args := range [][]string{
		{"apikeys", "get", akKeyID, "--json"},
		{"apikeys", "get", "--json", akKeyID},
		{"apikeys", "get", "--json", "--", akKeyID},
	} {
		code, out, errs := akRun(t, f.env(), "", args...)
		if code != exitOK || !strings.Contains(out, `"clientId": "kw_id_billing"`) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}

	code, out, errs := akRun(t, f.env(), "", "apikeys", "get", akKeyID)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, line := range []string{
		"ID:              " + akKeyID,
		"Client ID:       kw_id_billing",
		"Status:          active",
		"Permissions:     apikeys:read, orders_read",
		"Owner:           admin (u1)",
		"Expires:         never",
		"Secret:          …wxyz",
		"Version:         3",
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("stdout lacks %q:\n%s", line, out)
		}
	}
	for _, r := range f.requests() {
		if r.Method != "GET" || r.Path != "/v1/apikeys/"+akKeyID || r.Auth != "Bearer "+akToken {
			t.Errorf("request %+v", r)
		}
	}
}

func TestAPIKeysUpdate(t *testing.T) {
	path := "/v1/apikeys/" + akKeyID
	tests := []struct {
		name        string
		args        []string
		wantBody    map[string]any
		wantIfMatch string
	}{
		{
			name:     "only the flags given",
			args:     []string{"--name", "renamed", "--description", ""},
			wantBody: map[string]any{"name": "renamed", "description": ""},
		},
		{
			name:        "clear the expiry with If-Match",
			args:        []string{"--no-expiry", "--if-match", `"3"`, "--level", "0"},
			wantBody:    map[string]any{"expiresAt": nil, "level": 0.0},
			wantIfMatch: `"3"`,
		},
		{
			name:     "remove every permission, set hmac and meta",
			args:     []string{"--permission", "", "--hmac=false", "--meta", `{"a":1}`, "--token-lifespan", "600"},
			wantBody: map[string]any{"permissions": []any{}, "hmacEnabled": false, "meta": map[string]any{"a": 1.0}, "tokenLifespanSeconds": 600.0},
		},
		{
			name:     "replace the audiences",
			args:     []string{"--audience", "https://orders.example.com,billing"},
			wantBody: map[string]any{"audiences": []any{"https://orders.example.com", "billing"}},
		},
		{
			name:     "remove the audiences",
			args:     []string{"--no-audiences"},
			wantBody: map[string]any{"audiences": []any{}},
		},
		{
			name:     "an expiry date",
			args:     []string{"--expires-at", "2030-01-02"},
			wantBody: map[string]any{"expiresAt": "2030-01-02T00:00:00Z"},
		},
		{
			name:     "an address allowlist",
			args:     []string{"--allowed-cidr", "203.0.113.0/24", "--allowed-cidr", "2001:db8::/32, 192.0.2.1"},
			wantBody: map[string]any{"allowedCidrs": []any{"203.0.113.0/24", "2001:db8::/32", "192.0.2.1"}},
		},
		{
			name:     "remove the allowlist",
			args:     []string{"--no-allowed-cidrs"},
			wantBody: map[string]any{"allowedCidrs": []any{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAKFake(t, map[string]akReply{"PATCH " + path: {200, akKeyJSON}})
			code, out, errs := akRun(t, f.env(), "", append([]string{"apikeys", "update", akKeyID}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			if !strings.Contains(out, "Client ID:       kw_id_billing") || !strings.Contains(errs, "Updated API key "+akKeyID) {
				t.Errorf("stdout %q, stderr %q", out, errs)
			}
			got := f.only()
			if got.Method != "PATCH" || got.Path != path || got.IfMatch != tt.wantIfMatch {
				t.Errorf("request %s %s If-Match %q", got.Method, got.Path, got.IfMatch)
			}
			if diff := cmp.Diff(tt.wantBody, got.Body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIKeysUpdateExpiresInBecomesExpiresAt(t *testing.T) {
	f := newAKFake(t, map[string]akReply{"PATCH /v1/apikeys/" + akKeyID: {200, akKeyJSON}})
	before := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	code, _, errs := akRun(t, f.env(), "", "apikeys", "update", akKeyID, "--expires-in", "24h")
	after := time.Now().Add(24 * time.Hour)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	body := f.only().Body
	if _, ok := body["expiresIn"]; ok || len(body) != 1 {
		t.Fatalf("body = %v, want only expiresAt (PATCH takes no expiresIn)", body)
	}
	at, err := time.Parse(time.RFC3339, body["expiresAt"].(string))
	if err != nil || at.Before(before) || at.After(after) {
		t.Errorf("expiresAt = %v (%v), want about 24h from now", body["expiresAt"], err)
	}
}

func TestAPIKeysRotate(t *testing.T) {
	f := newAKFake(t, map[string]akReply{"POST /v1/apikeys/" + akKeyID + "/rotate": {200, akIssued()}})
	code, out, errs := akRun(t, f.env(), "", "apikeys", "rotate", akKeyID, "--grace", "1h")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if out != akSecret+"\n" {
		t.Errorf("stdout = %q, want the new secret alone", out)
	}
	if !strings.Contains(errs, "shown only once") || !strings.Contains(errs, "keeps working until") {
		t.Errorf("stderr = %q", errs)
	}
	akNoSecrets(t, "stderr", errs)
	if diff := cmp.Diff(map[string]any{"gracePeriodSeconds": 3600.0}, f.only().Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestAPIKeysActivateDeactivateDelete(t *testing.T) {
	path := "/v1/apikeys/" + akKeyID
	inactive := akKey(akKeyID, "kw_id_billing", "billing", false, 2, "", "")
	tests := []struct {
		args        []string
		reply       akReply
		wantMethod  string
		wantBody    map[string]any
		wantIfMatch string
		wantOut     string
	}{
		{[]string{"activate", akKeyID}, akReply{200, akKeyJSON}, "PATCH", map[string]any{"isActive": true}, "",
			"API key " + akKeyID + " (billing) is now active.\n"},
		{[]string{"deactivate", "--if-match", "3", akKeyID}, akReply{200, inactive}, "PATCH", map[string]any{"isActive": false}, `"3"`,
			"API key " + akKeyID + " (billing) is now inactive.\n"},
		{[]string{"delete", akKeyID, "--if-match", "3"}, akReply{200, akKeyJSON}, "DELETE", nil, `"3"`,
			"Deleted API key " + akKeyID + " (billing, client ID kw_id_billing).\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			f := newAKFake(t, map[string]akReply{tt.wantMethod + " " + path: tt.reply})
			code, out, errs := akRun(t, f.env(), "", append([]string{"apikeys"}, tt.args...)...)
			if code != exitOK || out != tt.wantOut {
				t.Errorf("exit %d, stdout %q (want %q), stderr %q", code, out, tt.wantOut, errs)
			}
			got := f.only()
			want := akRequest{Method: tt.wantMethod, Path: path, Query: url.Values{}, Auth: "Bearer " + akToken,
				IfMatch: tt.wantIfMatch, Body: tt.wantBody}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIKeysServerErrors(t *testing.T) {
	tests := []struct {
		name       string
		reply      akReply
		args       []string
		wantStderr string
	}{
		{
			name:       "not found",
			args:       []string{"get", "missing"},
			wantStderr: "keyward: api key not found (HTTP 404, not_found)\n",
		},
		{
			name: "validation with fields",
			reply: akReply{400, `{"title":"Bad Request","status":400,"detail":"the request is invalid","code":"invalid",
				"errors":[{"field":"name","message":"is required"},{"field":"level","message":"must be between 0 and 8"}]}`},
			args:       []string{"create", "--name", "x"},
			wantStderr: "keyward: the request is invalid: --name: is required; --level: must be between 0 and 8 (HTTP 400, invalid)\n",
		},
		{
			name:       "forbidden",
			reply:      akReply{403, `{"title":"Forbidden","status":403,"detail":"the level 9 is above yours (4)","code":"forbidden"}`},
			args:       []string{"create", "--name", "x", "--level", "8"},
			wantStderr: "keyward: the level 9 is above yours (4) (HTTP 403, forbidden)\n",
		},
		{
			name:       "precondition",
			reply:      akReply{412, `{"title":"Precondition Failed","status":412,"detail":"the key's version is 4, not 3","code":"precondition"}`},
			args:       []string{"delete", "k1", "--if-match", "3"},
			wantStderr: "keyward: the key's version is 4, not 3 (HTTP 412, precondition)\n",
		},
		{
			name:       "bad token",
			reply:      akReply{401, `{"title":"Unauthorized","status":401,"detail":"invalid credentials","code":"unauthorized"}`},
			args:       []string{"list"},
			wantStderr: "keyward: invalid credentials (HTTP 401, unauthorized); check --token (or KEYWARD_TOKEN)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]akReply{}
			if tt.reply.status != 0 {
				for _, r := range []string{"POST /v1/apikeys", "GET /v1/apikeys", "DELETE /v1/apikeys/k1"} {
					routes[r] = tt.reply
				}
			}
			f := newAKFake(t, routes)
			code, out, errs := akRun(t, f.env(), "", append([]string{"apikeys"}, tt.args...)...)
			if code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if errs != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", errs, tt.wantStderr)
			}
			akNoSecrets(t, "stderr", errs)
		})
	}
}

func TestAPIKeysUnreachableServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	code, _, errs := akRun(t, map[string]string{"KEYWARD_TOKEN": akToken}, "", "apikeys", "list", "--server", addr)
	if code != exitError || !strings.HasPrefix(errs, "keyward: cannot reach the server at "+addr+": ") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	akNoSecrets(t, "stderr", errs)
}

func TestAPIKeysLogin(t *testing.T) {
	const userToken = "eyJhbGciOiJFZERTQSJ9.user.token"
	routes := map[string]akReply{
		"POST /v1/login":             {200, `{"accessToken":"` + userToken + `","tokenType":"Bearer","expiresIn":3600}`},
		"GET /v1/apikeys/" + akKeyID: {200, akKeyJSON},
	}
	tests := []struct {
		name      string
		env       map[string]string
		stdin     string
		args      []string
		wantLogin map[string]any
	}{
		{
			name:      "user and password from the environment",
			env:       map[string]string{"KEYWARD_USER": "admin", "KEYWARD_PASSWORD": akPassword},
			wantLogin: map[string]any{"userName": "admin", "password": akPassword},
		},
		{
			name:      "password from stdin, tenants",
			stdin:     akPassword + "\nrest",
			args:      []string{"--user", "bob", "--password-stdin", "--login-tenant", "acme", "--tenant", "other"},
			wantLogin: map[string]any{"userName": "bob", "password": akPassword, "tenant": "acme"},
		},
		{
			name:      "--user beats KEYWARD_TOKEN",
			env:       map[string]string{"KEYWARD_TOKEN": "env-token", "KEYWARD_PASSWORD": akPassword},
			args:      []string{"--user", "admin"},
			wantLogin: map[string]any{"userName": "admin", "password": akPassword},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAKFake(t, routes)
			env := map[string]string{"KEYWARD_SERVER": f.srv.URL}
			for k, v := range tt.env {
				env[k] = v
			}
			code, _, errs := akRun(t, env, tt.stdin, append([]string{"apikeys", "get", akKeyID}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			reqs := f.requests()
			if len(reqs) != 2 {
				t.Fatalf("got %d requests, want login then get: %+v", len(reqs), reqs)
			}
			login, get := reqs[0], reqs[1]
			if login.Method != "POST" || login.Path != "/v1/login" || login.Auth != "" || len(login.Query) != 0 {
				t.Errorf("login request %+v", login)
			}
			if diff := cmp.Diff(tt.wantLogin, login.Body); diff != "" {
				t.Errorf("login body (-want +got):\n%s", diff)
			}
			if get.Auth != "Bearer "+userToken {
				t.Errorf("get sent Authorization %q, want the login token", get.Auth)
			}
		})
	}

	t.Run("a refused login", func(t *testing.T) {
		f := newAKFake(t, map[string]akReply{
			"POST /v1/login": {401, `{"title":"Unauthorized","status":401,"detail":"invalid user name or password","code":"unauthorized"}`},
		})
		env := map[string]string{"KEYWARD_SERVER": f.srv.URL, "KEYWARD_USER": "admin", "KEYWARD_PASSWORD": akPassword}
		code, _, errs := akRun(t, env, "", "apikeys", "list")
		want := "keyward: logging in as \"admin\": invalid user name or password (HTTP 401, unauthorized)\n"
		if code != exitError || errs != want {
			t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, want)
		}
		if n := len(f.requests()); n != 1 {
			t.Errorf("%d requests after a refused login, want 1", n)
		}
	})
}

func TestAPIKeysUsageErrors(t *testing.T) {
	f := newAKFake(t, nil)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // in stderr
	}{
		{"no command", f.env(), nil, "Usage: keyward apikeys <command>"},
		{"unknown command", f.env(), []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", f.env(), []string{"list", "--bogus"}, "flag provided but not defined: -bogus"},
		{"get without an id", f.env(), []string{"get"}, "expected one key id, got 0 arguments"},
		{"get with two ids", f.env(), []string{"get", "a", "b"}, "expected one key id, got 2 arguments"},
		{"list with an argument", f.env(), []string{"list", "x"}, `unexpected argument "x"`},
		{"create without a name", f.env(), []string{"create"}, "--name is required"},
		{"bad level", f.env(), []string{"create", "--name", "x", "--level", "9"}, "--level must be between 0 and 8"},
		{"bad expires-in", f.env(), []string{"create", "--name", "x", "--expires-in", "soon"}, "--expires-in"},
		{"two expiries", f.env(), []string{"update", "k", "--expires-in", "1h", "--no-expiry"}, "only one of"},
		{"bad meta", f.env(), []string{"create", "--name", "x", "--meta", "[1]"}, "--meta must be a JSON object"},
		{"nothing to update", f.env(), []string{"update", "k"}, "nothing to change"},
		{"bad if-match", f.env(), []string{"delete", "k", "--if-match", "abc"}, "--if-match must be a key version"},
		{"bad grace", f.env(), []string{"rotate", "k", "--grace", "-5"}, "--grace: must not be negative"},
		{"bad status", f.env(), []string{"list", "--status", "gone"}, "--status must be"},
		{"bad page size", f.env(), []string{"list", "--page-size", "501"}, "--page-size must be between 1 and 500"},
		{"no credentials", map[string]string{"KEYWARD_SERVER": f.srv.URL}, []string{"list"}, "no credentials"},
		{"user without password", map[string]string{"KEYWARD_SERVER": f.srv.URL, "KEYWARD_USER": "admin"}, []string{"list"}, "needs a password"},
		{"bad server", map[string]string{"KEYWARD_TOKEN": akToken}, []string{"list", "--server", "ftp://x"}, "--server must be an http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := akRun(t, tt.env, "", append([]string{"apikeys"}, tt.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", errs, tt.want)
			}
			akNoSecrets(t, "stderr", errs)
		})
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("usage errors sent %d requests, want none", n)
	}
}

func TestAPIKeysHelp(t *testing.T) {
	// KEYWARD_TOKEN and KEYWARD_PASSWORD are set: --help must not show them
	// as defaults.
	env := map[string]string{"KEYWARD_TOKEN": akToken, "KEYWARD_PASSWORD": akPassword}
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		code, out, errs := akRun(t, env, "", append([]string{"apikeys"}, args...)...)
		if code != exitOK || !strings.Contains(out, "Usage: keyward apikeys <command>") || errs != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	for name, cmd := range apikeysCommands {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}, {name, "some-id", "--help"}} {
			code, out, errs := akRun(t, env, "", append([]string{"apikeys"}, args...)...)
			if code != exitOK || errs != "" {
				t.Errorf("%q: exit %d, stderr %q; want 0 and nothing", args, code, errs)
			}
			usage := "Usage: keyward apikeys " + name + " "
			if cmd.args != "" {
				usage += cmd.args + " "
			}
			for _, want := range []string{usage + "[flags]", "--server URL", "--token token", "--json"} {
				if !strings.Contains(out, want) {
					t.Errorf("%q: the usage lacks %q:\n%s", args, want, out)
				}
			}
			akNoSecrets(t, "--help", out)
		}
	}
	_, out, _ := akRun(t, env, "", "apikeys", "create", "--help")
	for _, flag := range []string{"--name", "--description", "--client-id", "--permission", "--level", "--expires-in",
		"--token-lifespan", "--hmac", "--device-name", "--owner", "--audience"} {
		if !strings.Contains(out, "  "+flag+" ") && !strings.Contains(out, "  "+flag+"\n") {
			t.Errorf("create --help lacks %s:\n%s", flag, out)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false}, {"3600", 3600, false}, {"720h", 720 * 3600, false}, {"90m", 5400, false},
		{"30d", 30 * 86400, false}, {" 15 ", 15, false},
		{"-1", 0, true}, {"1.5s", 0, true}, {"soon", 0, true}, {"-2h", 0, true}, {"xd", 0, true}, {"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSeconds(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSeconds(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
