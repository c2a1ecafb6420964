package keyward_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// BenchmarkVerifyKeyCold measures POST /v1/keys/verify's Service call with
// the verified key a cache miss every time (the key cache's TTL is 1 ns; the
// verifier's own principal is already authenticated): one store read per
// verification. On PostgreSQL with KEYWARD_TEST_POSTGRES_URL set. Compare
// with BenchmarkVerifyKeyCached in the same run:
//
//	go test -run '^$' -bench 'VerifyKey(Cached|Cold)' .
func BenchmarkVerifyKeyCold(b *testing.B) {
	coldBackends(b, func(b *testing.B, e *env, verifier *keyward.Principal, sec string) {
		req := keyward.VerifyRequest{Key: sec}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := e.svc.VerifyKey(e.ctx, verifier, req)
				if err != nil || !res.Valid {
					b.Errorf("verify: %v %+v", err, res)
					return
				}
			}
		})
	})
}

// BenchmarkAuthenticateColdKey is a plain-key authentication (whoami's)
// with the key a cache miss every time.
func BenchmarkAuthenticateColdKey(b *testing.B) {
	coldBackends(b, func(b *testing.B, e *env, _ *keyward.Principal, sec string) {
		cred := keyward.Credentials{Bearer: sec}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.svc.Authenticate(e.ctx, cred); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func coldBackends(b *testing.B, fn func(b *testing.B, e *env, verifier *keyward.Principal, sec string)) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) *sqlstore.DB
	}{{"sqlite", sqltest.SQLite}, {"postgres", sqltest.Postgres}} {
		b.Run(backend.name, func(b *testing.B) {
			db := backend.open(b)
			e := newEnv(b, db, func(c *keyward.Config) {
				c.CacheTTL, c.Now = time.Nanosecond, nil        // a real clock: every entry has expired
				c.Store = sqlstore.Guard(db, sqlstore.Limits{}) // as keyward serve runs it
			})
			v, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
			if err != nil {
				b.Fatal(err)
			}
			verifier, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: v.ClientSecret})
			if err != nil {
				b.Fatal(err)
			}
			k, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("bench")})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			fn(b, e, verifier, k.ClientSecret)
		})
	}
}
