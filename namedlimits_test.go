package keyward_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/redisstore"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// eachLimiter runs fn on each backend with the in-memory limiter, and on
// SQLite with Redis's when KEYWARD_TEST_REDIS_URL is set.
func eachLimiter(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	eachBackend(t, fn)
	url := os.Getenv("KEYWARD_TEST_REDIS_URL")
	if url == "" {
		return
	}
	t.Run("redis", func(t *testing.T) {
		rs, err := redisstore.Open(context.Background(), url)
		if err != nil {
			t.Fatalf("KEYWARD_TEST_REDIS_URL is set but: %v", err)
		}
		t.Cleanup(func() { rs.Close() })
		lim := rs.WithPrefix("keyward-test:" + secret.NewID() + ":")
		fn(t, newEnv(t, sqltest.SQLite(t), func(c *keyward.Config) { c.Limiter = lim }))
	})
}

func named(name string, limit, window int) keyward.NamedRateLimit {
	return keyward.NamedRateLimit{Name: name, Limit: limit, WindowSeconds: window}
}

// TestNamedRateLimitsEachRefuseAtTheirBound: a per-second burst and a
// per-day quota on one key each refuse at their own bound, name themselves,
// and the answer reports the one closest to refusing.
func TestNamedRateLimitsEachRefuseAtTheirBound(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db)
		k := e.key(t, e.admin, keyward.APIKeyInput{RateLimits: &[]keyward.NamedRateLimit{named("quota", 5, 86400), named("burst", 2, 1)}})
		if len(k.RateLimits) != 2 || k.RateLimits[0].Name != "burst" {
			t.Fatalf("created: got %+v, want burst and quota, by name", k.RateLimits)
		}
		auth := func() (*keyward.Principal, error) {
			return e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: k.ClientSecret})
		}
		steps := []struct {
			advance time.Duration
			refused string // the limit named in the refusal, "" for none
			limit   int    // the limit reported
			left    int
		}{
			{0, "", 2, 1},           // burst 1 left, quota 4
			{0, "", 2, 0},           // burst 0 left, quota 3
			{0, `"burst"`, 2, 0},    // burst refuses; quota not counted
			{time.Second, "", 2, 1}, // quota 2 left, burst 1: burst is closer
			{0, "", 2, 0},           // quota 1, burst 0
			{time.Second, "", 5, 0}, // quota 0, burst 1: quota is closer
			{time.Second, `"quota"`, 5, 0},
		}
		for i, s := range steps {
			e.clock.Add(s.advance)
			p, err := auth()
			if s.refused != "" {
				wantCode(t, err, keyward.ERATELIMITED)
				if msg := keyward.ErrorMessage(err); !strings.Contains(msg, s.refused) {
					t.Errorf("step %d: got refusal %q, want it to name %s", i, msg, s.refused)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if p.Rate == nil || p.Rate.Limit != s.limit || p.Rate.Remaining != s.left {
				t.Errorf("step %d: got status %+v, want limit %d with %d left", i, p.Rate, s.limit, s.left)
			}
		}
		// The single rateLimit is one more limit among them.
		verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
		both := e.key(t, e.admin, keyward.APIKeyInput{RateLimit: keyward.Some(keyward.RateLimit{Limit: 1, WindowSeconds: 60}),
			RateLimits: &[]keyward.NamedRateLimit{named("day", 10, 86400)}})
		if res := verifyCost(t, e, verifier, both.ClientSecret, nil); !res.Valid || res.RateLimit == nil || res.RateLimit.Limit != 1 {
			t.Fatalf("first: got %+v %+v, want the rateLimit of 1 reported", res, res.RateLimit)
		}
		if res := verifyCost(t, e, verifier, both.ClientSecret, nil); res.Code != keyward.CodeRateLimited {
			t.Fatalf("second: got %s, want RATE_LIMITED", res.Code)
		}
	})
}

func TestNamedRateLimitsValidation(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		many := make([]keyward.NamedRateLimit, keyward.MaxNamedRateLimits+1)
		for i := range many {
			many[i] = named("l"+string(rune('a'+i)), 1, 1)
		}
		tests := []struct {
			name  string
			ls    []keyward.NamedRateLimit
			field string
		}{
			{"too many", many, "rateLimits"},
			{"twice", []keyward.NamedRateLimit{named("a", 1, 1), named("a", 2, 2)}, "rateLimits[1].name"},
			{"bad name", []keyward.NamedRateLimit{named("a b", 1, 1)}, "rateLimits[0].name"},
			{"zero limit", []keyward.NamedRateLimit{named("a", 0, 1)}, "rateLimits[0].limit"},
			{"long window", []keyward.NamedRateLimit{named("a", 1, 86401)}, "rateLimits[0].windowSeconds"},
		}
		for _, tt := range tests {
			_, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("x"), RateLimits: &tt.ls})
			ke, ok := err.(*keyward.Error)
			if !ok || ke.Code != keyward.EINVALID || ke.Fields[0].Field != tt.field {
				t.Errorf("key, %s: got %v, want invalid %s", tt.name, err, tt.field)
			}
			_, err = e.svc.CreateUser(e.ctx, e.admin, keyward.UserInput{UserName: ptr("u"), Password: ptr("password-long-1"), RateLimits: &tt.ls})
			ke, ok = err.(*keyward.Error)
			if !ok || ke.Code != keyward.EINVALID || ke.Fields[0].Field != tt.field {
				t.Errorf("user, %s: got %v, want invalid %s", tt.name, err, tt.field)
			}
		}
	})
}

