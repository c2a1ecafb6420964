package main

// The command-line framework of the commands that talk to a server
// ("keyward apikeys", "keyward users", ...): groups of subcommands, their
// flags and usage, the connection and login, and the output shared by
// every command. The commands themselves live in apikeys.go, users.go, ...

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
)

// group is a command with subcommands: "keyward apikeys", "keyward users", ...
type group struct {
	name     string // "apikeys"
	usage    string
	noun     string // what the positional argument is: "key id"
	commands map[string]command
}

// runGroup runs "keyward <group> <command>".
func runGroup(ctx context.Context, g group, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, g.usage)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, g.usage)
			return exitOK
		}
		name, rest = rest[0], []string{"--help"}
	}
	cmd, ok := g.commands[name]
	if !ok {
		fmt.Fprintf(stderr, "keyward %s: unknown command %q\n\n%s", g.name, name, g.usage)
		return exitUsage
	}
	cli := &runner{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	return cli.exec(ctx, g, name, cmd, rest)
}

// command is one subcommand of a group.
type command struct {
	args  string // positional arguments, for the usage line: "" or "ID"
	about string // what it does, for --help
	// flags registers the command's own flags on fs and returns the
	// function that checks them once parsed.
	flags func(fs *flag.FlagSet) commandPrepare
}

// commandPrepare checks a command's flags and key id; a non-nil error is a
// usage error. The action it returns does the work, given a connection.
type commandPrepare func(cli *runner, id string) (commandAction, error)

// commandAction runs a command against the server and returns the exit code.
type commandAction func(ctx context.Context, c *client.Client) int

// runner carries the process's I/O through a subcommand.
type runner struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	json           bool // --json
	// repeated holds the values of repeatable flags (--permission, --child)
	// in order, so a refusal of permissions[1] can name the flag and value.
	repeated map[string][]string
}

// connFlags are the flags every command that talks to a server takes.
type connFlags struct {
	server, token, tenant string
	user, password        string
	loginTenant           string
	passwordStdin         bool
}

var connFlagNames = map[string]bool{
	"server": true, "token": true, "tenant": true, "user": true, "password": true,
	"password-stdin": true, "login-tenant": true, "json": true,
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", "http://127.0.0.1:8080", "keyward server `URL` (env KEYWARD_SERVER)")
	fs.StringVar(&f.token, "token", "", "a user access `token` or an API key's secret (env KEYWARD_TOKEN or KEYWARD_TOKEN_FILE; prefer the environment: flags show in process lists)")
	fs.StringVar(&f.tenant, "tenant", "", "act in this `tenant`, by id or name (root-tenant admins only)")
	fs.StringVar(&f.user, "user", "", "log in as this user `name` when no token is given (env KEYWARD_USER)")
	fs.StringVar(&f.password, "password", "", "the `password` for --user (env KEYWARD_PASSWORD or KEYWARD_PASSWORD_FILE; prefer those)")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password for --user from the first line of standard input")
	fs.StringVar(&f.loginTenant, "login-tenant", "", "the `tenant` --user belongs to, by id or name (env KEYWARD_LOGIN_TENANT; default: the root tenant)")
}

// exec parses the flags and the argument of one command, connects and runs it.
func (cli *runner) exec(ctx context.Context, g group, name string, cmd command, args []string) int {
	prog := "keyward " + g.name + " " + name
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(cli.stderr)
	fs.Usage = func() {} // printed below: to stdout for --help, not on errors
	var conn connFlags
	conn.register(fs)
	fs.BoolVar(&cli.json, "json", false, "print the server's JSON answer instead of text")
	prepare := cmd.flags(fs)

	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printCommandUsage(cli.stdout, fs, prog, cmd)
		return exitOK
	} else if err != nil {
		// flag has printed what is wrong.
		fmt.Fprintf(cli.stderr, "Run %q for usage.\n", prog+" --help")
		return exitUsage
	}
	want := 0
	if cmd.args != "" {
		want = 1
	}
	if len(pos) != want {
		if want == 0 {
			return cli.usageError(prog, "unexpected argument %q", pos[0])
		}
		return cli.usageError(prog, "expected one %s, got %d arguments", g.noun, len(pos))
	}
	id := ""
	if want == 1 {
		id = pos[0]
		if strings.TrimSpace(id) == "" {
			return cli.usageError(prog, "the %s is empty", g.noun)
		}
	}
	action, err := prepare(cli, id)
	if err != nil {
		return cli.usageError(prog, "%v", err)
	}
	c, code := cli.connect(ctx, prog, &conn, visitedOf(fs))
	if c == nil {
		return code
	}
	return action(ctx, c)
}

