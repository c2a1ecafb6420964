package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// secondTenant creates tenant name with a level-8 admin and returns the
// admin's login token.
func (s *server) secondTenant(name string) string {
	s.t.Helper()
	s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": name}, 201, nil)
	s.do("POST", "/v1/users?tenant="+name, s.admin, map[string]any{"userName": name + "-admin", "password": "password-" + name, "level": 8}, 201, nil)
	return s.login(name, name+"-admin", "password-"+name)
}

// usageTotal is the number of requests a key's usage report counts.
func (s *server) usageTotal(token, id string) int64 {
	s.t.Helper()
	var u keyward.KeyUsage
	s.do("GET", "/v1/apikeys/"+id+"/usage", token, nil, 200, &u)
	var n int64
	for _, d := range u.Days {
		n += d.Count
	}
	return n
}

// TestKeyIDsAreScopedPerTenant (issue 11, row 11): a PUT naming an id that
// another tenant's key has behaves exactly as for an id never used — the
// native API and Portos alike — and the two keys are two keys: their
// permissions, secrets, tokens, usage, cache entries and lifecycles never
// touch.
func TestKeyIDsAreScopedPerTenant(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServerWith(t, db, []func(*http.ServeMux, *keyward.Service, dialect.Host){portos.Mount})
		a := s.admin
		b := s.secondTenant("tenant-b")
		s.do("POST", "/v1/permissions", a, map[string]any{"name": "orders_read"}, 201, nil)
		s.do("POST", "/v1/permissions", b, map[string]any{"name": "orders_write"}, 201, nil)

		// Native PUT: A takes an id; B's PUT of the same id answers as a
		// fresh id does.
		id := secret.NewID()
		var ka, kb, fresh keyward.IssuedKey
		s.do("PUT", "/v1/apikeys/"+id, a, map[string]any{"name": "a", "permissions": refs("orders_read"), "hmacEnabled": true}, 201, &ka)
		resB := s.do("PUT", "/v1/apikeys/"+id, b, map[string]any{"name": "b", "permissions": refs("orders_write"), "hmacEnabled": true}, 201, &kb)
		resFresh := s.do("PUT", "/v1/apikeys/"+secret.NewID(), b, map[string]any{"name": "fresh"}, 201, &fresh)
		if kb.ID != id || kb.ClientSecret == "" || kb.ClientID == ka.ClientID || kb.Version != 1 {
			t.Fatalf("B's PUT of A's id: got %+v, want a new key of B with id %s and its own secret", kb.APIKey, id)
		}
		if resB.Header.Get("Location") != strings.Replace(resFresh.Header.Get("Location"), fresh.ID, id, 1) {
			t.Errorf("Location: got %q, want it shaped as for a fresh id (%q)", resB.Header.Get("Location"), resFresh.Header.Get("Location"))
		}
		// A replace by each tenant changes its own key only.
		s.do("PUT", "/v1/apikeys/"+id, b, map[string]any{"name": "b2", "permissions": refs("orders_write"), "hmacEnabled": true, "version": 1}, 200, nil)
		var gotA, gotB keyward.APIKey
		s.do("GET", "/v1/apikeys/"+id, a, nil, 200, &gotA)
		s.do("GET", "/v1/apikeys/"+id, b, nil, 200, &gotB)
		if gotA.Name != "a" || gotA.Version != 1 || len(gotA.Permissions) != 1 || gotA.Permissions[0].Name != "orders_read" {
			t.Errorf("A's key after B's replace: got %+v, want name a, version 1, [orders_read]", gotA)
		}
		if gotB.Name != "b2" || gotB.Version != 2 || len(gotB.Permissions) != 1 || gotB.Permissions[0].Name != "orders_write" {
			t.Errorf("B's key: got %+v, want name b2, version 2, [orders_write]", gotB)
		}

		// Portos PUT: the same.
		pid := secret.NewID()
		var pa, pb map[string]any
		s.do("PUT", "/apikeys/"+pid, a, map[string]any{"name": "portos a", "isActive": true}, 200, &pa)
		s.do("PUT", "/apikeys/"+pid, b, map[string]any{"name": "portos b", "isActive": true}, 200, &pb)
		if pb["id"] != pid || pb["clientSecret"] == nil || pb["clientId"] == pa["clientId"] || pb["name"] != "portos b" {
			t.Errorf("B's Portos PUT of A's id: got %v, want a new key with its secret", pb)
		}
		s.do("GET", "/apikeys/"+pid, a, nil, 200, &pa)
		if pa["name"] != "portos a" || pa["_v"] != float64(1) {
			t.Errorf("A's Portos key after B's PUT: got %v, want it unchanged", pa)
		}

		// Each secret and each token is its own tenant's key.
		whoami := func(cred string, want int) keyward.WhoAmI {
			t.Helper()
			var w keyward.WhoAmI
			s.do("GET", "/v1/whoami", cred, nil, want, &w)
			return w
		}
		wa, wb := whoami(ka.ClientSecret, 200), whoami(kb.ClientSecret, 200)
		if wa.TenantID == wb.TenantID || wa.ID != id || wb.ID != id {
			t.Fatalf("whoami: got A %+v and B %+v, want the same id in two tenants", wa, wb)
		}
		ta, tb := s.tokenFor(ka, ""), s.tokenFor(kb, "")
		if w := whoami(ta, 200); w.TenantID != wa.TenantID {
			t.Errorf("A's token: got tenant %s, want %s", w.TenantID, wa.TenantID)
		}
		if w := whoami(tb, 200); w.TenantID != wb.TenantID {
			t.Errorf("B's token: got tenant %s, want %s", w.TenantID, wb.TenantID)
		}
		if res := s.form("/oauth2/introspect", "Bearer "+b, url.Values{"token": {ta}}); res.Status != 200 || !strings.Contains(string(res.Body), `"active":false`) {
			t.Errorf("B introspects A's token: got %d %s, want inactive", res.Status, res.Body)
		}

		// Usage and last use are counted per tenant.
		whoami(kb.ClientSecret, 200)
		if err := s.svc.FlushLastUsed(t.Context()); err != nil {
			t.Fatal(err)
		}
		ua, ub := s.usageTotal(a, id), s.usageTotal(b, id)
		if ua < 1 || ub < 2 || ua == ub {
			t.Errorf("usage: got A %d, B %d; want A's own (1 or more) and B's own (2 or more, more than A's)", ua, ub)
		}

		// Rotating A's key leaves B's secret and token working.
		var rotated keyward.IssuedKey
		s.do("POST", "/v1/apikeys/"+id+"/rotate", a, map[string]any{}, 200, &rotated)
		whoami(ka.ClientSecret, 401)
		whoami(ta, 401)
		whoami(rotated.ClientSecret, 200)
		whoami(kb.ClientSecret, 200)
		whoami(tb, 200)

		// Deactivating B's key (its cache entry is warm) leaves A's.
		s.do("PATCH", "/v1/apikeys/"+id, b, map[string]any{"isActive": false}, 200, nil)
		whoami(kb.ClientSecret, 401)
		whoami(rotated.ClientSecret, 200)
		s.do("PATCH", "/v1/apikeys/"+id, b, map[string]any{"isActive": true}, 200, nil)
		whoami(kb.ClientSecret, 200)

		// Deleting A's key leaves B's, with its permissions and usage.
		s.do("DELETE", "/v1/apikeys/"+id, a, nil, 200, nil)
		whoami(rotated.ClientSecret, 401)
		s.do("GET", "/v1/apikeys/"+id, a, nil, 404, nil)
		whoami(kb.ClientSecret, 200)
		s.do("GET", "/v1/apikeys/"+id, b, nil, 200, &gotB)
		if len(gotB.Permissions) != 1 || gotB.Permissions[0].Name != "orders_write" {
			t.Errorf("B's key after A's was deleted: got %+v", gotB)
		}
		if got := s.usageTotal(b, id); got < ub {
			t.Errorf("B's usage after A's key was deleted: got %d, want at least %d", got, ub)
		}
		// And A may take the id again, as a fresh one.
		s.do("PUT", "/v1/apikeys/"+id, a, map[string]any{"name": "a again"}, 201, nil)

		// Deleting B's Portos key leaves A's.
		s.do("DELETE", "/apikeys/"+pid, b, nil, 200, nil)
		s.do("GET", "/apikeys/"+pid, a, nil, 200, nil)
	})
}

