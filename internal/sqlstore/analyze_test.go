package sqlstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestImportAnalyzesPostgres: an import that brings a tenth of the table
// (and at least 50 rows) refreshes PostgreSQL's statistics of the keys and
// their grants once it commits, so that the next list is planned for the
// rows there are (not, until autovacuum's next round, for an empty
// tenant); a small import, and one rolled back, do not. The signal is
// pg_stat_user_tables' count of manual ANALYZEs and pg_class's row count,
// which autovacuum (autoanalyze_count) does not move.
func TestImportAnalyzesPostgres(t *testing.T) {
	db := sqltest.Postgres(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "analyze", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	perm := keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "orders_read", ContainerID: tn.Name, CreatedAt: now}
	if err := db.CreatePermission(ctx, &perm); err != nil {
		t.Fatal(err)
	}
	importKeys := func(n int, rollBack bool) {
		t.Helper()
		keys := make([]*keyward.APIKey, n)
		for i := range keys {
			keys[i] = benchKey(tn.ID, []keyward.Permission{perm}, now)
		}
		err := db.Tx(ctx, func(tx keyward.StoreTx) error {
			if _, err := tx.CreateAPIKeys(ctx, keys); err != nil {
				return err
			}
			if rollBack {
				return errors.New("rolled back")
			}
			return nil
		})
		if (err != nil) != rollBack {
			t.Fatalf("importing %d keys: %v", n, err)
		}
	}
	stats := func(table string) (analyzed, rows string) {
		t.Helper()
		got, err := db.QueryStrings(ctx, `SELECT st.analyze_count, c.reltuples::bigint FROM pg_stat_user_tables st
			JOIN pg_class c ON c.oid = st.relid WHERE st.relid = $1::regclass`, table)
		if err != nil || len(got) != 1 {
			t.Fatalf("statistics of %s: %v %v", table, got, err)
		}
		analyzed, rows, _ = strings.Cut(got[0], " ")
		return analyzed, rows
	}

	for _, step := range []struct {
		name     string
		n        int
		rollBack bool
		analyzed string // per table, after the step
		rows     string
	}{
		{"a first import of 200 keys", 200, false, "1", "200"},
		{"10 keys more: under a tenth", 10, false, "1", "200"},
		{"100 keys, rolled back", 100, true, "1", "200"},
		{"100 keys more", 100, false, "2", "310"},
		{"5 keys more", 5, false, "2", "310"},
	} {
		importKeys(step.n, step.rollBack)
		for _, table := range []string{"api_keys", "api_key_permissions", "key_last_used"} {
			if analyzed, rows := stats(table); analyzed != step.analyzed || rows != step.rows {
				t.Errorf("after %s: %s analyzed %s times, %s rows; want %s, %s", step.name, table, analyzed, rows, step.analyzed, step.rows)
			}
		}
	}
}

// TestImportLeavesSQLiteUnanalyzed: SQLite plans without statistics (keyward
// never runs ANALYZE or PRAGMA optimize there), from the schema alone, so
// that no import can leave its plans stale: an import creates none.
func TestImportLeavesSQLiteUnanalyzed(t *testing.T) {
	db := sqltest.SQLite(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "unanalyzed", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	keys := make([]*keyward.APIKey, 200)
	for i := range keys {
		keys[i] = benchKey(tn.ID, nil, now)
	}
	if _, err := db.CreateAPIKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	got, err := db.QueryStrings(ctx, `SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlite_stat%'`)
	if err != nil || len(got) != 1 || got[0] != "0" {
		t.Errorf("statistics tables after an import: got %v %v, want none", got, err)
	}
}
