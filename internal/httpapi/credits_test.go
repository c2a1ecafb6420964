package httpapi_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestCreditsThroughTheAPI: credits are set, read and changed like every
// field of a key (If-Match included), spent by verifications (cost) and by
// requests made with the key, and refused with USAGE_EXCEEDED or 429
// usage_exceeded until the refill.
func TestCreditsThroughTheAPI(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		now := time.Date(2026, 5, 10, 23, 0, 0, 0, time.UTC) // the daily refill is 3600 s away
		s := newServer(t, db, func(c *keyward.Config) { c.Now = func() time.Time { return now } })
		var verifier keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "verifier", "permissions": []map[string]string{{"name": "keys:verify"}}}, 201, &verifier)
		var k keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "metered",
			"credits": map[string]any{"remaining": 5, "refill": map[string]any{"amount": 100, "interval": "daily"}}}, 201, &k)
		if k.Credits == nil || k.Credits.Remaining != 5 || k.Credits.Refill == nil || *k.Credits.Refill != (keyward.Refill{Amount: 100, Interval: "daily"}) {
			t.Fatalf("created credits: got %+v", k.Credits)
		}
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "bad", "credits": map[string]any{"remaining": -1}}, 400, nil)
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "bad", "credits": map[string]any{"remaining": 1, "refill": map[string]any{"amount": 1, "interval": "weekly"}}}, 400, nil)

		verify := func(body map[string]any) keyward.VerifyResult {
			t.Helper()
			var res keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", verifier.ClientSecret, body, 200, &res)
			return res
		}
		if res := verify(map[string]any{"key": k.ClientSecret, "cost": 4}); !res.Valid || res.Credits == nil || res.Credits.Remaining != 1 ||
			res.Credits.RefillsAt == nil || !res.Credits.RefillsAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("cost 4: got %+v %+v", res, res.Credits)
		}
		s.do("POST", "/v1/keys/verify", verifier.ClientSecret, map[string]any{"key": k.ClientSecret, "cost": -1}, 400, nil)
		if res := verify(map[string]any{"key": k.ClientSecret, "cost": 2}); res.Valid || res.Code != keyward.CodeUsageExceeded || res.Credits.Remaining != 1 {
			t.Fatalf("cost 2 of 1: got %+v", res)
		}
		s.do("GET", "/v1/users", k.ClientSecret, nil, 403, nil)  // refused: spends nothing
		s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil) // spends the last one
		res := s.do("GET", "/v1/whoami", k.ClientSecret, nil, 429, nil)
		var p httpapi.Problem
		json.Unmarshal(res.Body, &p)
		if p.Code != keyward.EUSAGEEXCEEDED || res.Header.Get("Retry-After") != "3600" {
			t.Fatalf("spent: got code %q, Retry-After %q; want usage_exceeded, 3600", p.Code, res.Header.Get("Retry-After"))
		}

		// Read, then change under If-Match: the version moves, credits too.
		var got keyward.APIKey
		res = s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, &got)
		if got.Credits == nil || got.Credits.Remaining != 0 {
			t.Fatalf("read: got %+v", got.Credits)
		}
		etag := res.Header.Get("ETag")
		s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"credits": map[string]any{"remaining": 2}}, 412, nil, "If-Match", `"`+strconv.Itoa(got.Version+1)+`"`)
		s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"credits": map[string]any{"remaining": 2}}, 200, &got, "If-Match", etag)
		if got.Credits.Remaining != 2 || got.Credits.Refill != nil {
			t.Fatalf("patched: got %+v", got.Credits)
		}
		s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil)
		s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"credits": nil}, 200, &got)
		if got.Credits != nil {
			t.Fatalf("credits null: got %+v", got.Credits)
		}
		for range 3 {
			s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil)
		}
		if res := verify(map[string]any{"key": k.ClientSecret}); !res.Valid || res.Credits != nil {
			t.Fatalf("unlimited: got %+v", res)
		}
		// PUT replaces: without credits, none.
		s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"credits": map[string]any{"remaining": 7}}, 200, &got)
		s.do("PUT", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"name": "metered", "version": got.Version}, 200, &got)
		if got.Credits != nil {
			t.Fatalf("replaced without credits: got %+v", got.Credits)
		}
	})
}

