package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
	"github.com/keyward/keyward/internal/secret"
)

const usersUsage = `Usage: keyward users <command> [flags]

Manages the users (people who sign in) of a running keyward server.

Commands:
  create       add a user; prints a generated password once unless one is given
  list         list users, one page at a time
  get          show one user
  update       change a user's level, permissions or password
  activate     let a user sign in again
  deactivate   stop a user from signing in (their keys stop working too)
  delete       delete a user (their keys stop working)

Every command takes --server, --token, --user, --password, --password-stdin,
--login-tenant, --tenant and --json, as "keyward apikeys" does.

Exit status: 0 on success, 1 when the server refused or failed, 2 on bad usage.
Run "keyward users <command> --help" for a command's flags.
`

var usersGroup = group{name: "users", usage: usersUsage, noun: "user id", commands: map[string]command{
	"create": {about: `Creates a user. Without --new-password-stdin a password is generated and
printed to standard output, alone on one line, once.`, flags: usersCreateFlags},
	"list":       {about: `Lists users as a table, one page at a time.`, flags: usersListFlags},
	"get":        {args: "ID", about: `Shows one user.`, flags: usersGetFlags},
	"update":     {args: "ID", about: `Changes a user. Only the flags given are sent.`, flags: usersUpdateFlags},
	"activate":   {args: "ID", about: `Activates a user.`, flags: usersActiveFlags(true)},
	"deactivate": {args: "ID", about: `Deactivates a user: they cannot sign in, and the keys they own stop working.`, flags: usersActiveFlags(false)},
	"delete":     {args: "ID", about: `Deletes a user for good; the keys they own stop working. It asks no question.`, flags: usersDeleteFlags},
}}

// runUsers implements "keyward users <command>".
func runUsers(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup(ctx, usersGroup, args, getenv, stdin, stdout, stderr)
}

// userFlags are the settable fields of a user.
type userFlags struct {
	name        string
	level       int
	permissions multiFlag
	passwordIn  bool
	limits      multiFlag
}

func (u *userFlags) register(fs *flag.FlagSet, create bool) {
	if create {
		fs.StringVar(&u.name, "name", "", "the user `name` to sign in with (required)")
	}
	fs.IntVar(&u.level, "level", 1, "`level` 0-8: 1 reads own keys, 4 manages own keys, 5 reads all, 7 manages all, 8 everything; at most your own")
	fs.Var(&u.permissions, "permission", "a permission `name` the user holds besides the level's; repeat for several (\"\" for none)")
	fs.Var(&u.limits, "limit", limitUsage+"; the user's keys share them")
	fs.BoolVar(&u.passwordIn, "new-password-stdin", false, "read the user's new password from the first line of standard input")
}

// input builds the Service input from the flags given.
func (u *userFlags) input(cli *runner, visited map[string]bool, create bool) (keyward.UserInput, string, error) {
	var in keyward.UserInput
	if create {
		if strings.TrimSpace(u.name) == "" {
			return in, "", errors.New("--name is required")
		}
		in.UserName = &u.name
	}
	if create || visited["level"] {
		if u.level < 0 || u.level > 8 {
			return in, "", errors.New("--level must be between 0 and 8")
		}
		in.Level = &u.level
	}
	if visited["permission"] {
		refs := []keyward.PermissionRef{}
		for _, p := range u.permissions {
			if p != "" {
				refs = append(refs, keyward.PermissionRef{Name: p})
			}
		}
		in.Permissions = &refs
	}
	if visited["limit"] {
		ls, err := parseNamedLimits(u.limits)
		if err != nil {
			return in, "", err
		}
		in.RateLimits = ls
	}
	generated := ""
	if u.passwordIn && visited["password-stdin"] {
		return in, "", errors.New("standard input can carry one password: give --password-stdin or --new-password-stdin, not both")
	}
	switch {
	case u.passwordIn:
		stdin := cli.stdin
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return in, "", fmt.Errorf("reading the new password: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return in, "", errors.New("--new-password-stdin: standard input holds no password")
		}
		in.Password = &pw
	case create:
		generated = secret.NewPassword()
		in.Password = &generated
	}
	return in, generated, nil
}

func usersCreateFlags(fs *flag.FlagSet) commandPrepare {
	var u userFlags
	u.register(fs, true)
	return func(cli *runner, _ string) (commandAction, error) {
		cli.repeated = map[string][]string{"--permission": nonEmpty(u.permissions)}
		in, generated, err := u.input(cli, visitedOf(fs), true)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *client.Client) int {
			user, err := c.CreateUser(ctx, in)
			if err != nil {
				return cli.failc(c, err)
			}
			if cli.json {
				cli.printJSON(user)
			} else {
				fmt.Fprintf(cli.stderr, "Created user %s (%s), level %d.\n", safe(user.UserName), safe(user.ID), user.Level)
			}
			if generated != "" {
				fmt.Fprintln(cli.stderr, "Their password, shown only this once:")
				fmt.Fprintln(cli.stdout, generated)
			}
			return exitOK
		}, nil
	}
}

