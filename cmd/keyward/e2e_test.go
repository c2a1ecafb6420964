package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// cli runs one keyward command against a server with the given environment.
func cli(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func statusWith(t *testing.T, url, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestCLIAgainstServer runs the apikeys and token commands end to end
// against a real server started by "keyward serve".
func TestCLIAgainstServer(t *testing.T) {
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "cli-admin-password"}, "--data-dir", t.TempDir())
	env := map[string]string{"KEYWARD_SERVER": s.URL, "KEYWARD_USER": "admin", "KEYWARD_PASSWORD": "cli-admin-password"}

	code, out, errs := cli(t, env, "apikeys", "create", "--name", "cli key", "--level", "2", "--json")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errs)
	}
	var k struct{ ID, ClientID, ClientSecret, Name string }
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.ClientSecret == "" {
		t.Fatalf("create --json printed %q: %v", out, err)
	}
	if statusWith(t, s.URL, k.ClientSecret) != 200 {
		t.Fatal("the created key does not work")
	}

	code, out, errs = cli(t, env, "apikeys", "create", "--name", "plain")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "kw_sk_") || strings.Contains(errs, "kw_sk_") {
		t.Errorf("create: exit %d, stdout %q, stderr %q: want the secret alone on stdout", code, out, errs)
	}

	code, out, _ = cli(t, env, "apikeys", "list", "--q", "CLI")
	if code != 0 || !strings.Contains(out, k.ClientID) || strings.Contains(out, "plain") {
		t.Errorf("list --q CLI: exit %d: %s", code, out)
	}
	code, out, _ = cli(t, env, "apikeys", "get", k.ID, "--json")
	if code != 0 || !strings.Contains(out, `"name": "cli key"`) && !strings.Contains(out, `"name":"cli key"`) || strings.Contains(out, k.ClientSecret) {
		t.Errorf("get: exit %d: %s", code, out)
	}
	if code, out, errs = cli(t, env, "apikeys", "update", k.ID, "--name", "renamed", "--json"); code != 0 || !strings.Contains(out, `"name": "renamed"`) {
		t.Errorf("update --name renamed: exit %d: %s %s", code, out, errs)
	}
	if code, out, _ = cli(t, env, "apikeys", "get", k.ID, "--json"); code != 0 || !strings.Contains(out, `"name": "renamed"`) {
		t.Errorf("get after update --name renamed: exit %d: %s", code, out)
	}
	if code, out, errs = cli(t, env, "apikeys", "update", k.ID, "--rate-limit", "100/1m"); code != 0 || !strings.Contains(out, "100 per 60s") {
		t.Errorf("update --rate-limit: exit %d: %s %s", code, out, errs)
	}
	if code, out, errs = cli(t, env, "apikeys", "update", k.ID, "--no-rate-limit", "--json"); code != 0 || !strings.Contains(out, `"rateLimit": null`) {
		t.Errorf("update --no-rate-limit: exit %d: %s %s", code, out, errs)
	}
	if code, _, _ = cli(t, env, "apikeys", "update", k.ID, "--rate-limit", "fast"); code != exitUsage {
		t.Errorf("update --rate-limit fast: exit %d, want 2", code)
	}
	if code, out, errs = cli(t, env, "apikeys", "update", k.ID, "--credits", "500", "--refill", "1000/monthly:31"); code != 0 ||
		!strings.Contains(out, "500 left, refilled to 1000 monthly on day 31") {
		t.Errorf("update --credits --refill: exit %d: %s %s", code, out, errs)
	}
	if code, out, errs = cli(t, env, "apikeys", "update", k.ID, "--no-credits", "--json"); code != 0 || !strings.Contains(out, `"credits": null`) {
		t.Errorf("update --no-credits: exit %d: %s %s", code, out, errs)
	}
	if code, out, errs = cli(t, env, "apikeys", "update", k.ID, "--limit", "burst=10/1s", "--limit", "daily=10000/24h"); code != 0 ||
		!strings.Contains(out, "burst: 10 per 1s, daily: 10000 per 86400s") {
		t.Errorf("update --limit: exit %d: %s %s", code, out, errs)
	}
	if code, out, errs = cli(t, env, "apikeys", "update", k.ID, "--limit", "", "--json"); code != 0 || strings.Contains(out, `"rateLimits"`) {
		t.Errorf("update --limit '': exit %d: %s %s", code, out, errs)
	}
	if code, _, _ = cli(t, env, "apikeys", "update", k.ID, "--limit", "burst"); code != exitUsage {
		t.Errorf("update --limit burst: exit %d, want 2", code)
	}
	for _, bad := range [][]string{{"--refill", "1000/daily"}, {"--credits", "5", "--refill", "1000/weekly"}, {"--credits", "5", "--refill", "1000/daily:3"}} {
		if code, _, _ = cli(t, env, append([]string{"apikeys", "update", k.ID}, bad...)...); code != exitUsage {
			t.Errorf("update %v: exit %d, want 2", bad, code)
		}
	}
	if code, _, errs = cli(t, env, "apikeys", "deactivate", k.ID); code != 0 {
		t.Fatalf("deactivate: exit %d: %s", code, errs)
	}
	if got := statusWith(t, s.URL, k.ClientSecret); got != 401 {
		t.Errorf("deactivated key: got %d, want 401", got)
	}
	if code, _, errs = cli(t, env, "apikeys", "activate", k.ID); code != 0 {
		t.Fatalf("activate: exit %d: %s", code, errs)
	}
	code, out, errs = cli(t, env, "apikeys", "rotate", k.ID)
	newSecret := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(newSecret, "kw_sk_") {
		t.Fatalf("rotate: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if statusWith(t, s.URL, k.ClientSecret) != 401 || statusWith(t, s.URL, newSecret) != 200 {
		t.Error("after rotate without grace: want the old secret refused and the new one accepted")
	}

	code, out, errs = cli(t, nil, "token", "--server", s.URL, "--client-id", k.ClientID, "--client-secret", newSecret)
	if code != 0 || statusWith(t, s.URL, strings.TrimSpace(out)) != 200 {
		t.Errorf("token: exit %d, stderr %q; the printed token must work on /v1", code, errs)
	}
	code, out, _ = cli(t, map[string]string{"KEYWARD_CLIENT_ID": k.ClientID, "KEYWARD_CLIENT_SECRET": newSecret, "KEYWARD_SERVER": s.URL}, "token", "--json")
	if code != 0 || !strings.Contains(out, `"token_type":"Bearer"`) {
		t.Errorf("token --json: exit %d: %s", code, out)
	}
	if code, _, errs = cli(t, nil, "token", "--server", s.URL, "--client-id", k.ClientID, "--client-secret", k.ClientSecret); code != exitError || !strings.Contains(errs, "invalid_client") || strings.Contains(errs, k.ClientSecret) {
		t.Errorf("token with the old secret: exit %d, stderr %q; want 1 and invalid_client without the secret", code, errs)
	}

	// keyward curl signs with an hmacEnabled key.
	code, out, errs = cli(t, env, "apikeys", "create", "--name", "signer", "--hmac", "--level", "4", "--json")
	var h struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal([]byte(out), &h); code != 0 || err != nil || h.ClientSecret == "" {
		t.Fatalf("create an hmac key: exit %d, %v, stderr %q; want 0 and a secret", code, err, errs)
	}
	henv := map[string]string{"KEYWARD_CLIENT_ID": h.ClientID, "KEYWARD_CLIENT_SECRET": h.ClientSecret}
	if code, out, errs = cli(t, henv, "curl", s.URL+"/v1/whoami"); code != 0 || !strings.Contains(out, h.ClientID) {
		t.Errorf("curl whoami: exit %d, %s %s", code, out, errs)
	}
	if code, out, errs = cli(t, henv, "curl", "-d", `{"name":"by curl"}`, s.URL+"/v1/apikeys"); code != 0 || !strings.Contains(out, `"clientSecret"`) {
		t.Errorf("curl POST: exit %d, %s %s", code, out, errs)
	}
	if code, _, _ = cli(t, map[string]string{"KEYWARD_CLIENT_ID": h.ClientID, "KEYWARD_CLIENT_SECRET": k.ClientSecret}, "curl", s.URL+"/v1/whoami"); code != exitError {
		t.Errorf("curl with a wrong secret: exit %d, want 1", code)
	}

	if code, _, errs = cli(t, env, "apikeys", "delete", k.ID); code != 0 {
		t.Fatalf("delete: exit %d: %s", code, errs)
	}
	if code, _, errs = cli(t, env, "apikeys", "get", k.ID); code != exitError || !strings.Contains(errs, "not found") {
		t.Errorf("get after delete: exit %d, stderr %q; want 1 and not found", code, errs)
	}
	if code, _, _ = cli(t, env, "apikeys", "create"); code != exitUsage {
		t.Errorf("create without --name: exit %d, want %d", code, exitUsage)
	}
}

