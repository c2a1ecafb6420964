// Package verify lets a resource server accept keyward credentials.
//
// OAuth2 access tokens (JWTs from keyward's /oauth2/token) are checked
// offline against keyward's JWKS, fetched once and cached; an unknown key
// id triggers a refetch, at most once per MinRefreshInterval. Plain API keys
// (Authorization: Bearer <secret> or X-API-Key) are checked by asking
// keyward's POST /v1/keys/verify, and signed requests (keyward-v1 or NWS4)
// by POST /v1/signatures/verify, with a verifier key that holds keys:verify.
//
//	v := verify.New(verify.Config{Issuer: "https://keys.example.com", VerifierSecret: secret})
//	mux.Handle("GET /orders", v.Require("orders_read")(ordersHandler))
//
// Inside the handler, verify.FromContext(r.Context()) returns the caller.
//
// A plain API key with usage credits spends 1 per request by default;
// Config.Cost prices each request instead (0 checks without spending), and
// a key whose credits are spent is refused with 429 and Retry-After until
// its refill:
//
//	v := verify.New(verify.Config{Issuer: issuer, VerifierSecret: secret,
//		Cost: func(r *http.Request) int {
//			if r.URL.Path == "/healthz" {
//				return 0 // checked, not billed
//			}
//			if r.Method == http.MethodGet {
//				return 1
//			}
//			return 5
//		}})
//
// A Verifier serves one tenant: every tenant's tokens share keyward's
// issuer and signing keys, so tokens are accepted only when their tenant
// claim is Config.Tenant, or the verifier key's own tenant (learned once
// from GET /v1/whoami) when Tenant is empty. Keys and signed requests are
// checked by keyward itself, which answers only for the verifier's tenant.
//
// An offline check cannot see a revocation, nor a narrowing of the key's
// rights, before the token's exp; use short token lifespans where that
// matters, or check tokens online with POST /oauth2/introspect.
package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Config configures a Verifier.
type Config struct {
	// Issuer is keyward's public URL, the "iss" of its tokens. The JWKS is
	// fetched from Issuer + "/.well-known/jwks.json" unless JWKSURL is set.
	Issuer  string
	JWKSURL string
	// Audience is the "aud" tokens must carry (default "keyward", the
	// audience of tokens of keys without audiences). A resource server
	// whose clients' keys list its audience (an absolute URI or a name) sets
	// it here; tokens for other audiences are refused, and clients ask for
	// it with the token request's resource (RFC 8707) or audience.
	Audience string
	// VerifierSecret is the secret of a keyward key holding keys:verify. With
	// it, plain API keys are accepted too, checked by POST /v1/keys/verify.
	VerifierSecret string
	// Tenant is the id of the tenant this resource server belongs to; tokens
	// of every other tenant are refused. Empty: the verifier key's tenant.
	// Without either, no token is accepted (ErrNoTenant).
	Tenant string
	// HTTPClient talks to keyward (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// MinRefreshInterval bounds how often an unknown key id refetches the
	// JWKS (default 10 s).
	MinRefreshInterval time.Duration
	// Leeway tolerates clock skew on exp and nbf (default 30 s).
	Leeway time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// TrustedProxies are the load balancers in front of the resource
	// server, as keyward's --trusted-proxies: when a request comes from one
	// of them, the client is the right-most X-Forwarded-For address that is
	// not itself a trusted proxy. Keys with allowedCidrs are checked
	// against that client address.
	TrustedProxies []netip.Prefix
	// Cost, when set, is what Require's verification of a plain API key
	// spends of the key's usage credits: the resource server prices each
	// request (by route, method, size, ...); 0 checks the key without
	// spending. Nil spends keyward's default, 1. A cost keyward refuses
	// (below 0 or above 1,000,000) fails the check (503). Access tokens are
	// checked offline and spend nothing; signed requests spend 1.
	Cost func(*http.Request) int
}

// Principal is the authenticated caller.
type Principal struct {
	Kind      string    // "token" or "apikey"
	ClientID  string    // the key's client id
	KeyID     string    // the key's id (plain keys only)
	TenantID  string    // the key's tenant
	Level     int       // the key's level
	Scopes    []string  // token scope, or the key's permissions
	ExpiresAt time.Time // token expiry (zero for keys that never expire)
	TokenID   string    // the token's jti
}

// RateLimitError is VerifyKey's and VerifySigned's answer for a key over
// its rate limit (or its tenant's): Require turns it into 429 with
// Retry-After.
type RateLimitError struct {
	Limit, Remaining int
	Reset            int // seconds until the window ends
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("verify: rate limited (limit %d, reset in %ds)", e.Limit, e.Reset)
}

