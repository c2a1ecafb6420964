package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func idemServer(t *testing.T, db *sqlstore.DB, master []byte) *server {
	return newServerWith(t, db, nil, func(c *keyward.Config) { c.MasterKey = master })
}

// post sends a JSON body with an Idempotency-Key (and more headers).
func (s *server) postIdem(path, token, key string, body any) (int, http.Header, []byte) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	res := s.raw("POST", path, "Bearer "+token, bytes.NewReader(b), "Idempotency-Key", key)
	return res.Status, res.Header, res.Body
}

func (s *server) countKeys(name string) int {
	s.t.Helper()
	var l struct{ TotalCount int }
	s.do("GET", "/v1/apikeys?q="+url.QueryEscape(name), s.admin, nil, 200, &l)
	return l.TotalCount
}

// TestIdempotencyKeyCreate: a create retried with the same Idempotency-Key
// — concurrently, after a restart — makes one key and answers its secret
// again only to the principal that made it.
func TestIdempotencyKeyCreate(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := idemServer(t, db, secret.RandomBytes(32))
		body := map[string]any{"name": "idem-concurrent", "level": 2}
		key := `"` + secret.NewID() + `"`
		var wg sync.WaitGroup
		type answer struct {
			status int
			secret string
		}
		answers := make([]answer, 16)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, _, b := s.postIdem("/v1/apikeys", s.admin, key, body)
				var k keyward.IssuedKey
				json.Unmarshal(b, &k)
				answers[i] = answer{status, k.ClientSecret}
			}()
		}
		wg.Wait()
		var first string
		for i, a := range answers {
			switch {
			case a.status == 201 && first == "":
				first = a.secret
			case a.status == 201 && a.secret != first:
				t.Errorf("answer %d: another secret", i)
			case a.status != 201 && a.status != 409:
				t.Errorf("answer %d: got %d, want 201 or 409", i, a.status)
			}
		}
		if first == "" {
			t.Fatal("no request created the key")
		}
		if n := s.countKeys("idem-concurrent"); n != 1 {
			t.Fatalf("keys made: got %d, want 1", n)
		}
		status, h, b := s.postIdem("/v1/apikeys", s.admin, key, body)
		var again keyward.IssuedKey
		json.Unmarshal(b, &again)
		if status != 201 || again.ClientSecret != first || h.Get("Idempotent-Replayed") != "true" || h.Get("ETag") == "" {
			t.Errorf("retry: got %d %q replayed %q ETag %q, want 201 with the first secret", status, again.ClientSecret, h.Get("Idempotent-Replayed"), h.Get("ETag"))
		}

		// The same key with another body.
		status, _, b = s.postIdem("/v1/apikeys", s.admin, key, map[string]any{"name": "idem-other", "level": 2})
		if status != 422 || problemCode(b) != keyward.EIDEMREUSED {
			t.Errorf("another body: got %d %s, want 422 %s", status, b, keyward.EIDEMREUSED)
		}
		// ... or on another route.
		status, _, b = s.postIdem("/v1/apikeys/"+again.ID+"/rotate", s.admin, key, body)
		if status != 422 || problemCode(b) != keyward.EIDEMREUSED {
			t.Errorf("another route: got %d %s, want 422", status, b)
		}

		// Another principal with the same key and body: its own key, never
		// the first answer.
		s.do("POST", "/v1/users", s.admin, map[string]any{"userName": "other-admin", "password": "password-other", "level": 8}, 201, nil)
		other := s.login("", "other-admin", "password-other")
		status, _, b = s.postIdem("/v1/apikeys", other, key, body)
		var theirs keyward.IssuedKey
		json.Unmarshal(b, &theirs)
		if status != 201 || theirs.ClientSecret == "" || theirs.ClientSecret == first || theirs.ID == again.ID {
			t.Errorf("another principal: got %d %s, want a key of its own", status, b)
		}
		if n := s.countKeys("idem-concurrent"); n != 2 {
			t.Errorf("keys made: got %d, want 2", n)
		}

		// A failed request is not kept: the key may be retried, fixed.
		failing := `"` + secret.NewID() + `"`
		if status, _, _ := s.postIdem("/v1/apikeys", s.admin, failing, map[string]any{"level": 2}); status != 400 {
			t.Errorf("invalid create: got %d", status)
		}
		if status, _, b := s.postIdem("/v1/apikeys", s.admin, failing, map[string]any{"name": "idem-fixed"}); status != 201 {
			t.Errorf("the fixed retry: got %d %s", status, b)
		}

		// Rotation: retried, one new secret.
		rk := secret.NewID()
		var r1, r2 keyward.IssuedKey
		status, _, b = s.postIdem("/v1/apikeys/"+again.ID+"/rotate", s.admin, rk, map[string]any{})
		json.Unmarshal(b, &r1)
		status2, _, b2 := s.postIdem("/v1/apikeys/"+again.ID+"/rotate", s.admin, rk, map[string]any{})
		json.Unmarshal(b2, &r2)
		if status != 200 || status2 != 200 || r1.ClientSecret == "" || r1.ClientSecret != r2.ClientSecret || r1.Version != r2.Version {
			t.Errorf("rotate retried: got %d/%d, secrets equal %v, versions %d/%d", status, status2, r1.ClientSecret == r2.ClientSecret, r1.Version, r2.Version)
		}
		var cur keyward.APIKey
		s.do("GET", "/v1/apikeys/"+again.ID, s.admin, nil, 200, &cur)
		if cur.Version != r1.Version {
			t.Errorf("rotated more than once: version %d, want %d", cur.Version, r1.Version)
		}

		for _, bad := range []string{`"a"b"`, strings.Repeat("x", 256), "é"} {
			if status, _, _ := s.postIdem("/v1/apikeys", s.admin, bad, body); status != 400 {
				t.Errorf("Idempotency-Key %.20q: got %d, want 400", bad, status)
			}
		}
	})
}

