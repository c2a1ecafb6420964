package sqlstore

import (
	"context"
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

// ExecRaw runs a statement on the write pool; TS converts a time to the
// database's representation.
func (db *DB) ExecRaw(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, query, args...)
	return err
}

func (db *DB) TS(t time.Time) any { return db.ts(t) }
