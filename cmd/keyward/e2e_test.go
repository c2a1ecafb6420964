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
	if code, _, errs = cli(t, env, "apikeys", "update", k.ID, "--name", "renamed"); code != 0 {
		t.Errorf("update: exit %d: %s", code, errs)
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
	json.Unmarshal([]byte(out), &h)
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
