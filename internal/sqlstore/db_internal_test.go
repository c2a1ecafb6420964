package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func openSQLiteForTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func pragma(t *testing.T, q querier, name string) string {
	t.Helper()
	var v string
	if err := q.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestSQLiteConnections(t *testing.T) {
	db := openSQLiteForTest(t)
	for _, tt := range []struct {
		pool string
		q    querier
		name string
		want string
	}{
		{"write", db.write, "journal_mode", "wal"},
		{"write", db.write, "foreign_keys", "1"},
		{"write", db.write, "synchronous", "2"},
		{"write", db.write, "busy_timeout", "5000"},
		{"write", db.write, "query_only", "0"},
		{"read", db.read, "journal_mode", "wal"},
		{"read", db.read, "foreign_keys", "1"},
		{"read", db.read, "busy_timeout", "5000"},
		{"read", db.read, "query_only", "1"},
	} {
		if got := pragma(t, tt.q, tt.name); got != tt.want {
			t.Errorf("%s pool: PRAGMA %s: got %s, want %s", tt.pool, tt.name, got, tt.want)
		}
	}
	if got := db.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool: got %d connections at most, want 1", got)
	}
	if _, err := db.read.ExecContext(t.Context(), `DELETE FROM tenants`); err == nil {
		t.Errorf("the read pool could write")
	}
}

// TestSQLiteTimes checks the stored representation of times: integer
// microseconds since the epoch, so that SQL compares them as numbers.
func TestSQLiteTimes(t *testing.T) {
	db := openSQLiteForTest(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	var typ string
	var v int64
	err := db.read.QueryRowContext(t.Context(), `SELECT typeof(created_at), created_at FROM tenants`).Scan(&typ, &v)
	if err != nil {
		t.Fatal(err)
	}
	if typ != "integer" || v != now.UnixMicro() {
		t.Errorf("stored time: got %s %d, want integer %d", typ, v, now.UnixMicro())
	}
}
