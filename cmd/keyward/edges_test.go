package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
