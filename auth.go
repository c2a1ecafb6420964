package keyward

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// Verification codes of POST /v1/keys/verify.
const (
	CodeValid                   = "VALID"
	CodeNotFound                = "NOT_FOUND"
	CodeDisabled                = "DISABLED"
	CodeExpired                 = "EXPIRED"
	CodeInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	CodeRateLimited             = "RATE_LIMITED"
	CodeInvalidSignature        = "INVALID_SIGNATURE" // reason names the refusal, e.g. replay_detected
)

// UserTokenLifetime is how long a login token is valid.
const UserTokenLifetime = time.Hour

// Credentials are what a request presented, as the transport found them.
// The Service decides what they mean.
type Credentials struct {
	Bearer    string // Authorization: Bearer <...>
	APIKey    string // X-API-Key: <secret>
	BasicUser string // Authorization: Basic user:pass
	BasicPass string
	HasBasic  bool
	IP        string
	UserAgent string
	// Signed is set when the request carries a keyward-v1 or NWS4 signature.
	Signed *SignedRequest
}

// Empty reports whether no credentials were presented.
func (c Credentials) Empty() bool {
	return c.Bearer == "" && c.APIKey == "" && !c.HasBasic && c.Signed == nil
}

// HeaderCredentials counts the credentials a request's header carries: each
// non-empty Authorization and X-API-Key field, and a keyward-v1 signature.
func HeaderCredentials(header map[string][]string) int {
	n := 0
	for _, v := range header["Authorization"] {
		if strings.TrimSpace(v) != "" {
			n++
		}
	}
	for _, v := range header["X-Api-Key"] {
		if strings.TrimSpace(v) != "" {
			n++
		}
	}
	if len(header[headerSigInput]) > 0 || len(header[headerSignature]) > 0 {
		n++
	}
	return n
}

// OneCredential refuses a request that carries more than one credential:
// two Authorization or X-API-Key fields, or one beside the other or beside
// a keyward-v1 signature. keyward would use one of them, where a proxy or
// a log in front may take the other: the caller says which (EINVALID, as
// RFC 6749 §2.3 has a client use one authentication method per request).
// Every surface calls it (the dialects' token endpoints too), and answers
// its error in its own shape.
func OneCredential(header map[string][]string) error {
	if HeaderCredentials(header) > 1 {
		return Errorf(EINVALID, "send one credential (Authorization, X-API-Key or a signature), once")
	}
	return nil
}

// Authenticate turns credentials into a Principal. Every failure is
// EUNAUTHORIZED with a message that never echoes the credentials.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (*Principal, error) {
	if err := s.failedAuth.check(c.IP); err != nil {
		return nil, err
	}
	if c.IP != clientIP(ctx) {
		ctx = WithClientIP(ctx, c.IP) // the HTTP server has set it already: no allocation
	}
	var p *Principal
	var err error
	scheme := SchemeOther
	switch {
	case c.Signed != nil:
		scheme = SchemeSigned
		p, err = s.authenticateSigned(ctx, c.Signed)
	case c.HasBasic && c.BasicUser == "":
		// Basic names the client: without its id the credentials are as
		// wrong as with another key's (checkSecret checks no id for "").
		scheme = SchemeBasic
		err = Errorf(EUNAUTHORIZED, "invalid credentials")
	case c.HasBasic:
		scheme = SchemeBasic
		p, err = s.authenticateKey(ctx, c.BasicPass, c.BasicUser)
	case c.APIKey != "":
		scheme = SchemeAPIKey
		p, err = s.authenticateKey(ctx, c.APIKey, "")
	case secret.WellFormed(c.Bearer):
		scheme = SchemeAPIKey
		p, err = s.authenticateKey(ctx, c.Bearer, "")
	case strings.Count(c.Bearer, ".") == 2 && isAccessToken(c.Bearer):
		scheme = SchemeAccessToken
		p, err = s.authenticateAccessToken(ctx, c.Bearer)
	case strings.Count(c.Bearer, ".") == 2:
		scheme = SchemeUserToken
		p, err = s.authenticateUserToken(ctx, c.Bearer)
	case secret.Foreign(c.Bearer): // an imported key's secret, in its own format
		scheme = SchemeAPIKey
		p, err = s.authenticateKey(ctx, c.Bearer, "")
	case c.Bearer != "":
		err = Errorf(EUNAUTHORIZED, "invalid credentials")
	default:
		return nil, Errorf(EUNAUTHORIZED, "credentials required")
	}
	if err != nil {
		if ErrorCode(err) == EUNAUTHORIZED || ErrorCode(err) == ESIGINVALID || ErrorCode(err) == EKEYUNKNOWN {
			if ferr := s.failedAuth.record(ctx, c.IP, scheme); ferr != nil {
				return nil, ferr
			}
		}
		return nil, err
	}
	p.IP, p.UserAgent = c.IP, c.UserAgent
	return p, nil
}

