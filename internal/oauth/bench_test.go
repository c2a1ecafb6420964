package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// BenchmarkSignAccessToken: an EdDSA access token as the token endpoint
// signs it, the signature included:
//
//	go test -run '^$' -bench SignAccessToken -benchmem ./internal/oauth
func BenchmarkSignAccessToken(b *testing.B) {
	ctx := context.Background()
	c := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tokens := newTokens(b, &memStore{}, c, secret.RandomBytes(32), keyward.AlgEdDSA)
	claims := accessToken(c.t)
	claims.Audience = keyward.Audience{"keyward"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.SignAccessToken(ctx, claims); err != nil {
			b.Fatal(err)
		}
	}
}
