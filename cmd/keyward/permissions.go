package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
)

const permissionsUsage = `Usage: keyward permissions <command> [flags]

Manages the permission catalog of a running keyward server: the rights that
keys and users hold. Built-in permissions guard keyward itself and are
read-only; add your own for your APIs, and composites that bundle several.

Commands:
  create       add a permission (a composite with --child)
  list         list the catalog
  get          show one permission
  update       change a custom permission's name, description or children
  delete       delete a custom permission that nothing holds

Every command takes --server, --token, --user, --password, --password-stdin,
--login-tenant, --tenant and --json, as "keyward apikeys" does.

Exit status: 0 on success, 1 when the server refused or failed, 2 on bad usage.
Run "keyward permissions <command> --help" for a command's flags.
`

var permissionsGroup = group{name: "permissions", usage: permissionsUsage, noun: "permission id", commands: map[string]command{
	"create": {about: `Adds a permission to the catalog. With --child it is a composite: holding it
holds its children.`, flags: permissionsCreateFlags},
	"list":   {about: `Lists the whole catalog.`, flags: permissionsListFlags},
	"get":    {args: "ID", about: `Shows one permission.`, flags: permissionsGetFlags},
	"update": {args: "ID", about: `Changes a custom permission. Only the flags given are sent; --child replaces the children (--child "" removes them all).`, flags: permissionsUpdateFlags},
	"delete": {args: "ID", about: `Deletes a custom permission that no key, user or composite holds. It asks no question.`, flags: permissionsDeleteFlags},
}}

// runPermissions implements "keyward permissions <command>".
func runPermissions(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup(ctx, permissionsGroup, args, getenv, stdin, stdout, stderr)
}

type permissionFlags struct {
	name, description string
	children          multiFlag
}

func (p *permissionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.name, "name", "", "the permission `name`: letters, digits and _ . : -, e.g. orders:read")
	fs.StringVar(&p.description, "description", "", "what it allows, in a few `words`")
	fs.Var(&p.children, "child", "a permission `name` this composite contains; repeat for several")
}

func (p *permissionFlags) input(visited map[string]bool) keyward.PermissionInput {
	var in keyward.PermissionInput
	if visited["name"] {
		in.Name = &p.name
	}
	if visited["description"] {
		in.Description = &p.description
	}
	if visited["child"] {
		refs := []keyward.PermissionRef{}
		for _, c := range p.children {
			if c != "" {
				refs = append(refs, keyward.PermissionRef{Name: c})
			}
		}
		in.Children = &refs
	}
	return in
}

func permissionsCreateFlags(fs *flag.FlagSet) commandPrepare {
	var p permissionFlags
	p.register(fs)
	return func(cli *runner, _ string) (commandAction, error) {
		if strings.TrimSpace(p.name) == "" {
			return nil, errors.New("--name is required")
		}
		cli.repeated = map[string][]string{"--child": nonEmpty(p.children)}
		in := p.input(visitedOf(fs))
		return func(ctx context.Context, c *client.Client) int {
			perm, err := c.CreatePermission(ctx, in)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printPermission(ctx, perm, "Created.", c)
		}, nil
	}
}

func permissionsListFlags(fs *flag.FlagSet) commandPrepare {
	return func(cli *runner, _ string) (commandAction, error) {
		return func(ctx context.Context, c *client.Client) int {
			page, err := c.ListPermissions(ctx, client.ListOptions{PageSize: keyward.MaxPageSize})
			if err != nil {
				return cli.failc(c, err)
			}
			if cli.json {
				return cli.printJSON(page)
			}
			names := map[string]string{}
			for _, p := range page.Items {
				names[p.ID] = p.Name
			}
			tw := tabwriter.NewWriter(cli.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tKIND\tCONTAINS\tDESCRIPTION")
			for _, p := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", safe(p.ID), safe(p.Name), permissionKind(&p), childNames(&p, names),
					shorten(safe(deref(p.Description)), 60))
			}
			tw.Flush()
			fmt.Fprintf(cli.stdout, "%d permissions\n", page.TotalCount)
			return exitOK
		}, nil
	}
}

func permissionsGetFlags(fs *flag.FlagSet) commandPrepare {
	return func(cli *runner, id string) (commandAction, error) {
		return func(ctx context.Context, c *client.Client) int {
			p, err := c.GetPermission(ctx, id)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printPermission(ctx, p, "", c)
		}, nil
	}
}

func permissionsUpdateFlags(fs *flag.FlagSet) commandPrepare {
	var p permissionFlags
	p.register(fs)
	return func(cli *runner, id string) (commandAction, error) {
		cli.repeated = map[string][]string{"--child": nonEmpty(p.children)}
		in := p.input(visitedOf(fs))
		if in.Name == nil && in.Description == nil && in.Children == nil {
			return nil, errors.New("nothing to change: give --name, --description or --child")
		}
		return func(ctx context.Context, c *client.Client) int {
			perm, err := c.UpdatePermission(ctx, id, in)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printPermission(ctx, perm, "Updated.", c)
		}, nil
	}
}

func permissionsDeleteFlags(fs *flag.FlagSet) commandPrepare {
	return func(cli *runner, id string) (commandAction, error) {
		return func(ctx context.Context, c *client.Client) int {
			p, err := c.DeletePermission(ctx, id)
			if err != nil {
				return cli.failc(c, err)
			}
			if cli.json {
				return cli.printJSON(p)
			}
			fmt.Fprintf(cli.stdout, "Deleted permission %s (%s).\n", safe(p.ID), safe(p.Name))
			return exitOK
		}, nil
	}
}

func permissionKind(p *keyward.Permission) string {
	kind := "custom"
	if p.BuiltIn {
		kind = "built-in"
	}
	if p.Composite {
		kind += " composite"
	}
	return kind
}

// childNames names a composite's children (by id when names is nil).
func childNames(p *keyward.Permission, names map[string]string) string {
	var out []string
	for _, id := range p.Children {
		if n, ok := names[id]; ok {
			out = append(out, safe(n))
		} else {
			out = append(out, safe(id))
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// printPermission prints one permission, naming its children.
func (cli *runner) printPermission(ctx context.Context, p *keyward.Permission, what string, c *client.Client) int {
	if cli.json {
		return cli.printJSON(p)
	}
	if what != "" {
		fmt.Fprintln(cli.stderr, what)
	}
	var names map[string]string
	if len(p.Children) > 0 {
		if page, err := c.ListPermissions(ctx, client.ListOptions{PageSize: keyward.MaxPageSize}); err == nil {
			names = map[string]string{}
			for _, q := range page.Items {
				names[q.ID] = q.Name
			}
		}
	}
	tw := tabwriter.NewWriter(cli.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\t%s\nName\t%s\nKind\t%s\nContains\t%s\nDescription\t%s\n", safe(p.ID), safe(p.Name), permissionKind(p),
		childNames(p, names), safe(deref(p.Description)))
	tw.Flush()
	return exitOK
}
