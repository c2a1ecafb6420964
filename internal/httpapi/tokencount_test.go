package httpapi_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
)

// TestTokenRequestCountsOnce: one token request checks the client's
// secret once and counts one use, on /oauth2/token and on the
// Keycloak-style realm path alike, read back through the API (a regression
// test: the realm path once counted every request twice).
func TestTokenRequestCountsOnce(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		form := url.Values{"grant_type": {"client_credentials"}}
		for _, path := range []string{"/oauth2/token", "/auth/realms/" + keyward.RootTenantName + "/protocol/openid-connect/token"} {
			t.Run(path, func(t *testing.T) {
				k := s.newKey(map[string]any{"name": "one use", "credits": map[string]any{"remaining": 10}})
				if res := s.form(path, basic(url.QueryEscape(k.ClientID), url.QueryEscape(k.ClientSecret)), form); res.Status != 200 {
					t.Fatalf("token: got %d %s", res.Status, res.Body)
				}
				if err := s.svc.FlushLastUsed(context.Background()); err != nil {
					t.Fatal(err)
				}
				c := client.New(s.URL, client.WithToken(s.admin))
				u, err := c.APIKeyUsage(context.Background(), k.ID, 1, false)
				if err != nil {
					t.Fatal(err)
				}
				if got := u.Outcomes[keyward.CodeValid]; got != 1 {
					t.Errorf("one token request counted %d valid uses (%v), want 1", got, u.Outcomes)
				}
				var got keyward.APIKey
				s.do("GET", "/v1/apikeys/"+k.ID, s.admin, nil, 200, &got)
				if got.Credits == nil || got.Credits.Remaining != 9 {
					t.Errorf("one token request left credits %+v, want 9 of 10", got.Credits)
				}
			})
		}
	})
}