// UsageExceededError is VerifyKey's and VerifySigned's answer for a key
// whose usage credits are spent: Require turns it into 429, with
// Retry-After until the refill when there is one.
type UsageExceededError struct {
	RefillsAt time.Time // zero without a refill
}

func (e *UsageExceededError) Error() string {
	if e.RefillsAt.IsZero() {
		return "verify: the key's usage credits are spent"
	}
	return "verify: the key's usage credits are spent until " + e.RefillsAt.Format(time.RFC3339)
}

// HasScope reports whether the principal holds scope.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// Errors returned by VerifyToken, VerifyKey and VerifySigned.
var (
	ErrNoCredentials = errors.New("verify: no credentials")
	ErrInvalid       = errors.New("verify: invalid credentials")
	// ErrNoTenant: tokens cannot be checked without knowing which tenant's
	// to accept (Config.Tenant or Config.VerifierSecret).
	ErrNoTenant = errors.New("verify: Config.Tenant or Config.VerifierSecret is required to accept access tokens")
	// ErrIPNotAllowed: the key works only from other addresses (its
	// allowedCidrs). Require answers 403.
	ErrIPNotAllowed = errors.New("verify: the key may not be used from this address")
)

// Verifier checks keyward credentials.
type Verifier struct {
	cfg Config

	mu        sync.RWMutex
	keys      jose.JSONWebKeySet
	lastFetch time.Time
	fetchMu   sync.Mutex

	tenantMu sync.Mutex
	tenant   string // Config.Tenant, or the verifier key's, once learned
}

// New returns a Verifier for cfg.
func New(cfg Config) *Verifier {
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = cfg.Issuer + "/.well-known/jwks.json"
	}
	if cfg.Audience == "" {
		cfg.Audience = "keyward"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.MinRefreshInterval <= 0 {
		cfg.MinRefreshInterval = 10 * time.Second
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, tenant: cfg.Tenant}
}