// parseInterspersed parses flags wherever they are among the positional
// arguments ("get ID --json" as well as "get --json ID"); everything after
// "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func printCommandUsage(w io.Writer, fs *flag.FlagSet, prog string, cmd command) {
	line := prog + " [flags]"
	if cmd.args != "" {
		line = prog + " " + cmd.args + " [flags]"
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", line, cmd.about)
	printFlags(w, fs, func(name string) bool { return !connFlagNames[name] })
	fmt.Fprint(w, "\nCommon flags:\n")
	printFlags(w, fs, func(name string) bool { return connFlagNames[name] })
}

// printFlags prints the flags keep selects, GNU style ("--name string").
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(string) bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		arg, help := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if arg != "" {
			head += " " + arg
		}
		if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "[]" {
			help += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(w, "%s\n      %s\n", head, help)
	})
}

func (cli *runner) usageError(prog, format string, args ...any) int {
	fmt.Fprintf(cli.stderr, "%s: %s\nRun %q for usage.\n", prog, fmt.Sprintf(format, args...), prog+" --help")
	return exitUsage
}

// connect resolves the server and the credentials (flags first, then the
// environment) and logs in when given a user instead of a token. It returns
// a nil client and the exit code on failure.
func (cli *runner) connect(ctx context.Context, prog string, f *connFlags, visited map[string]bool) (*client.Client, int) {
	server := f.server
	if !visited["server"] {
		if v := cli.getenv("KEYWARD_SERVER"); v != "" {
			server = v
		}
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, cli.usageError(prog, "--server must be an http or https URL such as http://127.0.0.1:8080")
	}
	opts := []client.Option{client.WithUserAgent("keyward-cli/" + currentBuild().Version)}
	if f.tenant != "" {
		opts = append(opts, client.WithTenant(f.tenant))
	}

	token, user := "", ""
	switch {
	case visited["token"]:
		token = f.token
	case visited["user"]:
		user = f.user
	default:
		if token, err = env(cli.getenv, "TOKEN"); err != nil {
			return nil, cli.usageError(prog, "%v", err)
		}
		if token == "" {
			user = cli.getenv("KEYWARD_USER")
		}
	}
	if token == "" && user == "" {
		return nil, cli.usageError(prog, "no credentials: give --token (or KEYWARD_TOKEN), or --user and a password")
	}
	c := client.New(server, opts...)
	if token != "" {
		return c.With(client.WithToken(token)), exitOK
	}

	password := f.password
	if f.passwordStdin {
		if visited["password"] {
			return nil, cli.usageError(prog, "give --password or --password-stdin, not both")
		}
		stdin := cli.stdin
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(cli.stderr, "keyward: reading the password from standard input: %v\n", err)
			return nil, exitError
		}
		password = strings.TrimRight(line, "\r\n")
	} else if !visited["password"] {
		if password, err = env(cli.getenv, "PASSWORD"); err != nil {
			return nil, cli.usageError(prog, "%v", err)
		}
	}
	if password == "" {
		return nil, cli.usageError(prog, "--user needs a password: --password, --password-stdin or KEYWARD_PASSWORD")
	}
	loginTenant := f.loginTenant
	if !visited["login-tenant"] {
		loginTenant = cli.getenv("KEYWARD_LOGIN_TENANT")
	}
	res, err := c.Login(ctx, client.LoginInput{UserName: user, Password: password, Tenant: loginTenant})
	if err != nil {
		cli.fail(server, fmt.Errorf("logging in as %q: %w", user, err))
		return nil, exitError
	}
	return c.With(client.WithToken(res.AccessToken)), exitOK
}

// fail prints err as "keyward: <message>" and returns exitError. Messages
// come from the server's problem details or the transport; neither ever
// holds a secret.
func (cli *runner) fail(server string, err error) int {
	var ue *url.Error
	var ce *client.Error
	if !errors.As(err, &ce) && errors.As(err, &ue) {
		if u, perr := url.Parse(server); perr == nil {
			server = u.Redacted()
		}
		fmt.Fprintf(cli.stderr, "keyward: cannot reach the server at %s: %v\n", server, ue.Err)
		return exitError
	}
	msg := strings.TrimPrefix(err.Error(), "keyward client: ")
	if ce != nil && len(ce.Fields) > 0 {
		msg = cli.fieldsByFlag(ce)
	}
	if ce != nil && ce.Code == keyward.EUNAUTHORIZED && !strings.HasPrefix(msg, "logging in") {
		msg += "; check --token (or KEYWARD_TOKEN)"
	}
	fmt.Fprintf(cli.stderr, "keyward: %s\n", msg)
	return exitError
}