func (s *Service) authenticateKey(ctx context.Context, sec, clientID string) (*Principal, error) {
	// No tenant is known here: an imported secret is unknown (lookupHash).
	snap, code, err := s.checkSecret(ctx, "", sec, clientID)
	if err != nil {
		return nil, err
	}
	switch code {
	case CodeValid:
	case CodeDisabled:
		s.countOutcome(snap.ref(), code)
		return nil, Errorf(EUNAUTHORIZED, "the key is disabled")
	case CodeExpired:
		s.countOutcome(snap.ref(), code)
		return nil, Errorf(EUNAUTHORIZED, "the key has expired")
	default:
		return nil, Errorf(EUNAUTHORIZED, "invalid credentials")
	}
	s.cache.markUsed(snap, s.now())
	p, err := s.keyPrincipal(ctx, snap, nil)
	s.countAuthentication(snap, err)
	return p, err
}

// keyPrincipal is the principal of a key that authenticated, once its rate
// limits allow the request and the client address (ctx, WithClientIP) is
// within its allowedCidrs. scope limits an access token's rights.
func (s *Service) keyPrincipal(ctx context.Context, snap *keySnapshot, scope map[string]bool) (*Principal, error) {
	if err := snap.checkIP(ctx); err != nil {
		return nil, err
	}
	rate, credits, err := s.admitKey(ctx, snap, 1)
	if err != nil {
		return nil, err
	}
	var spent *CreditSpend
	if credits != nil {
		spent = creditSpend(snap, credits, 1)
	}
	return &Principal{
		spent: spent,
		Kind:  KindAPIKey, ID: snap.ID, TenantID: snap.TenantID, Name: snap.Name, ClientID: snap.ClientID,
		OwnerID: snap.OwnerID, Level: snap.Level, perms: snap.perms, rootTenant: snap.rootTenant, scope: scope,
		Rate: rate, prevSecret: snap.validUntil != nil, catalog: snap.catalog,
	}, nil
}

// checkSecret finds the key a secret belongs to and says whether it works
// now. clientID, when not empty, must be the key's client id. Only
// unexpected failures return an error; an unknown or wrong secret is
// CodeNotFound. The cache serves repeated checks without a database read.
// An imported (foreign) secret is found only in tenantID (see lookupHash);
// with tenantID "" it is CodeNotFound.
func (s *Service) checkSecret(ctx context.Context, tenantID, sec, clientID string) (*keySnapshot, string, error) {
	return s.checkSecretIn(ctx, tenantID, sec, clientID, nil)
}

