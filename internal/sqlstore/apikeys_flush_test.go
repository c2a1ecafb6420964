package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// flushFixture is a tenant with keys, and what a flush of their usage
// writes.
type flushFixture struct {
	tn       *keyward.Tenant
	keys     []*keyward.APIKey
	used     map[keyward.KeyRef]time.Time
	counts   map[keyward.KeyRef]int64
	outcomes map[keyward.KeyOutcome]int64
	hour     time.Time
}

func newFlushFixture(t *testing.T, db *sqlstore.DB, n int) *flushFixture {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	f := &flushFixture{used: map[keyward.KeyRef]time.Time{}, counts: map[keyward.KeyRef]int64{},
		outcomes: map[keyward.KeyOutcome]int64{}, hour: now.Truncate(time.Hour)}
	f.tn = &keyward.Tenant{ID: secret.NewID(), Name: "flush " + secret.NewID()[:8], Prefix: "kw", IsActive: true,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	must(t, db.CreateTenant(ctx, f.tn))
	for i := range n {
		k := benchKey(f.tn.ID, nil, now)
		must(t, db.CreateAPIKey(ctx, k))
		f.keys = append(f.keys, k)
		r := keyward.KeyRef{TenantID: f.tn.ID, ID: k.ID}
		f.used[r] = now.Add(time.Duration(i+1) * time.Second)
		f.counts[r] = int64(i + 1)
		f.outcomes[keyward.KeyOutcome{Key: r, Outcome: keyward.CodeValid}] = int64(i + 1)
		f.outcomes[keyward.KeyOutcome{Key: r, Outcome: keyward.CodeRateLimited}] = 1
	}
	return f
}

// flush writes f's usage with the three calls of Service.FlushLastUsed,
// run at once so that each begins while the test holds its keys.
func (f *flushFixture) flush(ctx context.Context, st keyward.Store) error {
	errs := make(chan error, 3)
	go func() { errs <- st.TouchAPIKeys(ctx, f.used) }()
	go func() { errs <- st.AddKeyUsage(ctx, f.hour.Add(time.Minute), f.counts, nil) }()
	go func() { errs <- st.AddKeyOutcomes(ctx, f.hour.Add(time.Minute), f.outcomes, nil) }()
	return errors.Join(<-errs, <-errs, <-errs)
}

// keysUsedVersion reads the tenant's keys_used_version (00022).
func keysUsedVersion(t *testing.T, db *sqlstore.DB, tenantID string) string {
	t.Helper()
	v, err := db.QueryStrings(t.Context(), `SELECT keys_used_version FROM tenants WHERE id = $1`, tenantID)
	must(t, err)
	if len(v) != 1 {
		t.Fatalf("keys_used_version of %s: got %v", tenantID, v)
	}
	return v[0]
}

// TestFlushSkipsKeysDeletedMeanwhile deletes keys in a transaction that
// commits while a flush of their usage (with other keys') waits for it: the
// deleted keys are skipped, and every other key's last use, usage and
// outcomes are recorded. On PostgreSQL the usage insert of a deleted key
// used to fail its foreign key (the key existed when the statement began),
// and with it the whole flush.
func TestFlushSkipsKeysDeletedMeanwhile(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, true)
		deleter := sqltest.Open(t, dsn, false) // another replica
		f := newFlushFixture(t, db, 40)
		doomed := []*keyward.APIKey{f.keys[0], f.keys[17], f.keys[39]}
		st := sqlstore.Guard(db, sqlstore.Limits{Timeout: time.Minute})

		deleted, commit := make(chan struct{}), make(chan struct{})
		txDone := make(chan error, 1)
		go func() {
			txDone <- deleter.Tx(ctx, func(tx keyward.StoreTx) error {
				for _, k := range doomed {
					if err := tx.DeleteAPIKey(ctx, k.TenantID, k.ID, k.Version); err != nil {
						return err
					}
				}
				close(deleted)
				<-commit
				return nil
			})
		}()
		<-deleted
		flushed := make(chan error, 1)
		go func() { flushed <- f.flush(ctx, st) }()
		select {
		case err := <-flushed:
			t.Fatalf("the flush ended (%v) before the deletes committed: it should wait for the deleted keys", err)
		case <-time.After(300 * time.Millisecond):
		}
		close(commit)
		must(t, <-txDone)
		if err := <-flushed; err != nil {
			t.Fatalf("flush while keys were deleted: got %v, want no error", err)
		}

		gone := func(id string) bool {
			return slices.ContainsFunc(doomed, func(k *keyward.APIKey) bool { return k.ID == id })
		}
		for _, k := range f.keys {
			r := keyward.KeyRef{TenantID: f.tn.ID, ID: k.ID}
			got, err := db.GetAPIKey(ctx, f.tn.ID, k.ID)
			if gone(k.ID) {
				if err == nil {
					t.Errorf("key %s: still there after its delete", k.ID)
				}
				continue
			}
			must(t, err)
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(f.used[r]) {
				t.Errorf("key %s: last use got %v, want %v", k.ID, got.LastUsedAt, f.used[r])
			}
			usage, err := db.KeyUsage(ctx, f.tn.ID, k.ID, f.hour)
			must(t, err)
			if want := []keyward.UsageCount{{Start: f.hour, Count: f.counts[r]}}; fmt.Sprint(usage) != fmt.Sprint(want) {
				t.Errorf("key %s: usage got %v, want %v", k.ID, usage, want)
			}
		}
		var ids []string
		for _, k := range f.keys {
			ids = append(ids, k.ID)
		}
		outcomes, err := db.KeyOutcomes(ctx, f.tn.ID, ids, f.hour)
		must(t, err)
		if got, want := len(outcomes), 2*(len(f.keys)-len(doomed)); got != want {
			t.Errorf("outcome rows: got %d, want %d", got, want)
		}
		for _, o := range outcomes {
			r := keyward.KeyRef{TenantID: f.tn.ID, ID: o.KeyID}
			if want := f.outcomes[keyward.KeyOutcome{Key: r, Outcome: o.Outcome}]; gone(o.KeyID) || o.Count != want {
				t.Errorf("outcome %+v: got count %d, want %d (deleted key: %v)", o, o.Count, want, gone(o.KeyID))
			}
		}
	})
}

