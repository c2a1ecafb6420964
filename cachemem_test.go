package keyward_test

import (
	"encoding/json"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestCachedKeyExtras: a cached plain key shares the part of its snapshot
// most keys have alike (what keeps a million cached keys under 1 KiB
// each), and a key with meta, an allowlist or a rate limit keeps its own
// and is answered by it from the cache as from the database.
func TestCachedKeyExtras(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db)
		v, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
		if err != nil {
			t.Fatal(err)
		}
		verifier, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: v.ClientSecret})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			in     keyward.APIKeyInput
			shared bool
			ip     string // verified from
			want   string // its code
			meta   string
		}{
			{"plain", keyward.APIKeyInput{}, true, "", keyward.CodeValid, "{}"},
			{"with meta", keyward.APIKeyInput{Meta: json.RawMessage(`{"team":"a"}`)}, false, "", keyward.CodeValid, `{"team":"a"}`},
			{"allowlist, inside", keyward.APIKeyInput{AllowedCIDRs: keyward.Some([]string{"203.0.113.0/24"})}, false, "203.0.113.9", keyward.CodeValid, "{}"},
			{"allowlist, outside", keyward.APIKeyInput{AllowedCIDRs: keyward.Some([]string{"203.0.113.0/24"})}, false, "198.51.100.9", keyward.CodeIPNotAllowed, "{}"},
			{"rate limit", keyward.APIKeyInput{RateLimit: keyward.Some(keyward.RateLimit{Limit: 100, WindowSeconds: 60})}, false, "", keyward.CodeValid, "{}"},
		} {
			tc.in.Name = ptr(tc.name)
			k, err := e.svc.CreateAPIKey(e.ctx, e.admin, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			for i, from := range []string{"database", "cache"} {
				res, err := e.svc.VerifyKey(e.ctx, verifier, keyward.VerifyRequest{Key: k.ClientSecret, IP: tc.ip})
				if err != nil {
					t.Fatal(err)
				}
				if res.Code != tc.want || string(res.Meta) != tc.meta {
					t.Errorf("%s, from the %s: got %s meta %s, want %s meta %s", tc.name, from, res.Code, res.Meta, tc.want, tc.meta)
				}
				shared, cached := keyward.CachedExtrasShared(e.svc, k.ClientSecret)
				if i == 0 && (!cached || shared != tc.shared) {
					t.Errorf("%s: cached %v, extras shared %v; want cached, shared %v", tc.name, cached, shared, tc.shared)
				}
			}
		}
	})
}
