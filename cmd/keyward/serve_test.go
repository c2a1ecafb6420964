package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a goroutine-safe buffer for a server's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testServer is "keyward serve" running in-process on 127.0.0.1:0.
type testServer struct {
	URL       string
	Listening string // what the server said it listens on
	stdout    *lockedBuffer
	stderr    *lockedBuffer
	stop      func() int
}

// startServer runs "keyward serve" with args and environment env, waits
// until /healthz answers, and stops it at cleanup.
func startServer(t *testing.T, env map[string]string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	ts := &testServer{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	done := make(chan int, 1)
	getenv := func(k string) string { return env[k] }
	go func() {
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), io.MultiWriter(pw, ts.stdout), ts.stderr)
		pw.Close()
		done <- code
	}()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "keyward listening on "); ok {
				urls <- u
			}
		}
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			cancel()
			t.Fatalf("server exited early (code %d): %s", <-done, ts.stderr.String())
		}
		ts.URL, _, _ = strings.Cut(u, " ") // the public listener's, with --admin-addr
		ts.Listening = u
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("server did not start: %s", ts.stderr.String())
	}
	go io.Copy(io.Discard, pr)
	var once sync.Once
	code := 0
	ts.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("server did not shut down")
			}
		})
		return code
	}
	t.Cleanup(func() { ts.stop() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(ts.URL + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz did not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ts
}

func postJSON(t *testing.T, url, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestServeFirstStartPrintsPasswordOnce(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, nil, "--data-dir", dir)
	out := s.stdout.String()
	_, pw, ok := strings.Cut(out, "Admin password (shown only this once): ")
	if !ok {
		t.Fatalf("first start did not print the admin password: %q", out)
	}
	pw, _, _ = strings.Cut(pw, "\n")
	if len(pw) < 16 {
		t.Fatalf("got admin password %q, want at least 16 characters", pw)
	}
	if strings.Contains(s.stderr.String(), pw) {
		t.Errorf("the admin password reached the log")
	}
	code, res := postJSON(t, s.URL+"/v1/login", "", map[string]string{"userName": "admin", "password": pw})
	if code != 200 || res["accessToken"] == nil {
		t.Fatalf("login with the printed password: got %d %v", code, res)
	}
	// A key made now must survive a restart.
	code, key := postJSON(t, s.URL+"/v1/apikeys", res["accessToken"].(string), map[string]any{"name": "durable"})
	if code != 201 {
		t.Fatalf("create: %d %v", code, key)
	}
	if got := s.stop(); got != 0 {
		t.Fatalf("graceful shutdown: exit code %d, want 0; stderr %s", got, s.stderr.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master.key: %v, mode %v; want a 0600 file", err, fi.Mode().Perm())
	}

	s2 := startServer(t, nil, "--data-dir", dir)
	if strings.Contains(s2.stdout.String(), "Admin password") {
		t.Errorf("second start printed a password again: %q", s2.stdout.String())
	}
	req, _ := http.NewRequest("GET", s2.URL+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+key["clientSecret"].(string))
	r, err := http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("the key made before the restart: got %v %v, want 200", r.StatusCode, err)
	}
	r.Body.Close()
}

func TestServeAdminPasswordFromEnv(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("from-a-file-123\n"), 0o600)
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD_FILE": pwFile}, "--data-dir", t.TempDir())
	if strings.Contains(s.stdout.String(), "Admin password") {
		t.Errorf("printed a password although KEYWARD_ADMIN_PASSWORD_FILE was set")
	}
	if code, _ := postJSON(t, s.URL+"/v1/login", "", map[string]string{"userName": "admin", "password": "from-a-file-123"}); code != 200 {
		t.Errorf("login with the password from the file: got %d, want 200", code)
	}
}

func TestServeConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad database url", nil, []string{"--database-url", "mysql://x"}, "postgres://"},
		{"bad master key", map[string]string{"KEYWARD_MASTER_KEY": "short"}, nil, "KEYWARD_MASTER_KEY"},
		{"bad log level", nil, []string{"--log-level", "loud"}, "--log-level"},
		{"unknown flag", nil, []string{"--nope"}, "flag provided but not defined"},
		{"unknown dialect", nil, []string{"--dialects", "carbonext,nope"}, "unknown dialect"},
		{"both env and file", map[string]string{"KEYWARD_MASTER_KEY": "x", "KEYWARD_MASTER_KEY_FILE": "/x"}, nil, "not both"},
		{"bad tenant rate limit", nil, []string{"--tenant-rate-limit", "fast"}, "--tenant-rate-limit"},
		{"bad failed-auth limit", nil, []string{"--failed-auth-limit", "20/100ms"}, "whole seconds"},
		{"bad redis url", nil, []string{"--redis-url", "http://cache:6379"}, "redis://"},
		{"bad trusted proxy", nil, []string{"--trusted-proxies", "10.0.0.0/8,lb.internal"}, "--trusted-proxies"},
		{"too short a database timeout", nil, []string{"--db-timeout", "10ms"}, "--db-timeout"},
		{"bad gc min heap", nil, []string{"--gc-min-heap", "64MB"}, "-gc-min-heap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			code := run(context.Background(), append([]string{"serve", "--data-dir", t.TempDir()}, tt.args...), getenv, nil, &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("got exit %d, stderr %q; want %d and a message naming %q", code, stderr.String(), exitUsage, tt.want)
			}
		})
	}
}

func TestServeHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--help"}, func(string) string { return "" }, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("serve --help: exit %d", code)
	}
	for _, want := range []string{"-addr", "-data-dir", "-database-url", "-public-url", "KEYWARD_MASTER_KEY", "KEYWARD_ADMIN_PASSWORD",
		"-redis-url", "-tenant-rate-limit", "-failed-auth-limit", "-db-timeout", "Several replicas"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("serve --help does not mention %s", want)
		}
	}
}

func TestMigrateAndResetPassword(t *testing.T) {
	dir := t.TempDir()
	getenv := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "--data-dir", dir}, getenv, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "schema is at version") {
		t.Errorf("migrate printed %q", stdout.String())
	}
	// Bootstrap, then reset the admin's password offline.
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "first-password"}, "--data-dir", dir)
	stdout.Reset()
	stderr.Reset()
	code := run(context.Background(), []string{"admin", "reset-password", "--data-dir", dir}, getenv, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("reset-password: exit %d: %s", code, stderr.String())
	}
	_, pw, ok := strings.Cut(stdout.String(), "(shown only this once): ")
	if !ok {
		t.Fatalf("reset-password printed %q", stdout.String())
	}
	pw = strings.TrimSpace(pw)
	if c, _ := postJSON(t, s.URL+"/v1/login", "", map[string]string{"userName": "admin", "password": pw}); c != 200 {
		t.Errorf("login with the new password: %d", c)
	}
	if c, _ := postJSON(t, s.URL+"/v1/login", "", map[string]string{"userName": "admin", "password": "first-password"}); c != 401 {
		t.Errorf("login with the old password: %d, want 401", c)
	}
}

func TestServeDialects(t *testing.T) {
	for _, tt := range []struct {
		dialects string
		want     int
	}{{"", 400}, {"none", 404}, {"carbonext", 404}, {"piercloud", 400}} {
		t.Run("dialects="+tt.dialects, func(t *testing.T) {
			args := []string{"--data-dir", t.TempDir()}
			if tt.dialects != "" {
				args = append(args, "--dialects", tt.dialects)
			}
			s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "dialect-password"}, args...)
			// Pier Cloud's POST /auth answers a bad body with 400 when mounted.
			if code, _ := postJSON(t, s.URL+"/auth", "", map[string]string{}); code != tt.want {
				t.Errorf("POST /auth: got %d, want %d", code, tt.want)
			}
		})
	}
}

func TestServeConsole(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
	}{{nil, http.StatusOK}, {[]string{"--no-console"}, http.StatusNotFound}} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "console-password"}, append([]string{"--data-dir", t.TempDir()}, tt.args...)...)
			res, err := http.Get(s.URL + "/console/login")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("GET /console/login: got %d, want %d", res.StatusCode, tt.want)
			}
			if got := strings.Contains(s.stdout.String(), "Console: "+s.URL+"/console"); got != (tt.want == http.StatusOK) {
				t.Errorf("the start message names the console: got %v: %s", got, s.stdout.String())
			}
		})
	}
}

func TestServeRedis(t *testing.T) {
	// Redis that does not answer stops the start with a clear message.
	var stdout, stderr bytes.Buffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--redis-url", "redis://" + dead + "/0"},
		func(k string) string { return map[string]string{"KEYWARD_ADMIN_PASSWORD": "redis-password"}[k] }, nil, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "does not answer") {
		t.Errorf("unreachable Redis: got exit %d, stderr %q", code, stderr.String())
	}

	url := os.Getenv("KEYWARD_TEST_REDIS_URL")
	if url == "" {
		t.Skip("KEYWARD_TEST_REDIS_URL is not set: skipping the serve test with Redis")
	}
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "redis-password", "KEYWARD_REDIS_URL": url},
		"--data-dir", t.TempDir(), "--log-format", "text")
	if !strings.Contains(s.stderr.String(), "rate_limits=redis") {
		t.Errorf("the start log does not say rate limits are in Redis: %s", s.stderr.String())
	}
}

// TestServeLogsEveryRequest: the request log is written in batches, yet
// every line comes out, within its interval while serving, in order with
// the lines around it.
func TestServeLogsEveryRequest(t *testing.T) {
	s := startServer(t, nil, "--data-dir", t.TempDir())
	for range 3 {
		res, err := http.Get(s.URL + "/v1/whoami")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(s.stderr.String(), `"route":"GET /v1/whoami"`) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("got stderr %s, want 3 request lines of GET /v1/whoami within 5s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := s.stop(); got != 0 {
		t.Fatalf("graceful shutdown: exit code %d, want 0", got)
	}
	out := s.stderr.String()
	listening, request, stopping := strings.Index(out, `"msg":"listening"`), strings.Index(out, `"msg":"request"`), strings.Index(out, `"msg":"shutting down`)
	if !(listening >= 0 && listening < request && request < stopping) {
		t.Errorf("got stderr %s, want the listening line, then the request lines, then shutting down", out)
	}
	if !strings.Contains(out, `"status":401`) {
		t.Errorf("got stderr %s, want the request lines to carry status 401", out)
	}
}
