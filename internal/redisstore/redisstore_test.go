package redisstore_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/redisstore"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

// redisURL returns KEYWARD_TEST_REDIS_URL, or skips without it.
func redisURL(t *testing.T) string {
	u := os.Getenv("KEYWARD_TEST_REDIS_URL")
	if u == "" {
		t.Skip("KEYWARD_TEST_REDIS_URL is not set: skipping the Redis tests")
	}
	return u
}

// open connects to the test Redis under a prefix of this test's own; an
// unreachable Redis fails the test.
func open(t *testing.T, url string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("KEYWARD_TEST_REDIS_URL is set but: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s.WithPrefix("keyward-test:" + secret.NewID() + ":")
}

const adminPassword = "redis-test-admin-password"

// replica is a Service over a shared database with its own connection to Redis.
type replica struct {
	svc   *keyward.Service
	admin *keyward.Principal
}

func replicas(t *testing.T, n int, url, prefix string) []replica {
	t.Helper()
	db := sqltest.SQLite(t)
	master := secret.RandomBytes(32)
	var out []replica
	for i := range n {
		rs, err := redisstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		rs = rs.WithPrefix(prefix)
		svc, err := wire.NewService(keyward.Config{Store: db, MasterKey: master, Limiter: rs, NonceStore: rs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		if i == 0 {
			if _, err := svc.Bootstrap(context.Background(), adminPassword); err != nil {
				t.Fatal(err)
			}
		}
		res, err := svc.Login(context.Background(), "", "admin", adminPassword)
		if err != nil {
			t.Fatal(err)
		}
		admin, err := svc.AuthenticateUser(context.Background(), res.AccessToken, "", "")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, replica{svc: svc, admin: admin})
	}
	return out
}

func TestRateLimitHoldsAcrossReplicas(t *testing.T) {
	url := redisURL(t)
	open(t, url) // fail early when Redis is unreachable
	rs := replicas(t, 3, url, "keyward-test:"+secret.NewID()+":")
	ctx := context.Background()
	name := "shared limit"
	k, err := rs[0].svc.CreateAPIKey(ctx, rs[0].admin, keyward.APIKeyInput{Name: &name, RateLimit: keyward.Some(keyward.RateLimit{Limit: 25, WindowSeconds: 3600})})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	allowed := map[int]int{}
	var wg sync.WaitGroup
	for i := range 90 { // 30 per replica, concurrently
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rs[i%3]
			_, err := r.svc.Authenticate(ctx, keyward.Credentials{APIKey: k.ClientSecret})
			switch keyward.ErrorCode(err) {
			case "":
				mu.Lock()
				allowed[i%3]++
				mu.Unlock()
			case keyward.ERATELIMITED:
			default:
				t.Errorf("request %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	total := allowed[0] + allowed[1] + allowed[2]
	// The window is an hour: only a test started in its last seconds could
	// see two windows, and then at most twice the limit.
	if total != 25 && !(total <= 50 && time.Now().Unix()%3600 > 3590) {
		t.Errorf("90 requests over 3 replicas with a limit of 25: got %d allowed (%v), want 25", total, allowed)
	}
	t.Logf("allowed per replica: %v", allowed)
}

func TestReplayedSignatureRefusedOnAnyReplica(t *testing.T) {
	url := redisURL(t)
	prefix := "keyward-test:" + secret.NewID() + ":"
	a, b := open(t, url).WithPrefix(prefix), open(t, url).WithPrefix(prefix) // two replicas
	until := time.Now().Add(time.Minute)
	if fresh, err := a.Remember(context.Background(), "key\x00nonce-1", until); err != nil || !fresh {
		t.Fatalf("first use on A: fresh %v, %v", fresh, err)
	}
	if fresh, err := b.Remember(context.Background(), "key\x00nonce-1", until); err != nil || fresh {
		t.Errorf("replay on B: fresh %v, %v; want refused", fresh, err)
	}
	if fresh, err := b.Remember(context.Background(), "key\x00nonce-2", until); err != nil || !fresh {
		t.Errorf("another nonce on B: fresh %v, %v", fresh, err)
	}
	if fresh, err := a.Remember(context.Background(), "key\x00short", time.Now().Add(50*time.Millisecond)); err != nil || !fresh {
		t.Fatal(fresh, err)
	}
	time.Sleep(120 * time.Millisecond)
	if fresh, err := b.Remember(context.Background(), "key\x00short", time.Now().Add(time.Minute)); err != nil || !fresh {
		t.Errorf("an expired nonce: fresh %v, %v; want fresh", fresh, err)
	}
}

// proxy forwards TCP connections to Redis until stopped, so that a test can
// take Redis away from keyward and give it back.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func (p *proxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestRedisDownFailsClosedAndRecovers(t *testing.T) {
	url := redisURL(t)
	open(t, url)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: "127.0.0.1:0", target: u.Host}
	p.start(t)
	defer p.stop()
	u.Host = p.addr
	rs := replicas(t, 1, u.String(), "keyward-test:"+secret.NewID()+":")
	svc := rs[0].svc
	ts := httptest.NewServer(httpapi.New(svc, nil, nil))
	defer ts.Close()
	ctx := context.Background()
	name := "limited"
	k, err := svc.CreateAPIKey(ctx, rs[0].admin, keyward.APIKeyInput{Name: &name, RateLimit: keyward.Some(keyward.RateLimit{Limit: 1000, WindowSeconds: 60})})
	if err != nil {
		t.Fatal(err)
	}
	whoami := func() (int, string) {
		req, _ := http.NewRequest("GET", ts.URL+"/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+k.ClientSecret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var pr httpapi.Problem
		json.NewDecoder(res.Body).Decode(&pr)
		return res.StatusCode, pr.Code
	}
	if got, _ := whoami(); got != http.StatusOK {
		t.Fatalf("with Redis: got %d, want 200", got)
	}
	p.stop()
	if err := svc.Ready(ctx); keyward.ErrorCode(err) != keyward.EUNAVAILABLE {
		t.Errorf("Ready with Redis gone: got %v, want unavailable", err)
	}
	for i := range 3 {
		if got, code := whoami(); got != http.StatusServiceUnavailable || code != keyward.ELIMITERDOWN {
			t.Errorf("Redis gone, request %d: got %d %q, want 503 %q", i, got, code, keyward.ELIMITERDOWN)
		}
	}
	p.start(t) // the same address again
	defer func() {
		if err := svc.Ready(ctx); err != nil {
			t.Errorf("Ready with Redis back: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := whoami()
		if got == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back: still %d after 10s", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
