package sqlstore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/storetest"
)

func TestStore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) keyward.Store { return sqltest.SQLite(t) })
	})
	t.Run("postgres", func(t *testing.T) {
		sqltest.PostgresURL(t) // skip once, not in every subtest
		storetest.Run(t, func(t *testing.T) keyward.Store { return sqltest.Postgres(t) })
	})
}

func TestMigrate(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, false)
		current, latest, err := db.SchemaVersion(ctx)
		if err != nil {
			t.Fatalf("SchemaVersion of an empty database: %v", err)
		}
		if current != 0 || latest < 1 {
			t.Fatalf("SchemaVersion of an empty database: got current %d, latest %d; want 0 and at least 1", current, latest)
		}
		for i := range 2 { // a second Migrate finds nothing to do
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
			c, l, err := db.SchemaVersion(ctx)
			if err != nil {
				t.Fatalf("SchemaVersion: %v", err)
			}
			if c != latest || l != latest {
				t.Errorf("SchemaVersion after Migrate #%d: got %d, %d; want %d, %d", i+1, c, l, latest, latest)
			}
		}
		if _, err := db.CountTenants(ctx); err != nil {
			t.Errorf("CountTenants after Migrate: %v", err)
		}
	})
}

// TestMigrateRace checks that replicas starting together on one empty
// PostgreSQL schema can all migrate it.
func TestMigrateRace(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	const replicas = 3
	dbs := make([]*sqlstore.DB, replicas)
	for i := range dbs {
		dbs[i] = sqltest.Open(t, dsn, false)
	}
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate of replica %d: %v", i, err)
		}
	}
	current, latest, err := dbs[0].SchemaVersion(t.Context())
	if err != nil || current != latest {
		t.Errorf("SchemaVersion after racing migrations: got %d, %d, %v; want equal versions", current, latest, err)
	}
}

func TestOpen(t *testing.T) {
	t.Run("sqlite creates its directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "keyward.db")
		db := sqltest.Open(t, path, true)
		if got := db.Dialect(); got != sqlstore.DialectSQLite {
			t.Errorf("Dialect: got %q, want %q", got, sqlstore.DialectSQLite)
		}
		if err := db.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
	t.Run("sqlite path with URI characters", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "odd?name#1%20.db")
		db := sqltest.Open(t, path, true)
		if _, err := db.CountTenants(t.Context()); err != nil {
			t.Errorf("CountTenants: %v", err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the database file is not where it was asked to be: %v", err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		db := sqltest.Postgres(t)
		if got := db.Dialect(); got != sqlstore.DialectPostgres {
			t.Errorf("Dialect: got %q, want %q", got, sqlstore.DialectPostgres)
		}
	})
	for _, dsn := range []string{"", ":memory:", "file:x.db"} {
		t.Run("rejects "+dsn, func(t *testing.T) {
			if db, err := sqlstore.Open(t.Context(), dsn); err == nil {
				db.Close()
				t.Errorf("Open(%q): got no error", dsn)
			}
		})
	}
	t.Run("unreachable postgres", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if db, err := sqlstore.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
			db.Close()
			t.Errorf("Open of an unreachable database: got no error")
		}
	})
}

// TestReferentialIntegrity checks the schema's own guards, which the
// Service's checks normally make unreachable: a permission still held
// cannot be deleted, and a key cannot hold another tenant's permission.
// Both are ECONFLICT.
func TestReferentialIntegrity(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", CreatedAt: now, UpdatedAt: now, Version: 1}
		p := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "p", CreatedAt: now}
		child := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "child", CreatedAt: now}
		parent := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "parent", Composite: true,
			Children: []string{child.ID}, CreatedAt: now}
		k := &keyward.APIKey{ID: secret.NewID(), TenantID: tn.ID, ClientID: "kw_x", SecretHash: secret.RandomBytes(32),
			Permissions: []keyward.Permission{*p}, CreatedAt: now, UpdatedAt: now, Version: 1}
		for _, err := range []error{db.CreateTenant(ctx, tn), db.CreatePermission(ctx, p), db.CreatePermission(ctx, child),
			db.CreatePermission(ctx, parent), db.CreateAPIKey(ctx, k)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{p.ID, child.ID} {
			if err := db.DeletePermission(ctx, tn.ID, id); keyward.ErrorCode(err) != keyward.ECONFLICT {
				t.Errorf("DeletePermission of a held permission: got %v, want code %s", err, keyward.ECONFLICT)
			}
		}
		// A permission of another tenant cannot be granted either.
		other := &keyward.Tenant{ID: secret.NewID(), Name: "other", Prefix: "kw", CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := db.CreateTenant(ctx, other); err != nil {
			t.Fatal(err)
		}
		k2 := *k
		k2.ID, k2.TenantID, k2.ClientID, k2.SecretHash = secret.NewID(), other.ID, "kw_y", secret.RandomBytes(32)
		if err := db.CreateAPIKey(ctx, &k2); keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Errorf("CreateAPIKey with another tenant's permission: got %v, want code %s", err, keyward.ECONFLICT)
		}
		if _, err := db.GetAPIKey(ctx, other.ID, k2.ID); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			t.Errorf("GetAPIKey of the rejected key: got %v, want code %s", err, keyward.ENOTFOUND)
		}
	})
}

// TestPostgresDSN checks that the test DSN's parameters reach the session:
// its own schema first in the search_path, and a time zone that is not UTC
// (so that the suite proves times come back in UTC whatever the session's).
func TestPostgresDSN(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var schema, tz string
	if err := db.QueryRowContext(t.Context(), `SELECT current_schema(), current_setting('TimeZone')`).Scan(&schema, &tz); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "kwtest_") || !strings.Contains(dsn, "search_path="+schema) {
		t.Errorf("current_schema(): got %q, want the kwtest_ schema of %s", schema, dsn)
	}
	if tz == "UTC" || tz == "Etc/UTC" {
		t.Errorf("session time zone: got %s, want one that is not UTC", tz)
	}
}
