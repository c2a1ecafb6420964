// Package oauth signs and checks the JWTs keyward issues, as the
// keyward.Tokens port: access tokens signed by a key ring that rotates
// through the store and is published as a JWK Set, login tokens signed by a
// key derived from the master key, a cache of tokens whose signature
// verified, and the set of revoked token ids. Who gets a token, with which
// claims, and whether it still works are the Service's rules, not this
// package's.
package oauth

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// Store is what Tokens keeps in the database: the signing keys, and the
// revoked token ids (which the Service writes).
type Store interface {
	CreateSigningKey(ctx context.Context, k *keyward.SigningKey) error
	ListSigningKeys(ctx context.Context, now time.Time) ([]*keyward.SigningKey, error)
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error)
	ListRevokedTokens(ctx context.Context, now time.Time) (map[string]time.Time, error)
}

// Config configures Tokens.
type Config struct {
	Store Store
	// MasterKey seals the signing keys and derives the login token key.
	MasterKey []byte
	Logger    *slog.Logger
	// Now is the Service's clock.
	Now func() time.Time
	// Issuer is the "iss" of access tokens; LoginIssuer the "iss" and
	// "aud" of login tokens (keyward.Config.Issuers).
	Issuer, LoginIssuer string
	// Algorithm signs new access token keys: keyward.AlgEdDSA (default),
	// AlgES256 or AlgRS256.
	Algorithm string
	// Rotation is how long one signing key signs (default 30 days, at
	// least 1 hour).
	Rotation time.Duration
}

// Tokens implements keyward.Tokens.
type Tokens struct {
	store       Store
	logger      *slog.Logger
	now         func() time.Time
	issuer      string
	loginIssuer string
	alg         string
	rotation    time.Duration
	sealer      *secret.Sealer
	loginKey    ed25519.PrivateKey

	ring     keyring
	verified tokenCache
	revoked  revocations
}

var _ keyward.Tokens = (*Tokens)(nil)

