package dialecttest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/keyward/keyward/internal/secret"
)

// Creation is a dialect route that creates a key, for CheckIdempotency.
type Creation struct {
	Method, Path, Auth string
	// Body creates a key named Name; Other is another request (a
	// different body) on the same route.
	Body, Other any
	Name        string
	// Status is the route's success status.
	Status int
	// Made returns the key id and secret of a success answer.
	Made func(t testing.TB, body []byte) (id, secret string)
	// Shape reports whether an error answer is in the dialect's shape.
	Shape func(m map[string]any, status int) bool
}

// CheckIdempotency asserts that c honours Idempotency-Key as the native
// create does: 16 concurrent identical requests make exactly one key (each
// answer is that key, or 409 while the first runs), a retry answers the
// same key id and secret again (Idempotent-Replayed: true), and another
// body with the key is 422 — errors in the dialect's shape.
func (s *Server) CheckIdempotency(t *testing.T, c Creation) {
	t.Helper()
	key := `"` + secret.NewID() + `"`
	type answer struct {
		status int
		body   []byte
		err    error
	}
	answers := make([]answer, 16)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i].status, _, answers[i].body, answers[i].err = s.send(c.Method, c.Path, c.Auth, c.Body, key)
		}()
	}
	wg.Wait()
	var id, sec string
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Fatalf("answer %d: %v", i, a.err)
		case a.status == c.Status && id == "":
			id, sec = c.Made(t, a.body)
		case a.status == c.Status:
			if gid, gsec := c.Made(t, a.body); gid != id || gsec != sec {
				t.Errorf("answer %d: another key %s (or secret), want %s", i, gid, id)
			}
		case a.status == http.StatusConflict:
			s.checkShape(t, "in progress", a.body, a.status, c.Shape)
		default:
			t.Errorf("answer %d: got %d %s, want %d or 409", i, a.status, a.body, c.Status)
		}
	}
	if id == "" || sec == "" {
		t.Fatalf("no request created the key (or answered its secret)")
	}
	if n := s.CountKeys(c.Name); n != 1 {
		t.Fatalf("keys named %q made by 16 concurrent requests: got %d, want 1", c.Name, n)
	}

	status, h, b, err := s.send(c.Method, c.Path, c.Auth, c.Body, key)
	if err != nil {
		t.Fatal(err)
	}
	if status != c.Status || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: got %d %s replayed %q, want %d replayed", status, b, h.Get("Idempotent-Replayed"), c.Status)
	}
	if gid, gsec := c.Made(t, b); gid != id || gsec != sec {
		t.Errorf("retry: got key %s (same secret %v), want %s and its secret", gid, gsec == sec, id)
	}
	if n := s.CountKeys(c.Name); n != 1 {
		t.Errorf("keys after the retry: got %d, want 1", n)
	}

	status, _, b, err = s.send(c.Method, c.Path, c.Auth, c.Other, key)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusUnprocessableEntity {
		t.Errorf("another body with the key: got %d %s, want 422", status, b)
	}
	s.checkShape(t, "another body", b, status, c.Shape)
}

func (s *Server) checkShape(t *testing.T, what string, body []byte, status int, shape func(map[string]any, int) bool) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || !shape(m, status) {
		t.Errorf("%s: %d %s is not the dialect's error shape", what, status, body)
	}
}

// send is Raw with an Idempotency-Key, safe from any goroutine.
func (s *Server) send(method, path, auth string, body any, key string) (int, http.Header, []byte, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, out, err
}

// CountKeys is the number of keys of the default tenant whose name
// matches q (the native list's q), as the admin sees them.
func (s *Server) CountKeys(q string) int {
	s.t.Helper()
	var l struct{ TotalCount int }
	s.Do("GET", "/v1/apikeys?q="+url.QueryEscape(q), s.Admin, nil, 200, &l)
	return l.TotalCount
}

// Credits is what is left of key id's credits, as the admin reads it.
func (s *Server) Credits(id string) int64 {
	s.t.Helper()
	var k struct {
		Credits *struct{ Remaining int64 }
	}
	s.Do("GET", "/v1/apikeys/"+id, s.Admin, nil, 200, &k)
	if k.Credits == nil {
		s.t.Fatalf("key %s has no credits", id)
	}
	return k.Credits.Remaining
}
