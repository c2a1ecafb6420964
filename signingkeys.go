package keyward

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/secret"
)

// Token signing algorithms.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	// AlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key, the
	// algorithm RFC 9068 requires every implementation to support.
	AlgRS256 = "RS256"
)

// rsaKeyBits is the size of RS256 signing keys.
const rsaKeyBits = 2048

// keyring holds the signing keys: the one that signs now and every public
// key still published. It is loaded from the store and refreshed when a
// rotation period ends or a token names an unknown kid.
type keyring struct {
	mu          sync.RWMutex
	current     *SigningKey
	signer      *tokenSigner
	public      map[string]jose.JSONWebKey // kid → public key
	all         []*SigningKey
	lastRefresh time.Time
	refreshMu   sync.Mutex // one refresh at a time
	// algChecked is set once this process has made sure the key that signs
	// has the configured algorithm (under refreshMu).
	algChecked bool
}

// signingSlot returns the rotation period now falls in.
func (s *Service) signingSlot(now time.Time) int64 { return now.Unix() / int64(s.rotation/time.Second) }

// currentSigner returns a signer for the current rotation period, creating
// the period's key when none exists yet. Concurrent callers, in this process
// or in other replicas, end up with the same key: the store lets one key per
// slot exist, and the losers load the winner's.
func (s *Service) currentSigner(ctx context.Context) (*tokenSigner, *SigningKey, error) {
	now := s.now()
	s.ring.mu.RLock()
	cur, signer := s.ring.current, s.ring.signer
	s.ring.mu.RUnlock()
	if cur != nil && now.Before(cur.RetireAt) {
		return signer, cur, nil
	}
	if err := s.refreshKeyring(ctx, true); err != nil {
		return nil, nil, err
	}
	s.ring.mu.RLock()
	defer s.ring.mu.RUnlock()
	if s.ring.current == nil {
		return nil, nil, fmt.Errorf("no signing key for the current period")
	}
	return s.ring.signer, s.ring.current, nil
}

// refreshKeyring reloads the keys from the store; with ensure it first makes
// the current period's key if it is missing.
func (s *Service) refreshKeyring(ctx context.Context, ensure bool) error {
	s.ring.refreshMu.Lock()
	defer s.ring.refreshMu.Unlock()
	now := s.now()
	keys, err := s.store.ListSigningKeys(ctx, now)
	if err != nil {
		return err
	}
	slot := s.signingSlot(now)
	if ensure && s.needSigningKey(keys) {
		// Slots only order keys and let one replica win; a key made early
		// for a new algorithm takes the next free one.
		next := slot
		if len(keys) > 0 && keys[0].Slot >= next {
			next = keys[0].Slot + 1
		}
		k, err := s.newSigningKey(next, slot)
		if err != nil {
			return err
		}
		if err := s.store.CreateSigningKey(ctx, k); err != nil && ErrorCode(err) != ECONFLICT {
			return err
		} else if err == nil {
			s.logger.Info("created a token signing key", slog.String("kid", k.ID), slog.String("alg", k.Algorithm))
		}
		if keys, err = s.store.ListSigningKeys(ctx, now); err != nil {
			return err
		}
		if _, err := s.store.DeleteExpiredSigningKeys(ctx, now); err != nil {
			return err
		}
	}
	public := map[string]jose.JSONWebKey{}
	var current *SigningKey
	for _, k := range keys {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			return fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		public[k.ID] = jwk
		// The newest key still signing; with clocks a little apart, another
		// replica may have made the next period's key already.
		if current == nil && now.Before(k.RetireAt) {
			current = k
		}
	}
	var signer *tokenSigner
	if current != nil {
		priv, err := s.openSigningKey(current)
		if err != nil {
			return err
		}
		if signer, err = newTokenSigner(current, priv); err != nil {
			return err
		}
	}
	s.ring.mu.Lock()
	s.ring.current, s.ring.signer, s.ring.public, s.ring.all, s.ring.lastRefresh = current, signer, public, keys, now
	s.ring.mu.Unlock()
	return nil
}

// needSigningKey reports whether a new signing key must be made: none signs
// in the current period, or, the first time this process looks, the key
// that signs has another algorithm than --token-alg (a changed algorithm
// takes effect at start; the old key stays published until its tokens
// expire). keys is newest first. Called under refreshMu.
func (s *Service) needSigningKey(keys []*SigningKey) bool {
	first := !s.ring.algChecked
	s.ring.algChecked = true
	now := s.now()
	for _, k := range keys {
		if now.Before(k.RetireAt) {
			return first && k.Algorithm != s.tokenAlg
		}
	}
	return true
}

