package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signature"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// The rights model (SPEC §3), tried as the lowest principal that could
// abuse each path: every test here failed before the policy existed.

// user creates a user and returns its id and login token.
func (s *server) user(name string, level int, perms ...string) (id, token string) {
	s.t.Helper()
	var u keyward.User
	s.do("POST", "/v1/users", s.admin, map[string]any{"userName": name, "password": "password-" + name,
		"level": level, "permissions": refs(perms...)}, 201, &u)
	return u.ID, s.login("", name, "password-"+name)
}

// keyAs creates a key with token as the caller.
func (s *server) keyAs(token string, body map[string]any) keyward.IssuedKey {
	s.t.Helper()
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys", token, body, 201, &k)
	return k
}

func refs(names ...string) []map[string]string {
	out := []map[string]string{}
	for _, n := range names {
		out = append(out, map[string]string{"name": n})
	}
	return out
}

func TestRotationNeedsTheKeysRights(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
		target := s.newKey(map[string]any{"name": "holds users:write", "level": 5, "permissions": refs("users:write")})
		_, support := s.user("support", 7) // level 7, without users:write
		minter := s.newKey(map[string]any{"name": "minter", "permissions": refs("apiKeyCreate")})
		u4, owner4 := s.user("owner4", 4)
		mine := s.keyAs(owner4, map[string]any{"name": "mine"})
		level4 := s.keyAs(owner4, map[string]any{"name": "level 4", "level": 4})
		// A sibling of the same owner that holds more than its siblings: the
		// owner cannot give it audit:read, so the admin does.
		sibling := s.newKey(map[string]any{"name": "sibling", "ownerId": u4, "level": 4, "permissions": refs("audit:read")})

		tests := []struct {
			name, caller, key string
			want              int
		}{
			{"level 7 without users:write rotates a key holding it", support, target.ID, 403},
			{"a level-0 key holding apiKeyCreate rotates a key holding users:write", minter.ClientSecret, target.ID, 403},
			{"the owner rotates its own key", owner4, level4.ID, 200},
			{"a level-4 key without permissions rotates its sibling holding audit:read", level4.ClientSecret, sibling.ID, 403},
			{"a level-0 key rotates its sibling", mine.ClientSecret, level4.ID, 404},
			{"the admin rotates anything", s.admin, target.ID, 200},
		}
		for _, tt := range tests {
			res := s.raw("POST", "/v1/apikeys/"+tt.key+"/rotate", "Bearer "+tt.caller, strings.NewReader(`{"gracePeriodSeconds":3600}`))
			if res.Status != tt.want {
				t.Errorf("%s: got %d, want %d: %s", tt.name, res.Status, tt.want, res.Body)
			}
		}
		// The refusals are in the audit log.
		var audit struct{ Items []keyward.AuditEntry }
		s.do("GET", "/v1/audit?action=apikey.rotate", s.admin, nil, 200, &audit)
		denied := 0
		for _, e := range audit.Items {
			if e.Result == keyward.AuditDenied {
				denied++
			}
		}
		if denied != 3 {
			t.Errorf("got %d denied rotations in the audit log, want 3: %+v", denied, audit.Items)
		}
		// A key may always rotate itself: it holds its own secret already.
		if got := keyAfterRotation(t, s, mine.ClientSecret, mine.ID); got == mine.ClientSecret {
			t.Error("rotating itself kept the secret")
		}
	})
}

// keyAfterRotation rotates key id as token and returns the new secret.
func keyAfterRotation(t *testing.T, s *server, token, id string) string {
	t.Helper()
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys/"+id+"/rotate", token, map[string]any{}, 200, &k)
	return k.ClientSecret
}

func TestPeerTakeover(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		_, hr := s.user("hr", 5, "users:write")
		richer, _ := s.user("richer", 5, "audit:read")
		peer, _ := s.user("peer", 5)
		higher, _ := s.user("higher", 6)
		tests := []struct {
			name string
			id   string
			body map[string]any
			want int
		}{
			{"reset the password of a peer holding more", richer, map[string]any{"password": "taken-over-1"}, 403},
			{"deactivate a peer holding more", richer, map[string]any{"isActive": false}, 403},
			{"reset the password of a higher level", higher, map[string]any{"password": "taken-over-1"}, 403},
			{"reset the password of a peer it covers", peer, map[string]any{"password": "new-password-1"}, 200},
			{"give itself nothing it lacks", peer, map[string]any{"permissions": refs("audit:read")}, 403},
		}
		for _, tt := range tests {
			b, _ := json.Marshal(tt.body)
			if res := s.raw("PATCH", "/v1/users/"+tt.id, "Bearer "+hr, strings.NewReader(string(b))); res.Status != tt.want {
				t.Errorf("%s: got %d, want %d: %s", tt.name, res.Status, tt.want, res.Body)
			}
		}
		s.do("DELETE", "/v1/users/"+richer, hr, nil, 403, nil)
		// The richer user can still sign in with its own password.
		s.login("", "richer", "password-richer")
	})
}

