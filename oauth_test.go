package keyward_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

// TestSigningKeySharedByReplicas: two Services on one database (two
// replicas) racing on their first tokens make one signing key, and each
// accepts the other's tokens.
func TestSigningKeySharedByReplicas(t *testing.T) {
	dsns := map[string]func(testing.TB) string{"sqlite": sqltest.SQLiteDSN, "postgres": sqltest.PostgresDSN}
	for name, dsnOf := range dsns {
		t.Run(name, func(t *testing.T) {
			dsn := dsnOf(t)
			master := secret.RandomBytes(32)
			var svcs []*keyward.Service
			for i := range 2 {
				db := sqltest.Open(t, dsn, i == 0)
				svc, err := wire.NewService(keyward.Config{Store: db, MasterKey: master, PublicURL: "http://keyward.test"})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { svc.Close() })
				svcs = append(svcs, svc)
			}
			ctx := context.Background()
			admin := bootstrapAdmin(t, svcs[0])
			k, err := svcs[0].CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("m2m")})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			kids := map[string]bool{}
			tokens := make([]string, 12)
			for i := range tokens {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := svcs[i%2].IssueToken(ctx, k.ClientID, k.ClientSecret, "")
					if err != nil {
						t.Error(err)
						return
					}
					tok, err := jwt.ParseSigned(res.AccessToken, []jose.SignatureAlgorithm{jose.EdDSA})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					kids[tok.Headers[0].KeyID] = true
					mu.Unlock()
					tokens[i] = res.AccessToken
				}()
			}
			wg.Wait()
			if len(kids) != 1 {
				t.Errorf("got %d signing keys, want 1 shared by both replicas", len(kids))
			}
			for i, tok := range tokens {
				other := svcs[(i+1)%2]
				if _, err := other.Authenticate(ctx, keyward.Credentials{Bearer: tok}); err != nil {
					t.Errorf("token %d not accepted by the other replica: %v", i, err)
				}
			}
		})
	}
}

func TestTokenScopeAndLifetime(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		if _, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders_read")}); err != nil {
			t.Fatal(err)
		}
		k := e.key(t, e.admin, keyward.APIKeyInput{Level: ptr(4), Permissions: perms("orders_read"), ExpiresIn: ptr(int64(120))})
		tests := []struct {
			scope, wantScope, wantCode string
		}{
			{"orders_read", "orders_read", ""},
			{"", "apikeys:delete apikeys:read apikeys:write orders_read", ""},
			{"orders_read orders_read", "orders_read", ""},
			{"apikeys:read", "apikeys:read", ""},
			{"orders_write", "", keyward.EINVALIDSCOPE},
			{"users:read", "", keyward.EINVALIDSCOPE},
		}
		for _, tt := range tests {
			res, err := e.svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret, tt.scope)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				continue
			}
			if res.Scope != tt.wantScope {
				t.Errorf("scope %q: got %q, want %q", tt.scope, res.Scope, tt.wantScope)
			}
			// The key expires in 120 s: the token may not outlive it.
			if res.ExpiresIn != 120 {
				t.Errorf("got expires_in %d, want 120 (the key's expiry, under its 3600 s lifespan)", res.ExpiresIn)
			}
		}
		_, err := e.svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret+"x", "")
		wantCode(t, err, keyward.EINVALIDCLIENT)
		_, err = e.svc.IssueToken(e.ctx, "kw_id_other", k.ClientSecret, "")
		wantCode(t, err, keyward.EINVALIDCLIENT)

		// A token's scope limits the key on keyward's own API.
		res, err := e.svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret, "apikeys:read")
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: res.AccessToken})
		if err != nil {
			t.Fatal(err)
		}
		who, _ := e.svc.WhoAmI(e.ctx, p)
		if strings.Join(who.OwnKeyPermissions, ",") != "apikeys:read" {
			t.Errorf("token scoped to apikeys:read holds %v on own keys", who.OwnKeyPermissions)
		}
		_, err = e.svc.CreateAPIKey(e.ctx, p, keyward.APIKeyInput{Name: ptr("x")})
		wantCode(t, err, keyward.EFORBIDDEN)
		// Past its expiry, the token fails.
		e.clock.Add(121 * time.Second)
		_, err = e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: res.AccessToken})
		wantCode(t, err, keyward.EUNAUTHORIZED)
	})
}

// TestSigningKeyRotation: each rotation period gets a new key; the old one
// stays in the JWKS, and its tokens stay valid, until every token it signed
// has expired; then it leaves the JWKS.
func TestSigningKeyRotation(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	db := sqltest.SQLite(t)
	svc, err := wire.NewService(keyward.Config{Store: db, MasterKey: secret.RandomBytes(32), Now: c.Now,
		SigningKeyRotation: 2 * time.Hour, CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e := &env{svc: svc, store: db, clock: c, ctx: context.Background()}
	if _, err := svc.Bootstrap(e.ctx, adminPassword); err != nil {
		t.Fatal(err)
	}
	e.admin = e.login(t, "", "admin", adminPassword)
	k := e.key(t, e.admin, keyward.APIKeyInput{TokenLifespanSeconds: ptr(86400)})
	issue := func() (string, string) {
		t.Helper()
		res, err := svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret, "")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseSigned(res.AccessToken, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		return res.AccessToken, tok.Headers[0].KeyID
	}
	kids := func() []string {
		t.Helper()
		doc, err := svc.JWKS(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(doc, &set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	old, oldKid := issue()
	c.Add(2 * time.Hour) // the next period
	_, newKid := issue()
	if newKid == oldKid {
		t.Fatal("a new rotation period signs with the old key")
	}
	if got := kids(); len(got) != 2 || got[0] != newKid || got[1] != oldKid {
		t.Errorf("JWKS kids %v, want [%s %s]: the old key stays while its tokens live", got, newKid, oldKid)
	}
	c.Add(20 * time.Hour) // the old token (24 h) is still valid
	if _, err := svc.Authenticate(e.ctx, keyward.Credentials{Bearer: old}); err != nil {
		t.Errorf("a token of the previous signing key, before its exp: %v", err)
	}
	// The old key could have signed a 24 h token until it retired (02:00):
	// it is published until then + 24 h (+ a minute of skew).
	c.Add(4*time.Hour + 2*time.Minute)
	if _, err := svc.Authenticate(e.ctx, keyward.Credentials{Bearer: old}); err == nil {
		t.Error("a token past its exp is accepted")
	}
	for _, kid := range kids() {
		if kid == oldKid {
			t.Errorf("the old key is still published after every token it signed expired")
		}
	}
}

// TestRealmTokenCountsOnce: the Keycloak-style token path checks the
// client's secret and counts the request once, like /oauth2/token.
func TestRealmTokenCountsOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		k := e.key(t, e.admin, keyward.APIKeyInput{RateLimit: keyward.Some(keyward.RateLimit{Limit: 2, WindowSeconds: 3600})})
		for i := range 2 {
			if _, err := e.svc.IssueTokenInTenant(e.ctx, keyward.RootTenantName, k.ClientID, k.ClientSecret, ""); err != nil {
				t.Fatalf("token %d of a key allowed 2 an hour: %v", i+1, err)
			}
		}
		_, err := e.svc.IssueTokenInTenant(e.ctx, keyward.RootTenantName, k.ClientID, k.ClientSecret, "")
		wantCode(t, err, keyward.ERATELIMITED)
	})
}
