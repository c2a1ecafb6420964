package freesewing_test

import (
	"encoding/json"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestFreeSewingIdempotencyKey: POST /apikeys/jwt|key honours
// Idempotency-Key as the native create does, errors as {result, error}.
func TestFreeSewingIdempotencyKey(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, freesewing.Mount)
		s.Do("POST", "/v1/users", s.Admin, map[string]any{"userName": "alice", "password": "alice-password", "level": 4}, 201, nil)
		var login keyward.LoginResult
		s.Do("POST", "/v1/login", "", map[string]string{"userName": "alice", "password": "alice-password"}, 200, &login)
		var k keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "minter", "level": 4}, 201, &k)
		made := func(t testing.TB, b []byte) (string, string) {
			t.Helper()
			var out created
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			return out.APIKey.ID, out.APIKey.Secret
		}
		shape := func(m map[string]any, _ int) bool { return m["result"] == "error" && m["error"] != nil && len(m) == 2 }
		for _, c := range []struct{ via, auth string }{
			{"jwt", "Bearer " + login.AccessToken},
			{"key", basic(k.ClientID, k.ClientSecret)},
		} {
			name := "idem-" + c.via
			s.CheckIdempotency(t, dialecttest.Creation{Method: "POST", Path: "/apikeys/" + c.via, Auth: c.auth, Status: 201,
				Body:  map[string]any{"name": name, "level": 2, "expiresIn": 3600},
				Other: map[string]any{"name": name, "level": 3, "expiresIn": 3600},
				Name:  name, Made: made, Shape: shape})
		}
	})
}

// TestFreeSewingCreditRefund: a request of a metered key that it may not
// make (403) spends none of its credits; an allowed one spends 1.
func TestFreeSewingCreditRefund(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, freesewing.Mount)
		var k keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "metered", "level": 2, "credits": map[string]any{"remaining": 10}}, 201, &k)
		auth := basic(k.ClientID, k.ClientSecret)
		if code, _ := call(t, s, "POST", "/apikeys/key", auth, map[string]any{"name": "above", "level": 5, "expiresIn": 60}); code != 403 {
			t.Fatalf("create above the key's level: got %d, want 403", code)
		}
		if got := s.Credits(k.ID); got != 10 {
			t.Fatalf("after a refused request: got %d credits, want 10", got)
		}
		if code, _ := call(t, s, "GET", "/whoami/key", auth, nil); code != 200 {
			t.Fatalf("whoami: got %d", code)
		}
		if got := s.Credits(k.ID); got != 9 {
			t.Fatalf("after an allowed request: got %d credits, want 9", got)
		}
	})
}