// TestSecretsShownAcrossTenantsDieWithTheirHolder: who was shown a secret
// is recorded with that principal's own tenant. A root admin acting in
// another tenant is still that key's holder; a key of that tenant with the
// root key's id is not.
func TestSecretsShownAcrossTenantsDieWithTheirHolder(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		b := s.secondTenant("tenant-b")
		rootID, root := s.user("root2", 8)
		made := s.keyAs(root, map[string]any{"name": "made by root"}) // in the root tenant
		var inB keyward.IssuedKey
		s.do("POST", "/v1/apikeys?tenant=tenant-b", root, map[string]any{"name": "made in B by root", "ownerId": ""}, 201, &inB)

		// A root key and a key of B with the same id each make a key in B.
		id := secret.NewID()
		var rootKey, bKey, byRootKey, byBKey keyward.IssuedKey
		s.do("PUT", "/v1/apikeys/"+id, s.admin, map[string]any{"name": "root key", "level": 8}, 201, &rootKey)
		s.do("PUT", "/v1/apikeys/"+id, b, map[string]any{"name": "b key", "level": 8}, 201, &bKey)
		s.do("POST", "/v1/apikeys?tenant=tenant-b", rootKey.ClientSecret, map[string]any{"name": "by the root key", "ownerId": ""}, 201, &byRootKey)
		s.do("POST", "/v1/apikeys", bKey.ClientSecret, map[string]any{"name": "by B's key", "ownerId": ""}, 201, &byBKey)

		// Deactivating B's key retires what it was shown, not what the root
		// key with its id was shown.
		s.do("PATCH", "/v1/apikeys/"+id, b, map[string]any{"isActive": false}, 200, nil)
		s.do("GET", "/v1/whoami", byBKey.ClientSecret, nil, 401, nil)
		s.do("GET", "/v1/whoami", byRootKey.ClientSecret, nil, 200, nil)
		// Deleting the root key retires the key it made in B.
		s.do("DELETE", "/v1/apikeys/"+id, s.admin, nil, 200, nil)
		s.do("GET", "/v1/whoami", byRootKey.ClientSecret, nil, 401, nil)

		// Deactivating the root user retires the keys it was shown in both
		// tenants.
		s.do("GET", "/v1/whoami", inB.ClientSecret, nil, 200, nil)
		s.do("PATCH", "/v1/users/"+rootID, s.admin, map[string]any{"isActive": false}, 200, nil)
		s.do("GET", "/v1/whoami", made.ClientSecret, nil, 401, nil)
		s.do("GET", "/v1/whoami", inB.ClientSecret, nil, 401, nil)
	})
}

