package keyward

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"strings"
	"time"
)

// IdempotencyTTL is how long the answer to a request with an
// Idempotency-Key is kept; idempotencyStale is how long a request may stay
// in flight before a retry takes its place (its replica died).
const (
	IdempotencyTTL   = 24 * time.Hour
	idempotencyStale = 2 * time.Minute
)

// MaxIdempotencyKey bounds an Idempotency-Key.
const MaxIdempotencyKey = 255

// IdempotentAnswer is a kept answer: its status, the headers that matter
// (Content-Type, ETag, Location) and the body, which may hold a secret.
type IdempotentAnswer struct {
	Status int               `json:"status"`
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body"`
}

// idempotencyScope names the caller a record belongs to: one principal's
// answer (and the secret in it) is never replayed to another.
func idempotencyScope(p *Principal) string {
	return p.Kind + ":" + p.HomeTenantID() + ":" + p.ID
}

func sealContext(rec *IdempotencyRecord) []byte {
	return []byte("idempotency\x00" + rec.TenantID + "\x00" + rec.Principal + "\x00" + rec.Key)
}

// BeginIdempotent starts a request that carries an Idempotency-Key.
// fingerprint identifies the request (method, path, body). It returns the
// kept answer when the same principal made the same request with the key
// within IdempotencyTTL; nil when this request is the first and must run
// and then call FinishIdempotent. The same key with another request is
// EIDEMREUSED; while the first is in flight, EIDEMINPROGRESS.
func (s *Service) BeginIdempotent(ctx context.Context, p *Principal, key string, fingerprint []byte) (*IdempotentAnswer, error) {
	if key == "" || len(key) > MaxIdempotencyKey || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		return nil, Invalid(FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"})
	}
	now := s.now()
	rec := &IdempotencyRecord{TenantID: p.TenantID, Principal: idempotencyScope(p), Key: key, Fingerprint: fingerprint,
		CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL)}
	prev, err := s.store.ClaimIdempotency(ctx, rec, now, now.Add(-idempotencyStale))
	switch {
	case err != nil:
		return nil, err
	case prev == nil:
		return nil, nil
	case subtle.ConstantTimeCompare(prev.Fingerprint, fingerprint) != 1:
		return nil, Errorf(EIDEMREUSED, "this Idempotency-Key was used with another request")
	case prev.Status == 0:
		return nil, Errorf(EIDEMINPROGRESS, "a request with this Idempotency-Key is in progress; retry later")
	}
	plain, err := s.sealer.Open(prev.Response, sealContext(prev))
	if err != nil {
		return nil, err // another master key: internal
	}
	var a IdempotentAnswer
	if err := json.Unmarshal(plain, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// FinishIdempotent keeps the answer to a request BeginIdempotent let run,
// sealed. A nil answer (the request failed) forgets the key, so that a
// retry runs again.
func (s *Service) FinishIdempotent(ctx context.Context, p *Principal, key string, a *IdempotentAnswer) error {
	rec := &IdempotencyRecord{TenantID: p.TenantID, Principal: idempotencyScope(p), Key: key}
	if a == nil {
		return s.store.DeleteIdempotency(ctx, rec.TenantID, rec.Principal, rec.Key)
	}
	plain, err := json.Marshal(a)
	if err != nil {
		return err
	}
	rec.Status, rec.Response = a.Status, s.sealer.Seal(plain, sealContext(rec))
	return s.store.FinishIdempotency(ctx, rec)
}
