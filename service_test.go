package keyward_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

const adminPassword = "admin-password-1"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a Service on a real database with a bootstrapped admin.
type env struct {
	svc   *keyward.Service
	store keyward.Store
	clock *clock
	admin *keyward.Principal
	ctx   context.Context
}

// eachBackend runs fn against SQLite, and against PostgreSQL when
// KEYWARD_TEST_POSTGRES_URL is set.
func eachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		fn(t, newEnv(t, db))
	})
}

func newEnv(t testing.TB, db *sqlstore.DB, opts ...func(*keyward.Config)) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := keyward.Config{Store: db, MasterKey: secret.RandomBytes(32), Now: c.Now, CacheTTL: time.Hour}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := wire.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	ctx := context.Background()
	if gen, err := svc.Bootstrap(ctx, adminPassword); err != nil || gen != "" {
		t.Fatalf("Bootstrap = %q, %v; want no generated password", gen, err)
	}
	e := &env{svc: svc, store: db, clock: c, ctx: ctx}
	e.admin = e.login(t, "", "admin", adminPassword)
	return e
}

func (e *env) login(t testing.TB, tenant, user, password string) *keyward.Principal {
	t.Helper()
	res, err := e.svc.Login(e.ctx, tenant, user, password)
	if err != nil {
		t.Fatalf("Login(%s): %v", user, err)
	}
	p, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: res.AccessToken})
	if err != nil {
		t.Fatalf("Authenticate(login token of %s): %v", user, err)
	}
	return p
}

// user creates a user with level and permission names and returns its principal.
func (e *env) user(t *testing.T, as *keyward.Principal, name string, level int, perms ...string) *keyward.Principal {
	t.Helper()
	pw := "password-" + name
	refs := []keyward.PermissionRef{}
	for _, n := range perms {
		refs = append(refs, keyward.PermissionRef{Name: n})
	}
	if _, err := e.svc.CreateUser(e.ctx, as, keyward.UserInput{UserName: &name, Password: &pw, Level: &level, Permissions: &refs}); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	tenant := ""
	if as.TenantID != e.admin.TenantID {
		tenant = as.TenantID
	}
	return e.login(t, tenant, name, pw)
}

// key creates a key as p and returns it with its secret.
func (e *env) key(t *testing.T, p *keyward.Principal, in keyward.APIKeyInput) *keyward.IssuedKey {
	t.Helper()
	if in.Name == nil {
		in.Name = ptr("test key")
	}
	k, err := e.svc.CreateAPIKey(e.ctx, p, in)
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	return k
}

// keyPrincipal authenticates as a key secret.
func (e *env) keyPrincipal(t *testing.T, sec string) *keyward.Principal {
	t.Helper()
	p, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: sec})
	if err != nil {
		t.Fatalf("Authenticate(key): %v", err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func perms(names ...string) *[]keyward.PermissionRef {
	refs := []keyward.PermissionRef{}
	for _, n := range names {
		refs = append(refs, keyward.PermissionRef{Name: n})
	}
	return &refs
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := keyward.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}