// New returns Tokens for cfg.
func New(cfg Config) (*Tokens, error) {
	if cfg.Store == nil || cfg.Now == nil {
		return nil, errors.New("oauth: Config.Store and Config.Now are required")
	}
	// The signing keys are sealed like API key secrets, under the same
	// label: keys stored by earlier versions open unchanged.
	sealer, err := secret.NewSealer(cfg.MasterKey, "apikey secrets")
	if err != nil {
		return nil, err
	}
	seed, err := secret.DeriveKey(cfg.MasterKey, "user token signing", ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	t := &Tokens{store: cfg.Store, logger: cfg.Logger, now: cfg.Now, issuer: cfg.Issuer, loginIssuer: cfg.LoginIssuer,
		sealer: sealer, loginKey: ed25519.NewKeyFromSeed(seed)}
	if t.logger == nil {
		t.logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Algorithm {
	case "", keyward.AlgEdDSA:
		t.alg = keyward.AlgEdDSA
	case keyward.AlgES256, keyward.AlgRS256:
		t.alg = cfg.Algorithm
	default:
		return nil, fmt.Errorf("keyward: token algorithm %q: want EdDSA, ES256 or RS256", cfg.Algorithm)
	}
	t.rotation = cfg.Rotation
	if t.rotation == 0 {
		t.rotation = 30 * 24 * time.Hour
	}
	if t.rotation < time.Hour {
		return nil, fmt.Errorf("keyward: signing key rotation %v: want at least 1h", t.rotation)
	}
	t.rotation = t.rotation.Truncate(time.Second)
	return t, nil
}

// accessClaims are the claims of an access token as written in the JWT.
type accessClaims struct {
	jwt.Claims
	ClientID   string `json:"client_id"`
	Scope      string `json:"scope"`
	Tenant     string `json:"tenant"`
	Level      int    `json:"level"`
	Generation int    `json:"sgen"`
	KeyID      string `json:"key_id"`
}

func (c *accessClaims) token() *keyward.AccessTokenClaims {
	return &keyward.AccessTokenClaims{
		ID: c.ID, Issuer: c.Issuer, Subject: c.Subject, Audience: keyward.Audience(c.Audience),
		IssuedAt: c.IssuedAt.Time(), NotBefore: c.NotBefore.Time(), Expiry: c.Expiry.Time(),
		ClientID: c.ClientID, Scope: c.Scope, Tenant: c.Tenant, Level: c.Level, Generation: c.Generation, KeyID: c.KeyID,
	}
}

// SignAccessToken signs a with the key of the current rotation period,
// made when there is none yet.
func (t *Tokens) SignAccessToken(ctx context.Context, a *keyward.AccessTokenClaims) (string, error) {
	signer, _, err := t.currentSigner(ctx)
	if err != nil {
		return "", err
	}
	// The claims' JSON on the stack: a usual token's string is then its
	// only allocation here.
	payload, err := accessClaimsJSON(make([]byte, 0, 512), t.issuer, a)
	if err != nil {
		return "", err
	}
	return signer.signPayload(payload)
}

// accessTokenAlgorithms are the only algorithms a token may claim: never
// "none" and never an HMAC.
var accessTokenAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256}

// VerifyAccessToken checks what never changes about a token: its
// signature by a published key, its type, issuer, audience and times.
// Tokens that passed are remembered (by SHA-256) until they expire, so a
// token checked again costs no signature verification.
func (t *Tokens) VerifyAccessToken(ctx context.Context, raw string) (*keyward.AccessTokenClaims, bool) {
	h := sha256.Sum256([]byte(raw))
	if c := t.verified.get(h, t.now()); c != nil {
		return c, true
	}
	c, ok := t.parseAccessToken(ctx, raw)
	if ok {
		t.verified.put(h, c)
	}
	return c, ok
}

func (t *Tokens) parseAccessToken(ctx context.Context, raw string) (*keyward.AccessTokenClaims, bool) {
	tok, err := jwt.ParseSigned(raw, accessTokenAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, false
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return nil, false
	}
	key, ok := t.publicKey(ctx, h.KeyID)
	if !ok || key.Algorithm != h.Algorithm {
		return nil, false
	}
	var c accessClaims
	if err := tok.Claims(key.Key, &c); err != nil {
		return nil, false
	}
	// Any audience: introspection answers for every resource server; the
	// management API takes only tokens for keyward's own audience.
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: t.issuer, Time: t.now()}, 0); err != nil || c.Expiry == nil || len(c.Audience) == 0 {
		return nil, false
	}
	return c.token(), true
}

// tokenCache remembers tokens whose signature verified, until they expire.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[[32]byte]*keyward.AccessTokenClaims
}

func (t *tokenCache) get(h [32]byte, now time.Time) *keyward.AccessTokenClaims {
	t.mu.RLock()
	c := t.entries[h]
	t.mu.RUnlock()
	if c == nil || !now.Before(c.Expiry) {
		return nil
	}
	return c
}

func (t *tokenCache) put(h [32]byte, c *keyward.AccessTokenClaims) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil || len(t.entries) >= 100_000 {
		t.entries = map[[32]byte]*keyward.AccessTokenClaims{} // bounded: start over
	}
	t.entries[h] = c
}

// revocations is the in-memory set of revoked token ids, filled from the
// store at start and on every revocation made or heard of here.
type revocations struct {
	mu   sync.RWMutex
	jtis map[string]time.Time
}

// Revoked reports whether jti was revoked.
func (t *Tokens) Revoked(jti string) bool {
	t.revoked.mu.RLock()
	defer t.revoked.mu.RUnlock()
	_, ok := t.revoked.jtis[jti]
	return ok
}

// AddRevoked remembers jti as revoked until until.
func (t *Tokens) AddRevoked(jti string, until time.Time) {
	t.revoked.mu.Lock()
	defer t.revoked.mu.Unlock()
	if t.revoked.jtis == nil {
		t.revoked.jtis = map[string]time.Time{}
	}
	t.revoked.jtis[jti] = until
}

// LoadRevoked replaces the in-memory set with the store's.
func (t *Tokens) LoadRevoked(ctx context.Context) error {
	m, err := t.store.ListRevokedTokens(ctx, t.now())
	if err != nil {
		return err
	}
	t.revoked.mu.Lock()
	t.revoked.jtis = m
	t.revoked.mu.Unlock()
	return nil
}