func TestSecretsDieWithTheirHoldersAccess(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		creatorID, creator := s.user("creator", 7)
		peerID, _ := s.user("peer", 7)
		s.do("POST", "/v1/apikeys", creator, map[string]any{"name": "ownerless", "ownerId": ""}, 403, nil)
		forPeer := s.keyAs(creator, map[string]any{"name": "for the peer", "ownerId": peerID})
		own := s.keyAs(creator, map[string]any{"name": "own"})
		s.do("GET", "/v1/whoami", forPeer.ClientSecret, nil, 200, nil)

		var u keyward.User
		s.do("PATCH", "/v1/users/"+creatorID, s.admin, map[string]any{"isActive": false}, 200, &u)
		if got := strings.Join(u.DisabledKeys, ","); !strings.Contains(got, forPeer.ID) || !strings.Contains(got, own.ID) {
			t.Errorf("disabledKeys %v, want both %s and %s", u.DisabledKeys, forPeer.ID, own.ID)
		}
		for _, k := range []keyward.IssuedKey{forPeer, own} {
			s.do("GET", "/v1/whoami", k.ClientSecret, nil, 401, nil)
		}
		var got keyward.APIKey
		s.do("GET", "/v1/apikeys/"+forPeer.ID, s.admin, nil, 200, &got)
		if !got.SecretRevoked {
			t.Error("the peer's key does not say its secret was revoked")
		}
		// Reactivating the creator does not bring the secret back; a rotation
		// by someone who covers the key does.
		s.do("PATCH", "/v1/users/"+creatorID, s.admin, map[string]any{"isActive": true}, 200, nil)
		s.do("GET", "/v1/whoami", forPeer.ClientSecret, nil, 401, nil)
		var rotated keyward.IssuedKey
		s.do("POST", "/v1/apikeys/"+forPeer.ID+"/rotate", s.admin, map[string]any{}, 200, &rotated)
		s.do("GET", "/v1/whoami", rotated.ClientSecret, nil, 200, nil)

		// Deleting the holder: the same. (Its deactivation ended its session.)
		s.do("GET", "/v1/whoami", creator, nil, 401, nil)
		creator = s.login("", "creator", "password-creator")
		again := s.keyAs(creator, map[string]any{"name": "again", "ownerId": peerID})
		s.do("DELETE", "/v1/users/"+creatorID, s.admin, nil, 200, &u)
		if !strings.Contains(strings.Join(u.DisabledKeys, ","), again.ID) {
			t.Errorf("delete: disabledKeys %v, want %s", u.DisabledKeys, again.ID)
		}
		s.do("GET", "/v1/whoami", again.ClientSecret, nil, 401, nil)
		var audit struct{ Items []keyward.AuditEntry }
		s.do("GET", "/v1/audit?action=user.delete&targetId="+creatorID, s.admin, nil, 200, &audit)
		if len(audit.Items) != 1 || !strings.Contains(string(audit.Items[0].Details), again.ID) {
			t.Errorf("the user.delete audit entry does not list the disabled key: %+v", audit.Items)
		}

		// Keys a key made die with that key.
		maker := s.newKey(map[string]any{"name": "maker", "level": 4})
		made := s.keyAs(maker.ClientSecret, map[string]any{"name": "made"})
		s.do("DELETE", "/v1/apikeys/"+maker.ID, s.admin, nil, 200, nil)
		s.do("GET", "/v1/whoami", made.ClientSecret, nil, 401, nil)
	})
}