func TestUsersAndPermissionsCLI(t *testing.T) {
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "cli-admin-password"}, "--data-dir", t.TempDir())
	env := map[string]string{"KEYWARD_SERVER": s.URL, "KEYWARD_USER": "admin", "KEYWARD_PASSWORD": "cli-admin-password"}

	// Permissions: a custom one and a composite holding it.
	code, out, errs := cli(t, env, "permissions", "create", "--name", "orders:read", "--description", "Read orders", "--json")
	var perm struct{ ID, Name string }
	if code != 0 || json.Unmarshal([]byte(out), &perm) != nil || perm.Name != "orders:read" {
		t.Fatalf("permissions create: exit %d, %s %s", code, out, errs)
	}
	code, out, errs = cli(t, env, "permissions", "create", "--name", "orders:all", "--child", "orders:read")
	if code != 0 || !strings.Contains(out, "custom composite") || !strings.Contains(out, "orders:read") {
		t.Errorf("permissions create --child: exit %d: %s %s", code, out, errs)
	}
	code, out, _ = cli(t, env, "permissions", "list")
	if code != 0 || !strings.Contains(out, "apikeys:read") || !strings.Contains(out, "orders:all") {
		t.Errorf("permissions list: exit %d: %s", code, out)
	}
	if code, out, _ = cli(t, env, "permissions", "update", perm.ID, "--description", "Read every order"); code != 0 || !strings.Contains(out, "Read every order") {
		t.Errorf("permissions update: exit %d: %s", code, out)
	}
	if code, _, errs = cli(t, env, "permissions", "delete", perm.ID); code != exitError || !strings.Contains(errs, "keyward:") {
		t.Errorf("deleting a permission a composite holds: exit %d, %q; want 1 with the server's reason", code, errs)
	}
	if code, _, _ = cli(t, env, "permissions", "update", perm.ID); code != exitUsage {
		t.Errorf("update with nothing to change: exit %d, want 2", code)
	}

	// Users: a generated password, printed once, signs in.
	code, out, errs = cli(t, env, "users", "create", "--name", "ops", "--level", "5", "--permission", "orders:read")
	password := strings.TrimSpace(out)
	if code != 0 || len(password) != 24 || !strings.Contains(errs, "shown only this once") {
		t.Fatalf("users create: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	opsEnv := map[string]string{"KEYWARD_SERVER": s.URL, "KEYWARD_USER": "ops", "KEYWARD_PASSWORD": password}
	if code, _, errs = cli(t, opsEnv, "apikeys", "list"); code != 0 {
		t.Errorf("the new user cannot list keys: exit %d: %s", code, errs)
	}
	code, out, _ = cli(t, env, "users", "list", "--q", "op", "--json")
	var page struct {
		Items []struct{ ID, UserName string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil || len(page.Items) != 1 || page.Items[0].UserName != "ops" {
		t.Fatalf("users list --q op: exit %d: %s", code, out)
	}
	id := page.Items[0].ID
	if code, out, _ = cli(t, env, "users", "get", id); code != 0 || !strings.Contains(out, "orders:read") {
		t.Errorf("users get: exit %d: %s", code, out)
	}
	code, out, _ = cli(t, env, "users", "update", id, "--level", "2", "--permission", "", "--json")
	var updated struct {
		Level       int
		Permissions []any
	}
	if code != 0 || json.Unmarshal([]byte(out), &updated) != nil || updated.Level != 2 || len(updated.Permissions) != 0 {
		t.Errorf("users update --level 2 --permission \"\": exit %d: %s", code, out)
	}
	if code, out, errs = cli(t, env, "users", "update", id, "--limit", "plan=1000/24h"); code != 0 || !strings.Contains(out, "plan: 1000 per 86400s") {
		t.Errorf("users update --limit: exit %d: %s %s", code, out, errs)
	}
	if code, _, errs = cli(t, env, "users", "deactivate", id); code != 0 {
		t.Fatalf("users deactivate: exit %d: %s", code, errs)
	}
	if code, _, _ = cli(t, opsEnv, "apikeys", "list"); code != exitError {
		t.Errorf("a deactivated user still signs in: exit %d", code)
	}
	if code, _, errs = cli(t, env, "users", "activate", id); code != 0 {
		t.Errorf("users activate: exit %d: %s", code, errs)
	}
	if code, _, errs = cli(t, opsEnv, "apikeys", "list"); code != 0 {
		t.Errorf("a reactivated user cannot sign in: exit %d: %s", code, errs)
	}
	if code, _, errs = cli(t, env, "users", "create", "--level", "9", "--name", "x"); code != exitUsage {
		t.Errorf("--level 9: exit %d, want 2: %s", code, errs)
	}
	if code, _, errs = cli(t, env, "users", "delete", id); code != 0 {
		t.Errorf("users delete: exit %d: %s", code, errs)
	}
	if code, _, errs = cli(t, env, "users", "get", id); code != exitError || !strings.Contains(errs, "not found") {
		t.Errorf("a deleted user: exit %d, %q", code, errs)
	}
}
