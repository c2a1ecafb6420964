package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// TestSignAccessTokenAllocs: signing a usual EdDSA token allocates its
// string and nothing else (the claims' JSON and the signing input are
// assembled on the stack), for one audience as for two.
func TestSignAccessTokenAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates for itself")
	}
	ctx := context.Background()
	c := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tokens := newTokens(t, &memStore{}, c, secret.RandomBytes(32), keyward.AlgEdDSA)
	for _, aud := range []keyward.Audience{{"keyward"}, {"orders", "billing"}} {
		claims := accessToken(c.t)
		claims.Audience = aud
		if _, err := tokens.SignAccessToken(ctx, claims); err != nil { // the key ring's first key
			t.Fatal(err)
		}
		got := testing.AllocsPerRun(100, func() {
			if _, err := tokens.SignAccessToken(ctx, claims); err != nil {
				t.Fatal(err)
			}
		})
		if got != 1 {
			t.Errorf("audiences %q: got %v allocations a token, want 1 (its string)", aud, got)
		}
	}
}