func usersListFlags(fs *flag.FlagSet) commandPrepare {
	var o client.ListUsersOptions
	fs.IntVar(&o.Page, "page", 1, "page `number`, from 1")
	fs.IntVar(&o.PageSize, "page-size", keyward.DefaultPageSize, "users per page, 1-500")
	fs.StringVar(&o.Query, "q", "", "only users whose name contains this `text` (any case)")
	return func(cli *runner, _ string) (commandAction, error) {
		if o.Page < 1 || o.PageSize < 1 || o.PageSize > keyward.MaxPageSize {
			return nil, fmt.Errorf("--page must be 1 or more and --page-size between 1 and %d", keyward.MaxPageSize)
		}
		return func(ctx context.Context, c *client.Client) int {
			page, err := c.ListUsers(ctx, o)
			if err != nil {
				return cli.failc(c, err)
			}
			if cli.json {
				return cli.printJSON(page)
			}
			tw := tabwriter.NewWriter(cli.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tLEVEL\tSTATUS\tPERMISSIONS\tCREATED")
			for _, u := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", safe(u.ID), shorten(safe(u.UserName), 40), u.Level, userStatus(&u),
					shorten(permissionNames(u.Permissions), 60), fmtTime(&u.CreatedAt, ""))
			}
			tw.Flush()
			fmt.Fprintf(cli.stdout, "page %d of %d, %d users\n", page.PageIndex, max(page.TotalPages, 1), page.TotalCount)
			return exitOK
		}, nil
	}
}

func usersGetFlags(fs *flag.FlagSet) commandPrepare {
	return func(cli *runner, id string) (commandAction, error) {
		return func(ctx context.Context, c *client.Client) int {
			u, err := c.GetUser(ctx, id)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printUser(u, "")
		}, nil
	}
}

func usersUpdateFlags(fs *flag.FlagSet) commandPrepare {
	var u userFlags
	u.register(fs, false)
	return func(cli *runner, id string) (commandAction, error) {
		cli.repeated = map[string][]string{"--permission": nonEmpty(u.permissions)}
		in, _, err := u.input(cli, visitedOf(fs), false)
		if err != nil {
			return nil, err
		}
		if in.Level == nil && in.Permissions == nil && in.Password == nil && in.RateLimits == nil {
			return nil, errors.New("nothing to change: give --level, --permission, --limit or --new-password-stdin")
		}
		return func(ctx context.Context, c *client.Client) int {
			user, err := c.UpdateUser(ctx, id, in)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printUser(user, "Updated.")
		}, nil
	}
}

func usersActiveFlags(active bool) func(fs *flag.FlagSet) commandPrepare {
	return func(fs *flag.FlagSet) commandPrepare {
		return func(cli *runner, id string) (commandAction, error) {
			return func(ctx context.Context, c *client.Client) int {
				user, err := c.UpdateUser(ctx, id, keyward.UserInput{IsActive: &active})
				if err != nil {
					return cli.failc(c, err)
				}
				if cli.json {
					return cli.printJSON(user)
				}
				fmt.Fprintf(cli.stdout, "User %s (%s) is now %s.\n", safe(user.ID), safe(user.UserName), userStatus(user))
				return exitOK
			}, nil
		}
	}
}

func usersDeleteFlags(fs *flag.FlagSet) commandPrepare {
	return func(cli *runner, id string) (commandAction, error) {
		return func(ctx context.Context, c *client.Client) int {
			user, err := c.DeleteUser(ctx, id)
			if err != nil {
				return cli.failc(c, err)
			}
			if cli.json {
				return cli.printJSON(user)
			}
			fmt.Fprintf(cli.stdout, "Deleted user %s (%s).\n", safe(user.ID), safe(user.UserName))
			return exitOK
		}, nil
	}
}

func userStatus(u *keyward.User) string {
	if u.IsActive {
		return "active"
	}
	return "inactive"
}

// permissionNames lists permissions by name, sorted, or "none".
func permissionNames(ps []keyward.Permission) string {
	var names []string
	for _, p := range ps {
		names = append(names, safe(p.Name))
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

func (cli *runner) printUser(u *keyward.User, what string) int {
	if cli.json {
		return cli.printJSON(u)
	}
	if what != "" {
		fmt.Fprintln(cli.stderr, what)
	}
	tw := tabwriter.NewWriter(cli.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\t%s\nName\t%s\nLevel\t%d\nStatus\t%s\nPermissions\t%s\nRate limits\t%s\nCreated\t%s\nVersion\t%d\n",
		safe(u.ID), safe(u.UserName), u.Level, userStatus(u), permissionNames(u.Permissions), safe(namedLimitsText(u.RateLimits)),
		fmtTime(&u.CreatedAt, ""), u.Version)
	tw.Flush()
	return exitOK
}
