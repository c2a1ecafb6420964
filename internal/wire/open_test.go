package wire_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/wire"
)

// TestOpen: a new database is migrated and serves a Service; rate limits
// stay in memory without Redis; Close releases the database, so it opens
// again.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "keyward.db")
	for i := range 2 {
		r, err := wire.Open(ctx, wire.Options{DSN: dsn, Limits: &sqlstore.Limits{Timeout: time.Second},
			Config: keyward.Config{MasterKey: secret.RandomBytes(32)}})
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		if r.Shared != "in memory" {
			t.Errorf("shared = %q, want in memory", r.Shared)
		}
		if _, err := r.Service.Bootstrap(ctx, "wire-admin-password"); err != nil {
			t.Fatal(err)
		}
		if current, latest, err := r.DB.SchemaVersion(ctx); err != nil || current != latest {
			t.Errorf("schema at %d of %d (%v): want migrated", current, latest, err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("close %d: %v", i+1, err)
		}
	}
}