// fieldFlags name the flag that sets each field of the API.
var fieldFlags = map[string]string{
	"name": "--name", "userName": "--name", "description": "--description", "level": "--level",
	"permissions": "--permission", "children": "--child", "expiresIn": "--expires-in", "expiresAt": "--expires-at",
	"tokenLifespanSeconds": "--token-lifespan", "rateLimit": "--rate-limit", "ownerId": "--owner", "meta": "--meta",
	"clientId": "--client-id", "deviceName": "--device-name", "password": "the password", "prefix": "--prefix",
	"gracePeriodSeconds": "--grace", "hmacEnabled": "--hmac", "credits.remaining": "--credits",
	"credits.refill.amount": "--refill", "credits.refill.interval": "--refill", "credits.refill.dayOfMonth": "--refill",
}

// fieldsByFlag reads a refusal with field errors in the command's terms:
// "--permission orders_read: no such permission in this tenant" rather than
// "permissions[1]: …".
func (cli *runner) fieldsByFlag(ce *client.Error) string {
	var parts []string
	for _, f := range ce.Fields {
		name, index, _ := strings.Cut(f.Field, "[")
		base, _, _ := strings.Cut(name, ".")
		flagName, ok := fieldFlags[base]
		if _, composite := cli.repeated["--child"]; composite && base == "permissions" {
			flagName = "--child" // a composite's children are resolved as permissions
		}
		if !ok {
			parts = append(parts, f.Field+": "+f.Message)
			continue
		}
		if i, err := strconv.Atoi(strings.TrimSuffix(index, "]")); err == nil {
			if vals := cli.repeated[flagName]; i >= 0 && i < len(vals) {
				flagName += " " + vals[i]
			} else {
				flagName += " #" + strconv.Itoa(i+1)
			}
		}
		parts = append(parts, flagName+": "+f.Message)
	}
	head := ce.Detail
	if head == "" || len(ce.Fields) == 1 && strings.HasPrefix(head, ce.Fields[0].Field) {
		head = "the request is invalid"
	}
	return head + ": " + strings.Join(parts, "; ") + " (HTTP " + strconv.Itoa(ce.StatusCode) + ", " + ce.Code + ")"
}

// failc is fail for a request made with c.
func (cli *runner) failc(c *client.Client, err error) int { return cli.fail(c.BaseURL(), err) }

// printJSON writes v, indented, to standard output.
func (cli *runner) printJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(cli.stderr, "keyward: encoding JSON: %v\n", err)
		return exitError
	}
	cli.stdout.Write(append(b, '\n'))
	return exitOK
}

// multiFlag is a string flag that may be repeated.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// nonEmpty is the values of a repeated flag that are sent (not "").
func nonEmpty(m multiFlag) []string {
	var out []string
	for _, v := range m {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseSeconds reads a whole number of seconds, a Go duration ("720h",
// "90m") or a number of days ("30d").
func parseSeconds(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, errors.New("must not be negative")
		}
		return n, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is neither seconds nor a duration such as 720h", s)
		}
	}
	switch {
	case d < 0:
		return 0, errors.New("must not be negative")
	case d%time.Second != 0:
		return 0, errors.New("must be a whole number of seconds")
	}
	return int64(d / time.Second), nil
}

// parseTime reads an RFC 3339 time or a date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2030-01-02T15:04:05Z) nor a date (2030-01-02)", s)
}

func visitedOf(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

// ifMatchFlag reads --if-match when it was given.
func ifMatchFlag(visited map[string]bool, v string) (*int, error) {
	if !visited["if-match"] {
		return nil, nil
	}
	s := strings.Trim(strings.TrimPrefix(strings.TrimSpace(v), "W/"), `"`)
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("--if-match must be a key version such as 3, not %q", v)
	}
	return &n, nil
}

func byText(who string) string {
	if who == "" {
		return ""
	}
	return " by " + safe(who)
}

func fmtTime(t *time.Time, none string) string {
	if t == nil || t.IsZero() {
		return none
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// safe makes text from the server harmless in a terminal and a table: no
// control characters (escape sequences, tabs, newlines).
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