// checkSecretIn is checkSecret with the snapshots a batch read ahead
// (nil: the hash is unknown); a hash missing from batch is read alone.
func (s *Service) checkSecretIn(ctx context.Context, tenantID, sec, clientID string, batch map[[32]byte]*keySnapshot) (*keySnapshot, string, error) {
	h, ok := lookupHash(tenantID, sec)
	if !ok {
		return nil, CodeNotFound, nil
	}
	now := s.now()
	snap := s.cache.get(h, now)
	if pre, ok := batch[h]; snap == nil && ok {
		if pre == nil {
			return nil, CodeNotFound, nil
		}
		snap = pre
	}
	if snap == nil {
		gen := s.cache.gen.Load()
		var leader bool
		var err error
		snap, leader, err = s.misses.do(ctx, h, gen, func() (*keySnapshot, error) {
			// A copy: the store keeps the slice, which moved h to the heap
			// on every check, cached ones too.
			read := h
			return s.loadSnapshot(ctx, read[:], now)
		})
		if err != nil {
			return nil, "", err
		}
		if snap == nil {
			return nil, CodeNotFound, nil
		}
		if leader {
			s.cache.put(h, snap, gen)
		}
	}
	if clientID != "" && clientID != snap.ClientID {
		return nil, CodeNotFound, nil
	}
	if snap.validUntil != nil && !now.Before(*snap.validUntil) {
		return nil, CodeNotFound, nil
	}
	if snap.off {
		return snap, CodeDisabled, nil
	}
	if expired(snap.ExpiresAt, now) {
		return snap, CodeExpired, nil
	}
	return snap, CodeValid, nil
}

// lookupHash is the hash the key with secret sec is stored under if it is a
// key of tenantID: the SHA-256 of a WellFormed keyward secret, or the
// secret.ScopedHash of an imported (Foreign) one, which only a known tenant
// finds ("": none, as at keyward's own API). ok is false when no key could
// have sec there.
func lookupHash(tenantID, sec string) (h [32]byte, ok bool) {
	switch {
	case secret.WellFormed(sec):
		// Through a buffer on the stack: []byte(sec) allocates for a
		// secret longer than 32 bytes.
		var buf [128]byte
		if len(sec) <= len(buf) {
			return sha256.Sum256(append(buf[:0], sec...)), true
		}
		return sha256.Sum256([]byte(sec)), true
	case tenantID != "" && secret.Foreign(sec):
		plain := sha256.Sum256([]byte(sec))
		copy(h[:], secret.ScopedHash(tenantID, plain[:]))
		return h, true
	}
	return h, false
}

// loadSnapshot reads a key by secret hash with everything that decides
// whether it works, in one store read: its tenant, its owner, its
// permissions and the version of its tenant's catalog, which comes from
// the catalog cache when it holds that version.
func (s *Service) loadSnapshot(ctx context.Context, hash []byte, now time.Time) (*keySnapshot, error) {
	rec, err := s.store.KeyForVerification(ctx, hash)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	catalog, err := s.catalogAt(ctx, rec.Key.TenantID, rec.CatalogVersion)
	if err != nil {
		return nil, err
	}
	return s.snapshotOf(rec, hash, catalog, now), nil
}

// snapshot resolves what the verify path needs of k, reading its tenant
// and owner, as found by hash (see snapshotOf).
func (s *Service) snapshot(ctx context.Context, k *APIKey, hash []byte, now time.Time) (*keySnapshot, error) {
	t, err := s.store.GetTenant(ctx, k.TenantID)
	if err != nil {
		return nil, err
	}
	rec := &VerificationRecord{Key: k, TenantActive: t.IsActive, TenantRoot: t.IsRoot}
	if k.OwnerID != "" {
		owner, err := s.store.GetUser(ctx, k.TenantID, k.OwnerID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return nil, err
		}
		rec.Owner = owner
	}
	catalog, err := s.catalog(ctx, k.TenantID)
	if err != nil {
		return nil, err
	}
	return s.snapshotOf(rec, hash, catalog, now), nil
}

