package keyward

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Token signing algorithms.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	// AlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key, the
	// algorithm RFC 9068 requires every implementation to support.
	AlgRS256 = "RS256"
)

// Tokens signs and checks the JWTs keyward issues: OAuth2 access tokens,
// signed by a rotating key ring published as a JWK Set, and the login
// tokens of users. It decides nothing: who gets a token, with what claims,
// and whether a token still works are the Service's rules. Each token is
// stamped with, and checked against, the issuer Tokens was made for.
// internal/oauth implements it.
type Tokens interface {
	// SignAccessToken signs t with the key that signs now.
	SignAccessToken(ctx context.Context, t *AccessTokenClaims) (string, error)
	// VerifyAccessToken returns the claims of raw if it is an access token
	// (typ at+jwt) signed by a published key, of this issuer, with an
	// audience and an expiry, and valid at this time; ok is false
	// otherwise.
	VerifyAccessToken(ctx context.Context, raw string) (t *AccessTokenClaims, ok bool)
	// JWKS returns the published public keys as a JWK Set document.
	JWKS(ctx context.Context) ([]byte, error)

	// SignLoginToken signs a user's login token.
	SignLoginToken(t *LoginTokenClaims) (string, error)
	// VerifyLoginToken returns the claims of raw if this keyward signed it
	// as a login token of this issuer and it is valid at this time.
	VerifyLoginToken(raw string) (t *LoginTokenClaims, ok bool)
	// ParseLoginToken returns the claims of raw if this keyward signed it,
	// whatever its times.
	ParseLoginToken(raw string) (t *LoginTokenClaims, ok bool)

	// Revoked reports whether the token id jti was revoked.
	Revoked(jti string) bool
	// AddRevoked remembers jti as revoked until until (the token's expiry).
	AddRevoked(jti string, until time.Time)
	// LoadRevoked replaces the revoked token ids with the store's.
	LoadRevoked(ctx context.Context) error
}

// LoginTokenClaims are the claims of a user's login token. Its issuer and
// audience are Tokens' issuer.
type LoginTokenClaims struct {
	ID        string // "jti"
	Subject   string // the user's id
	Tenant    string
	Kind      string // KindUser
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	// Generation is the user's session generation at login: a password
	// change or deactivation ends every token of an older one.
	Generation int
}

// Audience is the "aud" of a token: one value is written as a string,
// more as an array (RFC 7519 §4.1.3).
type Audience []string

// MarshalJSON writes a single audience as a string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*a = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// Issuers returns the "iss" of access tokens (PublicURL without a trailing
// slash; http://127.0.0.1:8080 by default) and of login tokens (Issuer;
// "keyward" by default).
func (c Config) Issuers() (accessTokens, logins string) {
	accessTokens = strings.TrimRight(c.PublicURL, "/")
	if accessTokens == "" {
		accessTokens = "http://127.0.0.1:8080"
	}
	logins = c.Issuer
	if logins == "" {
		logins = "keyward"
	}
	return accessTokens, logins
}
