// Package sqltest opens fresh sqlstore databases for tests of any package:
// SQLite always, PostgreSQL when KEYWARD_TEST_POSTGRES_URL is set.
//
// When the variable is set, PostgreSQL tests must run: an unreachable
// database fails the test instead of skipping it.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/keyward/keyward/internal/sqlstore"
)

// PostgresEnv names the variable holding the URL of a PostgreSQL database
// the tests may create schemas in, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresEnv = "KEYWARD_TEST_POSTGRES_URL"

// sessionTimeZone is the time zone of every test PostgreSQL session: not
// UTC, and not a whole number of hours away from it, so that a time read
// back without conversion to UTC shows in the tests.
const sessionTimeZone = "Asia/Kathmandu"

// SQLiteDSN returns the path of a new SQLite database in t.TempDir().
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "data", "keyward.db")
}

// SQLite opens a fresh, migrated SQLite database, closed when t ends. It
// starts as a copy of a database migrated once per test binary (see
// migratedSQLite), then is migrated again, which finds nothing to apply:
// the same database as migrating an empty one, without its cost. Open
// with migrate set migrates an empty file from the first migration.
func SQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	files, err := migratedSQLite()
	if err != nil {
		t.Fatalf("migrating the template SQLite database: %v", err)
	}
	path := SQLiteDSN(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	for suffix, data := range files {
		if err := os.WriteFile(path+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return open(t, path, true)
}

// migratedSQLite returns the files of a SQLite database migrated from
// empty, by suffix of the database's path ("" for the database, "-wal" for
// its log if closing left one), made on the first call. Under -race,
// migrating a database costs about a second of CPU (the SQLite engine is
// Go, every memory access checked), and most tests open several.
var migratedSQLite = sync.OnceValues(func() (map[string][]byte, error) {
	dir, err := os.MkdirTemp("", "kwsqltemplate")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keyward.db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(path + suffix)
		if errors.Is(err, fs.ErrNotExist) && suffix != "" {
			continue
		} else if err != nil {
			return nil, err
		}
		files[suffix] = data
	}
	return files, nil
})

// PostgresURL returns the value of KEYWARD_TEST_POSTGRES_URL, or skips t
// when it is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresEnv)
	if u == "" {
		t.Skip(PostgresEnv + " not set: skipping PostgreSQL tests")
	}
	return u
}

// PostgresDSN creates an empty schema named kwtest_<random hex>, dropped
// (with everything in it) when t ends, and returns a DSN whose sessions use
// it as their search_path. It skips t when KEYWARD_TEST_POSTGRES_URL is
// unset and fails t when the database cannot be reached.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "kwtest_" + hex.EncodeToString(b)

	exec(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { exec(t, base, `DROP SCHEMA `+schema+` CASCADE`) })

	q := u.Query()
	q.Set("search_path", schema)
	if q.Get("timezone") == "" {
		q.Set("timezone", sessionTimeZone)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on the database at dsn, failing t on error.
func exec(t testing.TB, dsn, stmt string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("opening %s: %v", PostgresEnv, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		t.Fatalf("%s (database of %s): %v", stmt, PostgresEnv, err)
	}
}

// Postgres opens a fresh, migrated PostgreSQL store in its own schema (see
// PostgresDSN), closed and dropped when t ends.
func Postgres(t testing.TB) *sqlstore.DB {
	t.Helper()
	return open(t, PostgresDSN(t), true)
}

// Open opens the store at dsn, closed when t ends, migrating it if migrate.
func Open(t testing.TB, dsn string, migrate bool) *sqlstore.DB {
	t.Helper()
	return open(t, dsn, migrate)
}

func open(t testing.TB, dsn string, migrate bool) *sqlstore.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("opening the test database: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing the test database: %v", err)
		}
	})
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrating the test database: %v", err)
		}
	}
	return db
}

// Backends runs fn as the subtests "sqlite" and "postgres", each with a
// fresh migrated store. The postgres subtest skips when
// KEYWARD_TEST_POSTGRES_URL is unset.
func Backends(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// BackendDSNs runs fn as the subtests "sqlite" and "postgres", each with
// the DSN of a fresh database (not opened): for tests that open several
// stores on one database, as replicas do. The postgres subtest skips when
// KEYWARD_TEST_POSTGRES_URL is unset.
func BackendDSNs(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresDSN(t)) })
}