// snapshotOf is the snapshot of rec's key in a tenant whose catalog is
// given, as found by hash: its current secret, or its previous one (which
// ends with the grace period); nil when hash is neither.
func (s *Service) snapshotOf(rec *VerificationRecord, hash []byte, catalog []*Permission, now time.Time) *keySnapshot {
	k := rec.Key
	var validUntil *time.Time
	generation := int32(k.SecretGeneration)
	switch {
	case secret.Equal(k.SecretHash, hash):
	case secret.Equal(k.PrevSecretHash, hash) && k.PrevSecretExpiresAt != nil:
		// The previous secret: it, and the tokens it gets, end with the
		// grace period.
		validUntil = k.PrevSecretExpiresAt
		generation--
	default:
		return nil
	}
	// ID, ClientID and Name in one allocation.
	strs := k.ID + k.ClientID + k.Name
	id, rest := strs[:len(k.ID)], strs[len(k.ID):]
	snap := &keySnapshot{
		ID: id, ClientID: rest[:len(k.ClientID)], Name: rest[len(k.ClientID):],
		OwnerID: internString(k.OwnerID), ExpiresAt: k.ExpiresAt, generation: generation,
		cachedAt: clockStamp(now),
		keyExtras: &keyExtras{Meta: k.Meta, TokenLifespanSeconds: k.TokenLifespanSeconds, HMACEnabled: k.HMACEnabled,
			prevUntil: k.PrevSecretExpiresAt, validUntil: validUntil, RateLimit: k.RateLimit,
			hasCredits: k.Credits != nil,
			creditGen:  creditGen(k.Credits),
			audiences:  k.Audiences,
		},
	}
	if k.Credits != nil && k.Credits.Refill != nil {
		r := *k.Credits.Refill
		snap.refill = &r
	}
	snap.allowed = newAllowList(k.AllowedCIDRs)
	if k.HMACEnabled && len(k.SecretCiphertext) > 0 {
		snap.sealed = append(snap.sealed, k.SecretCiphertext)
		if len(k.PrevSecretCiphertext) > 0 {
			snap.sealed = append(snap.sealed, k.PrevSecretCiphertext)
		}
	}
	if !k.IsActive || !rec.TenantActive || k.SecretRevoked {
		snap.off = true
	}
	var owner *User
	if k.OwnerID != "" {
		owner = rec.Owner
		if owner == nil || !owner.IsActive {
			snap.off = true
			owner = nil
		}
	}
	snap.limits = keyLimits(k, owner)
	// Rights many keys hold alike are shared (rights_memo.go): a miss of
	// a key whose grant, owner and catalog repeat another's computes
	// nothing, and a million cached keys hold a few sets of maps.
	snap.keyRights = s.rights.rightsOf(k, owner, rec.TenantRoot, catalog)
	snap.shareExtras()
	return snap
}

// result is the verify answer for the key with code and permissions.
func (snap *keySnapshot) result(code string, perms []string) *VerifyResult {
	level := snap.Level
	if perms == nil {
		perms = []string{}
	}
	return &VerifyResult{
		Valid: code == CodeValid, Code: code, KeyID: &snap.ID, ClientID: &snap.ClientID, TenantID: &snap.TenantID,
		Name: &snap.Name, Level: &level, Permissions: slices.Clone(perms), ExpiresAt: snap.ExpiresAt, Meta: snap.Meta,
	}
}

// VerifyRequest is the body of POST /v1/keys/verify: a key as Key, or as
// ClientID + ClientSecret, and the permission names the resource server
// requires.
type VerifyRequest struct {
	Key          string   `json:"key,omitempty"`
	ClientID     string   `json:"clientId,omitempty"`
	ClientSecret string   `json:"clientSecret,omitempty"`
	Token        string   `json:"token,omitempty"`
	Permissions  []string `json:"permissions,omitempty"`
	// Audience, with Token, is the audience the token must carry (the
	// resource server's own); a token for other audiences is NOT_FOUND.
	Audience string `json:"audience,omitempty"`
	// Cost is what a valid verification spends of the key's credits: 1
	// when not given; 0 checks the key without spending.
	Cost *int64 `json:"cost,omitempty"`
	// IP is the end client's address: a key with allowedCidrs is
	// IP_NOT_ALLOWED when it is outside them, or not given.
	IP string `json:"ip,omitempty"`
}