// TestSameKeyIDAcrossReplicas: a change to one tenant's key reaches the
// other replica's cache for that key only, not for the other tenant's key
// with the same id.
func TestSameKeyIDAcrossReplicas(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	master := secret.RandomBytes(32)
	var replicas []*server
	for i := range 2 {
		db := sqltest.Open(t, dsn, i == 0)
		replicas = append(replicas, newServer(t, db, func(c *keyward.Config) {
			c.MasterKey, c.NonceStore, c.Changes = master, db.NonceStore(nil), db.ChangeFeed()
		}))
	}
	r1, r2 := replicas[0], replicas[1]
	b := r1.secondTenant("tenant-b")
	id := secret.NewID()
	var ka, kb keyward.IssuedKey
	r1.do("PUT", "/v1/apikeys/"+id, r1.admin, map[string]any{"name": "a"}, 201, &ka)
	r1.do("PUT", "/v1/apikeys/"+id, b, map[string]any{"name": "b"}, 201, &kb)
	for _, k := range []string{ka.ClientSecret, kb.ClientSecret} { // warm replica 2's cache
		r2.do("GET", "/v1/whoami", k, nil, 200, nil)
	}
	r1.do("PATCH", "/v1/apikeys/"+id, r1.admin, map[string]any{"isActive": false}, 200, nil)
	deadline := time.Now().Add(time.Second)
	for r2.raw("GET", "/v1/whoami", "Bearer "+ka.ClientSecret, nil).Status != 401 {
		if time.Now().After(deadline) {
			t.Fatal("replica 2 still accepts A's deactivated key after 1 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r2.do("GET", "/v1/whoami", kb.ClientSecret, nil, 200, nil)
}
