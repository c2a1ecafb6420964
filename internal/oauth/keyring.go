package oauth

import (
	"bytes"
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

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// rsaKeyBits is the size of RS256 signing keys.
const rsaKeyBits = 2048

// keyring holds the signing keys: the one that signs now and every public
// key still published. It is loaded from the store and refreshed when a
// rotation period ends or a token names an unknown kid.
type keyring struct {
	mu          sync.RWMutex
	current     *keyward.SigningKey
	signer      *tokenSigner
	public      map[string]jose.JSONWebKey // kid → public key
	all         []*keyward.SigningKey
	lastRefresh time.Time
	refreshMu   sync.Mutex // one refresh at a time
	// algChecked is set once this process has made sure the key that signs
	// has the configured algorithm (under refreshMu).
	algChecked bool
}

// signingSlot returns the rotation period now falls in.
func (t *Tokens) signingSlot(now time.Time) int64 { return now.Unix() / int64(t.rotation/time.Second) }

// currentSigner returns a signer for the current rotation period, creating
// the period's key when none exists yet. Concurrent callers, in this process
// or in other replicas, end up with the same key: the store lets one key per
// slot exist, and the losers load the winner's.
func (t *Tokens) currentSigner(ctx context.Context) (*tokenSigner, *keyward.SigningKey, error) {
	now := t.now()
	t.ring.mu.RLock()
	cur, signer := t.ring.current, t.ring.signer
	t.ring.mu.RUnlock()
	if cur != nil && now.Before(cur.RetireAt) {
		return signer, cur, nil
	}
	if err := t.refreshKeyring(ctx, true); err != nil {
		return nil, nil, err
	}
	t.ring.mu.RLock()
	defer t.ring.mu.RUnlock()
	if t.ring.current == nil {
		return nil, nil, fmt.Errorf("no signing key for the current period")
	}
	return t.ring.signer, t.ring.current, nil
}

// refreshKeyring reloads the keys from the store; with ensure it first makes
// the current period's key if it is missing.
func (t *Tokens) refreshKeyring(ctx context.Context, ensure bool) error {
	t.ring.refreshMu.Lock()
	defer t.ring.refreshMu.Unlock()
	now := t.now()
	keys, err := t.store.ListSigningKeys(ctx, now)
	if err != nil {
		return err
	}
	slot := t.signingSlot(now)
	if ensure && t.needSigningKey(keys) {
		// Slots only order keys and let one replica win; a key made early
		// for a new algorithm takes the next free one.
		next := slot
		if len(keys) > 0 && keys[0].Slot >= next {
			next = keys[0].Slot + 1
		}
		k, err := t.newSigningKey(next, slot)
		if err != nil {
			return err
		}
		if err := t.store.CreateSigningKey(ctx, k); err != nil && keyward.ErrorCode(err) != keyward.ECONFLICT {
			return err
		} else if err == nil {
			t.logger.Info("created a token signing key", slog.String("kid", k.ID), slog.String("alg", k.Algorithm))
		}
		if keys, err = t.store.ListSigningKeys(ctx, now); err != nil {
			return err
		}
		if _, err := t.store.DeleteExpiredSigningKeys(ctx, now); err != nil {
			return err
		}
	}
	public := map[string]jose.JSONWebKey{}
	var current *keyward.SigningKey
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
		priv, err := t.openSigningKey(current)
		if err != nil {
			return err
		}
		if signer, err = newTokenSigner(current, priv); err != nil {
			return err
		}
	}
	t.ring.mu.Lock()
	t.ring.current, t.ring.signer, t.ring.public, t.ring.all, t.ring.lastRefresh = current, signer, public, keys, now
	t.ring.mu.Unlock()
	return nil
}