// tokenSigner signs JWS compact serializations with one signing key. For
// EdDSA and ES256 it writes the few bytes of a JWT itself: the header is
// fixed per key, and claims are one json.Marshal. RS256 signs with go-jose
// (RSA signing costs far more than the assembly). Verification, where
// mistakes would matter, stays with go-jose and its algorithm allow-list.
type tokenSigner struct {
	header string // base64url of {"alg","kid","typ":"at+jwt"}
	key    crypto.Signer
	alg    string
	jose   jose.Signer // RS256
}

func newTokenSigner(k *SigningKey, priv crypto.Signer) (*tokenSigner, error) {
	switch priv.(type) {
	case ed25519.PrivateKey:
		if k.Algorithm != AlgEdDSA {
			return nil, fmt.Errorf("signing key %s: an Ed25519 key for %s", k.ID, k.Algorithm)
		}
	case *ecdsa.PrivateKey:
		if k.Algorithm != AlgES256 {
			return nil, fmt.Errorf("signing key %s: a P-256 key for %s", k.ID, k.Algorithm)
		}
	case *rsa.PrivateKey:
		if k.Algorithm != AlgRS256 {
			return nil, fmt.Errorf("signing key %s: an RSA key for %s", k.ID, k.Algorithm)
		}
		js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: k.ID, Algorithm: AlgRS256}},
			(&jose.SignerOptions{}).WithType("at+jwt"))
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		return &tokenSigner{key: priv, alg: k.Algorithm, jose: js}, nil
	default:
		return nil, fmt.Errorf("signing key %s: unsupported key type %T", k.ID, priv)
	}
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{k.Algorithm, k.ID, "at+jwt"})
	if err != nil {
		return nil, err
	}
	return &tokenSigner{header: base64.RawURLEncoding.EncodeToString(h), key: priv, alg: k.Algorithm}, nil
}

// sign returns the compact JWS of claims.
func (t *tokenSigner) sign(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	if t.jose != nil {
		jws, err := t.jose.Sign(payload)
		if err != nil {
			return "", err
		}
		return jws.CompactSerialize()
	}
	input := t.header + "." + base64.RawURLEncoding.EncodeToString(payload)
	var sig []byte
	switch key := t.key.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(key, []byte(input))
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64) // JWS ES256: r || s, 32 bytes each (RFC 7518 §3.4)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// newSigningKey makes a key stored in slot with the configured algorithm,
// signing until the rotation period period ends.
func (s *Service) newSigningKey(slot, period int64) (*SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch s.tokenAlg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaKeyBits)
	default:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	id := secret.NewID()
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: id, Algorithm: s.tokenAlg, Use: "sig"})
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	retire := time.Unix((period+1)*int64(s.rotation/time.Second), 0).UTC()
	return &SigningKey{
		ID: id, Algorithm: s.tokenAlg, PublicJWK: pub, PrivateSealed: s.sealer.Seal(der, []byte("signing key "+id)),
		Slot: slot, CreatedAt: s.now(), RetireAt: retire,
		// Published until every token it signed has expired, with a minute of skew.
		ExpiresAt: retire.Add(MaxTokenLifespan*time.Second + time.Minute),
	}, nil
}

func (s *Service) openSigningKey(k *SigningKey) (crypto.Signer, error) {
	der, err := s.sealer.Open(k.PrivateSealed, []byte("signing key "+k.ID))
	if err != nil {
		return nil, fmt.Errorf("signing key %s cannot be opened with this master key: %w", k.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: unsupported key type", k.ID)
	}
	return signer, nil
}

// publicKey returns the public key of kid, reloading the keyring (at most
// once a second) when it is unknown: another replica may have made it.
func (s *Service) publicKey(ctx context.Context, kid string) (jose.JSONWebKey, bool) {
	s.ring.mu.RLock()
	k, ok := s.ring.public[kid]
	last := s.ring.lastRefresh
	s.ring.mu.RUnlock()
	if ok || s.now().Sub(last) < time.Second {
		return k, ok
	}
	if err := s.refreshKeyring(ctx, false); err != nil {
		s.logger.Warn("reloading signing keys", slog.Any("error", err))
		return jose.JSONWebKey{}, false
	}
	s.ring.mu.RLock()
	defer s.ring.mu.RUnlock()
	k, ok = s.ring.public[kid]
	return k, ok
}

// JWKS returns the published public keys: the current one and every older
// one whose tokens may still be valid.
func (s *Service) JWKS(ctx context.Context) (*jose.JSONWebKeySet, error) {
	if _, _, err := s.currentSigner(ctx); err != nil {
		return nil, err
	}
	s.ring.mu.RLock()
	defer s.ring.mu.RUnlock()
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range s.ring.all {
		set.Keys = append(set.Keys, s.ring.public[k.ID])
	}
	return set, nil
}
