package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// adminURL returns the admin listener's URL from the server's "listening"
// line.
func adminURL(t *testing.T, s *testServer) string {
	t.Helper()
	for _, f := range strings.Fields(s.Listening) {
		if strings.HasPrefix(f, "http://") && strings.TrimSuffix(f, ",") != s.URL {
			return strings.TrimSuffix(f, ",")
		}
	}
	t.Fatalf("no admin URL in %q", s.Listening)
	return ""
}

func status(t *testing.T, method, u, auth, contentType, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// With --admin-addr, management answers only on the admin listener and the
// credential-using routes only on the public one; probes on both.
func TestSeparateListeners(t *testing.T) {
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "split-admin-password"},
		"--data-dir", t.TempDir(), "--admin-addr", "127.0.0.1:0")
	pub, adm := s.URL, adminURL(t, s)
	if !strings.Contains(s.stdout.String(), "Console: "+adm+"/console") {
		t.Errorf("the console is not announced on the admin listener: %q", s.stdout.String())
	}
	code, login := postJSON(t, adm+"/v1/login", "", map[string]string{"userName": "admin", "password": "split-admin-password"})
	if code != 200 {
		t.Fatalf("login on the admin listener: got %d", code)
	}
	admin := login["accessToken"].(string)
	code, key := postJSON(t, adm+"/v1/apikeys", admin, map[string]any{"name": "split", "permissions": []map[string]string{{"name": "keys:verify"}}})
	if code != 201 {
		t.Fatalf("create a key on the admin listener: got %d", code)
	}
	id, sec, kid := key["clientId"].(string), key["clientSecret"].(string), key["id"].(string)
	basic := "Basic " + basicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	form := "application/x-www-form-urlencoded"
	tokenBody := "grant_type=client_credentials"
	verify := `{"key":"` + sec + `"}`

	tests := []struct {
		name              string
		method, path      string
		auth, ctype, body string
		onPublic, onAdmin int
	}{
		{"token", "POST", "/oauth2/token", basic, form, tokenBody, 200, 404},
		{"jwks", "GET", "/.well-known/jwks.json", "", "", "", 200, 404},
		{"discovery", "GET", "/.well-known/oauth-authorization-server", "", "", "", 200, 404},
		{"verify", "POST", "/v1/keys/verify", "Bearer " + sec, "application/json", verify, 200, 404},
		{"batch verify", "POST", "/v1/keys/verify:batch", "Bearer " + sec, "application/json", `{"items":[` + verify + `]}`, 200, 404},
		{"API reference", "GET", "/docs", "", "", "", 200, 200},
		{"its stylesheet", "GET", "/docs/docs.css", "", "", "", 200, 200},
		{"dialect token", "POST", "/auth/realms/default/protocol/openid-connect/token", basic, form, tokenBody, 200, 404},
		{"list keys", "GET", "/v1/apikeys", "Bearer " + admin, "", "", 404, 200},
		{"get key", "GET", "/v1/apikeys/" + kid, "Bearer " + admin, "", "", 404, 200},
		{"login", "POST", "/v1/login", "", "application/json", `{"userName":"admin","password":"split-admin-password"}`, 404, 200},
		{"audit", "GET", "/v1/audit", "Bearer " + admin, "", "", 404, 200},
		{"console", "GET", "/console/login", "", "", "", 404, 200},
		{"dialect management", "GET", "/apikeys", "Bearer " + admin, "", "", 404, 0},
		{"metrics", "GET", "/metrics", "", "", "", 404, 200},
		{"healthz", "GET", "/healthz", "", "", "", 200, 200},
		{"readyz", "GET", "/readyz", "", "", "", 200, 200},
		{"no route", "GET", "/nowhere", "", "", "", 404, 404},
		{"a method no route has, on a management path", "OPTIONS", "/v1/apikeys", "", "", "", 404, 405},
		{"a wrong method on a management path", "GET", "/v1/login", "", "", "", 404, 405},
	}
	for _, tt := range tests {
		if got := status(t, tt.method, pub+tt.path, tt.auth, tt.ctype, tt.body); got != tt.onPublic {
			t.Errorf("%s on the public listener: got %d, want %d", tt.name, got, tt.onPublic)
		}
		got := status(t, tt.method, adm+tt.path, tt.auth, tt.ctype, tt.body)
		if tt.onAdmin == 0 && got == 404 || tt.onAdmin != 0 && got != tt.onAdmin {
			t.Errorf("%s on the admin listener: got %d, want %d (0: anything but 404)", tt.name, got, tt.onAdmin)
		}
	}
}

// Without --admin-addr one listener serves everything, as before.
func TestOneListenerServesAll(t *testing.T) {
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "one-admin-password"}, "--data-dir", t.TempDir())
	if code, _ := postJSON(t, s.URL+"/v1/login", "", map[string]string{"userName": "admin", "password": "one-admin-password"}); code != 200 {
		t.Errorf("login: got %d, want 200", code)
	}
	if got := status(t, "GET", s.URL+"/.well-known/jwks.json", "", "", ""); got != 200 {
		t.Errorf("jwks: got %d, want 200", got)
	}
	if got := status(t, "GET", s.URL+"/metrics", "", "", ""); got != 200 {
		t.Errorf("metrics: got %d, want 200", got)
	}
}

func TestAdminAddrMustDiffer(t *testing.T) {
	code, _, errOut := runCaptured(t, "serve", "--addr", "127.0.0.1:9999", "--admin-addr", "127.0.0.1:9999", "--data-dir", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "--admin-addr must differ") {
		t.Errorf("got exit %d, stderr %q; want 2 naming --admin-addr", code, errOut)
	}
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