// servedTenant returns the tenant whose tokens are accepted, learning it
// from the verifier key's GET /v1/whoami the first time it is needed.
func (v *Verifier) servedTenant(ctx context.Context) (string, error) {
	v.tenantMu.Lock()
	defer v.tenantMu.Unlock()
	if v.tenant != "" {
		return v.tenant, nil
	}
	if v.cfg.VerifierSecret == "" {
		return "", ErrNoTenant
	}
	req, err := http.NewRequestWithContext(ctx, "GET", v.cfg.Issuer+"/v1/whoami", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+v.cfg.VerifierSecret)
	res, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("verify: asking keyward for the verifier's tenant: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("verify: keyward answered %d to the verifier key's whoami", res.StatusCode)
	}
	var who struct {
		TenantID string `json:"tenantId"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&who); err != nil || who.TenantID == "" {
		return "", fmt.Errorf("verify: reading the verifier key's tenant: %v", err)
	}
	v.tenant = who.TenantID
	return v.tenant, nil
}

type claims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Tenant   string `json:"tenant"`
	Level    int    `json:"level"`
}

// VerifyToken checks an access token offline: signature by a key in the
// JWKS (EdDSA, ES256 or RS256 only), type at+jwt, issuer, audience, time and
// tenant. It asks keyward only for the JWKS and, without Config.Tenant, once
// for the verifier key's tenant.
func (v *Verifier) VerifyToken(ctx context.Context, raw string) (*Principal, error) {
	tenant, err := v.servedTenant(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return nil, ErrInvalid
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return nil, ErrInvalid
	}
	key, err := v.key(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return nil, ErrInvalid
	}
	var c claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return nil, ErrInvalid
	}
	exp := jwt.Expected{Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience}, Time: v.cfg.Now()}
	if err := c.ValidateWithLeeway(exp, v.cfg.Leeway); err != nil || c.Expiry == nil || c.ClientID == "" {
		return nil, ErrInvalid
	}
	if c.Tenant != tenant {
		return nil, ErrInvalid // another tenant's token: same issuer, same keys, not ours
	}
	return &Principal{
		Kind: "token", ClientID: c.ClientID, TenantID: c.Tenant, Level: c.Level, Scopes: strings.Fields(c.Scope),
		ExpiresAt: c.Expiry.Time(), TokenID: c.ID,
	}, nil
}

// key returns the public key with kid, refetching the JWKS when it is
// unknown and the last fetch is older than MinRefreshInterval.
func (v *Verifier) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if kid == "" {
		return nil, ErrInvalid
	}
	v.mu.RLock()
	keys := v.keys.Key(kid)
	last := v.lastFetch
	v.mu.RUnlock()
	if len(keys) == 1 {
		return &keys[0], nil
	}
	if !last.IsZero() && v.cfg.Now().Sub(last) < v.cfg.MinRefreshInterval {
		return nil, ErrInvalid
	}
	if err := v.fetch(ctx); err != nil {
		return nil, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if keys = v.keys.Key(kid); len(keys) == 1 {
		return &keys[0], nil
	}
	return nil, ErrInvalid
}

// fetch loads the JWKS; concurrent callers share one request.
func (v *Verifier) fetch(ctx context.Context) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	v.mu.RLock()
	fresh := !v.lastFetch.IsZero() && v.cfg.Now().Sub(v.lastFetch) < v.cfg.MinRefreshInterval
	v.mu.RUnlock()
	if fresh {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, "GET", v.cfg.JWKSURL, nil)
	if err != nil {
		return err
	}
	res, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("verify: fetching JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("verify: fetching JWKS: status %d", res.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("verify: decoding JWKS: %w", err)
	}
	v.mu.Lock()
	v.keys, v.lastFetch = set, v.cfg.Now()
	v.mu.Unlock()
	return nil
}

// VerifyKey checks a plain API key secret with keyward's POST
// /v1/keys/verify, requiring the given permissions.
func (v *Verifier) VerifyKey(ctx context.Context, secret string, permissions ...string) (*Principal, error) {
	if v.cfg.VerifierSecret == "" {
		return nil, ErrInvalid
	}
	in := map[string]any{"key": secret, "permissions": permissions}
	if ip := clientIP(ctx); ip != "" {
		in["ip"] = ip
	}
	if cost, ok := ctx.Value(costKey{}).(int); ok {
		in["cost"] = cost
	}
	return v.ask(ctx, "/v1/keys/verify", in)
}

type ipKey struct{}

// WithClientIP returns ctx carrying the end client's address, which
// VerifyKey sends to keyward for keys with allowedCidrs. Require sets it
// from the request (see Config.TrustedProxies).
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

type costKey struct{}

// WithCost returns ctx carrying what VerifyKey's verification spends of
// the key's usage credits (0: nothing; without it, keyward's default 1).
// Require sets it from Config.Cost.
func WithCost(ctx context.Context, cost int) context.Context {
	return context.WithValue(ctx, costKey{}, cost)
}

func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(ipKey{}).(string)
	return ip
}

// ClientIP returns the address of the client that sent r: its peer, or,
// when the peer is one of Config.TrustedProxies, the right-most
// X-Forwarded-For address that is not a trusted proxy (a malformed chain
// keeps the peer).
func (v *Verifier) ClientIP(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	addr := peer.Addr().Unmap()
	if !v.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr.String()
		}
		if a = a.Unmap(); !v.trusted(a) {
			return a.String()
		}
	}
	return addr.String()
}

func (v *Verifier) trusted(a netip.Addr) bool {
	for _, p := range v.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ask posts a verification to keyward and turns its answer into a principal.
func (v *Verifier) ask(ctx context.Context, path string, in any) (*Principal, error) {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, "POST", v.cfg.Issuer+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+v.cfg.VerifierSecret)
	res, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("verify: asking keyward: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("verify: keyward answered %d", res.StatusCode)
	}
	var r struct {
		Valid       bool       `json:"valid"`
		Code        string     `json:"code"`
		KeyID       string     `json:"keyId"`
		ClientID    string     `json:"clientId"`
		TenantID    string     `json:"tenantId"`
		Level       int        `json:"level"`
		Permissions []string   `json:"permissions"`
		ExpiresAt   *time.Time `json:"expiresAt"`
		RateLimit   *struct {
			Limit, Remaining, Reset int
		} `json:"ratelimit"`
		Credits *struct {
			RefillsAt *time.Time `json:"refillsAt"`
		} `json:"credits"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("verify: decoding keyward's answer: %w", err)
	}
	switch r.Code {
	case "INSUFFICIENT_PERMISSIONS":
		return nil, errInsufficient
	case "IP_NOT_ALLOWED":
		return nil, ErrIPNotAllowed
	case "RATE_LIMITED":
		e := &RateLimitError{Reset: 1}
		if r.RateLimit != nil {
			e.Limit, e.Remaining, e.Reset = r.RateLimit.Limit, r.RateLimit.Remaining, max(r.RateLimit.Reset, 1)
		}
		return nil, e
	case "USAGE_EXCEEDED":
		e := &UsageExceededError{}
		if r.Credits != nil && r.Credits.RefillsAt != nil {
			e.RefillsAt = *r.Credits.RefillsAt
		}
		return nil, e
	}
	if !r.Valid || (v.cfg.Tenant != "" && r.TenantID != v.cfg.Tenant) {
		return nil, ErrInvalid
	}
	p := &Principal{Kind: "apikey", KeyID: r.KeyID, ClientID: r.ClientID, TenantID: r.TenantID, Level: r.Level, Scopes: r.Permissions}
	if r.ExpiresAt != nil {
		p.ExpiresAt = *r.ExpiresAt
	}
	return p, nil
}