// TestIdempotencyKeySurvivesRestart: the answer is kept in the database,
// sealed: a restarted server (same master key) answers it again, and no
// secret is stored in clear.
func TestIdempotencyKeySurvivesRestart(t *testing.T) {
	dsn := sqltest.SQLiteDSN(t)
	master := secret.RandomBytes(32)
	db := sqltest.Open(t, dsn, true)
	first := idemServer(t, db, master)
	key := secret.NewID()
	body := map[string]any{"name": "idem-restart", "hmacEnabled": true}
	status, _, b := first.postIdem("/v1/apikeys", first.admin, key, body)
	var k keyward.IssuedKey
	json.Unmarshal(b, &k)
	if status != 201 || k.ClientSecret == "" {
		t.Fatalf("create: got %d %s", status, b)
	}
	var stored []byte
	if err := db.QueryRowForTest(context.Background(), `SELECT response FROM idempotency_keys`, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || bytes.Contains(stored, []byte(k.ClientSecret)) || bytes.Contains(stored, []byte("idem-restart")) {
		t.Errorf("the kept answer is not sealed (%d bytes)", len(stored))
	}
	second := idemServer(t, sqltest.Open(t, dsn, false), master)
	var admin keyward.LoginResult
	second.do("POST", "/v1/login", "", map[string]string{"userName": "admin", "password": adminPassword}, 200, &admin)
	status, _, b = second.postIdem("/v1/apikeys", admin.AccessToken, key, body)
	var again keyward.IssuedKey
	json.Unmarshal(b, &again)
	if status != 201 || again.ClientSecret != k.ClientSecret || again.ID != k.ID {
		t.Errorf("after the restart: got %d, the same secret %v", status, again.ClientSecret == k.ClientSecret)
	}
	if n := second.countKeys("idem-restart"); n != 1 {
		t.Errorf("keys made: got %d, want 1", n)
	}
}
