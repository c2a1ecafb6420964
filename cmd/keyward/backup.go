package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/keyward/keyward/internal/sqlstore"
)

const backupUsage = `Usage: keyward backup [flags] FILE

Writes a consistent copy of the SQLite database in the data directory to
FILE (which must not exist), while the server runs: one snapshot of one
moment (SQLite's VACUUM INTO), taken beside the server's writes without
stopping them.

The backup does not hold the master key (KEYWARD_MASTER_KEY, or
<data-dir>/master.key): without it the HMAC secrets and sealed values in the
backup cannot be used. Keep a copy of the key apart from the backups.

On PostgreSQL this command refuses: use pg_dump (see the README).

Flags:
`

const restoreUsage = `Usage: keyward restore [flags] FILE

Puts the database in FILE (made by "keyward backup") back as the data
directory's database. The server must be stopped: restore refuses while any
"keyward serve" uses the data directory. It checks FILE first (an SQLite
database, sound, with keyward's schema no newer than this keyward) and keeps
the database it replaces as keyward.db.before-restore-<time>. A backup of an
older schema is restored as it is: start the server with --migrate.

Restore the master key the backup was made with too (KEYWARD_MASTER_KEY, or
<data-dir>/master.key).

On PostgreSQL this command refuses: use pg_restore or psql (see the README).

Flags:
`

// runBackup implements "keyward backup FILE".
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serverConfig
	envErr := serverFlags(fs, getenv, &c)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), backupUsage)
		fs.PrintDefaults()
	}
	file, code, done := parseFileCommand(fs, args, stdout, stderr, "backup", &c, envErr)
	if done {
		return code
	}
	if err := existingDatabase(ctx, &c); err != nil {
		fmt.Fprintf(stderr, "keyward backup: %v\n", err)
		return exitError
	}
	if _, err := os.Lstat(file); err == nil {
		fmt.Fprintf(stderr, "keyward backup: %s exists: give a new file\n", file)
		return exitError
	}
	db, err := sqlstore.Open(ctx, c.databaseDSN())
	if err != nil {
		fmt.Fprintf(stderr, "keyward backup: %v\n", err)
		return exitError
	}
	defer db.Close()
	current, _, err := db.SchemaVersion(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "keyward backup: reading the schema version: %v\n", err)
		return exitError
	}
	// The copy holds password hashes and sealed secrets: 0600, like the
	// database (VACUUM INTO creates the file with the process's umask).
	if f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
		fmt.Fprintf(stderr, "keyward backup: %v\n", err)
		return exitError
	} else {
		f.Close()
		os.Remove(file)
	}
	start := time.Now()
	if err := db.BackupTo(ctx, file); err != nil {
		os.Remove(file)
		fmt.Fprintf(stderr, "keyward backup: %v\n", err)
		return exitError
	}
	if err := os.Chmod(file, 0o600); err != nil {
		fmt.Fprintf(stderr, "keyward backup: %v\n", err)
		return exitError
	}
	fi, _ := os.Stat(file)
	fmt.Fprintf(stdout, "backed up %s (schema version %d, %d bytes) to %s in %s\n",
		c.databaseDSN(), current, fi.Size(), file, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stderr, "The backup does not hold the master key: keep %s apart from it, or it cannot be used.\n", masterKeyWhere(&c))
	return exitOK
}

// runRestore implements "keyward restore FILE".
func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serverConfig
	envErr := serverFlags(fs, getenv, &c)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), restoreUsage)
		fs.PrintDefaults()
	}
	file, code, done := parseFileCommand(fs, args, stdout, stderr, "restore", &c, envErr)
	if done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "keyward restore: "+format+"\n", a...)
		return exitError
	}
	unlock, err := lockDataDir(c.DataDir, true)
	if errors.Is(err, errDataDirBusy) {
		return fail("a keyward server is using %s: stop it first", c.DataDir)
	} else if err != nil {
		return fail("%v", err)
	}
	defer unlock()

	// Check the backup on a copy: opening a database may write to it (WAL).
	target := c.databaseDSN()
	staged := target + ".restoring"
	os.Remove(staged)
	if err := copyFile(file, staged); err != nil {
		return fail("%v", err)
	}
	defer os.Remove(staged)
	version, latest, err := checkBackup(ctx, staged)
	if err != nil {
		return fail("%s is not a keyward backup this keyward can restore: %v", file, err)
	}
	// Keep the database being replaced, consistent, WAL included.
	var kept string
	if _, err := os.Stat(target); err == nil {
		kept = target + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		old, err := sqlstore.Open(ctx, target)
		if err != nil {
			return fail("opening the current database: %v", err)
		}
		err = old.BackupTo(ctx, kept)
		old.Close()
		if err != nil {
			return fail("keeping the current database: %v", err)
		}
		os.Chmod(kept, 0o600)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(target + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail("%v", err)
		}
	}
	if err := os.Rename(staged, target); err != nil {
		return fail("%v", err)
	}
	if d, err := os.Open(filepath.Dir(target)); err == nil {
		d.Sync()
		d.Close()
	}
	fmt.Fprintf(stdout, "restored %s (schema version %d) to %s\n", file, version, target)
	if kept != "" {
		fmt.Fprintf(stdout, "the database it replaced is kept as %s\n", kept)
	}
	if version < latest {
		fmt.Fprintf(stdout, "the backup's schema is older than this keyward's (%d): start with \"keyward serve --migrate\"\n", latest)
	}
	fmt.Fprintf(stderr, "Use the master key the backup was made with (%s).\n", masterKeyWhere(&c))
	return exitOK
}

// parseFileCommand parses the flags and the one FILE argument of backup and
// restore, and refuses PostgreSQL.
func parseFileCommand(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, name string, c *serverConfig, envErr error) (file string, code int, done bool) {
	var pos []string
	for rest := args; ; {
		if code, done := parseFlags(fs, rest, stdout); done {
			return "", code, true
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if err := errors.Join(envErr, c.validate()); err != nil {
		fmt.Fprintf(stderr, "keyward %s: %v\n", name, err)
		return "", exitUsage, true
	}
	if c.DatabaseURL != "" {
		tool := "pg_dump -Fc"
		if name == "restore" {
			tool = "pg_restore"
		}
		fmt.Fprintf(stderr, "keyward %s: the database is PostgreSQL: use %s (see the README, Operations)\n", name, tool)
		return "", exitUsage, true
	}
	if len(pos) != 1 || pos[0] == "" {
		fmt.Fprintf(stderr, "keyward %s: give one FILE\nRun \"keyward %s --help\" for usage.\n", name, name)
		return "", exitUsage, true
	}
	return pos[0], exitOK, false
}

// checkBackup opens the SQLite file at path and checks it is sound and
// holds keyward's schema at a version this keyward knows; it returns that
// version and this keyward's.
func checkBackup(ctx context.Context, path string) (current, latest int64, err error) {
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		return 0, 0, err
	}
	current, latest, err = db.SchemaVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the schema version: %w", err)
	}
	switch {
	case current == 0:
		return 0, 0, errors.New("it holds no keyward schema")
	case current > latest:
		return 0, 0, fmt.Errorf("its schema (version %d) is newer than this keyward (%d): upgrade keyward", current, latest)
	}
	return current, latest, nil
}

func masterKeyWhere(c *serverConfig) string {
	if c.MasterKey != "" {
		return "KEYWARD_MASTER_KEY"
	}
	return filepath.Join(c.DataDir, "master.key")
}

// copyFile copies src to a new file dst, mode 0600, synced.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
