package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/keyward/keyward/internal/wire"
)

// runMigrate implements "keyward migrate": apply pending migrations and exit.
// Replicas may run it together: on PostgreSQL one applies, the others wait.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serverConfig
	envErr := serverFlags(fs, getenv, &c)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: keyward migrate [flags]\n\nApplies pending database migrations and exits.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if err := errors.Join(envErr, c.validate()); err != nil {
		fmt.Fprintf(stderr, "keyward migrate: %v\n", err)
		return exitUsage
	}
	db, err := wire.OpenStore(ctx, c.databaseDSN(), true)
	if err != nil {
		fmt.Fprintf(stderr, "keyward migrate: %v\n", err)
		return exitError
	}
	defer db.Close()
	current, _, err := db.SchemaVersion(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "keyward migrate: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "database schema is at version %d (%s)\n", current, db.Dialect())
	return exitOK
}