func TestKeysNarrowWithTheirOwner(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		userID, token := s.user("demoted", 7, "audit:read")
		k := s.keyAs(token, map[string]any{"name": "k", "level": 7, "permissions": refs("audit:read")})
		tok := s.tokenFor(k, "audit:read")
		other := s.newKey(map[string]any{"name": "other"})
		verifier := s.newKey(map[string]any{"name": "verifier", "permissions": refs("keys:verify")})
		s.do("GET", "/v1/audit", k.ClientSecret, nil, 200, nil)
		s.do("GET", "/v1/audit", tok, nil, 200, nil)

		s.do("PATCH", "/v1/users/"+userID, s.admin, map[string]any{"level": 1, "permissions": []any{}}, 200, nil)
		for _, cred := range []string{k.ClientSecret, tok} {
			s.do("GET", "/v1/audit", cred, nil, 403, nil)
		}
		s.do("POST", "/v1/apikeys/"+other.ID+"/rotate", k.ClientSecret, map[string]any{}, 404, nil)
		var who keyward.WhoAmI
		s.do("GET", "/v1/whoami", k.ClientSecret, nil, 200, &who)
		if who.Level != 1 || len(who.Permissions) != 0 {
			t.Errorf("the demoted owner's key: level %d permissions %v, want 1 and none", who.Level, who.Permissions)
		}
		// Introspection and verify report what the token may do now.
		res := s.form("/oauth2/introspect", "Bearer "+verifier.ClientSecret, url.Values{"token": {tok}})
		var in keyward.Introspection
		json.Unmarshal(res.Body, &in)
		if !in.Active || in.Scope != "" || in.Level == nil || *in.Level != 1 {
			t.Errorf("introspection after the demotion: %s, want active, no scope, level 1", res.Body)
		}
		var v keyward.VerifyResult
		s.do("POST", "/v1/keys/verify", verifier.ClientSecret, map[string]any{"token": tok, "permissions": []string{"audit:read"}}, 200, &v)
		if v.Code != keyward.CodeInsufficientPermissions {
			t.Errorf("verify after the demotion: %s, want INSUFFICIENT_PERMISSIONS", v.Code)
		}
		// Narrowing the key itself is reported at once too.
		k2 := s.newKey(map[string]any{"name": "k2", "level": 6, "permissions": refs("audit:read")})
		tok2 := s.tokenFor(k2, "audit:read")
		s.do("PATCH", "/v1/apikeys/"+k2.ID, s.admin, map[string]any{"level": 0, "permissions": []any{}}, 200, nil)
		res = s.form("/oauth2/introspect", "Bearer "+verifier.ClientSecret, url.Values{"token": {tok2}})
		json.Unmarshal(res.Body, &in)
		if in.Scope != "" || in.Level == nil || *in.Level != 0 {
			t.Errorf("introspection after narrowing the key: %s, want no scope, level 0", res.Body)
		}
	})
}

func TestPasswordChangeEndsSessions(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		id, token := s.user("jane", 2)
		s.do("GET", "/v1/whoami", token, nil, 200, nil)
		s.do("PATCH", "/v1/users/"+id, s.admin, map[string]any{"password": "a-new-password"}, 200, nil)
		s.do("GET", "/v1/whoami", token, nil, 401, nil)
		fresh := s.login("", "jane", "a-new-password")
		s.do("GET", "/v1/whoami", fresh, nil, 200, nil)
		s.do("PATCH", "/v1/users/"+id, s.admin, map[string]any{"isActive": false}, 200, nil)
		s.do("PATCH", "/v1/users/"+id, s.admin, map[string]any{"isActive": true}, 200, nil)
		s.do("GET", "/v1/whoami", fresh, nil, 401, nil)
	})
}

func TestConcurrentGuessesStayWithinTheLimit(t *testing.T) {
	// keyward serve's default limit: 20 failures a minute.
	s2 := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) { c.FailedAuthLimit = &keyward.RateLimit{Limit: 20, WindowSeconds: 60} })
	for _, srv := range []*server{s2} {
		const n = 121
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pw := "wrong-password-" + fmt.Sprint(i)
				if i == n-1 {
					pw = adminPassword
				}
				statuses[i] = srv.raw("POST", "/v1/login", "", strings.NewReader(`{"userName":"admin","password":"`+pw+`"}`)).Status
			}()
		}
		wg.Wait()
		checked := 0
		for _, st := range statuses {
			switch st {
			case 200, 401:
				checked++
			case 429:
			default:
				t.Errorf("a guess got %d", st)
			}
		}
		if checked > 20 {
			t.Errorf("%d of %d simultaneous guesses were checked, want at most 20", checked, n)
		}
	}
}

func TestRevokeAnswersABlockedAddress429(t *testing.T) {
	s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) { c.FailedAuthLimit = &keyward.RateLimit{Limit: 1, WindowSeconds: 3600} })
	k := s.newKey(map[string]any{"name": "k"})
	tok := s.tokenFor(k, "")
	for range 2 {
		s.form("/oauth2/revoke", basic(k.ClientID, "wrong"), url.Values{"token": {tok}})
	}
	res := s.form("/oauth2/revoke", basic(k.ClientID, k.ClientSecret), url.Values{"token": {tok}})
	if res.Status != 429 || res.Header.Get("Retry-After") == "" {
		t.Errorf("revoke from a blocked address: got %d, Retry-After %q; want 429 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
}

func TestKeyLimitBeforeTenantBudget(t *testing.T) {
	s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) { c.TenantRateLimit = &keyward.RateLimit{Limit: 5, WindowSeconds: 3600} })
	noisy := s.newKey(map[string]any{"name": "noisy", "rateLimit": map[string]int{"limit": 1, "windowSeconds": 3600}})
	quiet := s.newKey(map[string]any{"name": "quiet"})
	s.do("GET", "/v1/whoami", noisy.ClientSecret, nil, 200, nil)
	for range 10 {
		s.do("GET", "/v1/whoami", noisy.ClientSecret, nil, 429, nil)
	}
	s.do("GET", "/v1/whoami", quiet.ClientSecret, nil, 200, nil)
}

