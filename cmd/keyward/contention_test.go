package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// raceStatuses sends n copies of a request at once (build returns method,
// path, body and If-Match for copy i) and returns the statuses in order.
func raceStatuses(t *testing.T, c *faultClient, token string, n int, build func(i int) (method, path string, body any, ifMatch string)) []int {
	t.Helper()
	out := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			method, path, body, match := build(i)
			<-start
			out[i] = c.doMatch(method, path, token, body, match).status
		}(i)
	}
	close(start)
	wg.Wait()
	return out
}

func (c *faultClient) doMatch(method, path, auth string, body any, ifMatch string) faultAnswer {
	c.t.Helper()
	if ifMatch == "" {
		return c.do(method, path, auth, body)
	}
	return c.doHeader(method, path, auth, body, "If-Match", ifMatch)
}

// tally says "201×1 409×7" for a list of statuses.
func tally(statuses []int) string {
	n := map[int]int{}
	statuses = append([]int(nil), statuses...)
	sort.Ints(statuses)
	for _, s := range statuses {
		n[s]++
	}
	var keys []int
	for s := range n {
		keys = append(keys, s)
	}
	sort.Ints(keys)
	var parts []string
	for _, s := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", s, n[s]))
	}
	return strings.Join(parts, " ")
}

// TestContention races identical requests through the real server on both
// databases: a stale If-Match is 412, a stale body version 409, and
// requests without a version all succeed (the service retries the ones that
// lost a race on a version they did not give); the losers of a PUT that
// creates are never told 404.
func TestContention(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			var args []string
			if db == "postgres" {
				args = append(args, "--database-url", sqltest.PostgresDSN(t))
			}
			// The default database timeout: races retried under a loaded
			// CI machine take their time, and still must not fail.
			c, token, _ := faultServer(t, 5*time.Second, args...)
			newKey := func() string {
				a := c.do("POST", "/v1/apikeys", token, map[string]any{"name": "raced"})
				if a.status != http.StatusCreated {
					t.Fatalf("create: %d %v", a.status, a.body)
				}
				return a.body["id"].(string)
			}
			a := c.do("POST", "/v1/users", token, map[string]any{"userName": "raced-user", "password": "raced-user-password-1", "level": 2})
			if a.status != http.StatusCreated {
				t.Fatalf("create user: %d %v", a.status, a.body)
			}
			userID := a.body["id"].(string)
			const n = 8
			putID := secret.NewID()
			patchKey, matchKey, putMatchKey, putVersionKey, rotKey, delKey := newKey(), newKey(), newKey(), newKey(), newKey(), newKey()

			tests := []struct {
				name  string
				build func(i int) (string, string, any, string)
				want  string
			}{
				{"PATCH without a version", func(i int) (string, string, any, string) {
					return "PATCH", "/v1/apikeys/" + patchKey, map[string]any{"description": fmt.Sprint(i)}, ""
				}, "200×8"},
				{"PATCH with the same If-Match", func(i int) (string, string, any, string) {
					return "PATCH", "/v1/apikeys/" + matchKey, map[string]any{"description": fmt.Sprint(i)}, `"1"`
				}, "200×1 412×7"},
				{"PUT replace with the same If-Match", func(i int) (string, string, any, string) {
					return "PUT", "/v1/apikeys/" + putMatchKey, map[string]any{"name": fmt.Sprint(i)}, `"1"`
				}, "200×1 412×7"},
				{"PUT replace with the same body version", func(i int) (string, string, any, string) {
					return "PUT", "/v1/apikeys/" + putVersionKey, map[string]any{"name": fmt.Sprint(i), "version": 1}, ""
				}, "200×1 409×7"},
				{"PUT create of one new id", func(i int) (string, string, any, string) {
					return "PUT", "/v1/apikeys/" + putID, map[string]any{"name": fmt.Sprint(i)}, ""
				}, "201×1 409×7"},
				{"rotate without a version", func(i int) (string, string, any, string) {
					return "POST", "/v1/apikeys/" + rotKey + "/rotate", map[string]any{}, ""
				}, "200×8"},
				{"user PATCH without a version", func(i int) (string, string, any, string) {
					return "PATCH", "/v1/users/" + userID, map[string]any{"level": 1 + i%2}, ""
				}, "200×8"},
				{"delete racing rotations", func(i int) (string, string, any, string) {
					if i == 0 {
						return "DELETE", "/v1/apikeys/" + delKey, nil, ""
					}
					return "PATCH", "/v1/apikeys/" + delKey, map[string]any{"description": fmt.Sprint(i)}, ""
				}, ""},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c.t = t
					got := raceStatuses(t, c, token, n, tt.build)
					if tt.want == "" {
						// The delete must succeed; each PATCH either
						// precedes it (200) or finds the key gone (404).
						if got[0] != 200 {
							t.Errorf("the delete: got %d, want 200", got[0])
						}
						for _, s := range got[1:] {
							if s != 200 && s != 404 {
								t.Errorf("got %s, want the PATCHes 200 or 404", tally(got[1:]))
								break
							}
						}
						if a := c.do("GET", "/v1/apikeys/"+delKey, token, nil); a.status != http.StatusNotFound {
							t.Errorf("the key after the delete: got %d, want 404", a.status)
						}
						return
					}
					if tally(got) != tt.want {
						t.Errorf("got %s, want %s", tally(got), tt.want)
					}
				})
			}
			c.t = t
			if a := c.do("GET", "/v1/apikeys/"+patchKey, token, nil); a.body["version"] != float64(1+n) {
				t.Errorf("version after %d PATCHes: got %v, want %d (no write lost)", n, a.body["version"], 1+n)
			}
		})
	}
}