// needSigningKey reports whether a new signing key must be made: none signs
// in the current period, or, the first time this process looks, the key
// that signs has another algorithm than --token-alg (a changed algorithm
// takes effect at start; the old key stays published until its tokens
// expire). keys is newest first. Called under refreshMu.
func (t *Tokens) needSigningKey(keys []*keyward.SigningKey) bool {
	first := !t.ring.algChecked
	t.ring.algChecked = true
	now := t.now()
	for _, k := range keys {
		if now.Before(k.RetireAt) {
			return first && k.Algorithm != t.alg
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

func newTokenSigner(k *keyward.SigningKey, priv crypto.Signer) (*tokenSigner, error) {
	switch priv.(type) {
	case ed25519.PrivateKey:
		if k.Algorithm != keyward.AlgEdDSA {
			return nil, fmt.Errorf("signing key %s: an Ed25519 key for %s", k.ID, k.Algorithm)
		}
	case *ecdsa.PrivateKey:
		if k.Algorithm != keyward.AlgES256 {
			return nil, fmt.Errorf("signing key %s: a P-256 key for %s", k.ID, k.Algorithm)
		}
	case *rsa.PrivateKey:
		if k.Algorithm != keyward.AlgRS256 {
			return nil, fmt.Errorf("signing key %s: an RSA key for %s", k.ID, k.Algorithm)
		}
		js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: k.ID, Algorithm: keyward.AlgRS256}},
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

// signPayload returns the compact JWS of payload, a JSON object.
func (t *tokenSigner) signPayload(payload []byte) (string, error) {
	if t.jose != nil {
		// A copy: what an interface's method is given escapes, and the
		// caller's payload is on its stack.
		jws, err := t.jose.Sign(bytes.Clone(payload))
		if err != nil {
			return "", err
		}
		return jws.CompactSerialize()
	}
	// header.payload.signature, assembled in one buffer, on the stack for
	// a usual token: the string is then the only allocation.
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, 1024)
	if n := len(t.header) + 1 + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(64); n > cap(buf) {
		buf = make([]byte, 0, n)
	}
	buf = append(append(buf, t.header...), '.')
	buf = enc.AppendEncode(buf, payload)
	input := buf
	var sig []byte
	switch key := t.key.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(key, input)
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64) // JWS ES256: r || s, 32 bytes each (RFC 7518 §3.4)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	buf = append(buf, '.')
	return string(enc.AppendEncode(buf, sig)), nil
}

// newSigningKey makes a key stored in slot with the configured algorithm,
// signing until the rotation period period ends.
func (t *Tokens) newSigningKey(slot, period int64) (*keyward.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch t.alg {
	case keyward.AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case keyward.AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaKeyBits)
	default:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	id := secret.NewID()
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: id, Algorithm: t.alg, Use: "sig"})
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	retire := time.Unix((period+1)*int64(t.rotation/time.Second), 0).UTC()
	return &keyward.SigningKey{
		ID: id, Algorithm: t.alg, PublicJWK: pub, PrivateSealed: t.sealer.Seal(der, []byte("signing key "+id)),
		Slot: slot, CreatedAt: t.now(), RetireAt: retire,
		// Published until every token it signed has expired, with a minute of skew.
		ExpiresAt: retire.Add(keyward.MaxTokenLifespan*time.Second + time.Minute),
	}, nil
}

func (t *Tokens) openSigningKey(k *keyward.SigningKey) (crypto.Signer, error) {
	der, err := t.sealer.Open(k.PrivateSealed, []byte("signing key "+k.ID))
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
func (t *Tokens) publicKey(ctx context.Context, kid string) (jose.JSONWebKey, bool) {
	t.ring.mu.RLock()
	k, ok := t.ring.public[kid]
	last := t.ring.lastRefresh
	t.ring.mu.RUnlock()
	if ok || t.now().Sub(last) < time.Second {
		return k, ok
	}
	if err := t.refreshKeyring(ctx, false); err != nil {
		t.logger.Warn("reloading signing keys", slog.Any("error", err))
		return jose.JSONWebKey{}, false
	}
	t.ring.mu.RLock()
	defer t.ring.mu.RUnlock()
	k, ok = t.ring.public[kid]
	return k, ok
}

// JWKS returns the published public keys as a JWK Set document: the
// current one and every older one whose tokens may still be valid.
func (t *Tokens) JWKS(ctx context.Context) ([]byte, error) {
	if _, _, err := t.currentSigner(ctx); err != nil {
		return nil, err
	}
	t.ring.mu.RLock()
	defer t.ring.mu.RUnlock()
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range t.ring.all {
		set.Keys = append(set.Keys, t.ring.public[k.ID])
	}
	return json.Marshal(set)
}
