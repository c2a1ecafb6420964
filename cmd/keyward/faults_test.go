package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// faultDBTimeout is the --db-timeout of the fault tests: every request must
// answer within it plus faultSlack.
const (
	faultDBTimeout = 2 * time.Second
	faultSlack     = time.Second
)

// faultClient calls a server under fault and checks the time bound.
type faultClient struct {
	t      *testing.T
	limit  time.Duration // every answer within it
	base   string
	hc     *http.Client
	signed *http.Client // signs keyward-v1 as the caller key
	// clientID and secret are the caller key's.
	clientID, secret string
}

type faultAnswer struct {
	status     int
	retryAfter string
	code       string
	body       map[string]any
	took       time.Duration
}

func newFaultClient(t *testing.T, base string, dbTimeout time.Duration) *faultClient {
	limit := dbTimeout + faultSlack
	return &faultClient{t: t, base: base, limit: limit, hc: &http.Client{Timeout: limit + 5*time.Second}}
}

// do sends one request and fails the test when it takes longer than the
// database timeout plus faultSlack (c.limit), or cannot be sent at all.
func (c *faultClient) do(method, path, auth string, body any) faultAnswer {
	c.t.Helper()
	return c.doHeader(method, path, auth, body)
}

// doHeader is do with extra headers, given as name, value pairs.
func (c *faultClient) doHeader(method, path, auth string, body any, header ...string) faultAnswer {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.hc
	switch {
	case auth == "signed":
		hc = c.signed
	case auth == "basic":
		req.SetBasicAuth(c.clientID, c.secret)
	case strings.HasPrefix(auth, "form:"):
		req.Body = io.NopCloser(strings.NewReader(strings.TrimPrefix(auth, "form:")))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.clientID, c.secret)
	case auth != "":
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	start := time.Now()
	res, err := hc.Do(req)
	took := time.Since(start)
	if err != nil {
		c.t.Errorf("%s %s: %v after %s", method, path, err, took)
		return faultAnswer{took: took}
	}
	defer res.Body.Close()
	a := faultAnswer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), took: took}
	json.NewDecoder(res.Body).Decode(&a.body)
	a.code, _ = a.body["code"].(string)
	if took > c.limit {
		c.t.Errorf("%s %s: answered %d after %s, want within %s", method, path, a.status, took, c.limit)
	}
	if a.status == http.StatusServiceUnavailable && a.retryAfter == "" {
		c.t.Errorf("%s %s: 503 (%s) without Retry-After", method, path, a.code)
	}
	return a
}

