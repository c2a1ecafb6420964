package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward"
)

// changeChannel is the PostgreSQL channel replicas publish changes on.
const changeChannel = "keyward_changes"

// maxPayload keeps NOTIFY payloads under PostgreSQL's 8000-byte limit.
const maxPayload = 7000

// pgChanges is the PostgreSQL ChangeFeed: NOTIFY through the pool, LISTEN
// on a dedicated connection that reconnects by itself.
type pgChanges struct {
	dsn  string
	pool querier
}

// ChangeFeed returns the feed that keeps replicas' caches in step, or nil
// for SQLite (one process).
func (db *DB) ChangeFeed() keyward.ChangeFeed {
	if db.dialect != DialectPostgres {
		return nil
	}
	return &pgChanges{dsn: db.dsn, pool: db.write}
}

// Publish notifies every listener; "*" means everything changed.
func (c *pgChanges) Publish(ctx context.Context, keyIDs []string) error {
	if len(keyIDs) == 0 {
		_, err := c.pool.ExecContext(ctx, `SELECT pg_notify($1, '*')`, changeChannel)
		return err
	}
	for len(keyIDs) > 0 {
		var b strings.Builder
		n := 0
		for n < len(keyIDs) && b.Len()+len(keyIDs[n])+1 < maxPayload {
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteString(keyIDs[n])
			n++
		}
		if _, err := c.pool.ExecContext(ctx, `SELECT pg_notify($1, $2)`, changeChannel, b.String()); err != nil {
			return err
		}
		keyIDs = keyIDs[n:]
	}
	return nil
}

// Subscribe listens until ctx ends, reconnecting with backoff.
func (c *pgChanges) Subscribe(ctx context.Context, onChange func(keyIDs []string), onReset func(listening bool)) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, c.dsn)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+changeChannel)
		}
		if err != nil {
			if conn != nil {
				conn.Close(context.Background())
			}
			onReset(false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		onReset(true) // changes may have been missed before LISTEN: start clean
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			if n.Payload == "*" {
				onChange(nil)
			} else {
				onChange(strings.Split(n.Payload, ","))
			}
		}
		conn.Close(context.Background())
		if ctx.Err() == nil {
			onReset(false)
		}
	}
}

// QueryRowForTest runs a single-row query on the pool (for tests that need
// to act on the database directly, such as terminating connections).
func (db *DB) QueryRowForTest(ctx context.Context, query string, dest ...any) error {
	return db.write.QueryRowContext(ctx, query).Scan(dest...)
}
