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

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// What an attacker who read only the README found against the rights model,
// each as a test through the real server.

func TestNarrowTokenCannotRotateItsKey(t *testing.T) {
	s := sqliteServer(t)
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
	k := s.newKey(map[string]any{"name": "k", "level": 7, "permissions": refs("users:write", "audit:read", "orders_read")})
	tok := s.tokenFor(k, "orders_read")
	s.do("GET", "/v1/audit", tok, nil, 403, nil)
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", tok, map[string]any{}, 403, nil)
	s.do("GET", "/v1/audit", k.ClientSecret, nil, 200, nil) // the secret was not replaced
}

func TestSelfRotationKeepsTheHolder(t *testing.T) {
	s := sqliteServer(t)
	xID, x := s.user("x", 7)
	wID, _ := s.user("w", 4)
	k := s.keyAs(x, map[string]any{"name": "for w", "level": 4, "ownerId": wID})
	var rotated keyward.IssuedKey
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", k.ClientSecret, map[string]any{}, 200, &rotated)
	if rotated.SecretHolderID != xID {
		t.Errorf("a self-rotation moved the holder to %q, want %q (who saw the secret it rotated with)", rotated.SecretHolderID, xID)
	}
	s.do("PATCH", "/v1/users/"+xID, s.admin, map[string]any{"isActive": false}, 200, nil)
	s.do("GET", "/v1/whoami", rotated.ClientSecret, nil, 401, nil)
}

func TestGraceSecretDiesWithItsHolder(t *testing.T) {
	s := sqliteServer(t)
	xID, x := s.user("x", 7)
	wID, _ := s.user("w", 4)
	k := s.keyAs(x, map[string]any{"name": "for w", "level": 4, "ownerId": wID})
	old := k.ClientSecret
	var rotated keyward.IssuedKey
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", s.admin, map[string]any{"gracePeriodSeconds": 86400}, 200, &rotated)
	s.do("GET", "/v1/whoami", old, nil, 200, nil) // the grace period
	// The old secret cannot take the key over by rotating it.
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", old, map[string]any{}, 403, nil)
	oldToken := s.tokenFor(keyward.IssuedKey{APIKey: k.APIKey, ClientSecret: old}, "")
	var u keyward.User
	s.do("PATCH", "/v1/users/"+xID, s.admin, map[string]any{"isActive": false}, 200, &u)
	if !strings.Contains(strings.Join(u.DisabledKeys, ","), k.ID) {
		t.Errorf("disabledKeys %v, want %s (its previous secret ended)", u.DisabledKeys, k.ID)
	}
	s.do("GET", "/v1/whoami", old, nil, 401, nil)
	s.do("GET", "/v1/whoami", oldToken, nil, 401, nil)
	s.do("GET", "/v1/whoami", rotated.ClientSecret, nil, 200, nil) // the admin's secret lives on
}

func TestTokensDoNotOutliveTheirKey(t *testing.T) {
	s := sqliteServer(t)
	_, x := s.user("x", 4)
	k := s.keyAs(x, map[string]any{"name": "first", "clientId": "sharedapp", "level": 4, "tokenLifespanSeconds": 86400})
	tok := s.tokenFor(k, "")
	s.do("DELETE", "/v1/apikeys/"+k.ID, x, nil, 200, nil)
	s.do("GET", "/v1/whoami", tok, nil, 401, nil)
	s.newKey(map[string]any{"name": "second", "clientId": "sharedapp", "level": 8})
	s.do("GET", "/v1/whoami", tok, nil, 401, nil)
	verifier := s.newKey(map[string]any{"name": "verifier", "permissions": refs("keys:verify")})
	res := s.form("/oauth2/introspect", "Bearer "+verifier.ClientSecret, url.Values{"token": {tok}})
	if !strings.Contains(string(res.Body), `"active":false`) {
		t.Errorf("introspection of a deleted key's token after its client id was reused: %s", res.Body)
	}
}