// faultLoad runs a mixed workload for d and returns the ids of the keys
// whose creation answered 201, and how many answers were 503.
func faultLoad(t *testing.T, c *faultClient, token, keySecret string, d time.Duration, allowed map[int]bool) (created []string, unavailable int) {
	t.Helper()
	var mu sync.Mutex
	byOp := map[string][]int{}
	defer func() {
		var parts []string
		for _, op := range []string{"create", "list", "whoami", "signed whoami", "token", "readyz"} {
			parts = append(parts, op+" "+tally(byOp[op]))
		}
		t.Logf("answers: %s", strings.Join(parts, "; "))
	}()
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				var a faultAnswer
				what := ""
				switch (w + i) % 6 {
				case 0:
					what = "create"
					a = c.do("POST", "/v1/apikeys", token, map[string]any{"name": fmt.Sprintf("fault %d-%d", w, i)})
				case 1:
					what = "list"
					a = c.do("GET", "/v1/apikeys?page-size=5", token, nil)
				case 2:
					what = "whoami"
					a = c.do("GET", "/v1/whoami", keySecret, nil)
				case 3:
					what = "readyz"
					a = c.do("GET", "/readyz", "", nil)
				case 4:
					what = "signed whoami"
					a = c.do("GET", "/v1/whoami", "signed", nil)
				case 5:
					what = "token"
					a = c.do("POST", "/oauth2/token", "form:grant_type=client_credentials", nil)
				}
				if a.status == 0 {
					continue
				}
				if !allowed[a.status] {
					t.Errorf("%s: got %d %v, want one of %v", what, a.status, a.body, allowed)
				}
				mu.Lock()
				byOp[what] = append(byOp[what], a.status)
				if a.status == http.StatusCreated {
					created = append(created, a.body["id"].(string))
				}
				if a.status == http.StatusServiceUnavailable {
					unavailable++
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	return created, unavailable
}

// waitReady polls /readyz until it answers 200, failing after limit.
func waitReady(t *testing.T, c *faultClient, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		a := c.do("GET", "/readyz", "", nil)
		if a.status == http.StatusOK {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("/readyz still %d %v %s after the fault ended", a.status, a.body, time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allKeyIDs lists every key id of the root tenant through the API.
func allKeyIDs(t *testing.T, c *faultClient, token string) []string {
	t.Helper()
	var ids []string
	for page := 1; ; page++ {
		a := c.do("GET", fmt.Sprintf("/v1/apikeys?page-size=500&page=%d", page), token, nil)
		if a.status != http.StatusOK {
			t.Fatalf("listing keys: %d %v", a.status, a.body)
		}
		items, _ := a.body["items"].([]any)
		for _, it := range items {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		if more, _ := a.body["hasNextPage"].(bool); !more {
			break
		}
	}
	sort.Strings(ids)
	return ids
}

// faultServer starts "keyward serve" with --db-timeout dbTimeout and args
// (a --database-url or --redis-url behind a fault proxy), logs in as admin
// and creates an hmacEnabled, rate-limited key to call with.
func faultServer(t *testing.T, dbTimeout time.Duration, args ...string) (c *faultClient, token, keySecret string) {
	t.Helper()
	const password = "fault-admin-password"
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": password},
		append([]string{"--data-dir", t.TempDir(), "--db-timeout", dbTimeout.String(), "--log-level", "error"}, args...)...)
	c = newFaultClient(t, s.URL, dbTimeout)
	a := c.do("POST", "/v1/login", "", map[string]string{"userName": "admin", "password": password})
	token, _ = a.body["accessToken"].(string)
	if token == "" {
		t.Fatalf("login: %d %v", a.status, a.body)
	}
	a = c.do("POST", "/v1/apikeys", token, map[string]any{"name": "caller", "level": 2, "hmacEnabled": true,
		"rateLimit": map[string]int{"limit": 1000000, "windowSeconds": 60}})
	keySecret, _ = a.body["clientSecret"].(string)
	if keySecret == "" {
		t.Fatalf("creating the caller key: %d %v", a.status, a.body)
	}
	c.clientID, c.secret = a.body["clientId"].(string), keySecret
	c.signed = &http.Client{Timeout: c.hc.Timeout, Transport: client.NewSigner(c.clientID, c.secret, nil)}
	return c, token, keySecret
}

// TestPostgresFaults puts a proxy between keyward and PostgreSQL and pauses,
// drops, slows and resets the connection: every request answers within the
// database timeout plus 1 s, with 503 and Retry-After where it cannot be
// served; /readyz says so; no write is half done (every 201 survives and no
// other key appears); and service comes back by itself.
func TestPostgresFaults(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, u.Host)
	u.Host = proxy.Addr()
	c, token, keySecret := faultServer(t, faultDBTimeout, "--database-url", u.String())
	want := allKeyIDs(t, c, token)

	tests := []struct {
		mode       string
		readyzDown bool // /readyz must say 503 while the fault lasts
		allowed    map[int]bool
	}{
		{"pause", true, map[int]bool{200: true, 201: true, 503: true}},
		{"drop", true, map[int]bool{200: true, 201: true, 503: true}},
		{"slow", false, map[int]bool{200: true, 201: true, 503: true}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			c.t = t
			proxy.set(tt.mode)
			start := time.Now()
			created, unavailable := faultLoad(t, c, token, keySecret, 2*time.Second, tt.allowed)
			if tt.readyzDown {
				if a := c.do("GET", "/readyz", "", nil); a.status != http.StatusServiceUnavailable {
					t.Errorf("/readyz during %s: got %d, want 503", tt.mode, a.status)
				}
				if unavailable == 0 {
					t.Errorf("during %s: got no 503, want the database's requests refused", tt.mode)
				}
			}
			proxy.set("")
			back := waitReady(t, c, 10*time.Second)
			// Ready again, the service writes again (a connection broken by
			// the fault may still cost one request a 503).
			for tries := 1; ; tries++ {
				a := c.do("POST", "/v1/apikeys", token, map[string]any{"name": "after " + tt.mode})
				if a.status == http.StatusCreated {
					created = append(created, a.body["id"].(string))
					break
				}
				if a.status != http.StatusServiceUnavailable || tries == 5 {
					t.Fatalf("create %d after %s: got %d %v, want 201", tries, tt.mode, a.status, a.body)
				}
			}
			t.Logf("%s: %d created, %d answered 503 in %s; ready again %s after the fault ended",
				tt.mode, len(created), unavailable, time.Since(start).Round(time.Millisecond), back.Round(time.Millisecond))
			want = append(want, created...)
			sort.Strings(want)
			if got := allKeyIDs(t, c, token); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("keys after %s: got %d, want %d (every 201 and nothing else)", tt.mode, len(got), len(want))
			}
		})
	}

	t.Run("reset mid-transaction", func(t *testing.T) {
		c.t = t
		// Fresh connections parse every statement again, so the audit
		// insert of the next create (after its key's insert, before the
		// commit) goes over the wire as text.
		proxy.closeAll(true)
		proxy.armReset("INSERT INTO audit")
		var statuses []int
		for i := 0; i < 3; i++ {
			a := c.do("POST", "/v1/apikeys", token, map[string]any{"name": fmt.Sprintf("reset %d", i)})
			statuses = append(statuses, a.status)
			switch a.status {
			case http.StatusCreated:
				want = append(want, a.body["id"].(string))
			case http.StatusServiceUnavailable:
				if a.code != "database_unavailable" {
					t.Errorf("reset create: got code %q, want database_unavailable", a.code)
				}
			default:
				t.Errorf("reset create: got %d %v, want 201 or 503", a.status, a.body)
			}
		}
		if proxy.resetCount() != 1 {
			t.Fatalf("the proxy reset %d connections, want 1", proxy.resetCount())
		}
		if statuses[0] != http.StatusServiceUnavailable {
			t.Errorf("create whose connection was reset mid-transaction: got %d, want 503", statuses[0])
		}
		waitReady(t, c, 10*time.Second)
		sort.Strings(want)
		if got := allKeyIDs(t, c, token); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("keys after the reset: got %d, want %d: the reset transaction left a key behind", len(got), len(want))
		}
	})
}

