package keyward_test

import (
	"context"
	"errors"
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
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
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

// gatedReads is a store whose KeyForVerification counts its calls and, while
// a gate is set, waits for it to open.
type gatedReads struct {
	keyward.Store
	reads atomic.Int64
	gate  atomic.Pointer[chan struct{}]
}

func (g *gatedReads) KeyForVerification(ctx context.Context, hash []byte) (*keyward.VerificationRecord, error) {
	g.reads.Add(1)
	if c := g.gate.Load(); c != nil {
		<-*c
	}
	return g.Store.KeyForVerification(ctx, hash)
}

// concurrentMisses authenticates bearer n times at once, the first call's
// store read held at a gate until the n-1 others wait for it (or read for
// themselves), and checks the store reads (reads) and each answer: the key
// keyID when one read served all, unauthorized when each read.
func concurrentMisses(t *testing.T, e *env, reads *atomic.Int64, gate *atomic.Pointer[chan struct{}], bearer string, n int, wantReads int64, keyID string) {
	t.Helper()
	e.clock.Add(time.Millisecond)
	open := make(chan struct{})
	gate.Store(&open)
	reads.Store(0)
	type result struct {
		p   *keyward.Principal
		err error
	}
	results := make(chan result, n)
	check := func() {
		p, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: bearer})
		results <- result{p, err}
	}
	go check() // the leader: its read waits at the gate
	waitFor(t, "the leader's read", func() bool { return reads.Load() == 1 })
	for range n - 1 {
		go check()
	}
	waitFor(t, "the other misses to wait", func() bool { return keyward.MissWaiters(e.svc) == n-1 })
	gate.Store(nil)
	close(open)
	for range n {
		r := <-results
		if wantReads == 1 && (r.err != nil || r.p.ID != keyID) {
			t.Errorf("got %v, %v; want key %s", r.p, r.err, keyID)
		}
		if wantReads == int64(n) && keyward.ErrorCode(r.err) != keyward.EUNAUTHORIZED {
			t.Errorf("got %v, %v; want %s", r.p, r.err, keyward.EUNAUTHORIZED)
		}
	}
	if got := reads.Load(); got != wantReads {
		t.Errorf("got %d store reads for %d concurrent misses; want %d", got, n, wantReads)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gatedClientReads is a store whose GetAPIKeyByClientID counts its calls
// and, while a gate is set, waits for it to open.
type gatedClientReads struct {
	keyward.Store
	reads atomic.Int64
	gate  atomic.Pointer[chan struct{}]
}

func (g *gatedClientReads) GetAPIKeyByClientID(ctx context.Context, clientID string) (*keyward.APIKey, error) {
	g.reads.Add(1)
	if c := g.gate.Load(); c != nil {
		<-*c
	}
	return g.Store.GetAPIKeyByClientID(ctx, clientID)
}

// TestConcurrentClientIDMissesReadOnce: misses of one client id (an access
// token's key, checked on every use of the token) share one read as those
// of a secret do, when it finds the key; a key not found, each reads for
// itself.
func TestConcurrentClientIDMissesReadOnce(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		store := &gatedClientReads{}
		e := newEnv(t, db, func(c *keyward.Config) {
			store.Store = c.Store
			c.Store = store
			c.CacheTTL = time.Nanosecond // every check a miss
		})
		token := func(k *keyward.IssuedKey) string {
			t.Helper()
			res, err := e.svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret, "")
			if err != nil {
				t.Fatal(err)
			}
			return res.AccessToken
		}
		k := e.key(t, e.admin, keyward.APIKeyInput{})
		found := token(k)
		if _, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: found}); err != nil {
			t.Fatal(err) // reads the catalog too, once
		}
		gone := e.key(t, e.admin, keyward.APIKeyInput{})
		goneToken := token(gone)
		if _, err := e.svc.DeleteAPIKey(e.ctx, e.admin, gone.ID, nil); err != nil {
			t.Fatal(err)
		}
		const n = 16
		for _, tc := range []struct {
			name      string
			token     string
			wantReads int64
		}{
			{"found: one read for all", found, 1},
			{"not found: each reads", goneToken, n},
		} {
			t.Run(tc.name, func(t *testing.T) {
				concurrentMisses(t, e, &store.reads, &store.gate, tc.token, n, tc.wantReads, k.ID)
			})
		}
	})
}

// TestConcurrentMissesReadOnce: misses of one secret that arrive while
// another's read of it is in flight wait for that read instead of reading
// too, when it finds the key; a secret it does not find, each reads for
// itself (a key created meanwhile on another replica is never refused
// because of another request's read); a waiter whose request ends stops
// waiting.
func TestConcurrentMissesReadOnce(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		store := &gatedReads{}
		e := newEnv(t, db, func(c *keyward.Config) {
			store.Store = c.Store
			c.Store = store
			c.CacheTTL = time.Nanosecond // every check a miss
		})
		k := e.key(t, e.admin, keyward.APIKeyInput{})
		if _, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: k.ClientSecret}); err != nil {
			t.Fatal(err) // reads the catalog too, once
		}
		const n = 16
		for _, tc := range []struct {
			name      string
			sec       string
			wantReads int64
		}{
			{"found: one read for all", k.ClientSecret, 1},
			{"not found: each reads", secret.NewSecret("kw"), n},
		} {
			t.Run(tc.name, func(t *testing.T) {
				concurrentMisses(t, e, &store.reads, &store.gate, tc.sec, n, tc.wantReads, k.ID)
			})
		}
		t.Run("a waiter whose request ends", func(t *testing.T) {
			e.clock.Add(time.Millisecond)
			gate := make(chan struct{})
			store.gate.Store(&gate)
			store.reads.Store(0)
			done := make(chan error, 1)
			go func() {
				_, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: k.ClientSecret})
				done <- err
			}()
			waitFor(t, "the leader's read", func() bool { return store.reads.Load() == 1 })
			ctx, cancel := context.WithCancel(e.ctx)
			waiter := make(chan error, 1)
			go func() {
				_, err := e.svc.Authenticate(ctx, keyward.Credentials{Bearer: k.ClientSecret})
				waiter <- err
			}()
			waitFor(t, "the waiter", func() bool { return keyward.MissWaiters(e.svc) == 1 })
			cancel()
			if err := <-waiter; !errors.Is(err, context.Canceled) {
				t.Errorf("got %v from a waiter whose request ended; want context.Canceled", err)
			}
			store.gate.Store(nil)
			close(gate)
			if err := <-done; err != nil {
				t.Errorf("the leader: got %v", err)
			}
		})
	})
}