// TestUserRateLimitsAreShared: the keys of one user share the user's
// limits; a request the user's limit refuses counts against none of the
// key's own; changing the user's limits reaches its keys at once.
func TestUserRateLimitsAreShared(t *testing.T) {
	eachLimiter(t, func(t *testing.T, e *env) {
		u, err := e.svc.CreateUser(e.ctx, e.admin, keyward.UserInput{UserName: ptr("metered"), Password: ptr("password-metered"),
			Level: ptr(1), RateLimits: &[]keyward.NamedRateLimit{named("plan", 3, 86400)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(u.RateLimits) != 1 || u.RateLimits[0] != named("plan", 3, 86400) {
			t.Fatalf("created user: got %+v", u.RateLimits)
		}
		a := e.key(t, e.admin, keyward.APIKeyInput{OwnerID: &u.ID, RateLimits: &[]keyward.NamedRateLimit{named("own", 2, 86400)}})
		b := e.key(t, e.admin, keyward.APIKeyInput{OwnerID: &u.ID})
		auth := func(sec string) error {
			_, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: sec})
			return err
		}
		for i, sec := range []string{b.ClientSecret, b.ClientSecret, a.ClientSecret} {
			if err := auth(sec); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		err = auth(a.ClientSecret) // the user's limit refuses: key a's own "own" gets its count back
		wantCode(t, err, keyward.ERATELIMITED)
		if !strings.Contains(keyward.ErrorMessage(err), `"plan"`) {
			t.Errorf("got refusal %q, want it to name the plan", keyward.ErrorMessage(err))
		}
		wantCode(t, auth(b.ClientSecret), keyward.ERATELIMITED)
		// Raise the user's limit: key a has one use of its own left.
		if _, err := e.svc.UpdateUser(e.ctx, e.admin, u.ID, keyward.UserInput{RateLimits: &[]keyward.NamedRateLimit{named("plan", 100, 86400)}}); err != nil {
			t.Fatal(err)
		}
		if err := auth(a.ClientSecret); err != nil {
			t.Fatalf("after raising the plan: %v", err)
		}
		err = auth(a.ClientSecret)
		wantCode(t, err, keyward.ERATELIMITED)
		if !strings.Contains(keyward.ErrorMessage(err), `"own"`) {
			t.Errorf("got refusal %q, want it to name the key's own limit", keyward.ErrorMessage(err))
		}
		got, err := e.svc.GetUser(e.ctx, e.admin, u.ID)
		if err != nil || len(got.RateLimits) != 1 || got.RateLimits[0].Limit != 100 {
			t.Fatalf("read user: got %+v, %v", got, err)
		}
		if _, err := e.svc.UpdateUser(e.ctx, e.admin, u.ID, keyward.UserInput{RateLimits: &[]keyward.NamedRateLimit{}}); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if err := auth(b.ClientSecret); err != nil {
				t.Fatalf("without the user's limits: %v", err)
			}
		}
	})
}

// TestNamedRateLimitsUnderConcurrency: parallel requests of two keys of one
// user never exceed the user's limit nor a key's own.
func TestNamedRateLimitsUnderConcurrency(t *testing.T) {
	eachLimiter(t, func(t *testing.T, e *env) {
		u, err := e.svc.CreateUser(e.ctx, e.admin, keyward.UserInput{UserName: ptr("busy"), Password: ptr("password-busy-1"),
			Level: ptr(1), RateLimits: &[]keyward.NamedRateLimit{named("plan", 50, 86400)}})
		if err != nil {
			t.Fatal(err)
		}
		a := e.key(t, e.admin, keyward.APIKeyInput{OwnerID: &u.ID, RateLimits: &[]keyward.NamedRateLimit{named("own", 20, 86400)}})
		b := e.key(t, e.admin, keyward.APIKeyInput{OwnerID: &u.ID})
		var okA, okB atomic.Int64
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sec, ok := a.ClientSecret, &okA
				if g%2 == 1 {
					sec, ok = b.ClientSecret, &okB
				}
				for range 10 {
					_, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: sec})
					switch keyward.ErrorCode(err) {
					case "":
						ok.Add(1)
					case keyward.ERATELIMITED:
					default:
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		// 160 requests: key a is capped at 20 of its own, and the plan at
		// 50 together, which b's 80 attempts reach.
		if okA.Load() > 20 || okA.Load()+okB.Load() != 50 {
			t.Fatalf("got %d of key a and %d of key b, want at most 20 of a and 50 in all", okA.Load(), okB.Load())
		}
	})
}