func TestSecretsMadeDuringDeactivationDie(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		xID, x := s.user("x", 7)
		wID, _ := s.user("w", 4)
		target := s.keyAs(x, map[string]any{"name": "target", "level": 4, "ownerId": wID})
		var mu sync.Mutex
		var secrets []string
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var res response
				var k keyward.IssuedKey
				if i%3 == 0 {
					res = s.raw("POST", "/v1/apikeys/"+target.ID+"/rotate", "Bearer "+x, strings.NewReader(`{}`))
				} else {
					res = s.raw("POST", "/v1/apikeys", "Bearer "+x, strings.NewReader(fmt.Sprintf(`{"name":"k%d","ownerId":%q}`, i, wID)))
				}
				if res.Status < 300 {
					if err := jsonUnmarshal(res.Body, &k); err == nil {
						mu.Lock()
						secrets = append(secrets, k.ClientSecret)
						mu.Unlock()
					}
				}
			}()
		}
		s.do("PATCH", "/v1/users/"+xID, s.admin, map[string]any{"isActive": false}, 200, nil)
		wg.Wait()
		for _, sec := range secrets {
			if res := s.raw("GET", "/v1/whoami", "Bearer "+sec, nil); res.Status != 401 {
				t.Errorf("a secret handed to x while it was being deactivated still works: %d", res.Status)
			}
		}
	})
}

func TestPermissionMeaningNeedsLevel8(t *testing.T) {
	s := sqliteServer(t)
	var reader, admin, bundle keyward.Permission
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, &reader)
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_admin"}, 201, &admin)
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "ops_bundle", "children": refs("orders_read")}, 201, &bundle)
	_, y := s.user("y", 0, "permissions:write", "permissions:read", "orders_read", "audit:read", "ops_bundle")
	s.do("PATCH", "/v1/permissions/"+admin.ID, y, map[string]any{"name": "retired"}, 403, nil)
	s.do("PATCH", "/v1/permissions/"+reader.ID, y, map[string]any{"name": "orders_admin2"}, 403, nil)
	s.do("PATCH", "/v1/permissions/"+bundle.ID, y, map[string]any{"children": refs("orders_read", "audit:read")}, 403, nil)
	s.do("DELETE", "/v1/permissions/"+admin.ID, y, nil, 403, nil)
	s.do("PATCH", "/v1/permissions/"+reader.ID, y, map[string]any{"description": "still allowed"}, 200, nil)
	s.do("PATCH", "/v1/permissions/"+admin.ID, s.admin, map[string]any{"name": "orders_admin_v2"}, 200, nil)
}

func TestKeyCannotLiftItsOwnLimits(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "limited", "level": 4, "expiresIn": 600, "rateLimit": map[string]int{"limit": 30, "windowSeconds": 3600}})
	s.do("PATCH", "/v1/apikeys/"+k.ID, k.ClientSecret, map[string]any{"expiresAt": nil}, 403, nil)
	s.do("PATCH", "/v1/apikeys/"+k.ID, k.ClientSecret, map[string]any{"rateLimit": nil}, 403, nil)
	s.do("PATCH", "/v1/apikeys/"+k.ID, k.ClientSecret, map[string]any{"description": "fine"}, 200, nil)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// A rotation that rescues a key whose secret died with its holder gives
// that secret no grace period: the secret and the tokens minted with it stay
// dead, whatever grace the rescuer chooses.
func TestRevokedSecretStaysDeadThroughAGraceRotation(t *testing.T) {
	for _, holderGoes := range []string{"deactivated", "deleted"} {
		t.Run(holderGoes, func(t *testing.T) {
			s := sqliteServer(t)
			uID, u := s.user("u", 8)
			k := s.newKey(map[string]any{"name": "victim", "level": 3, "tokenLifespanSeconds": 86400})
			var held keyward.IssuedKey
			s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", u, map[string]any{}, 200, &held)
			tok := s.tokenFor(held, "")
			if holderGoes == "deleted" {
				s.do("DELETE", "/v1/users/"+uID, s.admin, nil, 200, nil)
			} else {
				s.do("PATCH", "/v1/users/"+uID, s.admin, map[string]any{"isActive": false}, 200, nil)
			}
			s.do("GET", "/v1/whoami", held.ClientSecret, nil, 401, nil)
			var rescued keyward.IssuedKey
			s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", s.admin, map[string]any{"gracePeriodSeconds": 3600}, 200, &rescued)
			s.do("GET", "/v1/whoami", held.ClientSecret, nil, 401, nil)
			s.do("GET", "/v1/whoami", tok, nil, 401, nil)
			if res := s.form("/oauth2/token", basic(held.ClientID, held.ClientSecret), url.Values{"grant_type": {"client_credentials"}}); res.Status != 401 {
				t.Errorf("a token for the revoked secret after a grace rotation: got %d, want 401", res.Status)
			}
			s.do("GET", "/v1/whoami", rescued.ClientSecret, nil, 200, nil)
		})
	}
}