// VerifyResult answers a verification; Valid is true only with CodeValid.
type VerifyResult struct {
	Valid       bool            `json:"valid"`
	Code        string          `json:"code"`
	KeyID       *string         `json:"keyId"`
	ClientID    *string         `json:"clientId"`
	TenantID    *string         `json:"tenantId"`
	Name        *string         `json:"name"`
	Level       *int            `json:"level"`
	Permissions []string        `json:"permissions"`
	ExpiresAt   *time.Time      `json:"expiresAt"`
	Meta        json.RawMessage `json:"meta"`
	RateLimit   *RateStatus     `json:"ratelimit"`
	// Credits is where a key with credits stands after the verification
	// (omitted for keys without credits).
	Credits *CreditStatus `json:"credits,omitempty"`
	// Reason is the problem code of a refused signature (INVALID_SIGNATURE).
	Reason string `json:"reason,omitempty"`
}

// VerifyKey answers whether a key works, for a resource server. The caller
// needs keys:verify and only sees keys of its own tenant: a key of another
// tenant is NOT_FOUND. Every answer is counted (countResult).
func (s *Service) VerifyKey(ctx context.Context, p *Principal, req VerifyRequest) (res *VerifyResult, err error) {
	defer func() { s.countResult(p, res, err) }()
	if !p.Has(PermKeysVerify) {
		return nil, Errorf(EFORBIDDEN, "keys:verify is required")
	}
	if err := checkVerifyRequest(req, ""); err != nil {
		return nil, err
	}
	return s.verifyKey(ctx, p, req, nil)
}

// checkVerifyRequest validates a verify body; prefix names it in a batch
// ("items[3].").
func checkVerifyRequest(req VerifyRequest, prefix string) error {
	if req.IP != "" && !validIP(req.IP) {
		return Invalid(FieldError{Field: prefix + "ip", Message: "must be an IPv4 or IPv6 address"})
	}
	if req.Cost != nil && (*req.Cost < 0 || *req.Cost > MaxCreditCost) {
		return Invalid(FieldError{Field: prefix + "cost", Message: "must be between 0 and " + strconv.Itoa(MaxCreditCost)})
	}
	switch {
	case req.Key != "" && req.ClientID == "" && req.ClientSecret == "" && req.Token == "":
	case req.ClientID != "" && req.ClientSecret != "" && req.Key == "" && req.Token == "":
	case req.Token != "" && req.Key == "" && req.ClientID == "" && req.ClientSecret == "":
	default:
		return Invalid(FieldError{Field: prefix + "key", Message: "give one of key, clientId and clientSecret, or token"})
	}
	for i, name := range req.Permissions {
		if name == "" {
			return Invalid(FieldError{Field: prefix + "permissions[" + strconv.Itoa(i) + "]", Message: "must not be empty"})
		}
	}
	return nil
}

// verifyKey answers a valid verify body, with the snapshots a batch read
// ahead.
func (s *Service) verifyKey(ctx context.Context, p *Principal, req VerifyRequest, batch map[[32]byte]*keySnapshot) (*VerifyResult, error) {
	cost := int64(1)
	if req.Cost != nil {
		cost = *req.Cost
	}
	sec, clientID := req.Key, ""
	switch {
	case req.Token != "":
		return s.verifyToken(ctx, p, req, cost)
	case req.ClientID != "":
		sec, clientID = req.ClientSecret, req.ClientID
	}
	snap, code, err := s.checkSecretIn(ctx, p.TenantID, sec, clientID, batch)
	if err != nil {
		return nil, err
	}
	if snap == nil || snap.TenantID != p.TenantID {
		return &VerifyResult{Code: CodeNotFound}, nil // another tenant's key is not touched
	}
	if code == CodeValid {
		s.cache.markUsed(snap, s.now())
	}
	if code == CodeValid && !ipAllowed(snap.allowed, req.IP) {
		code = CodeIPNotAllowed
	}
	if code == CodeValid {
		for _, name := range req.Permissions {
			if !snap.explicit[name] {
				code = CodeInsufficientPermissions
				break
			}
		}
	}
	return s.limitedResult(ctx, snap, code, snap.Permissions, cost)
}

