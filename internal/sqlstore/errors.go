package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward"
)

// The store's errors are keyward.Errors where store.go gives them a code
// (ENOTFOUND, ECONFLICT, EVERSIONCONFLICT); every other error wraps the
// driver's with what was being done.

// Constraint violations, as each driver reports them.
const (
	violationNone = iota
	violationUnique
	violationForeignKey
)

func violation(err error) int {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return violationUnique
		case "23503":
			return violationForeignKey
		}
		return violationNone
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return violationUnique
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return violationForeignKey
		}
	}
	return violationNone
}

// deadlocked reports whether PostgreSQL ended the statement to break a
// deadlock: undone, it may be tried again.
func deadlocked(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40P01"
}

// writeError turns the error of a write into the Store's error codes: a
// unique violation is ECONFLICT with the message dup; a foreign-key
// violation (a referenced row is missing, or a row still referenced would
// go) is ECONFLICT too, as it only happens when a concurrent change raced
// the Service's checks. Anything else is wrapped with what.
func writeError(err error, what, dup string) error {
	switch violation(err) {
	case violationUnique:
		return keyward.Errorf(keyward.ECONFLICT, "%s", dup)
	case violationForeignKey:
		return keyward.Errorf(keyward.ECONFLICT, "%s: a referenced object is missing or a referencing one exists", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// notFound returns the ENOTFOUND error for a kind of object.
func notFound(kind string) error {
	return keyward.Errorf(keyward.ENOTFOUND, "%s not found", kind)
}

// checkUpdated explains an UPDATE or DELETE guarded by a version: when it
// changed no row, versionQuery (selecting the stored version by the
// object's key) tells ENOTFOUND from EVERSIONCONFLICT.
func (s *store) checkUpdated(ctx context.Context, q querier, res sql.Result, kind, versionQuery string, args []any, expectVersion int) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("writing a %s: %w", kind, err)
	} else if n > 0 {
		return nil
	}
	var stored int
	err = q.QueryRowContext(ctx, versionQuery, args...).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(kind)
	} else if err != nil {
		return fmt.Errorf("reading the version of a %s: %w", kind, err)
	}
	return keyward.Errorf(keyward.EVERSIONCONFLICT, "the %s's version is %d, not %d", kind, stored, expectVersion)
}

// checkDeleted turns a DELETE that removed no row into ENOTFOUND.
func checkDeleted(res sql.Result, kind string) error {
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("deleting a %s: %w", kind, err)
	} else if n == 0 {
		return notFound(kind)
	}
	return nil
}
