package keyward

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// AccessTokenClaims are the claims of an OAuth2 access token (RFC 9068).
type AccessTokenClaims struct {
	ID        string // "jti"
	Issuer    string // set by Tokens
	Subject   string
	Audience  Audience
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	ClientID  string
	Scope     string
	Tenant    string
	Level     int
	// Generation is the key's secret generation when the token was issued:
	// a rotation retires the tokens of the previous secret.
	Generation int
	// KeyID binds the token to its key: a key made later with the same
	// client id (the first was deleted) does not bring its tokens back.
	KeyID string
}

// TokenResponse is the answer of the token endpoint.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// IssueToken runs the client credentials grant: it authenticates the client
// by id and secret and signs an access token for the requested scope
// (space-separated permission names, each held by the key; all of them when
// empty) and audiences (RFC 8707 resource or audience values, each one the
// key allows; without any, every audience the key allows, or keyward's
// default for a key without audiences). Errors: EINVALIDCLIENT for any
// credential problem, EINVALIDSCOPE, EINVALIDTARGET.
func (s *Service) IssueToken(ctx context.Context, clientID, clientSecret, scope string, audiences ...string) (*TokenResponse, error) {
	return s.issueToken(ctx, "", clientID, clientSecret, scope, audiences)
}

// RequestedAudiences returns the audiences a token request asks for: its
// resource parameters (RFC 8707 §2: absolute URIs without a fragment) and
// its audience parameters (names or URIs), each may be repeated. A
// malformed one is EINVALIDTARGET.
func RequestedAudiences(form url.Values) ([]string, error) {
	var out []string
	for _, r := range form["resource"] {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Host == "" || strings.Contains(r, "#") || audienceProblem(r) != "" {
			return nil, Errorf(EINVALIDTARGET, "resource must be an absolute URI without a fragment")
		}
		out = append(out, r)
	}
	for _, a := range form["audience"] {
		if audienceProblem(a) != "" {
			return nil, Errorf(EINVALIDTARGET, "audience %s", audienceProblem(a))
		}
		out = append(out, a)
	}
	if len(out) > MaxAudiences {
		return nil, Errorf(EINVALIDTARGET, "at most %d resources or audiences", MaxAudiences)
	}
	return out, nil
}

// allowedAudiences returns the audiences snap's tokens may carry.
func (s *Service) allowedAudiences(snap *keySnapshot) []string {
	if len(snap.audiences) > 0 {
		return snap.audiences
	}
	return s.audiences
}