// limitedResult is the verify answer for a key, counting the verification
// against the key's rate limit (and its tenant's) when the key is valid:
// past a limit the answer is RATE_LIMITED. RateLimit reports the key's own
// limit, or the tenant's when that one refused. A limiter that cannot count
// fails the call.
func (s *Service) limitedResult(ctx context.Context, snap *keySnapshot, code string, perms []string, cost int64) (*VerifyResult, error) {
	if code != CodeValid {
		return snap.result(code, perms), nil
	}
	rate, credits, err := s.admitKey(ctx, snap, cost)
	if err != nil {
		// e only here: errors.As moves it to the heap where it is declared.
		var e *Error
		switch {
		case errors.As(err, &e) && e.Code == ERATELIMITED:
			code, rate = CodeRateLimited, e.Rate
		case errors.As(err, &e) && e.Code == EUSAGEEXCEEDED:
			code = CodeUsageExceeded
		default:
			return nil, err
		}
	}
	res := snap.result(code, perms)
	res.RateLimit, res.Credits = rate, credits
	return res, nil
}

// admitKey decides whether the key of snap may make one more request that
// costs cost credits, in this order: its rate limits (the key's, then its
// tenant's), then its credits. A request a rate limit refuses spends no
// credits; one its credits refuse was still counted by the rate limits.
// (Whether the key is valid and holds the permissions a verification
// requires is decided before: a refused verification spends nothing.)
func (s *Service) admitKey(ctx context.Context, snap *keySnapshot, cost int64) (*RateStatus, *CreditStatus, error) {
	rate, err := s.limitKey(ctx, snap)
	if err != nil {
		return rate, nil, err
	}
	credits, err := s.spendCredits(ctx, snap, cost)
	return rate, credits, err
}

// isAccessToken reports whether a JWT says it is an OAuth2 access token
// (typ at+jwt). It only routes the token: checkAccessToken validates it.
func isAccessToken(raw string) bool {
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Typ string `json:"typ"`
	}
	return json.Unmarshal(b, &h) == nil && strings.EqualFold(h.Typ, "at+jwt")
}

