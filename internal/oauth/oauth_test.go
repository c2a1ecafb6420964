package oauth_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/secret"
)

// memStore keeps signing keys and revocations like the databases do.
type memStore struct {
	mu      sync.Mutex
	keys    []*keyward.SigningKey
	revoked map[string]time.Time
}

func (m *memStore) CreateSigningKey(_ context.Context, k *keyward.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys {
		if o.Slot == k.Slot || o.ID == k.ID {
			return keyward.Errorf(keyward.ECONFLICT, "signing key exists")
		}
	}
	m.keys = append([]*keyward.SigningKey{k}, m.keys...) // slots only grow here
	return nil
}

func (m *memStore) ListSigningKeys(_ context.Context, now time.Time) ([]*keyward.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*keyward.SigningKey
	for _, k := range m.keys {
		if k.ExpiresAt.After(now) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (m *memStore) DeleteExpiredSigningKeys(context.Context, time.Time) (int, error) { return 0, nil }

func (m *memStore) ListRevokedTokens(_ context.Context, now time.Time) (map[string]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]time.Time{}
	for jti, exp := range m.revoked {
		if exp.After(now) {
			out[jti] = exp
		}
	}
	return out, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTokens(t testing.TB, store oauth.Store, c *clock, master []byte, alg string) *oauth.Tokens {
	t.Helper()
	tokens, err := oauth.New(oauth.Config{Store: store, MasterKey: master, Now: c.now,
		Issuer: "https://keys.test", LoginIssuer: "keyward", Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func accessToken(now time.Time) *keyward.AccessTokenClaims {
	return &keyward.AccessTokenClaims{ID: secret.NewID(), Subject: "kw_client", Audience: keyward.Audience{"orders", "billing"},
		IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Hour), ClientID: "kw_client", Scope: "a b",
		Tenant: "t1", Level: 3, Generation: 2, KeyID: "k1"}
}

// TestAccessTokens: a token signed with each algorithm verifies with the
// claims it was given and the issuer stamped, its key is in the JWKS, and
// it stops verifying at its expiry.
func TestAccessTokens(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []string{keyward.AlgEdDSA, keyward.AlgES256, keyward.AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			c := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			tokens := newTokens(t, &memStore{}, c, secret.RandomBytes(32), alg)
			want := accessToken(c.t)
			raw, err := tokens.SignAccessToken(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tokens.VerifyAccessToken(ctx, raw)
			if !ok {
				t.Fatal("a token just signed does not verify")
			}
			want.Issuer = "https://keys.test"
			if !got.Expiry.Equal(want.Expiry) || !got.IssuedAt.Equal(want.IssuedAt) || !got.NotBefore.Equal(want.NotBefore) {
				t.Errorf("times: got %v %v %v, want %v %v %v", got.IssuedAt, got.NotBefore, got.Expiry, want.IssuedAt, want.NotBefore, want.Expiry)
			}
			got.IssuedAt, got.NotBefore, got.Expiry = want.IssuedAt, want.NotBefore, want.Expiry
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got claims %+v, want %+v", got, want)
			}
			doc, err := tokens.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(doc, &set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 1 || set.Keys[0].Algorithm != alg || !set.Keys[0].IsPublic() {
				t.Errorf("JWKS %s: want one public %s key", doc, alg)
			}
			c.t = c.t.Add(time.Hour + time.Second)
			if _, ok := tokens.VerifyAccessToken(ctx, raw); ok {
				t.Error("a token verifies past its expiry (from the cache)")
			}
		})
	}
}

// TestAccessTokenRefusals: tokens of another issuer or another keyward,
// login tokens and altered tokens do not verify as access tokens.
func TestAccessTokenRefusals(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	store, master := &memStore{}, secret.RandomBytes(32)
	tokens := newTokens(t, store, c, master, "")
	otherIssuer, err := oauth.New(oauth.Config{Store: store, MasterKey: master, Now: c.now, Issuer: "https://other.test"})
	if err != nil {
		t.Fatal(err)
	}
	fromOther, err := otherIssuer.SignAccessToken(ctx, accessToken(c.t))
	if err != nil {
		t.Fatal(err)
	}
	fromElsewhere, err := newTokens(t, &memStore{}, c, secret.RandomBytes(32), "").SignAccessToken(ctx, accessToken(c.t))
	if err != nil {
		t.Fatal(err)
	}
	login, err := tokens.SignLoginToken(&keyward.LoginTokenClaims{ID: "j", Subject: "u", Kind: keyward.KindUser, IssuedAt: c.t, NotBefore: c.t, Expiry: c.t.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	good, err := tokens.SignAccessToken(ctx, accessToken(c.t))
	if err != nil {
		t.Fatal(err)
	}
	noAudience := accessToken(c.t)
	noAudience.Audience = nil
	withoutAud, err := tokens.SignAccessToken(ctx, noAudience)
	if err != nil {
		t.Fatal(err)
	}
	head, payload, _ := strings.Cut(good, ".")
	// One character in the middle of the signature, always another one
	// (the last characters may only carry padding bits).
	mid := len(good) - (len(good)-strings.LastIndex(good, "."))/2
	flipped := byte('A')
	if good[mid] == 'A' {
		flipped = 'B'
	}
	for name, raw := range map[string]string{
		"another issuer":      fromOther,
		"another keyward":     fromElsewhere,
		"a login token":       login,
		"no audience":         withoutAud,
		"a changed signature": good[:mid] + string(flipped) + good[mid+1:],
		"no signature":        head + "." + strings.Split(payload, ".")[0] + ".",
		"not a JWT":           "kw_notatoken",
	} {
		if _, ok := tokens.VerifyAccessToken(ctx, raw); ok {
			t.Errorf("%s verifies", name)
		}
	}
}

// TestLoginTokens: a login token verifies while valid and parses after;
// another keyward's does neither.
func TestLoginTokens(t *testing.T) {
	c := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tokens := newTokens(t, &memStore{}, c, secret.RandomBytes(32), "")
	want := &keyward.LoginTokenClaims{ID: secret.NewID(), Subject: "u1", Tenant: "t1", Kind: keyward.KindUser, Generation: 4,
		IssuedAt: c.t, NotBefore: c.t, Expiry: c.t.Add(time.Hour)}
	raw, err := tokens.SignLoginToken(want)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := tokens.VerifyLoginToken(raw)
	if !ok {
		t.Fatal("a login token just signed does not verify")
	}
	if got.ID != want.ID || got.Subject != want.Subject || got.Tenant != want.Tenant || got.Kind != want.Kind ||
		got.Generation != want.Generation || !got.Expiry.Equal(want.Expiry) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	c.t = c.t.Add(time.Hour + time.Second)
	if _, ok := tokens.VerifyLoginToken(raw); ok {
		t.Error("an expired login token verifies")
	}
	if _, ok := tokens.ParseLoginToken(raw); !ok {
		t.Error("an expired login token does not parse")
	}
	other := newTokens(t, &memStore{}, c, secret.RandomBytes(32), "")
	if _, ok := other.ParseLoginToken(raw); ok {
		t.Error("another keyward's login token parses")
	}
}

// TestRevoked: revocations added here are remembered; loading replaces
// them with the store's.
func TestRevoked(t *testing.T) {
	c := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	store := &memStore{revoked: map[string]time.Time{"stored": c.t.Add(time.Hour), "expired": c.t}}
	tokens := newTokens(t, store, c, secret.RandomBytes(32), "")
	tokens.AddRevoked("here", c.t.Add(time.Hour))
	if !tokens.Revoked("here") || tokens.Revoked("stored") {
		t.Fatal("want only the token revoked here before loading")
	}
	if err := tokens.LoadRevoked(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !tokens.Revoked("stored") || tokens.Revoked("expired") || tokens.Revoked("here") {
		t.Error("want the store's unexpired revocations after loading")
	}
}

// TestNewRefuses: an unknown algorithm or a rotation under an hour.
func TestNewRefuses(t *testing.T) {
	c := &clock{time.Now()}
	for _, cfg := range []oauth.Config{
		{Algorithm: "HS256"},
		{Rotation: 59 * time.Minute},
		{MasterKey: []byte("short")},
	} {
		if cfg.MasterKey == nil {
			cfg.MasterKey = secret.RandomBytes(32)
		}
		cfg.Store, cfg.Now = &memStore{}, c.now
		if _, err := oauth.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
