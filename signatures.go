package keyward

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signature"
)

// Limits and names of signed-request authentication (its error codes are
// in error.go).
const (
	MaxSignedBody    = 10 << 20
	sigMaxAge        = 300 * time.Second
	sigMaxFuture     = 60 * time.Second
	nws4Window       = 150 * time.Second
	minNonceLen      = 22 // base64url characters: 132 bits
	headerSigInput   = "Signature-Input"
	headerSignature  = "Signature"
	headerNWS4Date   = "X-Nd-Date"
	headerNWS4Digest = "X-Nd-Content-Sha256"
)

// SignedRequest is what the transport saw of a request that carries a
// signature. The Service, not the transport, decides what it proves.
type SignedRequest struct {
	Method    string
	Authority string // the Host, lower-case, with the port if any
	Path      string // escaped path
	RawQuery  string
	// Header holds the header fields under canonical keys, as net/http's
	// Header does (one converts to the other).
	Header map[string][]string
	// BodySHA256 is the SHA-256 the server computed over the body.
	BodySHA256 []byte
	HasBody    bool
	// BodyTooLarge is set when the body exceeded MaxSignedBody.
	BodyTooLarge bool
	// ClientIP is the end client's address, given to VerifySignature by
	// a resource server: a key with allowedCidrs is IP_NOT_ALLOWED outside
	// them, or without one.
	ClientIP string

	// unspent is the replay-guard entry of an accepted NWS4 signature of
	// a safe request, which is spent only if the request reveals a secret.
	unspent *signatureNonce
}

// signatureNonce is a replay-guard entry of an NWS4 signature: NWS4 has no
// nonce, so the signature itself is one, for as long as it can be accepted.
type signatureNonce struct {
	key   string
	until time.Time
}

// safeMethod reports whether method only reads (RFC 9110 §9.2.1).
func safeMethod(method string) bool {
	return method == "GET" || method == "HEAD" || method == "OPTIONS"
}

// spend records n in the replay guard: EREPLAY if it was there already.
func (s *Service) spend(ctx context.Context, n *signatureNonce) error {
	fresh, err := s.nonces.Remember(ctx, n.key, n.until)
	if err != nil {
		return Errorf(EUNAVAILABLE, "the replay guard is unavailable")
	}
	if !fresh {
		return Errorf(EREPLAY, "this signature was used before")
	}
	return nil
}

// NonceStore remembers (key, nonce) pairs until they expire. Remember
// reports false when the pair was already there. It is the replay guard of
// signed requests: in memory (one replica) or in Redis (cluster-wide).
type NonceStore interface {
	Remember(ctx context.Context, key string, until time.Time) (fresh bool, err error)
}