// TestRedisFaults puts a proxy between keyward and Redis (rate limits and
// nonces): while Redis is paused, dropped, slowed or reset, requests of a
// rate-limited key, plain and signed, answer 503 with Retry-After within
// the timeout plus 1 s (never let through uncounted or unchecked), /readyz
// says so, and service comes back by itself.
func TestRedisFaults(t *testing.T) {
	redisURL := os.Getenv("KEYWARD_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("KEYWARD_TEST_REDIS_URL is not set: skipping the Redis fault tests")
	}
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, u.Host)
	u.Host = proxy.Addr()
	c, token, keySecret := faultServer(t, faultDBTimeout, "--redis-url", u.String())

	for _, mode := range []string{"pause", "drop", "slow", "reset"} {
		t.Run(mode, func(t *testing.T) {
			c.t = t
			if mode == "reset" {
				proxy.closeAll(true)
			} else {
				proxy.set(mode)
			}
			var statuses []int
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			for i := 0; ctx.Err() == nil; i++ {
				auth := map[bool]string{true: keySecret, false: "signed"}[i%2 == 0]
				a := c.do("GET", "/v1/whoami", auth, nil)
				statuses = append(statuses, a.status)
				if a.status != http.StatusOK && a.status != http.StatusServiceUnavailable {
					t.Errorf("whoami with a rate-limited key (%s): got %d %v, want 200 or 503", auth[:6], a.status, a.body)
				}
				if mode == "reset" {
					break
				}
			}
			cancel()
			if mode == "pause" || mode == "drop" {
				if a := c.do("GET", "/readyz", "", nil); a.status != http.StatusServiceUnavailable {
					t.Errorf("/readyz during %s: got %d, want 503", mode, a.status)
				}
				if n := count(statuses, http.StatusServiceUnavailable); n != len(statuses) {
					t.Errorf("during %s: %d of %d answers were 503, want all (the limiter fails closed)", mode, n, len(statuses))
				}
			}
			proxy.set("")
			back := waitReady(t, c, 10*time.Second)
			if a := c.do("GET", "/v1/whoami", keySecret, nil); a.status != http.StatusOK {
				t.Errorf("whoami after %s: got %d %v, want 200", mode, a.status, a.body)
			}
			t.Logf("%s: %d requests (%d answered 503); ready again %s after the fault ended", mode, len(statuses),
				count(statuses, http.StatusServiceUnavailable), back.Round(time.Millisecond))
		})
	}
	_ = token
}

func count(xs []int, x int) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// TestSQLiteLockedAnswers503 holds SQLite's write lock from another
// connection (a stuck backup, a second process): a write through keyward
// answers 503 database_unavailable with Retry-After within the database
// timeout plus 1 s, reads keep working, and writes work again as soon as
// the lock is gone.
func TestSQLiteLockedAnswers503(t *testing.T) {
	dir := t.TempDir()
	c, token, _ := faultServer(t, time.Second, "--data-dir", dir)
	ctx := context.Background()
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "keyward.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, method, path string
		body               any
		want               int
		wantCode           string
	}{
		{"a write", "POST", "/v1/apikeys", map[string]any{"name": "locked out"}, http.StatusServiceUnavailable, "database_unavailable"},
		{"a read", "GET", "/v1/apikeys", nil, http.StatusOK, ""},
	}
	for _, tt := range tests {
		c.t = t
		a := c.do(tt.method, tt.path, token, tt.body)
		if a.status != tt.want || a.code != tt.wantCode {
			t.Errorf("%s while the lock is held: got %d %q, want %d %q", tt.name, a.status, a.code, tt.want, tt.wantCode)
		}
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	for tries := 1; ; tries++ {
		a := c.do("POST", "/v1/apikeys", token, map[string]any{"name": "after the lock"})
		if a.status == http.StatusCreated {
			break
		}
		if tries == 5 {
			t.Fatalf("a write after the lock is gone: got %d %v, want 201", a.status, a.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