// Changing a key's rights needs the caller to cover the key as it was, not
// only as it will be: else a user strips a permission it lacks from a
// peer's key, rotates it, and gains the permission back when the peer
// re-grants it; or takes a peer's Portos key over by naming itself owner.
func TestKeyRightsChangesNeedTheKeyAsItWas(t *testing.T) {
	s := newServerWith(t, sqltest.SQLite(t), []func(*http.ServeMux, *keyward.Service, dialect.Host){portos.Mount})
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "pay"}, 201, nil)
	_, v := s.user("v", 7, "pay")
	lID, l := s.user("l", 7)
	k := s.keyAs(v, map[string]any{"name": "pay-svc", "level": 2, "permissions": refs("pay")})
	s.do("PATCH", "/v1/apikeys/"+k.ID, l, map[string]any{"permissions": []any{}}, 403, nil)
	s.do("PUT", "/apikeys/"+k.ID, l, map[string]any{"permissions": []string{}}, 403, nil)
	s.do("PATCH", "/v1/apikeys/"+k.ID, l, map[string]any{"name": "renamed"}, 200, nil) // no rights change
	var got keyward.APIKey
	s.do("GET", "/v1/apikeys/"+k.ID, v, nil, 200, &got)
	if len(got.Permissions) != 1 || got.Permissions[0].Name != "pay" {
		t.Errorf("permissions after the refused changes: %v, want [pay]", got.Permissions)
	}

	// A Portos key acting as v: l may not make it its own.
	var pk struct{ ID string }
	s.do("POST", "/apikeys", v, map[string]any{"name": "v-portos", "isActive": true}, 201, &pk)
	s.do("PUT", "/apikeys/"+pk.ID, l, map[string]any{"userName": "l"}, 403, nil)
	s.do("PATCH", "/v1/apikeys/"+pk.ID, l, map[string]any{"ownerId": lID}, 403, nil)
}

// A secret a client sends where a name or its User-Agent belongs never
// reaches the audit log (logs redact it too), nor does it re-encoded, nor a
// password typed into the user-name field.
func TestAuditNeverKeepsASecretAClientSent(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "leaky", "level": 4})
	sec := k.ClientSecret
	body := sec[strings.Index(sec, "_sk_")+4:]
	s.do("POST", "/v1/login", "", map[string]any{"userName": sec, "password": "wrong-password"}, 401, nil)
	s.do("POST", "/v1/login", "", map[string]any{"userName": adminPassword, "password": "wrong-password"}, 401, nil)
	s.do("POST", "/v1/login", "", map[string]any{"userName": "admin", "password": "wrong-password"}, 401, nil)
	variants := []string{
		sec,
		strings.ToUpper(sec[:strings.Index(sec, "_sk_")+4]) + body, // the prefix upper-cased
		body[:len(body)-6],     // without its checksum
		url.QueryEscape(sec),   // URL-encoded (as is: unreserved)
		fmt.Sprintf("%x", sec), // hex
		base64.StdEncoding.EncodeToString([]byte(k.ClientID + ":" + sec)), // a Basic header's value
	}
	for i, v := range variants {
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": fmt.Sprint("by a leaky client ", i)}, 201, nil, "User-Agent", "tool/1 "+v)
	}
	all := string(s.do("GET", "/v1/audit?size=100", s.admin, nil, 200, nil).Body)
	for _, want := range []string{"login.failed", "by a leaky client 5", "[redacted]", `"unknownUserNames":2`, `"userNames":["admin"]`} {
		if !strings.Contains(all, want) {
			t.Errorf("the audit log lacks %q: %s", want, all)
		}
	}
	for i, v := range append(variants, body[:20], adminPassword) {
		if strings.Contains(all, v) {
			t.Errorf("the audit log keeps variant %d of a secret or a password: %q", i, v)
		}
	}
}

