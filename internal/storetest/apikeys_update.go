package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func testAPIKeyUpdates(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "updates")
	other := createTenant(t, s, "updates-other")
	read := createPermission(t, s, tn.ID, "read")
	write := createPermission(t, s, tn.ID, "write")
	admin := createPermission(t, s, tn.ID, "admin", read.ID)
	first := createUser(t, s, tn.ID, "first")
	second := createUser(t, s, tn.ID, "second")

	t.Run("update every field", func(t *testing.T) {
		k := createKey(t, s, tn.ID, ownedBy(first), func(k *keyward.APIKey) {
			k.Permissions = []keyward.Permission{*read, *write}
			k.Meta = json.RawMessage(`{"v":1}`)
		})
		want := *k
		want.ClientID, want.Name, want.Description, want.DeviceName = "kw_renamed", "renamed", "described", "phone"
		want.OwnerID, want.UserName = second.ID, second.UserName
		want.Permissions = []keyward.Permission{*admin}
		want.Level, want.IsActive, want.TokenLifespanSeconds, want.HMACEnabled = 3, false, 60, true
		want.ExpiresAt, want.LastUsedAt = ptr(at(time.Hour)), ptr(at(time.Minute))
		want.Meta = json.RawMessage(`{ "v" : 2 }`)
		want.SecretHint, want.UpdatedAt, want.Version = "9876", at(time.Second), 2
		want.SecretHash, want.SecretCiphertext = randomBytes(32), randomBytes(48)
		want.PrevSecretHash, want.PrevSecretCiphertext, want.PrevSecretExpiresAt = k.SecretHash, randomBytes(48), ptr(at(time.Hour))
		changed := want
		changed.CreatedAt, changed.CreatedBy = at(time.Hour), "someone else" // never change
		must(t, "UpdateAPIKey", s.UpdateAPIKey(ctx, &changed, 1))
		check(t, "updated key", mustGetKey(t, s, tn.ID, k.ID), &want)
		_, err := s.GetAPIKeyByClientID(ctx, k.ClientID)
		wantCode(t, "GetAPIKeyByClientID of the old clientId", err, keyward.ENOTFOUND)
		got, err := s.GetAPIKeyBySecretHash(ctx, k.SecretHash)
		must(t, "GetAPIKeyBySecretHash of the previous secret", err)
		check(t, "key by its previous secret", got, &want)

		// Clear every optional field.
		want.OwnerID, want.UserName, want.Permissions, want.Meta = "", "", []keyward.Permission{}, nil
		want.ExpiresAt, want.LastUsedAt, want.SecretCiphertext = nil, nil, nil
		want.PrevSecretHash, want.PrevSecretCiphertext, want.PrevSecretExpiresAt = nil, nil, nil
		want.Version = 3
		must(t, "UpdateAPIKey", s.UpdateAPIKey(ctx, &want, 2))
		check(t, "cleared key", mustGetKey(t, s, tn.ID, k.ID), &want)
		_, err = s.GetAPIKeyBySecretHash(ctx, k.SecretHash)
		wantCode(t, "GetAPIKeyBySecretHash of a dropped previous secret", err, keyward.ENOTFOUND)
	})

	t.Run("update errors", func(t *testing.T) {
		k := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*read}; k.Version = 4 })
		taken := createKey(t, s, other.ID)
		tests := []struct {
			name   string
			mod    func(k *keyward.APIKey)
			expect int
			code   string
		}{
			{"stale version", nil, 3, keyward.EVERSIONCONFLICT},
			{"newer version", nil, 5, keyward.EVERSIONCONFLICT},
			{"another tenant", func(k *keyward.APIKey) { k.TenantID = other.ID }, 4, keyward.ENOTFOUND},
			{"unknown id", func(k *keyward.APIKey) { k.ID = secret.NewID() }, 4, keyward.ENOTFOUND},
			{"taken clientId", func(k *keyward.APIKey) { k.ClientID = taken.ClientID }, 4, keyward.ECONFLICT},
			{"taken secret hash", func(k *keyward.APIKey) { k.SecretHash = taken.SecretHash }, 4, keyward.ECONFLICT},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				changed := *k
				changed.Name, changed.Version, changed.Permissions = "changed", 5, []keyward.Permission{*write}
				if tt.mod != nil {
					tt.mod(&changed)
				}
				wantCode(t, "UpdateAPIKey", s.UpdateAPIKey(ctx, &changed, tt.expect), tt.code)
				check(t, "key after a failed update", mustGetKey(t, s, tn.ID, k.ID), k)
			})
		}
	})

	t.Run("delete", func(t *testing.T) {
		k := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*write}; k.Version = 2 })
		tests := []struct {
			name     string
			tenantID string
			id       string
			expect   int
			code     string
		}{
			{"stale version", tn.ID, k.ID, 1, keyward.EVERSIONCONFLICT},
			{"another tenant", other.ID, k.ID, 2, keyward.ENOTFOUND},
			{"unknown id", tn.ID, secret.NewID(), 2, keyward.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantCode(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, tt.tenantID, tt.id, tt.expect), tt.code)
				check(t, "key after a failed delete", mustGetKey(t, s, tn.ID, k.ID), k)
			})
		}
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, tn.ID, k.ID, 2))
		_, err := s.GetAPIKey(ctx, tn.ID, k.ID)
		wantCode(t, "GetAPIKey after delete", err, keyward.ENOTFOUND)
		wantCode(t, "DeleteAPIKey again", s.DeleteAPIKey(ctx, tn.ID, k.ID, 2), keyward.ENOTFOUND)
		// The key's permissions went with it: write is free again unless another key holds it.
		used, err := s.PermissionInUse(ctx, tn.ID, write.ID)
		must(t, "PermissionInUse", err)
		if used {
			t.Errorf("PermissionInUse of a deleted key's permission: got true, want false")
		}
	})

	t.Run("owner ids", func(t *testing.T) {
		owner := createUser(t, s, tn.ID, "many")
		var want []string
		for range 3 {
			want = append(want, createKey(t, s, tn.ID, ownedBy(owner)).ID)
		}
		createKey(t, s, tn.ID, ownedBy(first))
		createKey(t, s, tn.ID)
		got, err := s.ListAPIKeyIDsByOwner(ctx, tn.ID, owner.ID)
		must(t, "ListAPIKeyIDsByOwner", err)
		check(t, "ListAPIKeyIDsByOwner", sortedCopy(got), sortedCopy(want))
		got, err = s.ListAPIKeyIDsByOwner(ctx, other.ID, owner.ID)
		must(t, "ListAPIKeyIDsByOwner", err)
		check(t, "ListAPIKeyIDsByOwner in another tenant", got, []string{})
	})

	t.Run("concurrent updates", func(t *testing.T) {
		k := createKey(t, s, tn.ID)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				changed := *k
				changed.Name, changed.Version = "writer", 2
				errs[i] = s.Tx(ctx, func(tx keyward.StoreTx) error {
					if _, err := tx.GetAPIKey(ctx, tn.ID, k.ID); err != nil {
						return err
					}
					return tx.UpdateAPIKey(ctx, &changed, 1)
				})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch keyward.ErrorCode(err) {
			case "":
				won++
			case keyward.EVERSIONCONFLICT:
			default:
				t.Errorf("concurrent UpdateAPIKey: got %v, want nil or a version conflict", err)
			}
		}
		if won != 1 {
			t.Errorf("concurrent UpdateAPIKey with the same expected version: %d succeeded, want exactly 1", won)
		}
		if got := mustGetKey(t, s, tn.ID, k.ID); got.Version != 2 {
			t.Errorf("version after concurrent updates: got %d, want 2", got.Version)
		}
	})
}