var errInsufficient = errors.New("verify: insufficient scope")

// VerifySigned checks a request signed with an hmacEnabled key (keyward-v1
// or NWS4) by forwarding it to keyward's POST /v1/signatures/verify, and
// requires the given permissions. It reads the body (at most 10 MiB) to
// hash it and puts it back for the handler.
func (v *Verifier) VerifySigned(r *http.Request, permissions ...string) (*Principal, error) {
	if v.cfg.VerifierSecret == "" {
		return nil, ErrInvalid
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 10<<20+1))
		if err != nil || len(b) > 10<<20 {
			return nil, ErrInvalid
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	headers := map[string]string{}
	for name := range r.Header {
		headers[name] = strings.Join(r.Header.Values(name), ", ")
	}
	in := map[string]any{"method": r.Method, "authority": r.Host, "path": r.URL.EscapedPath(), "query": r.URL.RawQuery,
		"headers": headers, "permissions": permissions, "ip": v.ClientIP(r)}
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		in["bodySha256"] = base64.StdEncoding.EncodeToString(sum[:])
	}
	return v.ask(r.Context(), "/v1/signatures/verify", in)
}

type ctxKey struct{}

// FromContext returns the principal Require put in the request context.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok
}

// Require returns middleware that lets a request through only with a valid
// keyward credential holding every one of scopes. It answers 401 with
// WWW-Authenticate: Bearer error="invalid_token" for missing or invalid
// credentials, 403 error="insufficient_scope" when a scope is missing, 403
// ip_not_allowed for a key used outside its allowedCidrs, 429 with
// Retry-After for a key over its rate limit, 429 (with Retry-After until the
// refill, if any) for a key whose usage credits are spent, and 503 when keyward
// cannot be reached to check a credential.
func (v *Verifier) Require(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := v.authenticate(r, scopes)
			var limited *RateLimitError
			var spent *UsageExceededError
			switch {
			case errors.As(err, &spent):
				if !spent.RefillsAt.IsZero() {
					w.Header().Set("Retry-After", strconv.Itoa(max(int(time.Until(spent.RefillsAt).Seconds()+0.999), 1)))
				}
				http.Error(w, "usage credits spent", http.StatusTooManyRequests)
				return
			case errors.As(err, &limited):
				w.Header().Set("Retry-After", strconv.Itoa(limited.Reset))
				if limited.Limit > 0 {
					w.Header().Set("RateLimit-Limit", strconv.Itoa(limited.Limit))
					w.Header().Set("RateLimit-Remaining", strconv.Itoa(limited.Remaining))
					w.Header().Set("RateLimit-Reset", strconv.Itoa(limited.Reset))
				}
				http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
				return
			case errors.Is(err, errInsufficient):
				deny(w, http.StatusForbidden, "insufficient_scope", scopes)
				return
			case errors.Is(err, ErrIPNotAllowed):
				http.Error(w, "ip_not_allowed", http.StatusForbidden)
				return
			case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrInvalid):
				deny(w, http.StatusUnauthorized, "invalid_token", scopes)
				return
			case err != nil:
				http.Error(w, "credential check unavailable", http.StatusServiceUnavailable)
				return
			}
			for _, s := range scopes {
				if !p.HasScope(s) {
					deny(w, http.StatusForbidden, "insufficient_scope", scopes)
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
		})
	}
}

func (v *Verifier) authenticate(r *http.Request, scopes []string) (*Principal, error) {
	ctx := WithClientIP(r.Context(), v.ClientIP(r))
	if v.cfg.Cost != nil {
		ctx = WithCost(ctx, v.cfg.Cost(r))
	}
	if r.Header.Get("Signature-Input") != "" || strings.HasPrefix(r.Header.Get("Authorization"), "NWS4-HMAC-SHA256 ") {
		return v.VerifySigned(r, scopes...)
	}
	if k := r.Header.Get("X-API-Key"); k != "" {
		return v.VerifyKey(ctx, k, scopes...)
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	cred = strings.TrimSpace(cred)
	if !strings.EqualFold(scheme, "bearer") || cred == "" {
		return nil, ErrNoCredentials
	}
	if strings.Count(cred, ".") == 2 {
		return v.VerifyToken(ctx, cred)
	}
	return v.VerifyKey(ctx, cred, scopes...)
}

func deny(w http.ResponseWriter, status int, code string, scopes []string) {
	h := `Bearer error="` + code + `"`
	if len(scopes) > 0 {
		h += `, scope="` + strings.Join(scopes, " ") + `"`
	}
	w.Header().Set("WWW-Authenticate", h)
	http.Error(w, http.StatusText(status), status)
}
