package portos_test

import (
	"encoding/json"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect/dialecttest"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func portosMade(t testing.TB, b []byte) (string, string) {
	t.Helper()
	var k struct{ ID, ClientSecret string }
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return k.ID, k.ClientSecret
}

func portosShape(m map[string]any, status int) bool {
	return m["status"] == float64(status) && m["title"] != nil
}

// TestPortosIdempotencyKey: POST /apikeys and a PUT that creates honour
// Idempotency-Key as the native create does, errors as {title, status}.
func TestPortosIdempotencyKey(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, portos.Mount)
		admin := "Bearer " + s.Admin
		s.CheckIdempotency(t, dialecttest.Creation{Method: "POST", Path: "/apikeys", Auth: admin, Status: 201,
			Body: map[string]any{"name": "idem-post"}, Other: map[string]any{"name": "idem-post-other"}, Name: "idem-post",
			Made: portosMade, Shape: portosShape})
		s.CheckIdempotency(t, dialecttest.Creation{Method: "PUT", Path: "/apikeys/" + secret.NewID(), Auth: admin, Status: 200,
			Body: map[string]any{"name": "idem-put"}, Other: map[string]any{"name": "idem-put-other"}, Name: "idem-put",
			Made: portosMade, Shape: portosShape})
	})
}

// TestPortosCreditRefund: a request of a metered key that it may not make
// (403) spends none of its credits; an allowed one spends 1.
func TestPortosCreditRefund(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := dialecttest.Start(t, db, portos.Mount)
		var k keyward.IssuedKey
		s.Do("POST", "/v1/apikeys", s.Admin, map[string]any{"name": "metered", "credits": map[string]any{"remaining": 10},
			"permissions": []map[string]string{{"name": "apikeys:read"}}}, 201, &k)
		auth := "Bearer " + k.ClientSecret
		if res := s.Raw("POST", "/apikeys", auth, map[string]any{"name": "not allowed"}); res.Status != 403 {
			t.Fatalf("create without the right: got %d %s, want 403", res.Status, res.Body)
		}
		if res := s.Raw("DELETE", "/apikeys/"+k.ID, auth, nil); res.Status != 403 {
			t.Fatalf("delete without the right: got %d %s, want 403", res.Status, res.Body)
		}
		if got := s.Credits(k.ID); got != 10 {
			t.Fatalf("after two refused requests: got %d credits, want 10", got)
		}
		if res := s.Raw("GET", "/apikeys", auth, nil); res.Status != 200 {
			t.Fatalf("list: got %d %s", res.Status, res.Body)
		}
		if got := s.Credits(k.ID); got != 9 {
			t.Fatalf("after an allowed request: got %d credits, want 9", got)
		}
	})
}
