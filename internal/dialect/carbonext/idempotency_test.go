package carbonext_test

import (
	"encoding/json"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestCarbonextIdempotencyKey: POST /v1/customers/applications honours
// Idempotency-Key as the native create does, errors as problems.
func TestCarbonextIdempotencyKey(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, carbonext.Mount)
		s.CheckIdempotency(t, dialecttest.Creation{Method: "POST", Path: "/v1/customers/applications?customer-id=default",
			Auth: "Bearer " + s.Admin, Status: 201,
			Body:  map[string]any{"displayName": "idem-app", "permissions": []any{}},
			Other: map[string]any{"clientId": "idem-app-2", "displayName": "idem-app", "permissions": []any{}},
			Name:  "idem-app",
			Made: func(t testing.TB, b []byte) (string, string) {
				t.Helper()
				var k struct{ ID, ClientSecret string }
				if err := json.Unmarshal(b, &k); err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				return k.ID, k.ClientSecret
			},
			Shape: func(m map[string]any, status int) bool {
				return m["status"] == float64(status) && m["title"] != nil && m["code"] != nil
			}})
	})
}

// TestCarbonextCreditRefund: a request of a metered key that it may not
// make (403) spends none of its credits; an allowed one spends 1.
func TestCarbonextCreditRefund(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, carbonext.Mount)
		var k keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "metered", "credits": map[string]any{"remaining": 10},
			"permissions": []map[string]string{{"name": "apikeys:read"}}}, 201, &k)
		auth := "Bearer " + k.ClientSecret
		if res := s.Raw("POST", "/v1/customers/applications", auth, map[string]any{"displayName": "not allowed"}); res.Status != 403 {
			t.Fatalf("create without the right: got %d %s, want 403", res.Status, res.Body)
		}
		if got := s.Credits(k.ID); got != 10 {
			t.Fatalf("after a refused request: got %d credits, want 10", got)
		}
		if res := s.Raw("GET", "/v1/customers/applications", auth, nil); res.Status != 200 {
			t.Fatalf("list: got %d %s", res.Status, res.Body)
		}
		if got := s.Credits(k.ID); got != 9 {
			t.Fatalf("after an allowed request: got %d credits, want 9", got)
		}
	})
}
