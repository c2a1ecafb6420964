package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// TestRoutePrincipalMatrix sends every guarded route of the native API as
// principals of each level 0-8, with no permission and with each built-in
// one, as a user, a key, an access token and a signed request, and checks
// each answer against the rule of SPEC §3 written out here.
func TestRoutePrincipalMatrix(t *testing.T) {
	t.Parallel() // its own server: runs beside the other long tests, after the rest
	s := sqliteServer(t)
	perms := []string{"", "apikeys:read", "apikeys:write", "apikeys:delete", "permissions:read", "permissions:write",
		"users:read", "users:write", "audit:read", "keys:verify"}
	// has is the rule: the permission held explicitly, or implied by level.
	has := func(level int, explicit, perm string) bool {
		switch {
		case explicit == perm, level >= 8:
			return true
		case perm == "apikeys:read":
			return level >= 5
		case perm == "apikeys:write", perm == "apikeys:delete":
			return level >= 7
		}
		return false
	}
	type route struct {
		method, path string
		body         func(i int) any
		want         func(level int, perm string) int
	}
	ok := func(perm string, status int) func(int, string) int {
		return func(level int, explicit string) int {
			if has(level, explicit, perm) {
				return status
			}
			return 403
		}
	}
	routes := []route{
		{"GET", "/v1/apikeys", nil, func(level int, p string) int {
			if has(level, p, "apikeys:read") || level >= 1 { // own keys from level 1
				return 200
			}
			return 403
		}},
		{"POST", "/v1/apikeys", func(i int) any { return map[string]any{"name": fmt.Sprint("m", i)} }, func(level int, p string) int {
			if has(level, p, "apikeys:write") || level >= 4 { // own keys from level 4
				return 201
			}
			return 403
		}},
		{"GET", "/v1/users", nil, ok("users:read", 200)},
		{"POST", "/v1/users", func(i int) any { return map[string]any{"userName": fmt.Sprint("m", i), "password": "password-12345"} }, ok("users:write", 201)},
		{"GET", "/v1/permissions", nil, ok("permissions:read", 200)},
		{"POST", "/v1/permissions", func(i int) any { return map[string]any{"name": fmt.Sprint("m", i)} }, ok("permissions:write", 201)},
		{"GET", "/v1/audit", nil, ok("audit:read", 200)},
		{"GET", "/v1/tenants", nil, func(level int, p string) int {
			if level >= 8 {
				return 200 // tenants:admin: level 8 of the root tenant
			}
			return 403
		}},
		{"POST", "/v1/keys/verify", func(int) any { return map[string]any{"key": secret.NewSecret("kw")} }, ok("keys:verify", 200)},
	}

	n := 0
	for level := 0; level <= 8; level++ {
		for _, perm := range perms {
			var explicit []map[string]string
			if perm != "" {
				explicit = refs(perm)
			}
			name := fmt.Sprintf("l%d-%s", level, strings.ReplaceAll(perm, ":", "-"))
			var u keyward.User
			s.do("POST", "/v1/users", s.admin, map[string]any{"userName": name, "password": "password-" + name,
				"level": level, "permissions": explicit}, 201, &u)
			k := s.newKey(map[string]any{"name": name, "level": level, "permissions": explicit, "hmacEnabled": true})
			creds := map[string]func(method, path string, body []byte) int{
				"user":  bearer(s, s.login("", name, "password-"+name)),
				"key":   bearer(s, k.ClientSecret),
				"token": bearer(s, s.tokenFor(k, "")),
				"signed": func(method, path string, body []byte) int {
					req := signed(t, s, method, path, body, k.ClientID, k.ClientSecret, nil)
					st, _ := send(t, req)
					return st
				},
			}
			for kind, call := range creds {
				for _, r := range routes {
					n++
					var body []byte
					if r.body != nil {
						body, _ = json.Marshal(r.body(n))
					}
					want := r.want(level, perm)
					if got := call(r.method, r.path, body); got != want {
						t.Errorf("%s %s as a %s of level %d holding %q: got %d, want %d", r.method, r.path, kind, level, perm, got, want)
					}
				}
			}
		}
	}
}

// bearer returns a caller sending cred as a bearer credential.
func bearer(s *server, cred string) func(method, path string, body []byte) int {
	return func(method, path string, body []byte) int {
		var rd *strings.Reader
		if body != nil {
			rd = strings.NewReader(string(body))
			return s.raw(method, path, "Bearer "+cred, rd).Status
		}
		return s.raw(method, path, "Bearer "+cred, nil).Status
	}
}
