package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// MigrateUpTo applies the migrations up to version, for tests of a data
// migration over a database of an older schema.
func (db *DB) MigrateUpTo(ctx context.Context, version int64) error {
	p, err := db.provider(ctx)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// MigrateDownTo rolls the migrations after version back, for tests of a
// migration's Down.
func (db *DB) MigrateDownTo(ctx context.Context, version int64) error {
	p, err := db.provider(ctx)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

// ExecRaw runs a statement on the write pool; TS converts a time to the
// database's representation.
func (db *DB) ExecRaw(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, query, args...)
	return err
}

func (db *DB) TS(t time.Time) any { return db.ts(t) }

// QueryStrings runs a query on the read pool and returns its rows, each
// column formatted with %v and the columns joined by spaces.
func (db *DB) QueryStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, strings.TrimSpace(fmt.Sprintln(vals...)))
	}
	return out, rows.Err()
}

// ExplainTouch returns PostgreSQL's plan of the usage flush's last-use
// statement (TouchAPIKeys) for the keys ids of tenant, used at at, planned
// as in a flush transaction.
func (db *DB) ExplainTouch(ctx context.Context, tenant string, ids []string, at time.Time) (string, error) {
	tenants, times := make([]string, len(ids)), make([]time.Time, len(ids))
	for i := range ids {
		tenants[i], times[i] = tenant, at
	}
	var plan []string
	err := db.atomic(ctx, func(q querier) error {
		if err := db.flushPlans(ctx, q); err != nil {
			return err
		}
		rows, err := q.QueryContext(ctx, `EXPLAIN `+pgTouchLastUsed, tenants, ids, times)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan = append(plan, line)
		}
		return rows.Err()
	})
	return strings.Join(plan, "\n"), err
}
