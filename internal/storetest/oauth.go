package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// testSigningKeys: one key per slot, listed newest first until they expire.
func testSigningKeys(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	mk := func(slot int64, expires time.Duration) *keyward.SigningKey {
		return &keyward.SigningKey{ID: secret.NewID(), Algorithm: "EdDSA",
			PublicJWK: json.RawMessage(`{"kty":"OKP","crv":"Ed25519","x":"abc", "kid":"k"}`), PrivateSealed: randomBytes(64),
			Slot: slot, CreatedAt: t0, RetireAt: at(time.Hour), ExpiresAt: at(expires)}
	}
	k1, k2, k3 := mk(1, 2*time.Hour), mk(2, 3*time.Hour), mk(3, time.Hour)
	for _, k := range []*keyward.SigningKey{k1, k3, k2} {
		must(t, "creating signing key", s.CreateSigningKey(ctx, k))
	}
	dup := mk(2, time.Hour)
	wantCode(t, "a second key for slot 2", s.CreateSigningKey(ctx, dup), keyward.ECONFLICT)
	sameID := mk(9, time.Hour)
	sameID.ID = k1.ID
	wantCode(t, "a key with an existing id", s.CreateSigningKey(ctx, sameID), keyward.ECONFLICT)

	got, err := s.ListSigningKeys(ctx, at(0))
	must(t, "listing signing keys", err)
	check(t, "keys newest slot first", got, []*keyward.SigningKey{k3, k2, k1})
	// Expiry is exclusive: a key whose ExpiresAt is exactly now is gone.
	got, err = s.ListSigningKeys(ctx, at(time.Hour))
	must(t, "listing signing keys", err)
	check(t, "keys at k3's expiry", got, []*keyward.SigningKey{k2, k1})

	n, err := s.DeleteExpiredSigningKeys(ctx, at(2*time.Hour))
	must(t, "deleting expired keys", err)
	if n != 2 {
		t.Errorf("deleted %d expired keys, want 2 (k1 and k3)", n)
	}
	got, err = s.ListSigningKeys(ctx, at(0))
	must(t, "listing signing keys", err)
	check(t, "keys after deletion", got, []*keyward.SigningKey{k2})
}

// testRevocations: revoking is idempotent and keeps the later expiry;
// expired revocations drop out of the list and are deleted.
func testRevocations(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "revocations")
	must(t, "revoking a", s.RevokeToken(ctx, "a", tn.ID, at(time.Hour)))
	must(t, "revoking b", s.RevokeToken(ctx, "b", tn.ID, at(2*time.Hour)))
	must(t, "revoking a again, later", s.RevokeToken(ctx, "a", tn.ID, at(3*time.Hour)))
	must(t, "revoking b again, earlier", s.RevokeToken(ctx, "b", tn.ID, at(time.Minute)))
	got, err := s.ListRevokedTokens(ctx, at(0))
	must(t, "listing revocations", err)
	check(t, "revocations", got, map[string]time.Time{"a": at(3 * time.Hour), "b": at(2 * time.Hour)})
	got, err = s.ListRevokedTokens(ctx, at(2*time.Hour))
	must(t, "listing revocations", err)
	check(t, "revocations at b's expiry", got, map[string]time.Time{"a": at(3 * time.Hour)})
	n, err := s.DeleteExpiredRevocations(ctx, at(2*time.Hour))
	must(t, "deleting expired revocations", err)
	if n != 1 {
		t.Errorf("deleted %d revocations, want 1", n)
	}
	err = s.Tx(ctx, func(tx keyward.StoreTx) error { return tx.RevokeToken(ctx, "c", tn.ID, at(time.Hour)) })
	must(t, "revoking inside a transaction", err)
	got, err = s.ListRevokedTokens(ctx, at(0))
	must(t, "listing revocations", err)
	check(t, "revocations after deletion", got, map[string]time.Time{"a": at(3 * time.Hour), "c": at(time.Hour)})
}

// testSecretGeneration: a key's secret generation round-trips and updates.
func testSecretGeneration(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "generations")
	k := createKey(t, s, tn.ID)
	got := mustGetKey(t, s, tn.ID, k.ID)
	if got.SecretGeneration != 1 {
		t.Fatalf("got generation %d, want 1", got.SecretGeneration)
	}
	got.SecretGeneration, got.Version = 2, 2
	must(t, "updating the generation", s.UpdateAPIKey(ctx, got, 1))
	byClient, err := s.GetAPIKeyByClientID(ctx, k.ClientID)
	must(t, "reading by client id", err)
	if byClient.SecretGeneration != 2 {
		t.Errorf("got generation %d after update, want 2", byClient.SecretGeneration)
	}
}
