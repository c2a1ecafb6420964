package sqlstore

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync/atomic"
)

// SQLite parses and plans a statement each time it is prepared, and the
// driver prepares every statement run without a *sql.Stmt: most of the CPU
// of a small query. So each SQLite connection keeps the statements it ran
// prepared, keyed by their text, and runs them again without parsing.
//
// The cache sits under database/sql, in the connection, rather than in the
// store's querier: a statement prepared on a connection is only ever used on
// it, so transactions (which hold the one write connection) use the same
// statements as calls outside them, and no statement is prepared on a pool
// while a transaction holds its only connection (database/sql's *sql.Stmt
// would, and wait for it). database/sql uses a connection from one goroutine
// at a time (a Rows' Close included), so a connection's cache needs no lock.
//
// PostgreSQL needs none of this: pgx caches each connection's prepared
// statements by text itself (QueryExecModeCacheStatement, its default).

// Bounds of each connection's statement cache. The store's queries come from
// a bounded set of shapes (the dynamic ones, from list filters and sorts, a
// few hundred at most); past stmtCacheSize the least recently used statement
// is closed. A statement longer than stmtCacheMaxLen (a bulk insert's VALUES
// list, a migration script) is run once, uncached.
const (
	stmtCacheSize   = 256
	stmtCacheMaxLen = 8 << 10
)

// stmtCache is a driver.Connector whose connections keep their statements
// prepared (up to size each).
type stmtCache struct {
	driver.Connector
	size int
	// gen is bumped by forget: a connection that finds it changed drops its
	// statements before its next one.
	gen atomic.Uint64
}

func newStmtCache(c driver.Connector, size int) *stmtCache {
	return &stmtCache{Connector: c, size: max(1, size)}
}

func (c *stmtCache) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtConn{Conn: conn, cache: c, gen: c.gen.Load(), stmts: make(map[string]*cachedStmt)}, nil
}

// forget makes every connection close its statements before it runs
// another: after a schema change. (SQLite would prepare a statement again by
// itself when the schema it was planned on changed; forget also frees the
// migrations' statements.)
func (c *stmtCache) forget() { c.gen.Add(1) }

// stmtConn is a connection with its statement cache.
type stmtConn struct {
	driver.Conn
	cache *stmtCache
	gen   uint64
	stmts map[string]*cachedStmt
	lru   list.List // of *cachedStmt, most recently used first
}

// cachedStmt is one prepared statement of a connection.
type cachedStmt struct {
	query string
	st    driver.Stmt
	elem  *list.Element
	// busy: Rows of it are open (SQLite steps them on the statement itself);
	// the statement is not run again, nor closed, until they are closed.
	busy bool
	// dropped: out of the cache; closed when its Rows are.
	dropped bool
}

// stmt returns the cached statement for query, preparing it on a miss, or
// nil when query is to run uncached: too long, or its statement is busy.
func (c *stmtConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if g := c.cache.gen.Load(); g != c.gen {
		if err := c.dropAll(); err != nil {
			return nil, err
		}
		c.gen = g
	}
	if cs := c.stmts[query]; cs != nil {
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(cs.elem)
		return cs, nil
	}
	if len(query) > stmtCacheMaxLen {
		return nil, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	_, q := st.(driver.StmtQueryContext)
	_, e := st.(driver.StmtExecContext)
	if !q || !e {
		return nil, st.Close()
	}
	cs := &cachedStmt{query: query, st: st}
	cs.elem = c.lru.PushFront(cs)
	c.stmts[query] = cs
	if c.lru.Len() > c.cache.size {
		if err := c.drop(c.lru.Back().Value.(*cachedStmt)); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// drop takes cs out of the cache and closes it, or marks it to be closed
// when its Rows are.
func (c *stmtConn) drop(cs *cachedStmt) error {
	c.lru.Remove(cs.elem)
	delete(c.stmts, cs.query)
	cs.dropped = true
	if cs.busy {
		return nil
	}
	return cs.st.Close()
}

func (c *stmtConn) dropAll() error {
	var err error
	for _, cs := range c.stmts {
		err = errors.Join(err, c.drop(cs))
	}
	return err
}

// PrepareContext prepares a statement that the caller owns (uncached).
func (c *stmtConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Prepare(query)
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		if q, ok := c.Conn.(driver.QueryerContext); ok {
			return q.QueryContext(ctx, query, args)
		}
		return nil, driver.ErrSkip
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		if e, ok := c.Conn.(driver.ExecerContext); ok {
			return e.ExecContext(ctx, query, args)
		}
		return nil, driver.ErrSkip
	}
	return cs.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

// Close closes the connection's statements, then the connection.
func (c *stmtConn) Close() error {
	return errors.Join(c.dropAll(), c.Conn.Close())
}

// The connection's other interfaces, passed through.

func (c *stmtConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	if opts.Isolation != 0 || opts.ReadOnly {
		return nil, errors.New("sqlstore: the driver does not support transaction options")
	}
	return c.Begin() //nolint:staticcheck // the driver's only way then
}

func (c *stmtConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *stmtConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *stmtConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// cachedRows are the Rows of a cached statement: closing them makes it
// free again.
type cachedRows struct {
	driver.Rows
	cs     *cachedStmt
	closed bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.cs.busy = false
	if r.cs.dropped {
		err = errors.Join(err, r.cs.st.Close())
	}
	return err
}

// The Rows' column types, passed through (with database/sql's answers when
// the driver has none).

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