// TestTouchBumpsKeysUsedVersionOnce: a flush of the last uses of many keys
// of a tenant bumps its keys_used_version (lists sorted by last use depend
// on it, apikeys_anchors.go) once, not once per key; a flush that changes
// no last use, and a tenant none of whose keys it changed, are not bumped.
func TestTouchBumpsKeysUsedVersionOnce(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, true)
		a, b, idle := newFlushFixture(t, db, 30), newFlushFixture(t, db, 5), newFlushFixture(t, db, 3)
		both := map[keyward.KeyRef]time.Time{}
		for _, f := range []*flushFixture{a, b} {
			for r, at := range f.used {
				both[r] = at
			}
		}
		older := map[keyward.KeyRef]time.Time{}
		for r, at := range a.used {
			older[r] = at.Add(-time.Hour)
		}
		st := sqlstore.Guard(db, sqlstore.Limits{})
		for _, tt := range []struct {
			name          string
			used          map[keyward.KeyRef]time.Time
			wantA, wantB  string
			wantIdleAfter string
		}{
			{"30 keys of a, 5 of b", both, "1", "1", "0"},
			{"the same last uses again", both, "1", "1", "0"},
			{"older last uses", older, "1", "1", "0"},
			{"a later last use of one key", map[keyward.KeyRef]time.Time{
				{TenantID: a.tn.ID, ID: a.keys[3].ID}: time.Now().Add(time.Hour)}, "2", "1", "0"},
		} {
			must(t, st.TouchAPIKeys(ctx, tt.used))
			for _, c := range []struct{ name, tenant, want string }{{"a", a.tn.ID, tt.wantA}, {"b", b.tn.ID, tt.wantB},
				{"idle", idle.tn.ID, tt.wantIdleAfter}} {
				if got := keysUsedVersion(t, db, c.tenant); got != c.want {
					t.Errorf("after %s: keys_used_version of %s: got %s, want %s", tt.name, c.name, got, c.want)
				}
			}
		}
	})
}

// TestMigration00023Down: rolled back, 00022's trigger bumps
// keys_used_version once per key whose last use changed again; migrated
// up again, once per flush.
func TestMigration00023Down(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, true)
		f := newFlushFixture(t, db, 4)
		must(t, db.MigrateDownTo(ctx, 22))
		// The store's flush needs 00025's table: the last uses are set by
		// hand, as the flush did then.
		must(t, db.ExecRaw(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE tenant_id = $2`, db.TS(f.hour.Add(time.Hour)), f.tn.ID))
		if got := keysUsedVersion(t, db, f.tn.ID); got != "4" {
			t.Errorf("after 4 keys' last uses under 00022: keys_used_version got %s, want 4", got)
		}
		must(t, db.Migrate(ctx))
		later := map[keyward.KeyRef]time.Time{}
		for r, at := range f.used {
			later[r] = at.Add(time.Hour)
		}
		must(t, db.TouchAPIKeys(ctx, later))
		if got := keysUsedVersion(t, db, f.tn.ID); got != "5" {
			t.Errorf("after a flush of 4 keys under 00023: keys_used_version got %s, want 5", got)
		}
	})
}
