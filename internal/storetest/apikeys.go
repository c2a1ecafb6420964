package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func testAPIKeys(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "keys")
	other := createTenant(t, s, "keys-other")
	read := createPermission(t, s, tn.ID, "orders_read")
	write := createPermission(t, s, tn.ID, "orders_write")
	all := createPermission(t, s, tn.ID, "orders_all", write.ID, read.ID)
	owner := createUser(t, s, tn.ID, "Owner.Name")

	// get reads a key back in every way and compares it with want.
	get := func(t *testing.T, want *keyward.APIKey) {
		t.Helper()
		got, err := s.GetAPIKey(ctx, want.TenantID, want.ID)
		must(t, "GetAPIKey", err)
		check(t, "GetAPIKey", got, want)
		got, err = s.GetAPIKeyByClientID(ctx, want.ClientID)
		must(t, "GetAPIKeyByClientID", err)
		check(t, "GetAPIKeyByClientID", got, want)
		got, err = s.GetAPIKeyBySecretHash(ctx, want.SecretHash)
		must(t, "GetAPIKeyBySecretHash", err)
		check(t, "GetAPIKeyBySecretHash", got, want)
	}

	t.Run("round trip", func(t *testing.T) {
		tests := []struct {
			name string
			mod  func(k *keyward.APIKey)
		}{
			{"every field set", func(k *keyward.APIKey) {
				k.ClientID, k.Name, k.Description, k.DeviceName = "cbx_b2b_my-app", "Ünïcode näme", "line 1\nline 2", "laptop"
				k.OwnerID, k.UserName = owner.ID, owner.UserName
				k.Permissions = []keyward.Permission{*write, *all, *read}
				k.Level, k.IsActive, k.TokenLifespanSeconds, k.HMACEnabled = 7, false, 86400, true
				k.ExpiresAt, k.LastUsedAt, k.PrevSecretExpiresAt = ptr(at(48*time.Hour)), ptr(at(-time.Microsecond)), ptr(at(time.Hour))
				k.Meta = json.RawMessage(`{"z": 1,  "a":[true,null, "é"] }`)
				k.SecretHint, k.CreatedAt, k.UpdatedAt, k.Version = "wxyz", at(-time.Hour), at(time.Second), 5
				k.SecretCiphertext, k.PrevSecretHash, k.PrevSecretCiphertext = randomBytes(60), randomBytes(32), randomBytes(61)
				k.Audiences = keyward.Audiences{"https://orders.example.com/v1", "billing", "urn:ex:ünï"}
			}},
			{"nothing optional", func(k *keyward.APIKey) { k.Meta = nil }},
			{"empty meta object", func(k *keyward.APIKey) { k.Meta = json.RawMessage(`{}`) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				get(t, createKey(t, s, tn.ID, tt.mod))
			})
		}
	})

	t.Run("times", func(t *testing.T) {
		for _, tm := range []time.Time{
			time.Unix(0, 0).UTC(),
			time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2999, 12, 31, 23, 59, 59, 999999000, time.UTC),
			at(time.Microsecond),
		} {
			t.Run(tm.Format(time.RFC3339Nano), func(t *testing.T) {
				k := createKey(t, s, tn.ID, func(k *keyward.APIKey) {
					k.ExpiresAt, k.LastUsedAt, k.PrevSecretExpiresAt = &tm, &tm, &tm
					k.CreatedAt, k.UpdatedAt = tm, tm
				})
				got := mustGetKey(t, s, tn.ID, k.ID)
				check(t, "key", got, k)
				for _, g := range []time.Time{*got.ExpiresAt, *got.LastUsedAt, *got.PrevSecretExpiresAt, got.CreatedAt, got.UpdatedAt} {
					if g.Location() != time.UTC {
						t.Errorf("time %v: got location %v, want UTC", g, g.Location())
					}
				}
			})
		}
	})

	t.Run("not found", func(t *testing.T) {
		k := createKey(t, s, tn.ID)
		_, err := s.GetAPIKey(ctx, other.ID, k.ID)
		wantCode(t, "GetAPIKey in another tenant", err, keyward.ENOTFOUND)
		_, err = s.GetAPIKey(ctx, tn.ID, secret.NewID())
		wantCode(t, "GetAPIKey of an unknown id", err, keyward.ENOTFOUND)
		_, err = s.GetAPIKeyByClientID(ctx, "kw_id_unknown")
		wantCode(t, "GetAPIKeyByClientID of an unknown clientId", err, keyward.ENOTFOUND)
		_, err = s.GetAPIKeyBySecretHash(ctx, randomBytes(32))
		wantCode(t, "GetAPIKeyBySecretHash of an unknown hash", err, keyward.ENOTFOUND)
		_, err = s.GetAPIKeyBySecretHash(ctx, nil)
		wantCode(t, "GetAPIKeyBySecretHash of no hash", err, keyward.ENOTFOUND)
	})

	t.Run("conflicts", func(t *testing.T) {
		first := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.PrevSecretHash = randomBytes(32) })
		tests := []struct {
			name string
			mod  func(k *keyward.APIKey)
		}{
			{"same id", func(k *keyward.APIKey) { k.ID = first.ID }},
			// (the same id in another tenant is another key: APIKeySameIDs)
			{"same clientId", func(k *keyward.APIKey) { k.ClientID = first.ClientID }},
			{"same clientId in another tenant", func(k *keyward.APIKey) { k.TenantID, k.ClientID = other.ID, first.ClientID }},
			{"same secret hash in another tenant", func(k *keyward.APIKey) { k.TenantID, k.SecretHash = other.ID, first.SecretHash }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k := newKey(tn.ID, tt.mod, func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*read} })
				wantCode(t, "CreateAPIKey", s.CreateAPIKey(ctx, k), keyward.ECONFLICT)
				if k.ID != first.ID {
					_, err := s.GetAPIKey(ctx, k.TenantID, k.ID)
					wantCode(t, "GetAPIKey of the rejected key", err, keyward.ENOTFOUND)
				}
			})
		}
		get(t, first)
	})

	t.Run("previous secret hash", func(t *testing.T) {
		a := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.PrevSecretHash, k.PrevSecretExpiresAt = randomBytes(32), ptr(t0) })
		b := createKey(t, s, other.ID)
		tests := []struct {
			name string
			hash []byte
			want *keyward.APIKey
		}{
			{"current secret", a.SecretHash, a},
			{"previous secret", a.PrevSecretHash, a},
			{"current secret of another tenant's key", b.SecretHash, b},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.GetAPIKeyBySecretHash(ctx, tt.hash)
				must(t, "GetAPIKeyBySecretHash", err)
				check(t, "GetAPIKeyBySecretHash", got, tt.want)
			})
		}
	})

	t.Run("touch", func(t *testing.T) {
		never := createKey(t, s, tn.ID)
		recent := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.LastUsedAt = ptr(at(time.Hour)) })
		older := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.LastUsedAt = ptr(at(-time.Hour)) })
		same := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.LastUsedAt = ptr(t0) })
		elsewhere := createKey(t, s, other.ID)
		// A use recorded before the key was created is a deleted key's
		// with its id (re-created meanwhile): ignored.
		recreated := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.CreatedAt = at(time.Minute) })
		ref := func(k *keyward.APIKey) keyward.KeyRef { return keyward.KeyRef{TenantID: k.TenantID, ID: k.ID} }
		must(t, "TouchAPIKeys", s.TouchAPIKeys(ctx, map[keyward.KeyRef]time.Time{
			ref(never):                               t0,
			ref(recent):                              at(time.Hour - time.Microsecond), // earlier than stored: ignored
			ref(older):                               t0,
			ref(same):                                t0,
			ref(recreated):                           at(time.Minute - time.Microsecond),
			ref(elsewhere):                           at(2 * time.Hour),
			{TenantID: tn.ID, ID: elsewhere.ID}:      at(3 * time.Hour), // its id in another tenant: ignored
			{TenantID: tn.ID, ID: secret.NewID()}:    t0,                // unknown: ignored
			{TenantID: tn.ID, ID: "not even a uuid"}: t0,
		}))
		tests := []struct {
			key  *keyward.APIKey
			want time.Time
		}{
			{never, t0},
			{recent, at(time.Hour)},
			{older, t0},
			{same, t0},
			{elsewhere, at(2 * time.Hour)},
		}
		for _, tt := range tests {
			want := *tt.key
			want.LastUsedAt = &tt.want // and nothing else changes, Version included
			check(t, "touched key", mustGetKey(t, s, tt.key.TenantID, tt.key.ID), &want)
		}
		check(t, "a key touched before its creation", mustGetKey(t, s, recreated.TenantID, recreated.ID), recreated)
		must(t, "TouchAPIKeys with nothing", s.TouchAPIKeys(ctx, nil))
	})
}
