package keyward_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/signature"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// BenchmarkAuthenticateCachedKey measures the hot path of every request
// made with a key: SHA-256 of the secret and a cache lookup.
//
//	go test -run '^$' -bench AuthenticateCachedKey -cpu 1,2 .
func BenchmarkAuthenticateCachedKey(b *testing.B) {
	benchAuthenticate(b, keyward.APIKeyInput{Name: ptr("bench")})
}

// BenchmarkAuthenticateLimitedKey is the same with a key that has a rate
// limit it never reaches: the in-memory limiter's cost.
func BenchmarkAuthenticateLimitedKey(b *testing.B) {
	benchAuthenticate(b, keyward.APIKeyInput{Name: ptr("bench"), RateLimit: keyward.Some(keyward.RateLimit{Limit: 1_000_000_000, WindowSeconds: 86400})})
}

func benchAuthenticate(b *testing.B, in keyward.APIKeyInput) {
	e := benchEnv(b)
	k, err := e.svc.CreateAPIKey(e.ctx, e.admin, in)
	if err != nil {
		b.Fatal(err)
	}
	cred := keyward.Credentials{Bearer: k.ClientSecret}
	if _, err := e.svc.Authenticate(e.ctx, cred); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.Authenticate(e.ctx, cred); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyKeyCached measures POST /v1/keys/verify's Service call.
func BenchmarkVerifyKeyCached(b *testing.B) {
	benchVerify(b, keyward.APIKeyInput{Name: ptr("bench")})
}

// BenchmarkVerifyKeyCredits is the same with a key that has credits (more
// than it spends), spent from this replica's lease: an atomic decrement,
// and a conditional UPDATE per lease on SQLite (waits/op counts the
// leases a verification waited for). Compare with BenchmarkVerifyKeyCached
// in the same run:
//
//	go test -run '^$' -bench 'VerifyKey(Cached|Credits|CreditsExact)$' .
func BenchmarkVerifyKeyCredits(b *testing.B) {
	benchVerify(b, keyward.APIKeyInput{Name: ptr("bench"), Credits: keyward.Some(keyward.Credits{Remaining: keyward.MaxCredits})})
}

// BenchmarkVerifyKeyCreditsExact is the same with leases off
// (Config.NoCreditLeases): one conditional UPDATE per verification.
func BenchmarkVerifyKeyCreditsExact(b *testing.B) {
	benchVerify(b, keyward.APIKeyInput{Name: ptr("bench"), Credits: keyward.Some(keyward.Credits{Remaining: keyward.MaxCredits})},
		func(c *keyward.Config) { c.NoCreditLeases = true })
}

// BenchmarkVerifyKeyNamedLimits is the same with a key that has a burst
// and a daily quota it never reaches: two in-memory counters.
func BenchmarkVerifyKeyNamedLimits(b *testing.B) {
	benchVerify(b, keyward.APIKeyInput{Name: ptr("bench"), RateLimits: &[]keyward.NamedRateLimit{
		{Name: "burst", Limit: 1_000_000_000, WindowSeconds: 1}, {Name: "daily", Limit: 1_000_000_000, WindowSeconds: 86400}}})
}

func benchVerify(b *testing.B, in keyward.APIKeyInput, opts ...func(*keyward.Config)) {
	e := benchEnv(b, opts...)
	v, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: v.ClientSecret})
	if err != nil {
		b.Fatal(err)
	}
	k, err := e.svc.CreateAPIKey(e.ctx, e.admin, in)
	if err != nil {
		b.Fatal(err)
	}
	req := keyward.VerifyRequest{Key: k.ClientSecret}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := e.svc.VerifyKey(e.ctx, verifier, req)
			if err != nil || !res.Valid {
				b.Errorf("verify: %v %+v", err, res)
				return
			}
		}
	})
	if _, ok := in.Credits.Get(); ok {
		waits, _ := keyward.LeaseStats(e.svc)
		b.ReportMetric(float64(waits)/float64(b.N), "waits/op")
	}
}

// BenchmarkCreateAPIKeyService measures creating a key through the Service
// on SQLite: validation, one transaction with the key and its audit entry.
func BenchmarkCreateAPIKeyService(b *testing.B) {
	e := benchEnv(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr(fmt.Sprint("key ", i))}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListAPIKeysFiltered lists a filtered page of a tenant holding
// 10,000 keys (2,000 with -short) through the Service on SQLite.
func BenchmarkListAPIKeysFiltered(b *testing.B) {
	e := benchEnv(b)
	n := 10000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		in := keyward.APIKeyInput{Name: ptr(fmt.Sprintf("service %d %s", i, []string{"orders", "billing", "search"}[i%3]))}
		if i%10 == 0 {
			in.IsActive = ptr(false)
		}
		if _, err := e.svc.CreateAPIKey(e.ctx, e.admin, in); err != nil {
			b.Fatal(err)
		}
	}
	f := keyward.APIKeyFilter{Page: keyward.Page{Number: 3, Size: 20}, Query: "BILLING", Status: keyward.StatusActive, Sort: "-createdAt"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l, err := e.svc.ListAPIKeys(e.ctx, e.admin, f)
		if err != nil || len(l.Items) != 20 {
			b.Fatalf("list: %d items, %v", len(l.Items), err)
		}
	}
}

func benchEnv(b *testing.B, opts ...func(*keyward.Config)) *env {
	b.Helper()
	return newEnv(b, sqltest.SQLite(b), opts...)
}

// BenchmarkIssueToken measures the client credentials grant in-process:
// a cached secret check and one Ed25519 signature.
func BenchmarkIssueToken(b *testing.B) {
	e := benchEnv(b)
	k, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("bench")})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret, ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifySignedRequest measures checking a keyward-v1 signed GET
// in-process: parsing, window checks, unsealing the secret, one HMAC and
// the nonce store.
func BenchmarkVerifySignedRequest(b *testing.B) {
	e := benchEnv(b)
	k, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("signer"), HMACEnabled: ptr(true)})
	if err != nil {
		b.Fatal(err)
	}
	now := e.clock.Now()
	// Sign b.N requests first: signing is the client's cost, and each needs
	// its own nonce.
	reqs := make([]*keyward.SignedRequest, b.N)
	for i := range reqs {
		req, _ := http.NewRequest("GET", "http://keyward.test/v1/whoami?x=1", nil)
		if err := signature.SignKeywardV1(req, k.ClientID, []byte(k.ClientSecret), now, time.Minute, fmt.Sprintf("nonce-%022d", i)); err != nil {
			b.Fatal(err)
		}
		reqs[i] = &keyward.SignedRequest{Method: "GET", Authority: "keyward.test", Path: "/v1/whoami", RawQuery: "x=1",
			Header: req.Header, BodySHA256: emptySHA[:]}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Signed: reqs[i]}); err != nil {
			b.Fatal(err)
		}
	}
}

var emptySHA = sha256.Sum256(nil)

// BenchmarkIssueTokenAlgorithms compares the grant under each --token-alg:
// RS256 (RSA 2048) signs far slower than EdDSA and ES256.
func BenchmarkIssueTokenAlgorithms(b *testing.B) {
	for _, alg := range []string{keyward.AlgEdDSA, keyward.AlgES256, keyward.AlgRS256} {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, sqltest.SQLite(b), func(c *keyward.Config) { c.TokenAlgorithm = alg })
			k, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("bench")})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := e.svc.IssueToken(e.ctx, k.ClientID, k.ClientSecret, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
