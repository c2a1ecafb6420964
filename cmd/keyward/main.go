// Command keyward runs the keyward server and talks to a running one.
//
//	keyward serve                    run the server
//	keyward migrate                  apply database migrations
//	keyward admin reset-password     set a user's password
//	keyward backup FILE              copy a running server's SQLite database
//	keyward restore FILE             put a backup back on a stopped server
//	keyward apikeys <command>        manage API keys of a running server
//	keyward token                    get an OAuth2 access token
//	keyward healthcheck              check a server's /healthz (for container HEALTHCHECKs)
//	keyward version                  print the version
//	keyward completion bash|zsh|fish print a shell completion script
//
// Run "keyward <command> --help" for the flags of each command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `keyward issues, manages and verifies API keys and client credentials.

Usage:
  keyward serve [flags]                  run the server (SQLite under ./keyward-data by default)
  keyward migrate [flags]                apply pending database migrations and exit
  keyward admin reset-password [flags]   set a user's password (prints a generated one)
  keyward backup [flags] FILE            copy a running server's SQLite database to FILE
  keyward restore [flags] FILE           put a backup back (the server stopped)
  keyward apikeys <command> [flags]      manage API keys on a running server:
                                         create, list, get, update, rotate, activate, deactivate, delete
  keyward users <command> [flags]        manage users: create, list, get, update, activate, deactivate, delete
  keyward permissions <command> [flags]  manage the permission catalog: create, list, get, update, delete
  keyward tenants <command> [flags]      manage tenants (root admins): create, list, get, update, activate, deactivate
  keyward token [flags]                  get an OAuth2 access token (client credentials)
  keyward curl [flags] URL               send one request signed with an hmacEnabled key
  keyward healthcheck [--url URL]        exit 0 if a server's /healthz answers 200, else 1
  keyward version                        print the version, VCS revision and Go version
  keyward completion bash|zsh|fish       print a shell completion script
  keyward help <command> [<subcommand>]  show a command's help (same as <command> --help)

Run "keyward <command> --help" for a command's flags.
`

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed (server error, not found, forbidden, ...)
	exitUsage = 2 // bad flags or arguments
)

// run is the whole program; main only calls it. Tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "admin":
		return runAdmin(ctx, args[1:], getenv, stdout, stderr)
	case "apikeys":
		return runAPIKeys(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "users":
		return runUsers(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "permissions":
		return runPermissions(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "tenants":
		return runGroup(ctx, tenantsGroup, args[1:], getenv, stdin, stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], getenv, stdout, stderr)
	case "curl":
		return runCurl(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "version", "--version":
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprint(stdout, "Usage: keyward version\n\nPrints the version, VCS revision, build time and Go version.\n")
			return exitOK
		}
		fmt.Fprintln(stdout, currentBuild())
		return exitOK
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdout, stderr)
	case "restore":
		return runRestore(ctx, args[1:], getenv, stdout, stderr)
	case "completion":
		return runCompletion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 && args[0] == "help" && !isHelp(args[1]) {
			// "keyward help apikeys create" is "keyward apikeys create --help".
			if _, ok := commandByName(args[1]); !ok {
				fmt.Fprintf(stderr, "keyward help: unknown command %q\n\n%s", args[1], usage)
				return exitUsage
			}
			return run(ctx, append(append([]string{}, args[1:]...), "--help"), getenv, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "keyward: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

// parseFlags parses args into fs. It reports done when the command should
// return code at once: after --help (usage on stdout, exit 0) or a flag
// error (already reported on fs's output, exit 2).
//
// Given a *flagCollector as stdout, it hands fs to it and reports done: that
// is how completion reads a command's real flags without running it.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	if fc, ok := stdout.(*flagCollector); ok {
		fc.fs = fs
		return exitOK, true
	}
	// flag.Parse calls Usage itself on -h and on errors; -h prints the usage
	// once, here, on stdout; an error prints it once, on fs's output.
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK, true
		}
		fs.Usage()
		return exitUsage, true
	}
	return exitOK, false
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}
