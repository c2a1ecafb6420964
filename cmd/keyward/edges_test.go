package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/signature"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// backendArgs runs fn as the subtests "sqlite" and "postgres" with the
// serve flags that select each database; both keep the master key in dir.
func backendArgs(t *testing.T, fn func(t *testing.T, args []string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, []string{"--data-dir", t.TempDir()}) })
	t.Run("postgres", func(t *testing.T) {
		fn(t, []string{"--data-dir", t.TempDir(), "--database-url", sqltest.PostgresDSN(t)})
	})
}

// adminToken logs in as admin with password.
func adminToken(t *testing.T, url, password string) string {
	t.Helper()
	code, res := postJSON(t, url+"/v1/login", "", map[string]string{"userName": "admin", "password": password})
	if code != 200 {
		t.Fatalf("login: got %d %v, want 200", code, res)
	}
	return res["accessToken"].(string)
}

// sendSigned sends a copy of a keyward-v1 signed request to base.
func sendSigned(t *testing.T, base string, signed *http.Request, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(signed.Method, base+signed.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = signed.Header.Clone()
	req.Host = signed.Host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestSignedRequestNotReplayedAfterRestart: a signed create is accepted
// once, refused as a replay, and still refused after the server restarts
// (issue 12 #4: SQLite kept nonces in memory only).
func TestSignedRequestNotReplayedAfterRestart(t *testing.T) {
	backendArgs(t, func(t *testing.T, args []string) {
		env := map[string]string{"KEYWARD_ADMIN_PASSWORD": "replay-admin-password"}
		s := startServer(t, env, args...)
		admin := adminToken(t, s.URL, "replay-admin-password")
		code, k := postJSON(t, s.URL+"/v1/apikeys", admin, map[string]any{"name": "signer", "level": 4, "hmacEnabled": true})
		if code != 201 {
			t.Fatalf("create: got %d %v", code, k)
		}
		body := []byte(`{"name":"made by a signed request"}`)
		req, _ := http.NewRequest("POST", "http://keyward.test/v1/apikeys", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := signature.SignKeywardV1(req, k["clientId"].(string), []byte(k["clientSecret"].(string)), time.Now(), time.Minute, "restart-nonce-0123456789ab"); err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{201, 401} {
			if got := sendSigned(t, s.URL, req, body); got != want {
				t.Fatalf("send %d before the restart: got %d, want %d", i+1, got, want)
			}
		}
		if got := s.stop(); got != 0 {
			t.Fatalf("shutdown: exit %d", got)
		}
		s2 := startServer(t, env, args...)
		if got := sendSigned(t, s2.URL, req, body); got != 401 {
			t.Errorf("the same signed request after a restart: got %d, want 401 replay_detected", got)
		}
	})
}

// TestDataFilesPrivate: in a data directory anyone may read, the SQLite
// files and the master key are still created 0600 (issue 12 #9).
func TestDataFilesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "mode-admin-password"}, "--data-dir", dir)
	adminToken(t, s.URL, "mode-admin-password") // writes, so the WAL files exist
	for _, name := range []string{"keyward.db", "keyward.db-wal", "keyward.db-shm", "master.key"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: got mode %v, want 0600", name, got)
		}
	}
}

// tokenAlg gets a client-credentials token and returns it with the alg
// and kid of its header.
func tokenAlg(t *testing.T, url, clientID, clientSecret string) (token, alg, kid string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("token: got %d %v", res.StatusCode, err)
	}
	head, _, _ := strings.Cut(out.AccessToken, ".")
	b, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Alg, Kid string }
	json.Unmarshal(b, &h)
	return out.AccessToken, h.Alg, h.Kid
}

// jwksKids returns the kids /.well-known/jwks.json publishes.
func jwksKids(t *testing.T, url string) []string {
	t.Helper()
	res, err := http.Get(url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct{ Keys []struct{ Kid, Alg string } }
	json.NewDecoder(res.Body).Decode(&set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestTokenAlgChangeTakesEffectAtStart: restarting with another
// --token-alg signs the next token with it at once, while the old key
// stays published and its tokens keep working (issue 12 #15).
func TestTokenAlgChangeTakesEffectAtStart(t *testing.T) {
	backendArgs(t, func(t *testing.T, args []string) {
		env := map[string]string{"KEYWARD_ADMIN_PASSWORD": "alg-admin-password", "KEYWARD_PUBLIC_URL": "http://keyward.test"}
		s := startServer(t, env, args...)
		code, k := postJSON(t, s.URL+"/v1/apikeys", adminToken(t, s.URL, "alg-admin-password"), map[string]any{"name": "tokens", "level": 1})
		if code != 201 {
			t.Fatalf("create: %d %v", code, k)
		}
		id, sec := k["clientId"].(string), k["clientSecret"].(string)
		oldToken, alg, oldKid := tokenAlg(t, s.URL, id, sec)
		if alg != "EdDSA" {
			t.Fatalf("default alg: got %s, want EdDSA", alg)
		}
		s.stop()

		steps := []struct {
			alg      string
			wantKids int
		}{{"ES256", 2}, {"ES256", 2}, {"RS256", 3}, {"EdDSA", 4}}
		for _, st := range steps {
			s := startServer(t, env, append([]string{"--token-alg", st.alg}, args...)...)
			_, alg, kid := tokenAlg(t, s.URL, id, sec)
			if alg != st.alg {
				t.Errorf("after a restart with --token-alg %s: got a token signed %s", st.alg, alg)
			}
			kids := jwksKids(t, s.URL)
			if len(kids) != st.wantKids || !slices.Contains(kids, oldKid) || !slices.Contains(kids, kid) {
				t.Errorf("--token-alg %s: got JWKS kids %v, want %d including the old %s and the new %s", st.alg, kids, st.wantKids, oldKid, kid)
			}
			if got := statusWith(t, s.URL, oldToken); got != 200 {
				t.Errorf("--token-alg %s: the EdDSA token made before: got %d, want 200", st.alg, got)
			}
			s.stop()
		}
	})
}