// What a second cold attack found, each through the real server.
func TestSecondAttackFindings(t *testing.T) {
	s := sqliteServer(t)

	t.Run("a key may not change its own audiences", func(t *testing.T) {
		k := s.newKey(map[string]any{"name": "billing only", "level": 4, "permissions": refs("apikeys:write"), "audiences": []string{"billing"}})
		for _, auds := range [][]string{{"billing", "https://payments.example.com"}, {}, {"keyward"}} {
			s.do("PATCH", "/v1/apikeys/"+k.ID, k.ClientSecret, map[string]any{"audiences": auds}, 403, nil)
		}
		s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"audiences": []string{"billing", "orders"}}, 200, nil)
	})

	t.Run("another tenant's verifier leaves a key untouched", func(t *testing.T) {
		k := s.newKey(map[string]any{"name": "never used"})
		s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": "nosy"}, 201, nil)
		var nosy keyward.IssuedKey
		s.do("POST", "/v1/apikeys?tenant=nosy", s.admin, map[string]any{"name": "nosy verifier", "permissions": refs("keys:verify")}, 201, &nosy)
		for _, body := range []map[string]any{{"key": k.ClientSecret}, {"clientId": k.ClientID, "clientSecret": k.ClientSecret}} {
			var res keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", nosy.ClientSecret, body, 200, &res)
			if res.Code != keyward.CodeNotFound {
				t.Errorf("another tenant's verifier: got %s, want NOT_FOUND", res.Code)
			}
		}
		if err := s.svc.FlushLastUsed(t.Context()); err != nil {
			t.Fatal(err)
		}
		var got keyward.APIKey
		s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, &got)
		var u keyward.KeyUsage
		s.do("GET", "/v1/apikeys/"+k.ID+"/usage", s.admin, nil, 200, &u)
		if got.LastUsedAt != nil || u.Total != 0 {
			t.Errorf("after another tenant's verifications: lastUsedAt %v, usage total %d; want never used", got.LastUsedAt, u.Total)
		}
	})

	t.Run("a refused token request spends no credit", func(t *testing.T) {
		k := s.newKey(map[string]any{"name": "metered", "audiences": []string{"billing"}, "credits": map[string]any{"remaining": 3}})
		for _, form := range []url.Values{{"scope": {"no-such-scope"}}, {"resource": {"https://elsewhere.example.com"}}} {
			form.Set("grant_type", "client_credentials")
			if res := s.form("/oauth2/token", basic(k.ClientID, k.ClientSecret), form); res.Status != 400 {
				t.Errorf("token %v: got %d, want 400", form, res.Status)
			}
		}
		var got keyward.APIKey
		s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, &got)
		if got.Credits == nil || got.Credits.Remaining != 3 {
			t.Errorf("credits after two refused token requests: %+v, want 3 left", got.Credits)
		}
	})

	t.Run("a user may not lift their own rate limits", func(t *testing.T) {
		uID, u := s.user("limited", 7, "users:write")
		limits := []map[string]any{{"name": "day", "limit": 100, "windowSeconds": 86400}}
		s.do("PATCH", "/v1/users/"+uID, s.admin, map[string]any{"rateLimits": limits}, 200, nil)
		s.do("PATCH", "/v1/users/"+uID, u, map[string]any{"rateLimits": []map[string]any{{"name": "day", "limit": 1000000, "windowSeconds": 1}}}, 403, nil)
		s.do("PATCH", "/v1/users/"+uID, u, map[string]any{"rateLimits": []any{}}, 403, nil)
	})
}
