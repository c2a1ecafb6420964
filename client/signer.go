package client

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/signature"
)

// Signer is an http.RoundTripper that signs every request with an
// hmacEnabled key, as keyward's RFC 9421 profile keyward-v1: a fresh
// 128-bit nonce, created now, expires a minute later, and Content-Digest
// for bodies. Use it for keyward's own API (WithHTTPClient) or for any API
// that verifies signatures with POST /v1/signatures/verify.
//
//	hc := &http.Client{Transport: client.NewSigner(clientID, secret, nil)}
type Signer struct {
	clientID string
	secret   []byte
	next     http.RoundTripper
	now      func() time.Time
}

// NewSigner returns a Signer for the key; next sends the signed requests
// (http.DefaultTransport when nil).
func NewSigner(clientID, secret string, next http.RoundTripper) *Signer {
	if next == nil {
		next = http.DefaultTransport
	}
	return &Signer{clientID: clientID, secret: []byte(secret), next: next, now: time.Now}
}

// RoundTrip signs a copy of req and sends it.
func (s *Signer) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	nonce := make([]byte, 18)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	if err := signature.SignKeywardV1(r, s.clientID, s.secret, s.now(), time.Minute, base64.RawURLEncoding.EncodeToString(nonce)); err != nil {
		return nil, err
	}
	return s.next.RoundTrip(r)
}

// String never shows the secret.
func (s *Signer) String() string { return "client.Signer{" + s.clientID + "}" }
