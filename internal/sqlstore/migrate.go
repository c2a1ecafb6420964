package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the numbered schema migrations of each dialect, in
// migrations/<dialect>/NNNNN_name.sql (goose format).
//
//go:embed migrations
var migrations embed.FS

// versionTable records the applied migrations (goose's table, under a name
// that cannot clash with another goose user of the same database).
const versionTable = "keyward_schema_migrations"

// provider returns a goose provider for the DB's dialect. On PostgreSQL it
// takes a session advisory lock, keyed by the current schema, around
// migrations so that replicas starting together apply each migration once:
// the others wait (up to five minutes) and then find nothing to do.
func (db *DB) provider(ctx context.Context) (*goose.Provider, error) {
	dir, err := fs.Sub(migrations, "migrations/"+db.dialect)
	if err != nil {
		return nil, fmt.Errorf("reading the migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithTableName(versionTable), goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if db.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
		var schema string
		if err := db.write.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return nil, fmt.Errorf("reading the current schema: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte("keyward migrations " + schema))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64())),
			lock.WithLockTimeout(1, 300), // retry every second for five minutes
		)
		if err != nil {
			return nil, fmt.Errorf("creating the migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.write, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration. It is safe to call again, and on
// PostgreSQL from several processes at once.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.provider(ctx)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	// The migrations' statements, and those prepared on the old schema,
	// are not kept.
	for _, c := range db.stmts {
		c.forget()
	}
	if err != nil {
		return fmt.Errorf("migrating the %s database: %w", db.dialect, err)
	}
	return nil
}

// SchemaVersion returns the version of the last migration applied to the
// database (0 for an empty one) and the latest version this binary knows.
// The server should refuse to run while current < latest. It writes
// nothing.
func (db *DB) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := db.provider(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, src := range p.ListSources() {
		latest = max(latest, src.Version)
	}
	exists := `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = $1`
	if db.dialect == DialectPostgres {
		exists = `SELECT count(*) > 0 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`
	}
	var found bool
	if err := db.read.QueryRowContext(ctx, exists, versionTable).Scan(&found); err != nil {
		return 0, 0, fmt.Errorf("reading the schema version: %w", err)
	} else if !found {
		return 0, latest, nil
	}
	var v *int64
	if err := db.read.QueryRowContext(ctx, `SELECT max(version_id) FROM `+versionTable).Scan(&v); err != nil {
		return 0, 0, fmt.Errorf("reading the schema version: %w", err)
	}
	if v != nil {
		current = *v
	}
	return current, latest, nil
}