func (s *Service) authenticateUserToken(ctx context.Context, raw string) (*Principal, error) {
	fail := Errorf(EUNAUTHORIZED, "invalid or expired token")
	c, ok := s.tokens.VerifyLoginToken(raw)
	if !ok || c.Kind != KindUser {
		return nil, fail
	}
	if s.tokens.Revoked(c.ID) {
		return nil, fail // signed out
	}
	t, err := s.store.GetTenant(ctx, c.Tenant)
	if ErrorCode(err) == ENOTFOUND {
		return nil, fail
	} else if err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(ctx, t.ID, c.Subject)
	if ErrorCode(err) == ENOTFOUND {
		return nil, fail
	} else if err != nil {
		return nil, err
	}
	if !u.IsActive || !t.IsActive {
		return nil, Errorf(EUNAUTHORIZED, "the user is disabled")
	}
	if c.Generation != u.SessionGeneration {
		return nil, fail // the password changed, or the user was deactivated, since
	}
	catalog, err := s.catalog(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	return &Principal{
		Kind: KindUser, ID: u.ID, TenantID: t.ID, Name: u.UserName, OwnerID: u.ID, Level: u.Level,
		perms: expand(catalog, u.Permissions), rootTenant: t.IsRoot,
	}, nil
}

// AuthenticateUser accepts a login token and nothing else: the console's
// session cookie is one, and an API key placed there must not work.
func (s *Service) AuthenticateUser(ctx context.Context, raw, ip, userAgent string) (*Principal, error) {
	if strings.Count(raw, ".") != 2 || isAccessToken(raw) {
		return nil, Errorf(EUNAUTHORIZED, "invalid or expired token")
	}
	p, err := s.authenticateUserToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	p.IP, p.UserAgent = ip, userAgent
	return p, nil
}

// Logout ends a login token before it expires, on every replica. An invalid
// or expired token is not an error: there is nothing to end.
func (s *Service) Logout(ctx context.Context, raw string) error {
	c, ok := s.tokens.ParseLoginToken(raw)
	if !ok || c.Kind != KindUser || c.Expiry.IsZero() || c.ID == "" {
		return nil
	}
	exp := c.Expiry.UTC()
	if !exp.After(s.now()) {
		return nil
	}
	if err := s.store.Tx(ctx, func(tx StoreTx) error { return tx.RevokeToken(ctx, c.ID, c.Tenant, exp) }); err != nil {
		return err
	}
	s.tokens.AddRevoked(c.ID, exp)
	s.publishRevocation(ctx, c.ID, exp)
	return nil
}

// findTenant looks a tenant up by id or name; "" is the root tenant.
func (s *Service) findTenant(ctx context.Context, ref string) (*Tenant, error) {
	if ref == "" {
		ref = RootTenantName
	}
	if secret.ValidID(ref) {
		return s.store.GetTenant(ctx, ref)
	}
	return s.store.GetTenantByName(ctx, ref)
}

// WhoAmI describes the principal.
type WhoAmI struct {
	Kind              string   `json:"kind"`
	ID                string   `json:"id"`
	TenantID          string   `json:"tenantId"`
	Name              string   `json:"name"`
	ClientID          string   `json:"clientId,omitempty"`
	OwnerID           string   `json:"ownerId,omitempty"`
	Level             int      `json:"level"`
	Permissions       []string `json:"permissions"`
	OwnKeyPermissions []string `json:"ownKeyPermissions"`
}

// WhoAmI returns the principal with its effective permissions.
func (s *Service) WhoAmI(ctx context.Context, p *Principal) (*WhoAmI, error) {
	catalog := p.catalog // a key's: the catalog its snapshot was made with
	if catalog == nil || p.crossTenant {
		var err error
		if catalog, err = s.catalog(ctx, p.TenantID); err != nil {
			return nil, err
		}
	}
	wide, own := p.EffectivePermissions(catalog)
	if wide == nil {
		wide = []string{}
	}
	if own == nil {
		own = []string{}
	}
	return &WhoAmI{Kind: p.Kind, ID: p.ID, TenantID: p.TenantID, Name: p.Name, ClientID: p.ClientID, OwnerID: p.OwnerID,
		Level: p.Level, Permissions: wide, OwnKeyPermissions: own}, nil
}

// InTenant returns the principal acting in tenantID. Acting in another
// tenant (by id or name) needs tenants:admin (root tenant); the result holds every
// built-in permission of that tenant, at its own level.
func (s *Service) InTenant(ctx context.Context, p *Principal, tenant string) (*Principal, error) {
	if tenant == "" || tenant == p.TenantID {
		return p, nil
	}
	t, err := s.findTenant(ctx, tenant)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "tenant not found")
	} else if err != nil {
		return nil, err
	}
	if t.ID == p.TenantID {
		return p, nil
	}
	if !p.Has(PermTenantsAdmin) {
		return nil, Errorf(ENOTFOUND, "tenant not found")
	}
	q := *p
	q.TenantID, q.crossTenant, q.perms, q.rootTenant, q.homeTenant = t.ID, true, nil, false, p.HomeTenantID()
	return &q, nil
}