// tokenAudiences picks the audiences of a token of snap: those requested,
// each allowed, or every allowed one.
func (s *Service) tokenAudiences(snap *keySnapshot, requested []string) ([]string, error) {
	allowed := s.allowedAudiences(snap)
	if len(requested) == 0 {
		return allowed, nil
	}
	if len(requested) > MaxAudiences {
		return nil, Errorf(EINVALIDTARGET, "at most %d resources or audiences", MaxAudiences)
	}
	var out []string
	for _, a := range requested {
		if !slices.Contains(allowed, a) {
			return nil, Errorf(EINVALIDTARGET, "the client may not get tokens for %q", a)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// issueToken is IssueToken for a client of tenantID ("": any tenant). The
// secret is checked, and the request counted, once. It is looked up as
// keyward's own API looks secrets up, without a tenant, whatever tenantID
// is: a secret imported in a foreign format or by its hash verifies
// (/v1/keys/verify) but is never a client credential, at /oauth2/token or
// at a realm's token endpoint alike.
func (s *Service) issueToken(ctx context.Context, tenantID, clientID, clientSecret, scope string, audiences []string) (*TokenResponse, error) {
	if clientID == "" { // a client authenticates with its id (checkSecret checks none for "")
		return nil, Errorf(EINVALIDCLIENT, "client authentication failed")
	}
	snap, code, err := s.checkSecret(ctx, "", clientSecret, clientID)
	if err != nil {
		return nil, err
	}
	if code != CodeValid || (tenantID != "" && snap.TenantID != tenantID) {
		if snap != nil && (code == CodeDisabled || code == CodeExpired) {
			s.countOutcome(snap.ref(), code)
		}
		return nil, Errorf(EINVALIDCLIENT, "client authentication failed")
	}
	s.cache.markUsed(snap, s.now())
	if err := snap.checkIP(ctx); err != nil {
		return nil, err
	}
	// The rate limits count every request; credits are spent only on a
	// token that is issued (not on invalid_scope or invalid_target).
	if _, err := s.limitKey(ctx, snap); err != nil {
		s.countAuthentication(snap, err)
		return nil, err
	}
	granted, err := grantScope(snap.effective, snap.scopable, scope)
	if err != nil {
		return nil, err
	}
	aud, err := s.tokenAudiences(snap, audiences)
	if err != nil {
		return nil, err
	}
	_, err = s.spendCredits(ctx, snap, 1)
	s.countAuthentication(snap, err)
	if err != nil {
		return nil, err
	}
	now := s.now()
	lifetime := time.Duration(snap.TokenLifespanSeconds) * time.Second
	exp := now.Add(lifetime)
	if snap.ExpiresAt != nil && snap.ExpiresAt.Before(exp) {
		exp = *snap.ExpiresAt // a token never outlives its key
	}
	claims := &AccessTokenClaims{
		ID: secret.NewID(), Subject: snap.ClientID, Audience: aud, IssuedAt: now, NotBefore: now, Expiry: exp,
		ClientID: snap.ClientID, Scope: strings.Join(granted, " "), Tenant: snap.TenantID, Level: snap.Level,
		Generation: int(snap.generation), KeyID: snap.ID,
	}
	tok, err := s.tokens.SignAccessToken(ctx, claims)
	if err != nil {
		return nil, err
	}
	return &TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(exp.Sub(now) / time.Second), Scope: claims.Scope}, nil
}

// IssueTokenInTenant is IssueToken for a client that must belong to tenant
// (a name or id), as Keycloak-style realm token endpoints require. A client
// of another tenant, or an unknown tenant, is EINVALIDCLIENT.
func (s *Service) IssueTokenInTenant(ctx context.Context, tenant, clientID, clientSecret, scope string, audiences ...string) (*TokenResponse, error) {
	t, err := s.findTenant(ctx, tenant)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return nil, err
	}
	// The secret is checked whether or not the realm exists, so that the
	// time of the answer does not tell; no key belongs to a missing realm.
	tenantID := "\x00no such tenant"
	if t != nil {
		tenantID = t.ID
	}
	return s.issueToken(ctx, tenantID, clientID, clientSecret, scope, audiences)
}

// checkAccessToken validates an access token fully: signature by a
// published key, type at+jwt, issuer, audience, time, revocation, and the
// state of its key now (active, not expired, owner and tenant active, not
// rotated away, every audience still allowed). It returns the claims and
// the key, or ok=false.
func (s *Service) checkAccessToken(ctx context.Context, raw string) (*AccessTokenClaims, *keySnapshot, bool, error) {
	c, ok := s.tokens.VerifyAccessToken(ctx, raw)
	if !ok || c.ID == "" || c.ClientID == "" || c.ClientID != c.Subject || s.tokens.Revoked(c.ID) {
		return nil, nil, false, nil
	}
	now := s.now()
	if !now.Before(c.Expiry) {
		return nil, nil, false, nil
	}
	snap, err := s.snapshotByClientID(ctx, c.ClientID)
	if err != nil || snap == nil {
		return nil, nil, false, err
	}
	switch {
	case snap.TenantID != c.Tenant, snap.ID != c.KeyID, snap.off:
		return nil, nil, false, nil
	case expired(snap.ExpiresAt, now):
		return nil, nil, false, nil
	case !audiencesAllowed(c.Audience, s.allowedAudiences(snap)):
		return nil, nil, false, nil
	case c.Generation == int(snap.generation):
	case c.Generation == int(snap.generation)-1 && snap.prevUntil != nil && now.Before(*snap.prevUntil):
	default:
		return nil, nil, false, nil
	}
	return c, snap, true, nil
}

// audiencesAllowed reports whether every audience of a token is allowed.
func audiencesAllowed(aud Audience, allowed []string) bool {
	for _, a := range aud {
		if !slices.Contains(allowed, a) {
			return false
		}
	}
	return true
}

// snapshotByClientID returns the cached snapshot of a key found by client
// id, or nil when there is none. Concurrent misses of one client id share
// one read when it finds the key, as those of a secret do (flights.go; the
// hash's prefix keeps client ids and secrets apart).
func (s *Service) snapshotByClientID(ctx context.Context, clientID string) (*keySnapshot, error) {
	h := sha256.Sum256([]byte("client id\x00" + clientID))
	now := s.now()
	if snap := s.cache.get(h, now); snap != nil {
		return snap, nil
	}
	gen := s.cache.gen.Load()
	snap, leader, err := s.misses.do(ctx, h, gen, func() (*keySnapshot, error) {
		k, err := s.store.GetAPIKeyByClientID(ctx, clientID)
		if ErrorCode(err) == ENOTFOUND {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		return s.snapshot(ctx, k, k.SecretHash, now) // as of its current secret
	})
	if err != nil || snap == nil {
		return nil, err
	}
	if leader {
		s.cache.put(h, snap, gen)
	}
	return snap, nil
}

// authenticateAccessToken turns an access token into the principal of its
// key, limited to the token's scope.
func (s *Service) authenticateAccessToken(ctx context.Context, raw string) (*Principal, error) {
	c, snap, ok, err := s.checkAccessToken(ctx, raw)
	if err != nil {
		return nil, err
	} else if !ok || !slices.Contains(c.Audience, s.audience) {
		return nil, Errorf(EUNAUTHORIZED, "invalid or expired token")
	}
	scope := map[string]bool{}
	for _, name := range strings.Fields(c.Scope) {
		scope[name] = true
	}
	s.cache.markUsed(snap, s.now())
	p, err := s.keyPrincipal(ctx, snap, scope)
	s.countAuthentication(snap, err)
	if p != nil {
		p.prevSecret = c.Generation != int(snap.generation) // a token of the previous secret
	}
	return p, err
}

// currentScope returns the names of scope (a token's) that the key still
// holds, in the token's order.
func (snap *keySnapshot) currentScope(scope string) []string {
	out := []string{}
	for _, name := range strings.Fields(scope) {
		if snap.scopable[name] {
			out = append(out, name)
		}
	}
	return out
}

// Introspection is an RFC 7662 answer.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       Audience `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	Tenant    string   `json:"tenant,omitempty"`
	Level     *int     `json:"level,omitempty"`
}

// IntrospectToken answers RFC 7662 for a caller holding keys:verify. A
// token of another tenant is inactive to it.
func (s *Service) IntrospectToken(ctx context.Context, p *Principal, raw string) (*Introspection, error) {
	if !p.Has(PermKeysVerify) {
		return nil, Errorf(EFORBIDDEN, "keys:verify is required")
	}
	c, snap, ok, err := s.checkAccessToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	if !ok || c.Tenant != p.TenantID {
		return &Introspection{Active: false}, nil
	}
	// What the token may do now: its scope within its key's current rights,
	// at the key's current level.
	level := snap.Level
	return &Introspection{
		Active: true, Scope: strings.Join(snap.currentScope(c.Scope), " "), ClientID: c.ClientID, TokenType: "Bearer", Exp: c.Expiry.Unix(),
		Iat: c.IssuedAt.Unix(), Nbf: c.NotBefore.Unix(), Sub: c.Subject, Aud: c.Audience,
		Iss: c.Issuer, Jti: c.ID, Tenant: c.Tenant, Level: &level,
	}, nil
}

// RevokeToken revokes an access token (RFC 7009). The client that holds
// the token may revoke it, as may a principal with apikeys:write on its key.
// An invalid, expired or unknown token is not an error: there is nothing to
// revoke.
func (s *Service) RevokeToken(ctx context.Context, p *Principal, raw string) error {
	c, snap, ok, err := s.checkAccessToken(ctx, raw)
	if err != nil || !ok {
		return err
	}
	if c.Tenant != p.TenantID {
		return nil // never reveal another tenant's tokens
	}
	if p.ClientID != c.ClientID && !p.canKey(PermAPIKeysWrite, snap.OwnerID) {
		return Errorf(EFORBIDDEN, "only the client that holds the token, or apikeys:write on its key, may revoke it")
	}
	exp := c.Expiry.UTC()
	err = s.store.Tx(ctx, func(tx StoreTx) error {
		if err := tx.RevokeToken(ctx, c.ID, c.Tenant, exp); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, "token.revoke", c.Tenant, snap.ID)
	})
	if err != nil {
		return err
	}
	s.tokens.AddRevoked(c.ID, exp)
	s.publishRevocation(ctx, c.ID, exp)
	return nil
}

// verifyToken answers POST /v1/keys/verify for {token}.
func (s *Service) verifyToken(ctx context.Context, p *Principal, req VerifyRequest, cost int64) (*VerifyResult, error) {
	c, snap, ok, err := s.checkAccessToken(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	if !ok || snap.TenantID != p.TenantID || (req.Audience != "" && !slices.Contains(c.Audience, req.Audience)) {
		return &VerifyResult{Code: CodeNotFound}, nil
	}
	code := CodeValid
	scope := snap.currentScope(c.Scope)
	if !ipAllowed(snap.allowed, req.IP) {
		code = CodeIPNotAllowed
	}
	for _, name := range req.Permissions {
		if code != CodeValid {
			break
		}
		if !slices.Contains(scope, name) {
			code = CodeInsufficientPermissions
			break
		}
	}
	return s.limitedResult(ctx, snap, code, scope, cost)
}

// JWKS returns the published public keys of access tokens as a JWK Set
// document: the current one and every older one whose tokens may still be
// valid.
func (s *Service) JWKS(ctx context.Context) (json.RawMessage, error) { return s.tokens.JWKS(ctx) }
