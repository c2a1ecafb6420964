package keyward_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

// readCounter counts the store reads the verify path may make.
type readCounter struct {
	keyward.Store
	reads atomic.Int64
}

func (c *readCounter) GetAPIKeyBySecretHash(ctx context.Context, hash []byte) (*keyward.APIKey, error) {
	c.reads.Add(1)
	return c.Store.GetAPIKeyBySecretHash(ctx, hash)
}

func (c *readCounter) KeyForVerification(ctx context.Context, hash []byte) (*keyward.VerificationRecord, error) {
	c.reads.Add(1)
	return c.Store.KeyForVerification(ctx, hash)
}

func (c *readCounter) GetTenant(ctx context.Context, id string) (*keyward.Tenant, error) {
	c.reads.Add(1)
	return c.Store.GetTenant(ctx, id)
}

func (c *readCounter) GetUser(ctx context.Context, tenantID, id string) (*keyward.User, error) {
	c.reads.Add(1)
	return c.Store.GetUser(ctx, tenantID, id)
}

func (c *readCounter) ListPermissions(ctx context.Context, tenantID string) ([]*keyward.Permission, error) {
	c.reads.Add(1)
	return c.Store.ListPermissions(ctx, tenantID)
}

func (c *readCounter) GetAPIKey(ctx context.Context, tenantID, id string) (*keyward.APIKey, error) {
	c.reads.Add(1)
	return c.Store.GetAPIKey(ctx, tenantID, id)
}

func (c *readCounter) PrincipalActive(ctx context.Context, kind, tenantID, id string) (bool, error) {
	c.reads.Add(1)
	return c.Store.PrincipalActive(ctx, kind, tenantID, id)
}

// TestColdVerifyReadsOnce: with every verified key a cache miss, a
// verification (and a plain-key whoami) reads the store once —
// the key with its tenant, its owner and the catalog's version — once the
// tenant's catalog is known at that version.
func TestColdVerifyReadsOnce(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		counter := &readCounter{}
		e := newEnv(t, db, func(c *keyward.Config) {
			counter.Store = c.Store
			c.Store = counter
			c.CacheTTL = time.Nanosecond // every key a miss
		})
		if _, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders_read")}); err != nil {
			t.Fatal(err)
		}
		owner := e.user(t, e.admin, "alice", 5, "orders_read")
		mine := e.key(t, owner, keyward.APIKeyInput{Permissions: perms("orders_read"),
			RateLimits: &[]keyward.NamedRateLimit{{Name: "burst", Limit: 1000, WindowSeconds: 1}}})
		plain := e.key(t, e.admin, keyward.APIKeyInput{})
		verifier := e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")})
		vp, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: verifier.ClientSecret})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			sec  string
			want string
		}{{"owned", mine.ClientSecret, keyward.CodeValid}, {"ownerless", plain.ClientSecret, keyward.CodeValid}} {
			// The first read may load the catalog; every later miss reads once.
			if _, err := e.svc.VerifyKey(e.ctx, vp, keyward.VerifyRequest{Key: tc.sec}); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				e.clock.Add(time.Millisecond)
				counter.reads.Store(0)
				res, err := e.svc.VerifyKey(e.ctx, vp, keyward.VerifyRequest{Key: tc.sec, Permissions: []string{}})
				if err != nil || res.Code != tc.want {
					t.Fatalf("%s: verify = %+v, %v", tc.name, res, err)
				}
				if n := counter.reads.Load(); n != 1 {
					t.Errorf("%s: a cold verification read the store %d times; want 1", tc.name, n)
				}
				e.clock.Add(time.Millisecond)
				counter.reads.Store(0)
				p, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: tc.sec})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.svc.WhoAmI(e.ctx, p); err != nil {
					t.Fatal(err)
				}
				if n := counter.reads.Load(); n != 1 {
					t.Errorf("%s: a cold whoami read the store %d times; want 1", tc.name, n)
				}
			}
		}
	})
}