// IsSigned reports whether header carries a request signature keyward
// checks: keyward-v1 (Signature-Input) or NWS4 (Authorization).
func IsSigned(header map[string][]string) bool {
	// The names are canonical already: the map is read directly, as
	// textproto.MIMEHeader.Get would after canonicalizing them (it runs
	// more than once on every request with credentials).
	first := func(name string) string {
		if v := header[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return first(headerSigInput) != "" || first(headerSignature) != "" ||
		strings.HasPrefix(first("Authorization"), signature.NWS4Algorithm+" ")
}

// field returns the first value of the header field name.
func (r *SignedRequest) field(name string) string { return textproto.MIMEHeader(r.Header).Get(name) }

// fieldList returns the values of the header field name joined as one
// list, the way a signature covers a repeated field.
func (r *SignedRequest) fieldList(name string) string {
	return strings.TrimSpace(strings.Join(textproto.MIMEHeader(r.Header).Values(name), ", "))
}

// authenticateSigned checks a signed request and returns the key's
// principal.
func (s *Service) authenticateSigned(ctx context.Context, r *SignedRequest) (*Principal, error) {
	snap, err := s.checkSigned(ctx, r, "")
	if err != nil {
		if snap != nil {
			s.countOutcome(snap.ref(), signedOutcome(err))
		}
		return nil, err
	}
	s.cache.markUsed(snap, s.now())
	p, err := s.keyPrincipal(ctx, snap, nil)
	s.countAuthentication(snap, err)
	if err != nil {
		return nil, err
	}
	p.unspentSignature = r.unspent
	return p, nil
}

// signedOutcome is the outcome a signed request's refusal counts as: ""
// (none) when keyward could not decide.
func signedOutcome(err error) string {
	switch ErrorCode(err) {
	case EKEYDISABLED:
		return CodeDisabled
	case EKEYEXPIRED:
		return CodeExpired
	case EINTERNAL, EUNAVAILABLE, EKEYUNKNOWN, EDBUNAVAILABLE:
		return ""
	}
	return CodeInvalidSignature
}

// checkSigned verifies a keyward-v1 or NWS4 signature and returns the key.
// A key outside tenantID (when not "") is EKEYUNKNOWN before anything is
// checked or spent: another tenant's verifier cannot burn a nonce.
func (s *Service) checkSigned(ctx context.Context, r *SignedRequest, tenantID string) (*keySnapshot, error) {
	if r.BodyTooLarge {
		return nil, Errorf(EBODYTOOLARGE, "a signed body may be at most 10 MiB")
	}
	if auth := r.field("Authorization"); strings.HasPrefix(auth, signature.NWS4Algorithm+" ") {
		return s.checkNWS4(ctx, r, auth, tenantID)
	}
	return s.checkKeywardV1(ctx, r, tenantID)
}

// signingKey finds the HMAC key of clientID and the secrets it may sign
// with now (the current one, and the previous during a grace period).
func (s *Service) signingKey(ctx context.Context, clientID, tenantID string) (*keySnapshot, [][]byte, error) {
	snap, err := s.snapshotByClientID(ctx, clientID)
	if err != nil {
		return nil, nil, err
	}
	if snap != nil && tenantID != "" && snap.TenantID != tenantID {
		return nil, nil, Errorf(EKEYUNKNOWN, "no key has this keyid")
	}
	now := s.now()
	// A key that exists but may not sign comes back with the error, so that
	// callers can keep other tenants' keys out of their answers.
	switch {
	case snap == nil:
		return nil, nil, Errorf(EKEYUNKNOWN, "no key has this keyid")
	case snap.off:
		return snap, nil, Errorf(EKEYDISABLED, "the key is disabled")
	case expired(snap.ExpiresAt, now):
		return snap, nil, Errorf(EKEYEXPIRED, "the key has expired")
	case !snap.HMACEnabled || len(snap.sealed) == 0:
		return snap, nil, Errorf(EHMACNOTENABLED, "the key does not sign requests (hmacEnabled is off)")
	}
	var secrets [][]byte
	for i, sealed := range snap.sealed {
		if i > 0 && (snap.prevUntil == nil || !now.Before(*snap.prevUntil)) {
			break
		}
		sec, err := s.sealer.Open(sealed, []byte(snap.ID))
		if err != nil {
			return nil, nil, err
		}
		// keyward's own API (tenantID "") takes only keyward's own secrets,
		// signed as sent (see lookupHash); an imported one signs for
		// verification in its tenant only.
		if tenantID == "" && !secret.WellFormed(string(sec)) {
			continue
		}
		secrets = append(secrets, sec)
	}
	if len(secrets) == 0 {
		return snap, nil, Errorf(EHMACNOTENABLED, "the key's secret is imported: it signs for verification only")
	}
	return snap, secrets, nil
}

func (s *Service) checkKeywardV1(ctx context.Context, r *SignedRequest, tenantID string) (*keySnapshot, error) {
	rawInput, rawSig := r.field(headerSigInput), r.field(headerSignature)
	if rawInput == "" || rawSig == "" {
		return nil, Errorf(ESIGMISSING, "Signature-Input and Signature are required")
	}
	inputs, err := signature.ParseSignatureInput(rawInput)
	if err != nil {
		return nil, Errorf(ESIGMALFORMED, "Signature-Input: %s", err.Error())
	}
	sigs, err := signature.ParseSignature(rawSig)
	if err != nil {
		return nil, Errorf(ESIGMALFORMED, "Signature: %s", err.Error())
	}
	var in *signature.Input
	for _, candidate := range inputs {
		if tag, _ := candidate.String("tag"); tag == signature.Profile {
			in = candidate
			break
		}
	}
	if in == nil {
		return nil, Errorf(ESIGTAG, "no signature has tag=%q", signature.Profile)
	}
	mac, ok := sigs[in.Label]
	if !ok {
		return nil, Errorf(ESIGMALFORMED, "Signature has no %s", in.Label)
	}
	created, okC := in.Int("created")
	expires, okE := in.Int("expires")
	nonce, okN := in.String("nonce")
	keyid, okK := in.String("keyid")
	if !okC || !okE || !okN || !okK {
		return nil, Errorf(ESIGMALFORMED, "created, expires, nonce and keyid are required")
	}
	if alg, ok := in.Param("alg"); ok && alg != "hmac-sha256" {
		return nil, Errorf(ESIGMALFORMED, "alg must be hmac-sha256 (it is the key's)")
	}
	if len(nonce) < minNonceLen {
		return nil, Errorf(ESIGMALFORMED, "nonce must hold at least 128 bits (22 base64 characters)")
	}
	required := signature.RequiredComponents
	if r.HasBody {
		required = append(slices.Clone(required), "content-type", "content-digest")
	}
	for _, c := range required {
		if !in.Covers(c) {
			return nil, Errorf(ESIGCOMPONENT, "the signature must cover %s", c)
		}
	}
	now := s.now()
	switch c, e := time.Unix(created, 0), time.Unix(expires, 0); {
	case c.Sub(now) > sigMaxFuture:
		return nil, Errorf(ESIGFUTURE, "created is more than 60 s in the future")
	case now.Sub(c) > sigMaxAge:
		return nil, Errorf(ESIGTOOOLD, "created is more than 300 s ago")
	case e.Sub(c) > sigMaxAge:
		return nil, Errorf(ESIGWINDOW, "expires - created is more than 300 s")
	case !now.Before(e):
		return nil, Errorf(ESIGEXPIRED, "the signature has expired")
	}
	snap, secrets, err := s.signingKey(ctx, keyid, tenantID)
	if err != nil {
		return snap, err
	}
	base, err := signature.SignatureBase(in, signature.ComponentValues(r.Method, r.Authority, r.Path, r.RawQuery, r.Header))
	if err != nil {
		return snap, Errorf(ESIGCOMPONENT, "%s", err.Error())
	}
	matched := false
	for _, sec := range secrets {
		if hmac.Equal(signature.HMACSHA256(sec, base), mac) { // constant time
			matched = true
		}
	}
	if !matched {
		return snap, Errorf(ESIGINVALID, "the signature does not match")
	}
	if in.Covers("content-digest") || r.HasBody {
		want := "sha-256=:" + base64.StdEncoding.EncodeToString(r.BodySHA256) + ":"
		if !digestListed(r.field("Content-Digest"), want) {
			return snap, Errorf(EDIGESTMISMATCH, "Content-Digest does not match the body")
		}
	}
	// Only now, with the MAC verified, is the nonce spent.
	fresh, err := s.nonces.Remember(ctx, keyid+"\x00"+nonce, time.Unix(expires, 0))
	if err != nil {
		return snap, Errorf(EUNAVAILABLE, "the replay guard is unavailable")
	}
	if !fresh {
		return snap, Errorf(EREPLAY, "this nonce was used before")
	}
	return snap, nil
}

// digestListed reports whether the Content-Digest field lists want.
func digestListed(field, want string) bool {
	for _, d := range strings.Split(field, ",") {
		if strings.TrimSpace(d) == want {
			return true
		}
	}
	return false
}

func (s *Service) checkNWS4(ctx context.Context, r *SignedRequest, auth, tenantID string) (*keySnapshot, error) {
	a, err := signature.ParseNWS4Authorization(auth)
	if err != nil {
		return nil, Errorf(ESIGMALFORMED, "Authorization: %s", err.Error())
	}
	for _, h := range []string{"host", "x-nd-date", "x-nd-content-sha256"} {
		if !slices.Contains(a.SignedHeaders, h) {
			return nil, Errorf(ESIGCOMPONENT, "the signature must cover %s", h)
		}
	}
	ts, err := time.Parse(time.RFC3339Nano, a.Timestamp)
	if err != nil || r.field(headerNWS4Date) != a.Timestamp {
		return nil, Errorf(ESIGMALFORMED, "Timestamp must be an RFC 3339 time equal to x-nd-date")
	}
	now := s.now()
	if ts.Sub(now) > nws4Window {
		return nil, Errorf(ESIGFUTURE, "x-nd-date is more than 150 s in the future")
	} else if now.Sub(ts) > nws4Window {
		return nil, Errorf(ESIGTOOOLD, "x-nd-date is more than 150 s ago")
	}
	snap, secrets, err := s.signingKey(ctx, a.Credential, tenantID)
	if err != nil {
		return snap, err
	}
	values := map[string]string{"host": r.Authority}
	for _, h := range a.SignedHeaders {
		if h != "host" {
			values[h] = r.fieldList(h)
		}
	}
	declared := values["x-nd-content-sha256"]
	cr := signature.NWS4CanonicalRequest(r.Method, r.Path, r.RawQuery, values, a.SignedHeaders, declared)
	sts := signature.NWS4StringToSign(a.Timestamp, a.Credential, cr)
	given, _ := hex.DecodeString(a.Signature)
	matched := false
	for _, sec := range secrets {
		want, _ := hex.DecodeString(signature.NWS4Signature(string(sec), a.Timestamp[:10], sts))
		if hmac.Equal(want, given) {
			matched = true
		}
	}
	if !matched {
		return snap, Errorf(ESIGINVALID, "the signature does not match")
	}
	if declared != hex.EncodeToString(r.BodySHA256) {
		return snap, Errorf(EDIGESTMISMATCH, "x-nd-content-sha256 does not match the body")
	}
	// NWS4 has no nonce: the signature (its bytes, however spelled) is
	// one, per tenant, until it is too old to be accepted. A request that
	// may change something spends it now, so a replay never acts twice; a
	// read spends it only if it reveals a secret (ReadableSecrets), and is
	// otherwise repeatable within the window.
	n := &signatureNonce{key: "nws4\x00" + snap.TenantID + "\x00" + hex.EncodeToString(given), until: ts.Add(nws4Window)}
	if !safeMethod(r.Method) {
		if err := s.spend(ctx, n); err != nil {
			return snap, err
		}
		return snap, nil
	}
	r.unspent = n
	return snap, nil
}

// VerifySignature answers POST /v1/signatures/verify for a resource server
// (caller needs keys:verify): whether the forwarded request was signed by a
// key of the caller's tenant holding permissions. It spends the nonce like
// a request to keyward itself would.
func (s *Service) VerifySignature(ctx context.Context, p *Principal, r *SignedRequest, permissions []string) (res *VerifyResult, err error) {
	defer func() { s.countResult(p, res, err) }()
	if !p.Has(PermKeysVerify) {
		return nil, Errorf(EFORBIDDEN, "keys:verify is required")
	}
	snap, err := s.checkSigned(ctx, r, p.TenantID)
	code := ErrorCode(err)
	switch {
	case snap != nil && snap.TenantID != p.TenantID, code == EKEYUNKNOWN:
		return &VerifyResult{Code: CodeNotFound}, nil // never reveal another tenant's keys
	case err == nil:
	case code == EKEYDISABLED:
		return snap.result(CodeDisabled, snap.Permissions), nil
	case code == EKEYEXPIRED:
		return snap.result(CodeExpired, snap.Permissions), nil
	case code == EINTERNAL, code == EUNAVAILABLE:
		return nil, err
	default:
		if snap != nil { // the answer names no key: count it here
			s.countOutcome(snap.ref(), CodeInvalidSignature)
		}
		return &VerifyResult{Code: CodeInvalidSignature, Reason: code}, nil
	}
	result := CodeValid
	if r.ClientIP != "" && !validIP(r.ClientIP) {
		return nil, Invalid(FieldError{Field: "ip", Message: "must be an IPv4 or IPv6 address"})
	}
	if !ipAllowed(snap.allowed, r.ClientIP) {
		result = CodeIPNotAllowed
	}
	for _, name := range permissions {
		if result != CodeValid {
			break
		}
		if !snap.explicit[name] {
			result = CodeInsufficientPermissions
			break
		}
	}
	s.cache.markUsed(snap, s.now())
	return s.limitedResult(ctx, snap, result, snap.Permissions, 1)
}
