package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// testIdempotency checks Idempotency-Key records: one claim per scope and
// key, answered records returned as stored, expired and stale ones
// replaced, deletes.
func testIdempotency(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	rec := func(principal, key string, created time.Time) *keyward.IdempotencyRecord {
		return &keyward.IdempotencyRecord{TenantID: "t1", Principal: principal, Key: key, Fingerprint: []byte("fp-" + key),
			CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)}
	}
	claim := func(r *keyward.IdempotencyRecord, now time.Time) *keyward.IdempotencyRecord {
		t.Helper()
		got, err := s.ClaimIdempotency(ctx, r, now, now.Add(-2*time.Minute))
		must(t, "ClaimIdempotency", err)
		return got
	}
	a := rec("user:t1:u1", "k1", t0)
	if got := claim(a, t0); got != nil {
		t.Fatalf("first claim: got %+v, want nil", got)
	}
	if got := claim(rec("user:t1:u1", "k1", at(time.Minute)), at(time.Minute)); got == nil || got.Status != 0 {
		t.Fatalf("second claim while in flight: got %+v, want the in-flight record", got)
	}
	if got := claim(rec("user:t1:u2", "k1", at(time.Minute)), at(time.Minute)); got != nil {
		t.Errorf("another principal's claim: got %+v, want its own", got)
	}
	a.Status, a.Response = 201, []byte("sealed")
	must(t, "FinishIdempotency", s.FinishIdempotency(ctx, a))
	got := claim(rec("user:t1:u1", "k1", at(time.Hour)), at(time.Hour))
	want := *a
	if got == nil {
		t.Fatal("claim of an answered key: got nil")
	}
	check(t, "the answered record", got, &want)
	// Answered records live until they expire; in-flight ones only until stale.
	if got := claim(rec("user:t1:u1", "k1", at(25*time.Hour)), at(25*time.Hour)); got != nil {
		t.Errorf("claim after expiry: got %+v, want a new claim", got)
	}
	b := rec("user:t1:u1", "k2", t0)
	claim(b, t0)
	if got := claim(rec("user:t1:u1", "k2", at(3*time.Minute)), at(3*time.Minute)); got != nil {
		t.Errorf("claim of a stale in-flight key: got %+v, want a new claim", got)
	}
	must(t, "DeleteIdempotency", s.DeleteIdempotency(ctx, "t1", "user:t1:u1", "k2"))
	if got := claim(rec("user:t1:u1", "k2", at(4*time.Minute)), at(4*time.Minute)); got != nil {
		t.Errorf("claim after delete: got %+v", got)
	}
	// Left: u2/k1 and u1/k2 expire after 24 h, u1/k1 (claimed again at 25 h) at 49 h.
	for _, st := range []struct {
		now  time.Time
		want int
	}{{at(48 * time.Hour), 2}, {at(48 * time.Hour), 0}, {at(49 * time.Hour), 1}} {
		n, err := s.DeleteExpiredIdempotency(ctx, st.now)
		must(t, "DeleteExpiredIdempotency", err)
		if n != st.want {
			t.Errorf("expired records deleted at %v: got %d, want %d", st.now, n, st.want)
		}
	}
}
