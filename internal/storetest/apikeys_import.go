package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// testAPIKeysImport checks CreateAPIKeys: every field and permission stored
// as CreateAPIKey stores it; a key whose id, clientId or secret hash is
// taken (by a stored key's current or previous secret, or earlier in the
// batch) left out with ECONFLICT, the others stored; many keys at once; in
// a Tx, a failure rolls back the lot.
func testAPIKeysImport(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "import")
	other := createTenant(t, s, "import-other")
	read, write := createPermission(t, s, tn.ID, "read"), createPermission(t, s, tn.ID, "write")
	owner := createUser(t, s, tn.ID, "owner")
	stored := createKey(t, s, other.ID, func(k *keyward.APIKey) { k.PrevSecretHash = randomBytes(32) })

	exp := at(time.Hour)
	full := newKey(tn.ID, ownedBy(owner), func(k *keyward.APIKey) {
		k.Name, k.Description, k.DeviceName, k.Level = "full", "d", "dev", 3
		k.Permissions = []keyward.Permission{*write, *read}
		k.ExpiresAt, k.RateLimit = &exp, &keyward.RateLimit{Limit: 5, WindowSeconds: 60}
		k.Meta, k.HMACEnabled, k.SecretCiphertext = []byte(`{"plan":"pro"}`), true, randomBytes(40)
		k.Audiences, k.AllowedCIDRs = keyward.Audiences{"https://api.example"}, []string{"10.0.0.0/8"}
		k.SecretHolderID, k.SecretHolderTenantID = owner.ID, tn.ID
	})
	plain := newKey(tn.ID)
	dupHash := newKey(tn.ID, func(k *keyward.APIKey) { k.SecretHash = stored.SecretHash })
	dupPrev := newKey(tn.ID, func(k *keyward.APIKey) { k.SecretHash = stored.PrevSecretHash })
	dupInBatch := newKey(tn.ID, func(k *keyward.APIKey) { k.SecretHash = plain.SecretHash })
	dupClient := newKey(tn.ID, func(k *keyward.APIKey) { k.ClientID = stored.ClientID })
	dupID := newKey(tn.ID, func(k *keyward.APIKey) { k.ID = plain.ID })
	sameIDOtherTenant := newKey(other.ID, func(k *keyward.APIKey) { k.ID = plain.ID })

	// A key imported from a secretHash (ImportedHash, stored scoped) whose
	// hash finds a key of its own tenant (stored, current or previous, or
	// anywhere in the batch) is refused; another tenant's keys are not
	// looked at.
	own := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.PrevSecretHash = randomBytes(32) })
	imported := func(name string, hash []byte) *keyward.APIKey {
		return newKey(tn.ID, func(k *keyward.APIKey) { k.Name, k.ImportedHash = name, hash })
	}
	importedOwn := imported("imported-own", own.SecretHash)
	importedOwnPrev := imported("imported-own-prev", own.PrevSecretHash)
	laterInBatch := newKey(tn.ID)
	importedLater := imported("imported-later", laterInBatch.SecretHash)
	importedOther := imported("imported-other-tenant", createKey(t, s, other.ID).SecretHash)
	importedFresh := imported("imported-fresh", randomBytes(32))

	keys := []*keyward.APIKey{full, plain, dupHash, dupPrev, dupInBatch, dupClient, dupID, sameIDOtherTenant,
		importedOwn, importedOwnPrev, importedLater, importedOther, importedFresh, laterInBatch}
	errs, err := s.CreateAPIKeys(ctx, keys)
	must(t, "CreateAPIKeys", err)
	if len(errs) != len(keys) {
		t.Fatalf("got %d errors, want %d", len(errs), len(keys))
	}
	for i, code := range []string{"", "", keyward.ECONFLICT, keyward.ECONFLICT, keyward.ECONFLICT, keyward.ECONFLICT, keyward.ECONFLICT, "",
		keyward.ECONFLICT, keyward.ECONFLICT, keyward.ECONFLICT, "", "", ""} {
		wantCode(t, "key "+keys[i].Name+" of the batch", errs[i], code)
	}
	full.Permissions = byName(full.Permissions)
	check(t, "an imported key", mustGetKey(t, s, tn.ID, full.ID), full)
	check(t, "a plain imported key", mustGetKey(t, s, tn.ID, plain.ID), plain)
	check(t, "the same id in another tenant", mustGetKey(t, s, other.ID, plain.ID), sameIDOtherTenant)
	if k, err := s.GetAPIKeyBySecretHash(ctx, stored.SecretHash); err != nil || k.ID != stored.ID {
		t.Errorf("the stored key's secret: got %v, %v", k, err)
	}

	many := make([]*keyward.APIKey, 1500)
	for i := range many {
		many[i] = newKey(tn.ID, func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*read} })
	}
	errs, err = s.CreateAPIKeys(ctx, many)
	must(t, "CreateAPIKeys of 1500", err)
	for i, e := range errs {
		if e != nil {
			t.Fatalf("key %d of 1500: %v", i, e)
		}
	}
	got, err := s.GetAPIKeysBySecretHashes(ctx, [][]byte{many[0].SecretHash, many[1499].SecretHash})
	must(t, "reading imported keys", err)
	if len(got) != 2 || len(got[0].Permissions) != 1 {
		t.Errorf("imported keys read back: %d, %+v", len(got), got)
	}

	// Text as it is, whatever JSON or SQL make of it (SQLite carries an
	// import's rows as JSON).
	var odd []*keyward.APIKey
	for _, name := range []string{"quote \" back \\ slash", "tab\tnew\nline\x01\x1f", "ünï \u2028 😀 'single'"} {
		odd = append(odd, newKey(tn.ID, func(k *keyward.APIKey) {
			k.Name, k.Description, k.DeviceName = name, name+" d", name+" dev"
			k.Meta = []byte(`{"n": "\u00e9\"", "x": [1, 2.5e3]}`)
		}))
	}
	errs, err = s.CreateAPIKeys(ctx, odd)
	must(t, "CreateAPIKeys of odd text", err)
	for i, k := range odd {
		wantCode(t, "odd key "+k.Name, errs[i], "")
		check(t, "odd key "+k.Name, mustGetKey(t, s, tn.ID, k.ID), k)
	}

	// Name searches (a full-text index on SQLite, trigrams on PostgreSQL)
	// find imported keys.
	for _, tt := range []struct {
		query string
		want  int
	}{{"BACK \\ SL", 1}, {"😀", 1}, {"ULL", 1}} {
		l, err := s.ListAPIKeys(ctx, tn.ID, keyward.APIKeyFilter{Query: tt.query, Page: keyward.Page{Number: 1, Size: 10}})
		must(t, "listing imported keys", err)
		if l.TotalCount != tt.want {
			t.Errorf("imported keys named like %q: got %d, want %d", tt.query, l.TotalCount, tt.want)
		}
	}

	rolledBack := newKey(tn.ID)
	err = s.Tx(ctx, func(tx keyward.StoreTx) error {
		if _, err := tx.CreateAPIKeys(ctx, []*keyward.APIKey{rolledBack}); err != nil {
			return err
		}
		return keyward.Errorf(keyward.EINVALID, "roll back")
	})
	wantCode(t, "a failing Tx", err, keyward.EINVALID)
	_, err = s.GetAPIKey(ctx, tn.ID, rolledBack.ID)
	wantCode(t, "a key imported in a rolled back Tx", err, keyward.ENOTFOUND)

	errs, err = s.CreateAPIKeys(ctx, nil)
	if err != nil || len(errs) != 0 {
		t.Errorf("nothing: got %v, %v", errs, err)
	}
}
