// Package sqlstore implements keyward.Store over database/sql for SQLite
// (modernc.org/sqlite, pure Go) and PostgreSQL (pgx). One set of hand-written
// SQL serves both databases; the few differences live in the migrations and
// in how times are bound (see values.go).
//
// The store holds no business rules: it stores what the Service gives it and
// reports only what a database can see (not found, duplicates, stale
// versions), as documented on keyward.Store.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" driver
	"modernc.org/sqlite"

	"github.com/keyward/keyward"
)

// Dialect names returned by DB.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// sqlitePragmas configure every SQLite connection: wait up to 5 s for a
// lock, write-ahead logging, enforced foreign keys, and a full fsync per
// commit (a key whose creation was acknowledged survives a power loss).
// _time_format only matters for time.Time arguments, which this package
// never binds on SQLite (see values.go).
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(FULL)&_time_format=sqlite"

// DB is a keyward.Store on SQLite or PostgreSQL. Its methods outside Tx
// each run on their own; a write that touches several rows (a key and its
// permissions) is still atomic.
//
// On SQLite every write, and every transaction, goes through one
// connection, so writers queue in the process instead of failing with
// SQLITE_BUSY; reads use a separate pool that cannot write. Do not call a
// write method of DB from inside a Tx callback: use the StoreTx it is given,
// or the call waits for the connection the transaction holds.
//
// On PostgreSQL reads and writes share one pool.
type DB struct {
	*store
	dialect string
	dsn     string  // PostgreSQL: for the change feed's own connection
	write   *sql.DB // SQLite: one connection; PostgreSQL: the pool
	read    *sql.DB // SQLite: query-only pool; PostgreSQL: same as write
	// stmts: SQLite's statement caches, of write and read (see stmtcache.go).
	stmts []*stmtCache
}

var _ keyward.Store = (*DB)(nil)

// Open connects to the database that dsn names and checks that it answers.
// A dsn starting with postgres:// or postgresql:// selects PostgreSQL (any
// pgx connection parameter may be given, e.g. search_path); anything else
// is the path of a SQLite file, created with its parent directory when
// missing. Open does not migrate: call Migrate, or check SchemaVersion.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	// JIT off (issue 13), unless the DSN sets jit itself (jit=on, or
	// options=-c jit=on, maybe from PGOPTIONS): keyward's statements are
	// short OLTP ones, and above jit_above_cost (PostgreSQL 11 and later,
	// on by default) the compilation alone cost a usage flush's last-use
	// statement of 8,000 keys 640 ms, far more than it ran.
	if _, ok := cfg.RuntimeParams["jit"]; !ok && !strings.Contains(cfg.RuntimeParams["options"], "jit") {
		cfg.RuntimeParams["jit"] = "off"
	}
	pool := stdlib.OpenDB(*cfg)
	// As many idle connections as open ones: under load, closing and
	// reopening connections costs more than the queries.
	n := max(16, 4*runtime.GOMAXPROCS(0))
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	db := newDB(DialectPostgres, pool, pool)
	db.dsn = dsn
	return db, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	return openSQLiteWith(ctx, path, func(c driver.Connector) driver.Connector { return c })
}

// openSQLiteWith is openSQLite with each pool's driver connections made by
// wrap(the driver's), under the statement cache: tests count statements.
func openSQLiteWith(ctx context.Context, path string, wrap func(driver.Connector) driver.Connector) (*DB, error) {
	if path == "" || strings.HasPrefix(path, "file:") || strings.Contains(path, ":memory:") {
		return nil, fmt.Errorf("opening sqlite: %q is not a file path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("opening sqlite: creating the directory: %w", err)
	}
	// The database holds password hashes and sealed secrets: create it 0600
	// whatever the directory's mode or the umask. SQLite gives its -wal and
	// -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite: creating %s: %w", path, err)
	}
	f.Close()
	uri := "file:" + escapeURIPath(path) + "?" + sqlitePragmas

	connect := func(dsn string) (*sql.DB, *stmtCache, error) {
		c, err := sqlite.NewConnector(dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("opening sqlite: %w", err)
		}
		cache := newStmtCache(wrap(c), stmtCacheSize)
		return sql.OpenDB(cache), cache, nil
	}
	// The writer connects first so that it switches the file to WAL before
	// any reader opens it.
	write, writeStmts, err := connect(uri + "&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}

	read, readStmts, err := connect(uri + "&_query_only=1")
	if err != nil {
		write.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	db := newDB(DialectSQLite, write, read)
	db.stmts = []*stmtCache{writeStmts, readStmts}
	return db, nil
}

// escapeURIPath escapes the characters that would end the path part of a
// SQLite URI filename.
func escapeURIPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
}

func newDB(dialect string, write, read *sql.DB) *DB {
	db := &DB{dialect: dialect, write: write, read: read}
	db.store = &store{pg: dialect == DialectPostgres, read: read, pool: write, readPool: read, anchors: &anchorCache{}}
	return db
}

// Dialect returns DialectSQLite or DialectPostgres.
func (db *DB) Dialect() string { return db.dialect }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging %s: %w", db.dialect, err)
	}
	if db.read != db.write {
		if err := db.read.PingContext(ctx); err != nil {
			return fmt.Errorf("pinging %s: %w", db.dialect, err)
		}
	}
	return nil
}

