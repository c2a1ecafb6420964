package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// stmtCounts counts what the driver connections of countingConnectors did.
type stmtCounts struct {
	prepares   atomic.Int64 // statements prepared (without an error)
	runs       atomic.Int64 // statements run, prepared or not
	direct     atomic.Int64 // statements run unprepared (each parsed again)
	closes     atomic.Int64 // prepared statements closed
	closedRuns atomic.Int64 // runs of a statement already closed (never wanted)
}

// parses is how many times SQLite parsed a statement.
func (n *stmtCounts) parses() int64 { return n.prepares.Load() + n.direct.Load() }

// countingConnector is the driver's connector with its connections
// counted in n.
type countingConnector struct {
	driver.Connector
	n *stmtCounts
}

func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: c.n}, nil
}

type countingConn struct {
	driver.Conn
	n *stmtCounts
}

func (cc *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := cc.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cc.n.prepares.Add(1)
	return &countingStmt{Stmt: st, n: cc.n}, nil
}

func (cc *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cc.n.runs.Add(1)
	cc.n.direct.Add(1)
	return cc.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (cc *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cc.n.runs.Add(1)
	cc.n.direct.Add(1)
	return cc.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (cc *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return cc.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

type countingStmt struct {
	driver.Stmt
	n      *stmtCounts
	closed bool
}

var errClosedStmt = errors.New("test: a closed statement was run")

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.n.runs.Add(1)
	if s.closed {
		s.n.closedRuns.Add(1)
		return nil, errClosedStmt
	}
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.n.runs.Add(1)
	if s.closed {
		s.n.closedRuns.Add(1)
		return nil, errClosedStmt
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *countingStmt) Close() error {
	if s.closed {
		s.n.closedRuns.Add(1)
		return errClosedStmt
	}
	s.closed = true
	s.n.closes.Add(1)
	return s.Stmt.Close()
}

// openCounted opens a migrated SQLite store whose connections (both pools)
// are counted in n.
func openCounted(t *testing.T, n *stmtCounts) *DB {
	t.Helper()
	db, err := openSQLiteWith(t.Context(), filepath.Join(t.TempDir(), "k.db"), func(c driver.Connector) driver.Connector {
		return &countingConnector{Connector: c, n: n}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestStatementsPreparedOnce: a store's statements are parsed once per
// connection, then reused by every call, in transactions or not, and under
// Guard; none is run after it was closed, and closing the store closes all.
func TestStatementsPreparedOnce(t *testing.T) {
	n := &stmtCounts{}
	db := openCounted(t, n)
	st := Guard(db, Limits{})
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := st.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	perm := &keyward.Permission{ID: secret.NewID(), TenantID: tn.ID, Name: "p", ContainerID: "c", CreatedAt: now}
	if err := st.CreatePermission(ctx, perm); err != nil {
		t.Fatal(err)
	}
	// round is what a few management requests and a verification ask of
	// the store.
	round := func(i int) error {
		u := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: fmt.Sprint("u", i), PasswordHash: "x", Level: 3,
			IsActive: true, Permissions: []keyward.Permission{*perm}, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := st.CreateUser(ctx, u); err != nil {
			return err
		}
		k := &keyward.APIKey{ID: secret.NewID(), TenantID: tn.ID, ClientID: fmt.Sprint("c", i), Name: "k", OwnerID: u.ID,
			Permissions: []keyward.Permission{*perm}, IsActive: true, CreatedAt: now, UpdatedAt: now, CreatedBy: "x",
			Version: 1, SecretGeneration: 1, SecretHash: secret.RandomBytes(32)}
		if err := st.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		if _, err := st.GetUser(ctx, tn.ID, u.ID); err != nil {
			return err
		}
		if _, err := st.KeyForVerification(ctx, k.SecretHash); err != nil {
			return err
		}
		f := keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 20}, Query: "k", Status: keyward.StatusActive,
			Sort: "-createdAt", Now: now}
		if _, err := st.ListAPIKeys(ctx, tn.ID, f); err != nil {
			return err
		}
		return st.Tx(ctx, func(tx keyward.StoreTx) error {
			got, err := tx.GetAPIKey(ctx, tn.ID, k.ID)
			if err != nil {
				return err
			}
			got.Name, got.Version = "renamed", got.Version+1
			if err := tx.UpdateAPIKey(ctx, got, got.Version-1); err != nil {
				return err
			}
			return tx.InsertAudit(ctx, &keyward.AuditEntry{ID: secret.NewID(), At: now, TenantID: tn.ID, ActorKind: "system",
				Action: "apikey.update", TargetID: k.ID, Result: keyward.AuditSuccess})
		})
	}
	for i := range 4 {
		parsed, runs := n.parses(), n.runs.Load()
		if err := round(i); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		parsed, runs = n.parses()-parsed, n.runs.Load()-runs
		t.Logf("round %d: parsed %d of %d statements", i, parsed, runs)
		if i == 0 && parsed == 0 {
			t.Fatalf("round 0 parsed nothing")
		}
		// Round 1 may still meet a read connection the first did not use.
		if i >= 2 && parsed != 0 {
			t.Errorf("round %d: parsed %d of its %d statements; want 0", i, parsed, runs)
		}
	}
	if got := n.closedRuns.Load(); got != 0 {
		t.Errorf("ran closed statements %d times; want 0", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := n.closes.Load(), n.prepares.Load(); got != want {
		t.Errorf("after Close: %d statements closed; want all %d prepared", got, want)
	}
}

// openCache opens a SQLite database of one connection with a statement
// cache of size, counted in the returned stmtCounts.
func openCache(t *testing.T, size int) (*sql.DB, *stmtCache, *stmtCounts) {
	t.Helper()
	c, err := sqlite.NewConnector(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	n := &stmtCounts{}
	cache := newStmtCache(&countingConnector{Connector: c, n: n}, size)
	db := sql.OpenDB(cache)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, cache, n
}

// TestStmtCacheBounds: a connection keeps at most size statements, least
// recently used out; a statement whose rows are open is neither run again
// (the same query runs unprepared) nor closed until they are; forget
// closes every statement; nothing closed is ever run.
func TestStmtCacheBounds(t *testing.T) {
	db, cache, n := openCache(t, 2)
	ctx := t.Context()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	check := func(step string, prepares, closes, direct int64) {
		t.Helper()
		if got := n.prepares.Load(); got != prepares {
			t.Errorf("%s: got %d prepared, want %d", step, got, prepares)
		}
		if got := n.closes.Load(); got != closes {
			t.Errorf("%s: got %d closed, want %d", step, got, closes)
		}
		if got := n.direct.Load(); got != direct {
			t.Errorf("%s: got %d run unprepared, want %d", step, got, direct)
		}
		if got := n.closedRuns.Load(); got != 0 {
			t.Fatalf("%s: ran closed statements %d times", step, got)
		}
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	one := func(query string, args ...any) string {
		t.Helper()
		var v string
		if err := conn.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return v
	}

	exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	for i, v := range []string{"a", "b", "c"} {
		exec(`INSERT INTO t (id, v) VALUES ($1, $2)`, i+1, v)
	}
	check("create and three inserts", 2, 0, 0)

	const from = `SELECT v FROM t WHERE id >= $1 ORDER BY id`
	rows, err := conn.QueryContext(ctx, from, 1) // evicts CREATE
	if err != nil {
		t.Fatal(err)
	}
	check("open rows", 3, 1, 0)
	if got := one(from, 3); got != "c" { // the same query, while its rows are open
		t.Errorf("the same query beside its open rows: got %q, want c", got)
	}
	check("the same query beside its rows", 3, 1, 1)
	if got := one(`SELECT count(*) FROM t`); got != "3" { // evicts INSERT
		t.Errorf("count: got %s, want 3", got)
	}
	if got := one(`SELECT max(v) FROM t`); got != "c" { // evicts from, whose rows are open
		t.Errorf("max: got %s, want c", got)
	}
	check("evicting the open rows' statement", 5, 2, 1)
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a b c]" {
		t.Errorf("rows read across evictions: got %v, want [a b c]", got)
	}
	check("closing the rows", 5, 3, 1)
	if got := one(from, 2); got != "b" {
		t.Errorf("from 2: got %s, want b", got)
	}
	check("the evicted query again", 6, 4, 1)

	cache.forget()
	exec(`INSERT INTO t (id, v) VALUES ($1, $2)`, 4, "d")
	check("after forget", 7, 6, 1)

	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	check("closing the database", 7, 7, 1)
}
