package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/wire"
)

const adminUsage = `Usage: keyward admin reset-password [flags]

Sets a user's password directly in the database (the server may be running)
and activates the user. Without --password (or KEYWARD_NEW_PASSWORD) a random
password is generated and printed once.

Flags:
`

// runAdmin implements "keyward admin reset-password".
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "reset-password" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			fmt.Fprint(stdout, adminUsage)
			return exitOK
		}
		fmt.Fprint(stderr, adminUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("keyward admin reset-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serverConfig
	envErr := serverFlags(fs, getenv, &c)
	user := fs.String("user", "admin", "user name")
	tenant := fs.String("tenant", keyward.RootTenantName, "tenant name")
	password := fs.String("password", getenv("KEYWARD_NEW_PASSWORD"), "new password (env KEYWARD_NEW_PASSWORD); generated when empty")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), adminUsage)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args[1:], stdout); done {
		return code
	}
	if err := errors.Join(envErr, c.validate()); err != nil {
		fmt.Fprintf(stderr, "keyward admin: %v\n", err)
		return exitUsage
	}
	// Refuse a place without a keyward database rather than make a new,
	// empty one (and a new master key) there.
	if err := existingDatabase(ctx, &c); err != nil {
		fmt.Fprintf(stderr, "keyward admin: %v\n", err)
		return exitError
	}
	master, _, err := c.masterKey()
	if err != nil {
		fmt.Fprintf(stderr, "keyward admin: master key: %v\n", err)
		return exitError
	}
	// Built as serve builds it, with the change feed: the other replicas
	// drop what they cached of the user.
	running, err := wire.Open(ctx, wire.Options{DSN: c.databaseDSN(), Config: keyward.Config{MasterKey: master}})
	if err != nil {
		fmt.Fprintf(stderr, "keyward admin: %v\n", err)
		return exitError
	}
	defer running.Close()
	svc := running.Service
	generated, err := svc.ResetPassword(ctx, *tenant, *user, *password)
	if err != nil {
		fmt.Fprintf(stderr, "keyward admin: %s\n", keyward.ErrorMessage(err))
		return exitError
	}
	if generated != "" {
		fmt.Fprintf(stdout, "New password for %s (shown only this once): %s\n", *user, generated)
	} else {
		fmt.Fprintf(stdout, "Password of %s changed.\n", *user)
	}
	return exitOK
}

// existingDatabase checks that the configured database already holds
// keyward's schema: an SQLite file in the data directory, or a migrated
// PostgreSQL database.
func existingDatabase(ctx context.Context, c *serverConfig) error {
	if c.DatabaseURL == "" {
		dir, _ := filepath.Abs(c.DataDir)
		if _, err := os.Stat(c.databaseDSN()); err != nil {
			return fmt.Errorf("no keyward database in %s: run this where the server keeps its data, or give --data-dir (KEYWARD_DATA_DIR)", dir)
		}
		return nil
	}
	db, err := sqlstore.Open(ctx, c.databaseDSN())
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer db.Close()
	current, _, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if current == 0 {
		return errors.New("the database at --database-url holds no keyward data: check the URL")
	}
	return nil
}