// Close closes every connection. The DB must not be used afterwards.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Tx runs fn in one transaction on the write connection: it commits when fn
// returns nil, and otherwise rolls back and returns fn's error unchanged. A
// panic in fn rolls back and continues panicking. The StoreTx is valid only
// while fn runs.
func (db *DB) Tx(ctx context.Context, fn func(tx keyward.StoreTx) error) error {
	var after []func(context.Context)
	err := inTx(ctx, db.write, func(tx *sql.Tx) error {
		return fn(&store{pg: db.store.pg, read: tx, tx: tx, pool: db.write, after: &after})
	})
	if err == nil {
		for _, f := range after {
			f(ctx)
		}
	}
	return err
}

// inTx runs fn in a transaction on pool, committing when fn returns nil.
// fn's error is returned unchanged.
func inTx(ctx context.Context, pool *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	// After a commit Rollback does nothing; after an error or a panic in fn
	// it undoes fn's writes.
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing a transaction: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// store implements keyward.StoreTx once for both databases, both inside and
// outside a transaction.
type store struct {
	pg   bool    // PostgreSQL, else SQLite
	read querier // where reads go: the read pool, or tx
	tx   *sql.Tx // the transaction of DB.Tx, or nil
	pool *sql.DB // the write pool, where writes go when tx is nil
	// readPool: the read pool (nil inside a transaction).
	readPool *sql.DB
	// after holds, inside DB.Tx, what runs once it committed (see
	// afterCommit).
	after *[]func(context.Context)
	// anchors: the page anchors of deep lists (nil inside a transaction).
	anchors *anchorCache
}

// afterCommit runs fn on the write pool once what s wrote is committed:
// at the end of DB.Tx (not if it rolls back), or now outside one. fn's
// failure is its own: the write stands.
func (s *store) afterCommit(ctx context.Context, fn func(ctx context.Context)) {
	if s.tx == nil {
		fn(ctx)
		return
	}
	*s.after = append(*s.after, fn)
}

// atomic runs fn, which may issue several writes, so that they all happen
// or none do: in a new transaction on the write pool, or inside DB.Tx in a
// savepoint, so that a failed write (a duplicate, a stale version) leaves
// nothing behind and the transaction usable, on PostgreSQL as on SQLite.
func (s *store) atomic(ctx context.Context, fn func(q querier) error) error {
	if s.tx == nil {
		return inTx(ctx, s.pool, func(tx *sql.Tx) error { return fn(tx) })
	}
	return s.savepoint(ctx, fn)
}

// writeOne runs fn, which issues a single write, on the write pool, or
// inside DB.Tx in a savepoint (see atomic).
func (s *store) writeOne(ctx context.Context, fn func(q querier) error) error {
	if s.tx == nil {
		return fn(s.pool)
	}
	return s.savepoint(ctx, fn)
}

func (s *store) savepoint(ctx context.Context, fn func(q querier) error) error {
	if _, err := s.tx.ExecContext(ctx, `SAVEPOINT keyward_write`); err != nil {
		return fmt.Errorf("setting a savepoint: %w", err)
	}
	if err := fn(s.tx); err != nil {
		if _, rerr := s.tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT keyward_write`); rerr != nil {
			return errors.Join(err, fmt.Errorf("rolling back to a savepoint: %w", rerr))
		}
		if _, rerr := s.tx.ExecContext(ctx, `RELEASE SAVEPOINT keyward_write`); rerr != nil {
			return errors.Join(err, fmt.Errorf("releasing a savepoint: %w", rerr))
		}
		return err
	}
	if _, err := s.tx.ExecContext(ctx, `RELEASE SAVEPOINT keyward_write`); err != nil {
		return fmt.Errorf("releasing a savepoint: %w", err)
	}
	return nil
}

// BackupTo writes a consistent copy of an SQLite database to path, which
// must not exist: VACUUM INTO copies one snapshot (it reads the source in
// one read transaction) while writers go on, in this process or another.
// It runs on the writer connection, since the readers are query-only and
// SQLite counts writing the new file as a write. PostgreSQL has pg_dump.
func (db *DB) BackupTo(ctx context.Context, path string) error {
	if db.dialect != DialectSQLite {
		return errors.New("backing up is for SQLite; on PostgreSQL use pg_dump")
	}
	if _, err := db.write.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("VACUUM INTO: %w", err)
	}
	return nil
}

// IntegrityCheck runs SQLite's integrity_check and returns its complaints
// (none when the file is sound).
func (db *DB) IntegrityCheck(ctx context.Context) error {
	if db.dialect != DialectSQLite {
		return nil
	}
	rows, err := db.read.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	return nil
}