// TestColdReplicasNeverServeStale: replica B, with no change feed and every
// key a cache miss, sees at once what replica A did to a key, to its owner
// and to its tenant's catalog: nothing cached (keys, catalogs, unknown
// secrets) makes it accept or refuse wrongly.
func TestColdReplicasNeverServeStale(t *testing.T) {
	for _, backend := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", sqltest.SQLiteDSN}, {"postgres", sqltest.PostgresDSN}} {
		t.Run(backend.name, func(t *testing.T) {
			dsn := backend.dsn(t)
			master := secret.RandomBytes(32)
			var svcs []*keyward.Service
			for i := range 2 {
				svc, err := wire.NewService(keyward.Config{Store: sqltest.Open(t, dsn, i == 0), MasterKey: master,
					CacheTTL: time.Nanosecond})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { svc.Close() })
				svcs = append(svcs, svc)
			}
			a, b := svcs[0], svcs[1]
			ctx := context.Background()
			admin := bootstrapAdmin(t, a)
			for _, name := range []string{"orders_read", "orders_write"} {
				if _, err := a.CreatePermission(ctx, admin, keyward.PermissionInput{Name: ptr(name)}); err != nil {
					t.Fatal(err)
				}
			}
			bundle, err := a.CreatePermission(ctx, admin, keyward.PermissionInput{Name: ptr("bundle"),
				Children: &[]keyward.PermissionRef{{Name: "orders_read"}}})
			if err != nil {
				t.Fatal(err)
			}
			v, err := a.CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
			if err != nil {
				t.Fatal(err)
			}
			verifier, err := b.Authenticate(ctx, keyward.Credentials{Bearer: v.ClientSecret})
			if err != nil {
				t.Fatal(err)
			}
			verify := func(what, sec, want string, need ...string) {
				t.Helper()
				res, err := b.VerifyKey(ctx, verifier, keyward.VerifyRequest{Key: sec, Permissions: need})
				if err != nil {
					t.Fatal(err)
				}
				if res.Code != want {
					t.Errorf("%s: replica B answers %s, want %s", what, res.Code, want)
				}
			}
			// An unknown well-formed secret, then a key made on A: B knows it at once.
			verify("an unknown secret", secret.NewSecret("kw"), keyward.CodeNotFound)
			k, err := a.CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("k"), Permissions: perms("bundle")})
			if err != nil {
				t.Fatal(err)
			}
			verify("a key just made on A", k.ClientSecret, keyward.CodeValid, "orders_read")
			verify("a key just made on A", k.ClientSecret, keyward.CodeInsufficientPermissions, "orders_write")
			// The catalog changes on A: B's cached catalog is of another version.
			if _, err := a.UpdatePermission(ctx, admin, bundle.ID, keyward.PermissionInput{
				Children: &[]keyward.PermissionRef{{Name: "orders_write"}}}); err != nil {
				t.Fatal(err)
			}
			verify("after the composite changed on A", k.ClientSecret, keyward.CodeInsufficientPermissions, "orders_read")
			verify("after the composite changed on A", k.ClientSecret, keyward.CodeValid, "orders_write")
			// The key changes, then goes.
			if _, err := a.UpdateAPIKey(ctx, admin, k.ID, keyward.APIKeyInput{IsActive: ptr(false)}, nil); err != nil {
				t.Fatal(err)
			}
			verify("after deactivation on A", k.ClientSecret, keyward.CodeDisabled)
			if _, err := a.UpdateAPIKey(ctx, admin, k.ID, keyward.APIKeyInput{IsActive: ptr(true)}, nil); err != nil {
				t.Fatal(err)
			}
			verify("after reactivation on A", k.ClientSecret, keyward.CodeValid)
			if _, err := a.DeleteAPIKey(ctx, admin, k.ID, nil); err != nil {
				t.Fatal(err)
			}
			verify("after deletion on A", k.ClientSecret, keyward.CodeNotFound)
		})
	}
}
