package httpapi_test

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestUsageByOutcome provokes every verification outcome of one key (and
// NOT_FOUND on the verifier that asked), through the verify endpoint and
// the key's own authentications, and reads the counts back through the API
// with the Go client, per day and per hour.
func TestUsageByOutcome(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		if left := time.Until(time.Now().Truncate(time.Hour).Add(time.Hour)); left < 15*time.Second {
			time.Sleep(left + time.Second) // one rate-limit window and one hour for the whole test
		}
		s := newServer(t, db)
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders:read"}, 201, nil)
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders:write"}, 201, nil)
		expires := time.Now().Truncate(time.Second).Add(5 * time.Second)
		k := s.newKey(map[string]any{"name": "Orders ✓", "hmacEnabled": true, "expiresAt": expires.Format(time.RFC3339),
			"permissions": []map[string]string{{"name": "orders:read"}}, "rateLimit": map[string]int{"limit": 5, "windowSeconds": 3600}})
		v := s.newKey(map[string]any{"name": "verifier", "permissions": []map[string]string{{"name": "keys:verify"}}})
		verify := func(body map[string]any, want string) {
			t.Helper()
			var res keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", v.ClientSecret, body, 200, &res)
			if res.Code != want {
				t.Fatalf("verify %v: got %s, want %s", body, res.Code, want)
			}
		}
		asKey := func(sec string, want int) {
			t.Helper()
			req, _ := http.NewRequest("GET", s.URL+"/v1/whoami", nil)
			req.Header.Set("X-API-Key", sec)
			if got, code := send(t, req); got != want {
				t.Fatalf("whoami: got %d (%s), want %d", got, code, want)
			}
		}
		key := map[string]any{"key": k.ClientSecret}
		verify(key, keyward.CodeValid)                                                                                              // limit 1
		verify(map[string]any{"key": k.ClientSecret, "permissions": []string{"orders:write"}}, keyward.CodeInsufficientPermissions) // not limited
		asKey(k.ClientSecret, 200)                                                                                                  // limit 2
		if got, _ := send(t, signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, "not-the-secret", nil)); got != 401 {
			t.Fatalf("a bad signature: got %d, want 401", got)
		}
		verify(key, keyward.CodeValid) // 3
		verify(key, keyward.CodeValid) // 4
		verify(key, keyward.CodeValid) // 5
		verify(key, keyward.CodeRateLimited)
		asKey(k.ClientSecret, 429)
		verify(map[string]any{"key": secret.NewSecret(k.ClientSecret[:strings.LastIndex(k.ClientSecret, "_sk_")])}, keyward.CodeNotFound)
		s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"isActive": false}, 200, nil)
		verify(key, keyward.CodeDisabled)
		asKey(k.ClientSecret, 401)
		s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"isActive": true}, 200, nil)
		if s.clock.Now().After(expires) {
			t.Fatal("the key expired before the test got there: too slow a machine for this test")
		}
		s.clock.Add(expires.Sub(s.clock.Now()) + 100*time.Millisecond) // past the expiry, without waiting for it
		verify(key, keyward.CodeExpired)
		if err := s.svc.FlushLastUsed(context.Background()); err != nil {
			t.Fatal(err)
		}

		c := client.New(s.URL, client.WithToken(s.admin))
		for _, tc := range []struct {
			id   string
			want map[string]int64
		}{
			{k.ID, map[string]int64{"VALID": 5, "INSUFFICIENT_PERMISSIONS": 1, "RATE_LIMITED": 2, "USAGE_EXCEEDED": 0, "IP_NOT_ALLOWED": 0, "DISABLED": 2, "EXPIRED": 1,
				"INVALID_SIGNATURE": 1, "NOT_FOUND": 0}},
			// The verifier: its own authentications (one per verify call) and the unknown key it asked about.
			{v.ID, map[string]int64{"VALID": 9, "INSUFFICIENT_PERMISSIONS": 0, "RATE_LIMITED": 0, "USAGE_EXCEEDED": 0, "IP_NOT_ALLOWED": 0, "DISABLED": 0, "EXPIRED": 0,
				"INVALID_SIGNATURE": 0, "NOT_FOUND": 1}},
		} {
			u, err := c.APIKeyUsage(context.Background(), tc.id, 3, true)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(u.Outcomes, tc.want) {
				t.Errorf("key %s: outcomes: got %v, want %v", tc.id, u.Outcomes, tc.want)
			}
			if got := u.Days[len(u.Days)-1].Outcomes; !maps.Equal(got, tc.want) {
				t.Errorf("key %s: today's outcomes: got %v, want %v", tc.id, got, tc.want)
			}
			if len(u.Days) != 3 || len(u.Hours) != 72 || u.Granularity != "hour" {
				t.Fatalf("got %d days, %d hours, granularity %q; want 3, 72, hour", len(u.Days), len(u.Hours), u.Granularity)
			}
			hour := u.Hours[48+time.Now().UTC().Hour()]
			if !maps.Equal(hour.Outcomes, tc.want) {
				t.Errorf("key %s: this hour's outcomes: got %v (%s), want %v", tc.id, hour.Outcomes, hour.Start, tc.want)
			}
		}
		// Per day by default, and the counts of before stay as they were.
		u, err := c.APIKeyUsage(context.Background(), k.ID, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Days) != 14 || u.Hours != nil || u.Granularity != "day" || u.Total != 8 {
			t.Errorf("default usage: got %d days, hours %v, granularity %q, total %d; want 14, none, day, 8",
				len(u.Days), u.Hours != nil, u.Granularity, u.Total)
		}
		s.do("GET", "/v1/apikeys/"+k.ID+"/usage?granularity=minute", s.admin, nil, 400, nil)
	})
}
