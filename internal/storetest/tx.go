package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// written is what writeEverything stored.
type written struct {
	tenant *keyward.Tenant
	perm   *keyward.Permission
	user   *keyward.User
	key    *keyward.APIKey
	audit  *keyward.AuditEntry
}

// writeEverything writes one object of each kind in tx, plus changes to
// the existing key, and checks that tx reads its own writes.
func writeEverything(t *testing.T, tx keyward.StoreTx, existing *keyward.APIKey) written {
	t.Helper()
	ctx := t.Context()
	var w written
	before, err := tx.CountTenants(ctx)
	must(t, "CountTenants", err)
	w.tenant = &keyward.Tenant{ID: secret.NewID(), Name: "in-tx", Prefix: "tx", IsActive: true, CreatedAt: t0, UpdatedAt: t0, Version: 1}
	must(t, "CreateTenant", tx.CreateTenant(ctx, w.tenant))
	w.perm = createPermission(t, tx, w.tenant.ID, "tx.perm")
	w.user = createUser(t, tx, w.tenant.ID, "tx-user", *w.perm)
	w.key = createKey(t, tx, w.tenant.ID, ownedBy(w.user), func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*w.perm} })
	w.audit = &keyward.AuditEntry{ID: secret.NewID(), At: t0, TenantID: w.tenant.ID, ActorKind: "system", Action: "tx.test", Result: "success"}
	must(t, "InsertAudit", tx.InsertAudit(ctx, w.audit))

	changed := *existing
	changed.Name, changed.Version = "changed in tx", existing.Version+1
	must(t, "UpdateAPIKey", tx.UpdateAPIKey(ctx, &changed, existing.Version))
	must(t, "TouchAPIKeys", tx.TouchAPIKeys(ctx, map[keyward.KeyRef]time.Time{{TenantID: existing.TenantID, ID: existing.ID}: at(time.Hour)}))

	got, err := tx.GetAPIKey(ctx, w.tenant.ID, w.key.ID)
	must(t, "GetAPIKey in the transaction", err)
	check(t, "key read in the transaction", got, w.key)
	got, err = tx.GetAPIKey(ctx, existing.TenantID, existing.ID)
	must(t, "GetAPIKey in the transaction", err)
	if got.Name != changed.Name {
		t.Errorf("name of a key changed in the transaction: got %q, want %q", got.Name, changed.Name)
	}
	n, err := tx.CountTenants(ctx)
	must(t, "CountTenants", err)
	if n != before+1 {
		t.Errorf("CountTenants in the transaction: got %d, want %d", n, before+1)
	}
	return w
}

func testTx(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	must(t, "Ping", s.Ping(ctx))
	tn := createTenant(t, s, "tx")
	existing := createKey(t, s, tn.ID)

	t.Run("rollback", func(t *testing.T) {
		sentinel := errors.New("sentinel")
		var w written
		err := s.Tx(ctx, func(tx keyward.StoreTx) error {
			w = writeEverything(t, tx, existing)
			return sentinel
		})
		if err != sentinel {
			t.Fatalf("Tx: got error %v, want fn's error unchanged", err)
		}
		n, err := s.CountTenants(ctx)
		must(t, "CountTenants", err)
		if n != 1 {
			t.Errorf("CountTenants after rollback: got %d, want 1", n)
		}
		_, err = s.GetTenant(ctx, w.tenant.ID)
		wantCode(t, "GetTenant after rollback", err, keyward.ENOTFOUND)
		_, err = s.GetAPIKeyByClientID(ctx, w.key.ClientID)
		wantCode(t, "GetAPIKeyByClientID after rollback", err, keyward.ENOTFOUND)
		audit, err := s.ListAudit(ctx, w.tenant.ID, keyward.AuditFilter{Page: keyward.Page{Number: 1, Size: 10}})
		must(t, "ListAudit", err)
		if audit.TotalCount != 0 {
			t.Errorf("audit entries after rollback: got %d, want 0", audit.TotalCount)
		}
		check(t, "key changed in a rolled-back transaction", mustGetKey(t, s, tn.ID, existing.ID), existing)

	})

	t.Run("store error", func(t *testing.T) {
		err := s.Tx(ctx, func(tx keyward.StoreTx) error {
			must(t, "CreateTenant", tx.CreateTenant(ctx, &keyward.Tenant{ID: secret.NewID(), Name: "gone", Prefix: "kw", CreatedAt: t0, UpdatedAt: t0}))
			return tx.UpdateAPIKey(ctx, existing, existing.Version+5)
		})
		wantCode(t, "Tx", err, keyward.EVERSIONCONFLICT)
		_, err = s.GetTenantByName(ctx, "gone")
		wantCode(t, "GetTenantByName after rollback", err, keyward.ENOTFOUND)
	})

	t.Run("failed writes leave the transaction usable", func(t *testing.T) {
		p := createPermission(t, s, tn.ID, "tx.partial")
		dup := *createTenant(t, s, "tx-taken")
		dup.ID = secret.NewID()
		var kept *keyward.APIKey
		must(t, "Tx", s.Tx(ctx, func(tx keyward.StoreTx) error {
			wantCode(t, "CreateTenant of a taken name", tx.CreateTenant(ctx, &dup), keyward.ECONFLICT)
			// The key row is valid, its permissions are not: none of it stays.
			partial := newKey(tn.ID, func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*p, *p} })
			wantCode(t, "CreateAPIKey with a repeated permission", tx.CreateAPIKey(ctx, partial), keyward.ECONFLICT)
			_, err := tx.GetAPIKey(ctx, tn.ID, partial.ID)
			wantCode(t, "GetAPIKey of the failed key", err, keyward.ENOTFOUND)
			stale := *existing
			stale.Version = 9
			wantCode(t, "UpdateAPIKey with a stale version", tx.UpdateAPIKey(ctx, &stale, 8), keyward.EVERSIONCONFLICT)
			kept = createKey(t, tx, tn.ID, func(k *keyward.APIKey) { k.Permissions = []keyward.Permission{*p} })
			return nil
		}))
		check(t, "key written after failed writes", mustGetKey(t, s, tn.ID, kept.ID), kept)
	})

	t.Run("commit", func(t *testing.T) {
		// The same names as in the rolled-back transaction: nothing of it
		// was left behind.
		var w written
		must(t, "Tx", s.Tx(ctx, func(tx keyward.StoreTx) error {
			w = writeEverything(t, tx, existing)
			return nil
		}))
		got, err := s.GetTenant(ctx, w.tenant.ID)
		must(t, "GetTenant", err)
		check(t, "tenant", got, w.tenant)
		gotPerm, err := s.GetPermission(ctx, w.tenant.ID, w.perm.ID)
		must(t, "GetPermission", err)
		check(t, "permission", gotPerm, w.perm)
		gotUser, err := s.GetUser(ctx, w.tenant.ID, w.user.ID)
		must(t, "GetUser", err)
		check(t, "user", gotUser, w.user)
		check(t, "key", mustGetKey(t, s, w.tenant.ID, w.key.ID), w.key)
		audit, err := s.ListAudit(ctx, w.tenant.ID, keyward.AuditFilter{Page: keyward.Page{Number: 1, Size: 10}})
		must(t, "ListAudit", err)
		check(t, "audit", audit.Items, []*keyward.AuditEntry{w.audit})

		want := *existing
		want.Name, want.Version, want.LastUsedAt = "changed in tx", existing.Version+1, ptr(at(time.Hour))
		check(t, "key changed in the transaction", mustGetKey(t, s, tn.ID, existing.ID), &want)
	})
}