func TestCompositeDepthIsBounded(t *testing.T) {
	s := sqliteServer(t)
	var p keyward.Permission
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "p0"}, 201, &p)
	for i := 1; i < keyward.MaxCompositeDepth; i++ {
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": fmt.Sprintf("p%d", i),
			"children": []map[string]string{{"id": p.ID}}}, 201, &p)
	}
	res := s.raw("POST", "/v1/permissions", "Bearer "+s.admin, strings.NewReader(`{"name":"too_deep","children":[{"id":"`+p.ID+`"}]}`))
	if res.Status != 400 || !strings.Contains(string(res.Body), "children") {
		t.Errorf("a composite one level too deep: got %d %s, want 400 naming children", res.Status, res.Body)
	}
	// The deepest allowed grant expands fully: a key holding the top holds p0.
	k := s.newKey(map[string]any{"name": "deep", "permissions": []map[string]string{{"id": p.ID}}})
	verifier := s.newKey(map[string]any{"name": "verifier", "permissions": refs("keys:verify")})
	var v keyward.VerifyResult
	s.do("POST", "/v1/keys/verify", verifier.ClientSecret, map[string]any{"key": k.ClientSecret, "permissions": []string{"p0"}}, 200, &v)
	if !v.Valid {
		t.Errorf("the innermost permission of the deepest composite: %s, want VALID", v.Code)
	}
}

func TestFailedLoginsAuditedPerWindow(t *testing.T) {
	s := sqliteServer(t)
	for range 3 {
		s.do("POST", "/v1/login", "", map[string]string{"userName": "admin", "password": "not-the-password"}, 401, nil)
	}
	var audit struct{ Items []keyward.AuditEntry }
	s.do("GET", "/v1/audit?action=login.failed", s.admin, nil, 200, &audit)
	if len(audit.Items) != 1 {
		t.Fatalf("got %d login.failed entries, want 1 for the window: %+v", len(audit.Items), audit.Items)
	}
	var d struct {
		Count     int      `json:"count"`
		UserNames []string `json:"userNames"`
	}
	json.Unmarshal(audit.Items[0].Details, &d)
	if d.Count != 3 || audit.Items[0].Result != keyward.AuditFailure || strings.Join(d.UserNames, ",") != "admin" {
		t.Errorf("got %+v with details %s, want result failure, count 3, userNames [admin]", audit.Items[0], audit.Items[0].Details)
	}
}

func TestAnotherTenantsVerifierCannotBurnNonces(t *testing.T) {
	s := sqliteServer(t)
	verifier := s.newKey(map[string]any{"name": "api", "permissions": refs("keys:verify")})
	client := s.newKey(map[string]any{"name": "client", "hmacEnabled": true})
	s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": "other"}, 201, nil)
	var foreign keyward.IssuedKey
	s.do("POST", "/v1/apikeys?tenant=other", s.admin, map[string]any{"name": "foreign verifier", "permissions": refs("keys:verify")}, 201, &foreign)

	req, _ := http.NewRequest("GET", "https://api.example.com/orders", nil)
	nonce := base64.RawURLEncoding.EncodeToString(secret.RandomBytes(18))
	if err := signature.SignKeywardV1(req, client.ClientID, []byte(client.ClientSecret), time.Now(), time.Minute, nonce); err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{}
	for k := range req.Header {
		headers[k] = req.Header.Get(k)
	}
	in := map[string]any{"method": "GET", "authority": "api.example.com", "path": "/orders", "query": "", "headers": headers}
	var res keyward.VerifyResult
	s.do("POST", "/v1/signatures/verify", foreign.ClientSecret, in, 200, &res)
	if res.Code != keyward.CodeNotFound {
		t.Errorf("another tenant's verifier: got %s, want NOT_FOUND", res.Code)
	}
	s.do("POST", "/v1/signatures/verify", verifier.ClientSecret, in, 200, &res)
	if !res.Valid {
		t.Errorf("the rightful verifier after another tenant's attempt: got %s %s, want VALID", res.Code, res.Reason)
	}
}