// TestNamedRateLimitsThroughTheAPI: named limits on a key and on its owner
// (PATCH /v1/users/{id}); the RateLimit-* headers report the limit closest
// to refusing, and a refusal names its limit.
func TestNamedRateLimitsThroughTheAPI(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		var u keyward.User
		s.do("POST", "/v1/users", s.admin, map[string]any{"userName": "metered", "password": "password-metered", "level": 1,
			"rateLimits": []map[string]any{{"name": "plan", "limit": 100, "windowSeconds": 86400}}}, 201, &u)
		if len(u.RateLimits) != 1 || u.RateLimits[0].Name != "plan" {
			t.Fatalf("created user: got %+v", u.RateLimits)
		}
		s.do("POST", "/v1/users", s.admin, map[string]any{"userName": "bad", "password": "password-metered",
			"rateLimits": []map[string]any{{"name": "a", "limit": 1, "windowSeconds": 1}, {"name": "a", "limit": 2, "windowSeconds": 1}}}, 400, nil)
		var k keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "two limits", "ownerId": u.ID,
			"rateLimits": []map[string]any{{"name": "burst", "limit": 3, "windowSeconds": 86400}}}, 201, &k)
		for i := 1; i <= 3; i++ {
			res := s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil)
			if got, want := res.Header.Get("RateLimit-Remaining"), strconv.Itoa(3-i); got != want || res.Header.Get("RateLimit-Limit") != "3" {
				t.Errorf("request %d: RateLimit-Limit %q, RateLimit-Remaining %q; want 3, %s", i, res.Header.Get("RateLimit-Limit"), got, want)
			}
		}
		res := s.do("GET", "/v1/whoami", k.ClientSecret, nil, 429, nil)
		var p httpapi.Problem
		json.Unmarshal(res.Body, &p)
		if p.Code != keyward.ERATELIMITED || !strings.Contains(p.Detail, `"burst"`) || res.Header.Get("Retry-After") == "" {
			t.Errorf("over the burst: got %+v, Retry-After %q", p, res.Header.Get("Retry-After"))
		}
		// The owner's plan, now the tighter one, is shared with its other keys;
		// it counted the key's three requests already (same name and window).
		s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"rateLimits": []any{}}, 200, nil)
		s.do("PATCH", "/v1/users/"+u.ID, s.admin, map[string]any{"rateLimits": []map[string]any{{"name": "plan", "limit": 5, "windowSeconds": 86400}}}, 200, &u)
		var other keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "other", "ownerId": u.ID}, 201, &other)
		s.do("GET", "/v1/whoami", other.ClientSecret, nil, 200, nil)
		if res := s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, nil); res.Header.Get("RateLimit-Limit") != "5" || res.Header.Get("RateLimit-Remaining") != "0" {
			t.Errorf("the plan: RateLimit-Limit %q, RateLimit-Remaining %q; want 5, 0", res.Header.Get("RateLimit-Limit"), res.Header.Get("RateLimit-Remaining"))
		}
		s.do("GET", "/v1/whoami", other.ClientSecret, nil, 429, nil)
		var got keyward.User
		s.do("GET", "/v1/users/"+u.ID, s.admin, nil, 200, &got)
		if len(got.RateLimits) != 1 || got.RateLimits[0].Limit != 5 {
			t.Errorf("read user: got %+v", got.RateLimits)
		}
	})
}

