package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestTenantIsolationEveryRoute walks every native route as the admin of
// tenant B against the objects of tenant A: each object route answers 404,
// and no list or answer shows anything of tenant A.
func TestTenantIsolationEveryRoute(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		// Tenant A is the root tenant; give it one of each object.
		var aKey keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "a-key", "permissions": []map[string]string{{"name": "keys:verify"}}}, 201, &aKey)
		var aUser keyward.User
		s.do("POST", "/v1/users", s.admin, map[string]any{"userName": "a-user", "password": "a-password"}, 201, &aUser)
		var aPerm keyward.Permission
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "a_perm"}, 201, &aPerm)
		var aTenant keyward.WhoAmI
		s.do("GET", "/v1/whoami", s.admin, nil, 200, &aTenant)

		// Tenant B with its own level-8 admin and a verifier key.
		var b keyward.Tenant
		s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": "tenant-b"}, 201, &b)
		s.do("POST", "/v1/users?tenant=tenant-b", s.admin, map[string]any{"userName": "b-admin", "password": "b-password", "level": 8}, 201, nil)
		bAdmin := s.login("tenant-b", "b-admin", "b-password")
		var bKey keyward.IssuedKey
		s.do("POST", "/v1/apikeys", bAdmin, map[string]any{"name": "b-key", "level": 8, "permissions": []map[string]string{{"name": "keys:verify"}}}, 201, &bKey)

		aIDs := []string{aKey.ID, aKey.ClientID, aUser.ID, aPerm.ID, aTenant.TenantID, "a-key", "a-user", "a_perm"}
		objectPath := map[string]string{
			"apikeys": aKey.ID, "users": aUser.ID, "permissions": aPerm.ID, "tenants": aTenant.TenantID,
		}
		bodies := map[string]any{
			"apikeys":     map[string]any{"name": "stolen"},
			"users":       map[string]any{"level": 0},
			"permissions": map[string]any{"description": "stolen"},
			"tenants":     map[string]any{"isActive": false},
		}
		verifyBody := map[string]any{"key": aKey.ClientSecret}

		api := httpapi.New(s.svc, nil, nil)
		walked := 0
		for _, pattern := range api.Patterns() {
			method, path, _ := strings.Cut(pattern, " ")
			if !strings.HasPrefix(path, "/v1/") || path == "/v1/login" {
				continue
			}
			walked++
			if pattern == "PUT /v1/apikeys/{id}" {
				// Key ids are per tenant: B's PUT of A's key's id makes a key
				// of B's own (TestKeyIDsAreScopedPerTenant), which later
				// routes here would then rightly show to B.
				continue
			}
			for _, who := range []struct{ name, token string }{{"b-admin", bAdmin}, {"b-key", bKey.ClientSecret}} {
				t.Run(who.name+" "+pattern, func(t *testing.T) {
					resource := strings.Split(path, "/")[2]
					p := strings.ReplaceAll(path, "{id}", objectPath[resource])
					var body any
					switch {
					case pattern == "POST /v1/keys/verify":
						body = verifyBody
					case strings.HasSuffix(path, "/rotate"):
						body = map[string]any{"gracePeriodSeconds": 0}
					case method == "POST" || method == "PATCH" || method == "PUT":
						body = bodies[resource]
					}
					var rb *bytes.Reader
					if body != nil {
						b, _ := json.Marshal(body)
						rb = bytes.NewReader(b)
					}
					var res response
					if rb != nil {
						res = s.raw(method, p, "Bearer "+who.token, rb)
					} else {
						res = s.raw(method, p, "Bearer "+who.token, nil)
					}
					switch {
					case strings.Contains(path, "{id}"):
						if res.Status != http.StatusNotFound {
							t.Errorf("got %d, want 404 for tenant A's object: %s", res.Status, res.Body)
						}
					case pattern == "POST /v1/keys/verify":
						if res.Status != 200 || !bytes.Contains(res.Body, []byte(`"code":"NOT_FOUND"`)) {
							t.Errorf("verify of tenant A's key: got %d %s, want 200 NOT_FOUND", res.Status, res.Body)
						}
					case res.Status >= 500:
						t.Errorf("got %d: %s", res.Status, res.Body)
					}
					for _, id := range aIDs {
						if bytes.Contains(res.Body, []byte(id)) {
							t.Errorf("answer shows tenant A's %q: %s", id, res.Body)
						}
					}
				})
			}
		}
		if walked < 20 {
			t.Fatalf("walked %d routes, want every /v1 route", walked)
		}
		// Tenant A's objects are untouched.
		var k keyward.APIKey
		s.do("GET", "/v1/apikeys/"+aKey.ID, s.admin, nil, 200, &k)
		if k.Name != "a-key" || k.Version != 1 {
			t.Errorf("tenant A's key changed: %+v", k)
		}
		var u keyward.User
		s.do("GET", "/v1/users/"+aUser.ID, s.admin, nil, 200, &u)
		if u.Version != 1 {
			t.Errorf("tenant A's user changed: %+v", u)
		}
		s.do("GET", "/v1/whoami", aKey.ClientSecret, nil, 200, nil)
	})
}
