package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
	"github.com/keyward/keyward/internal/secret"
)

const tenantsUsage = `Usage: keyward tenants <command> [flags]

Manages the tenants of a running keyward server: separate sets of keys,
users and permissions. Needs tenants:admin, which level-8 users of the root
tenant hold. To work inside a tenant, give other commands --tenant NAME.

Commands:
  create       add a tenant (with its built-in permission catalog)
  list         list tenants
  get          show one tenant
  update       change a tenant's name or key prefix
  activate     let a tenant's keys and users work again
  deactivate   stop every key and user of a tenant

Every command takes --server, --token, --user, --password, --password-stdin,
--login-tenant and --json, as "keyward apikeys" does. A tenant is named by
its id or its name.

Exit status: 0 on success, 1 when the server refused or failed, 2 on bad usage.
Run "keyward tenants <command> --help" for a command's flags.
`

var tenantsGroup = group{name: "tenants", usage: tenantsUsage, noun: "tenant id or name", commands: map[string]command{
	"create":     {about: `Creates a tenant. Its keys' ids and secrets start with --prefix (default kw).`, flags: tenantsCreateFlags},
	"list":       {about: `Lists tenants.`, flags: tenantsListFlags},
	"get":        {args: "TENANT", about: `Shows one tenant.`, flags: tenantsGetFlags},
	"update":     {args: "TENANT", about: `Changes a tenant. Only the flags given are sent.`, flags: tenantsUpdateFlags},
	"activate":   {args: "TENANT", about: `Activates a tenant.`, flags: tenantsActiveFlags(true)},
	"deactivate": {args: "TENANT", about: `Deactivates a tenant: none of its keys or users work until it is activated. The root tenant cannot be deactivated.`, flags: tenantsActiveFlags(false)},
}}

type tenantFlags struct{ name, prefix string }

func (t *tenantFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.name, "name", "", "the tenant `name`: 1-63 of a-z, 0-9, _ and -")
	fs.StringVar(&t.prefix, "prefix", "", "the key `prefix` of its client ids and secrets: 1-16 of a-z, 0-9 and _")
}

func (t *tenantFlags) input(visited map[string]bool) keyward.TenantInput {
	var in keyward.TenantInput
	if visited["name"] {
		in.Name = &t.name
	}
	if visited["prefix"] {
		in.Prefix = &t.prefix
	}
	return in
}

func tenantsCreateFlags(fs *flag.FlagSet) commandPrepare {
	var t tenantFlags
	t.register(fs)
	return func(cli *runner, _ string) (commandAction, error) {
		if strings.TrimSpace(t.name) == "" {
			return nil, errors.New("--name is required")
		}
		in := t.input(visitedOf(fs))
		return func(ctx context.Context, c *client.Client) int {
			tn, err := c.CreateTenant(ctx, in)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printTenant(tn, "Created.")
		}, nil
	}
}

func tenantsListFlags(fs *flag.FlagSet) commandPrepare {
	return func(cli *runner, _ string) (commandAction, error) {
		return func(ctx context.Context, c *client.Client) int {
			page, err := c.ListTenants(ctx, client.ListOptions{PageSize: keyward.MaxPageSize})
			if err != nil {
				return cli.failc(c, err)
			}
			if cli.json {
				return cli.printJSON(page)
			}
			tw := tabwriter.NewWriter(cli.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSTATUS\tCREATED")
			for _, t := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", safe(t.ID), safe(t.Name), safe(t.Prefix), tenantStatus(&t), t.CreatedAt.UTC().Format("2006-01-02"))
			}
			tw.Flush()
			fmt.Fprintf(cli.stdout, "%d tenants\n", page.TotalCount)
			return exitOK
		}, nil
	}
}

// tenantID resolves a tenant named by id or name.
func tenantID(ctx context.Context, c *client.Client, ref string) (string, error) {
	if secret.ValidID(ref) {
		return ref, nil
	}
	page, err := c.ListTenants(ctx, client.ListOptions{PageSize: keyward.MaxPageSize})
	if err != nil {
		return "", err
	}
	for _, t := range page.Items {
		if t.Name == ref {
			return t.ID, nil
		}
	}
	return "", keyward.Errorf(keyward.ENOTFOUND, "no tenant named %q", ref)
}

func tenantsGetFlags(fs *flag.FlagSet) commandPrepare {
	return func(cli *runner, ref string) (commandAction, error) {
		return func(ctx context.Context, c *client.Client) int {
			id, err := tenantID(ctx, c, ref)
			if err != nil {
				return cli.failc(c, err)
			}
			t, err := c.GetTenant(ctx, id)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printTenant(t, "")
		}, nil
	}
}

func tenantsUpdateFlags(fs *flag.FlagSet) commandPrepare {
	var t tenantFlags
	t.register(fs)
	return func(cli *runner, ref string) (commandAction, error) {
		in := t.input(visitedOf(fs))
		if in.Name == nil && in.Prefix == nil {
			return nil, errors.New("nothing to change: give --name or --prefix")
		}
		return func(ctx context.Context, c *client.Client) int {
			return cli.updateTenant(ctx, c, ref, in, "Updated.")
		}, nil
	}
}

func tenantsActiveFlags(active bool) func(fs *flag.FlagSet) commandPrepare {
	return func(fs *flag.FlagSet) commandPrepare {
		return func(cli *runner, ref string) (commandAction, error) {
			return func(ctx context.Context, c *client.Client) int {
				return cli.updateTenant(ctx, c, ref, keyward.TenantInput{IsActive: &active}, "")
			}, nil
		}
	}
}

func (cli *runner) updateTenant(ctx context.Context, c *client.Client, ref string, in keyward.TenantInput, what string) int {
	id, err := tenantID(ctx, c, ref)
	if err != nil {
		return cli.failc(c, err)
	}
	t, err := c.UpdateTenant(ctx, id, in)
	if err != nil {
		return cli.failc(c, err)
	}
	return cli.printTenant(t, what)
}

func tenantStatus(t *keyward.Tenant) string {
	s := "inactive"
	if t.IsActive {
		s = "active"
	}
	if t.IsRoot {
		s += " (root)"
	}
	return s
}

func (cli *runner) printTenant(t *keyward.Tenant, what string) int {
	if cli.json {
		return cli.printJSON(t)
	}
	if what != "" {
		fmt.Fprintln(cli.stderr, what)
	}
	tw := tabwriter.NewWriter(cli.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\t%s\nName\t%s\nPrefix\t%s\nStatus\t%s\nCreated\t%s\n", safe(t.ID), safe(t.Name), safe(t.Prefix),
		tenantStatus(t), t.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	tw.Flush()
	return exitOK
}