// TestMeteredKeyGivesNoMoreThanItHas: a key with credits and apikeys:write
// may create, import, re-credit or rotate keys only within its own credits:
// else a trial key would mint itself an unmetered one. A key without
// credits is not bound.
func TestMeteredKeyGivesNoMoreThanItHas(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		writer := []map[string]string{{"name": "apikeys:write"}}
		daily := func(remaining, amount int) map[string]any {
			c := map[string]any{"remaining": remaining}
			if amount > 0 {
				c["refill"] = map[string]any{"amount": amount, "interval": "daily"}
			}
			return c
		}
		var metered, free, unmetered keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "trial", "level": 1, "permissions": writer, "credits": daily(1000, 5)}, 201, &metered)
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "paid", "level": 1, "permissions": writer}, 201, &free)
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "unmetered", "level": 1}, 201, &unmetered)

		for _, tt := range []struct {
			name    string
			caller  string
			credits any // nil: none
			want    int
		}{
			{"metered, no credits", metered.ClientSecret, nil, 403},
			{"metered, more remaining", metered.ClientSecret, daily(1001, 0), 403},
			{"metered, a larger refill", metered.ClientSecret, daily(5, 6), 403},
			{"metered, a monthly refill", metered.ClientSecret, map[string]any{"remaining": 1, "refill": map[string]any{"amount": 1, "interval": "monthly"}}, 403},
			{"metered, within", metered.ClientSecret, daily(5, 5), 201},
			{"unmetered, no credits", free.ClientSecret, nil, 201},
		} {
			body := map[string]any{"name": "child", "level": 1}
			if tt.credits != nil {
				body["credits"] = tt.credits
			}
			s.do("POST", "/v1/apikeys", tt.caller, body, tt.want, nil)
			line := map[string]any{"name": "imported", "level": 1, "secretHash": strings.Repeat("ab", 32)}
			if tt.credits != nil {
				line["credits"] = tt.credits
			}
			a, _ := s.importKeys("Bearer "+tt.caller, ndjson(line), 200)
			if got := a.Created == 1; got != (tt.want == 201) {
				t.Errorf("%s: import created %d, want it created: %v (%+v)", tt.name, a.Created, tt.want == 201, a.Items[0].Problem)
			}
			if a.Created == 1 { // the next case imports the same hash
				s.do("DELETE", "/v1/apikeys/"+importedID(t, a), s.admin, nil, 200, nil)
			}
		}

		// Every line of one import is bound, not only the first: the
		// import reads the caller's credits once for all its lines.
		var lines []any
		for i, c := range []any{daily(5, 5), daily(1001, 0), daily(3, 0), nil} {
			line := map[string]any{"name": "imported", "level": 1, "secretHash": strings.Repeat(string("1234"[i]), 64)}
			if c != nil {
				line["credits"] = c
			}
			lines = append(lines, line)
		}
		a, _ := s.importKeys("Bearer "+metered.ClientSecret, ndjson(lines...), 200)
		for i, want := range []bool{true, false, true, false} {
			if got := a.Items[i].Problem == nil; got != want {
				t.Errorf("import line %d of 4: created %v, want %v (%+v)", i+1, got, want, a.Items[i].Problem)
			}
		}

		var child keyward.IssuedKey
		s.do("POST", "/v1/apikeys", metered.ClientSecret, map[string]any{"name": "child", "level": 1, "credits": daily(3, 0)}, 201, &child)
		s.do("PATCH", "/v1/apikeys/"+child.ID, metered.ClientSecret, map[string]any{"credits": nil}, 403, nil)
		s.do("PATCH", "/v1/apikeys/"+child.ID, metered.ClientSecret, map[string]any{"credits": daily(2000, 0)}, 403, nil)
		s.do("PATCH", "/v1/apikeys/"+child.ID, metered.ClientSecret, map[string]any{"credits": daily(2, 0)}, 200, nil)
		s.do("POST", "/v1/apikeys/"+unmetered.ID+"/rotate", metered.ClientSecret, map[string]any{}, 403, nil)
		s.do("POST", "/v1/apikeys/"+child.ID+"/rotate", metered.ClientSecret, map[string]any{}, 200, nil)
		s.do("POST", "/v1/apikeys/"+unmetered.ID+"/rotate", free.ClientSecret, map[string]any{}, 200, nil)
	})
}

// importedID is the id of the one key an import created.
func importedID(t *testing.T, a importAnswer) string {
	t.Helper()
	for _, it := range a.Items {
		if it.ID != "" {
			return it.ID
		}
	}
	t.Fatal("the import created no key")
	return ""
}
