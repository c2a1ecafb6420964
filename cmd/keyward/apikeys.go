package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
)

const apikeysUsage = `Usage: keyward apikeys <command> [flags]

Manages the API keys of a running keyward server.

Commands:
  create       create a key and print its client secret (shown only once)
  list         list keys, one page at a time
  get          show one key
  update       change a key's name, permissions, level, expiry, ...
  rotate       issue a new client secret for a key
  activate     let a key be used again
  deactivate   stop a key from working, without deleting it
  delete       delete a key

Every command takes these flags:
  --server URL            keyward server (env KEYWARD_SERVER, default http://127.0.0.1:8080)
  --token TOKEN           a user access token or an API key's secret (env KEYWARD_TOKEN)
  --user NAME             log in as this user when no token is given (env KEYWARD_USER),
                          with --password or --password-stdin (env KEYWARD_PASSWORD)
  --login-tenant TENANT   the tenant --user belongs to (default: the root tenant)
  --tenant TENANT         act in this tenant (root-tenant admins only)
  --json                  print the server's JSON instead of text

Exit status: 0 on success, 1 when the server refused or failed, 2 on bad usage.
Run "keyward apikeys <command> --help" for a command's flags.
`

var apikeysGroup = group{name: "apikeys", usage: apikeysUsage, noun: "key id", commands: apikeysCommands}

// runAPIKeys implements "keyward apikeys <command>".
func runAPIKeys(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runGroup(ctx, apikeysGroup, args, getenv, stdin, stdout, stderr)
}

var apikeysCommands = map[string]command{
	"create": {about: `Creates an API key. Its client secret goes to standard output, alone on one
line, so it can be piped; everything else goes to standard error. The secret
is shown only this once: store it now. With --json the whole answer (secret
included) goes to standard output.`, flags: apikeysCreateFlags},
	"list": {about: `Lists API keys as a table, one page at a time.`, flags: apikeysListFlags},
	"get":  {args: "ID", about: `Shows one API key (never its secret).`, flags: apikeysGetFlags},
	"update": {args: "ID", about: `Changes an API key. Only the flags given are sent; the rest stays as it is.
Give --permission once per permission; the list replaces the key's
permissions (--permission "" removes them all).`, flags: apikeysUpdateFlags},
	"rotate": {args: "ID", about: `Issues a new client secret for an API key and prints it to standard output
(shown only this once). The client ID does not change. The old secret stops
working at once, or after --grace.`, flags: apikeysRotateFlags},
	"activate":   {args: "ID", about: `Activates an API key, so it verifies again.`, flags: apikeysActiveFlags(true)},
	"deactivate": {args: "ID", about: `Deactivates an API key: it stops working on the next request.`, flags: apikeysActiveFlags(false)},
	"delete":     {args: "ID", about: `Deletes an API key for good. It asks no question: check the id first.`, flags: apikeysDeleteFlags},
}

// keyFlags are the settable fields of a key, shared by create and update.
type keyFlags struct {
	name, description, clientID, deviceName, owner string
	permissions, audiences                         multiFlag
	level                                          int
	expiresIn, expiresAt, tokenLifespan, rateLimit string
	hmac, noExpiry, noRateLimit, noAudiences       bool
	meta                                           string
	credits                                        int64
	refill                                         string
	noCredits                                      bool
	limits                                         multiFlag
	ifMatch                                        string
	allowedCIDRs                                   multiFlag
	noAllowedCIDRs                                 bool
}

func (k *keyFlags) register(fs *flag.FlagSet, create bool) {
	fs.StringVar(&k.name, "name", "", "the key's `name`"+map[bool]string{true: " (required)"}[create])
	fs.StringVar(&k.description, "description", "", "a description")
	fs.Var(&k.permissions, "permission", "a permission `name` the key holds; repeat for several")
	fs.IntVar(&k.level, "level", 0, "the key's level, 0-8 (at most your own)")
	fs.StringVar(&k.expiresIn, "expires-in", "", "expire after this `duration`: 720h, 30d or seconds (default: never)")
	fs.StringVar(&k.expiresAt, "expires-at", "", "expire at this `time`: RFC 3339 (2030-01-02T15:04:05Z) or a date (2030-01-02, UTC)")
	fs.StringVar(&k.tokenLifespan, "token-lifespan", "", "lifetime of its OAuth2 access tokens: `seconds` (60-86400) or a duration such as 1h")
	fs.BoolVar(&k.hmac, "hmac", false, "allow HMAC request signatures with this key")
	fs.StringVar(&k.rateLimit, "rate-limit", "", "at most this many requests per window: `N/window`, e.g. 100/1m or 10/1s")
	fs.Int64Var(&k.credits, "credits", 0, "usage credits: the key works for this many more `uses` (verifications and requests), then is refused until a refill")
	fs.StringVar(&k.refill, "refill", "", "with --credits: reset the credits to N each day or month: `N/daily`, N/monthly or N/monthly:DAY (DAY 1-31; past the month's end, its last day)")
	fs.Var(&k.limits, "limit", limitUsage)
	fs.StringVar(&k.deviceName, "device-name", "", "free-text device or context")
	fs.StringVar(&k.owner, "owner", "", "`id` of the user the key acts for (default: you)")
	fs.StringVar(&k.meta, "meta", "", "free `JSON` object stored with the key (at most 8 KiB)")
	fs.Var(&k.audiences, "audience", "an `audience` (absolute URI or name) the key's access tokens may carry, asked for with the token request's resource or audience; repeat for several (default: keyward's own); on update, the full new list")
	fs.Var(&k.allowedCIDRs, "allowed-cidr", "only accept the key from this IPv4/IPv6 `prefix` or address, e.g. 203.0.113.0/24; repeat for several (at most 100)"+
		map[bool]string{false: "; replaces the key's list"}[create])
	if create {
		fs.StringVar(&k.clientID, "client-id", "", "a `slug` for the client ID (default: generated); it becomes <prefix>_<slug>")
	} else {
		fs.BoolVar(&k.noExpiry, "no-expiry", false, "remove the expiry: the key never expires")
		fs.BoolVar(&k.noRateLimit, "no-rate-limit", false, "remove the key's rate limit")
		fs.BoolVar(&k.noAudiences, "no-audiences", false, "remove the key's audiences: its tokens carry keyward's own again")
		fs.BoolVar(&k.noCredits, "no-credits", false, "remove the key's credits: unlimited uses")
		fs.BoolVar(&k.noAllowedCIDRs, "no-allowed-cidrs", false, "remove the key's address allowlist: accept it from anywhere")
		fs.StringVar(&k.ifMatch, "if-match", "", "change the key only if its version is still this `version`")
	}
}

// input turns the flags that were given into an APIKeyInput. On update,
// --expires-in becomes an expiresAt computed from now, as PATCH takes no
// expiresIn.
func (k *keyFlags) input(visited map[string]bool, create bool, now time.Time) (keyward.APIKeyInput, error) {
	var in keyward.APIKeyInput
	str := func(flag string, v string) *string {
		if !visited[flag] {
			return nil
		}
		return &v
	}
	in.Name, in.Description, in.DeviceName = str("name", k.name), str("description", k.description), str("device-name", k.deviceName)
	in.OwnerID, in.ClientID = str("owner", k.owner), keyward.OptionalOf(str("client-id", k.clientID))
	if create && strings.TrimSpace(k.name) == "" {
		return in, errors.New("--name is required")
	}
	if visited["permission"] {
		refs := []keyward.PermissionRef{}
		for _, p := range k.permissions {
			for _, name := range strings.Split(p, ",") {
				if name = strings.TrimSpace(name); name != "" {
					refs = append(refs, keyward.PermissionRef{Name: name})
				}
			}
		}
		in.Permissions = &refs
	}
	if visited["level"] {
		if k.level < 0 || k.level > 8 {
			return in, errors.New("--level must be between 0 and 8")
		}
		in.Level = &k.level
	}
	if visited["hmac"] {
		in.HMACEnabled = &k.hmac
	}
	if visited["audience"] && k.noAudiences {
		return in, errors.New("give --audience or --no-audiences, not both")
	}
	if visited["audience"] || k.noAudiences {
		auds := []string{}
		for _, a := range k.audiences {
			for _, v := range strings.Split(a, ",") {
				if v = strings.TrimSpace(v); v != "" {
					auds = append(auds, v)
				}
			}
		}
		in.Audiences = &auds
	}
	if visited["rate-limit"] && k.noRateLimit {
		return in, errors.New("give --rate-limit or --no-rate-limit, not both")
	}
	if visited["rate-limit"] {
		l, err := keyward.ParseRateLimit(k.rateLimit)
		if err != nil {
			return in, fmt.Errorf("--rate-limit: %w", err)
		}
		in.RateLimit = keyward.Some(l)
	}
	if k.noRateLimit {
		in.RateLimit = keyward.Null[keyward.RateLimit]()
	}
	switch {
	case visited["credits"] && k.noCredits:
		return in, errors.New("give --credits or --no-credits, not both")
	case visited["refill"] && !visited["credits"]:
		return in, errors.New("--refill needs --credits (the credits are set as a whole)")
	case visited["credits"]:
		c := &keyward.Credits{Remaining: k.credits}
		if visited["refill"] {
			r, err := parseRefill(k.refill)
			if err != nil {
				return in, err
			}
			c.Refill = r
		}
		in.Credits = keyward.Some(*c)
	case k.noCredits:
		in.Credits = keyward.Null[keyward.Credits]()
	}
	if visited["limit"] {
		ls, err := parseNamedLimits(k.limits)
		if err != nil {
			return in, err
		}
		in.RateLimits = ls
	}
	if visited["allowed-cidr"] && k.noAllowedCIDRs {
		return in, errors.New("give --allowed-cidr or --no-allowed-cidrs, not both")
	}
	if visited["allowed-cidr"] || k.noAllowedCIDRs {
		cidrs := []string{}
		for _, c := range k.allowedCIDRs {
			for _, s := range strings.Split(c, ",") {
				if s = strings.TrimSpace(s); s != "" {
					cidrs = append(cidrs, s)
				}
			}
		}
		in.AllowedCIDRs = keyward.Some(cidrs)
	}
	if visited["token-lifespan"] {
		s, err := parseSeconds(k.tokenLifespan)
		if err != nil {
			return in, fmt.Errorf("--token-lifespan: %w", err)
		}
		n := int(s)
		in.TokenLifespanSeconds = &n
	}
	if n := countTrue(visited["expires-in"], visited["expires-at"], k.noExpiry); n > 1 {
		return in, errors.New("give only one of --expires-in, --expires-at and --no-expiry")
	}
	switch {
	case visited["expires-in"]:
		s, err := parseSeconds(k.expiresIn)
		if err != nil || s == 0 {
			return in, fmt.Errorf("--expires-in: %s", errText(err, "must be more than zero"))
		}
		if create {
			in.ExpiresIn = &s
		} else {
			in.ExpiresAt = keyward.Some(now.Add(time.Duration(s) * time.Second).UTC().Truncate(time.Second))
		}
	case visited["expires-at"]:
		t, err := parseTime(k.expiresAt)
		if err != nil {
			return in, fmt.Errorf("--expires-at: %w", err)
		}
		in.ExpiresAt = keyward.Some(t)
	case k.noExpiry:
		in.ExpiresAt = keyward.Null[time.Time]()
	}
	if visited["meta"] {
		var obj map[string]any
		if err := json.Unmarshal([]byte(k.meta), &obj); err != nil || obj == nil {
			return in, errors.New("--meta must be a JSON object, such as '{\"team\":\"billing\"}'")
		}
		in.Meta = json.RawMessage(k.meta)
	}
	return in, nil
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func errText(err error, fallback string) string {
	if err != nil {
		return err.Error()
	}
	return fallback
}

func apikeysCreateFlags(fs *flag.FlagSet) commandPrepare {
	var k keyFlags
	k.register(fs, true)
	return func(cli *runner, _ string) (commandAction, error) {
		cli.repeated = map[string][]string{"--permission": nonEmpty(k.permissions)}
		in, err := k.input(visitedOf(fs), true, cli.now())
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *client.Client) int {
			key, err := c.CreateAPIKey(ctx, in)
			if err != nil {
				return cli.failc(c, err)
			}
			if key.APIKey == nil {
				key.APIKey = &keyward.APIKey{}
			}
			return cli.printIssued(key, fmt.Sprintf("Created API key %s (client ID %s).", safe(key.ID), safe(key.ClientID)))
		}, nil
	}
}

// printIssued prints a key with its secret: the secret alone to stdout, the
// rest to stderr (or, with --json, everything to stdout), and a warning that
// it is shown only once.
func (cli *runner) printIssued(key *keyward.IssuedKey, what string) int {
	const warn = "Store the client secret now: it is shown only once and cannot be retrieved later."
	if cli.json {
		code := cli.printJSON(key)
		fmt.Fprintln(cli.stderr, warn)
		return code
	}
	fmt.Fprintln(cli.stderr, what)
	fmt.Fprintln(cli.stderr, warn)
	fmt.Fprintln(cli.stdout, key.ClientSecret)
	return exitOK
}

func apikeysListFlags(fs *flag.FlagSet) commandPrepare {
	var o client.ListAPIKeysOptions
	fs.IntVar(&o.Page, "page", 1, "page `number`, from 1")
	fs.IntVar(&o.PageSize, "page-size", keyward.DefaultPageSize, "keys per page, 1-500")
	fs.StringVar(&o.Query, "q", "", "only keys whose name contains this `text` (any case)")
	fs.StringVar(&o.Status, "status", keyward.StatusAll, "only keys in this `status`: all, active, inactive or expired")
	fs.StringVar(&o.Permission, "permission", "", "only keys holding this permission `name`")
	fs.StringVar(&o.OwnerID, "owner", "", "only keys of the user with this `id`")
	fs.StringVar(&o.Sort, "sort", "", "sort by `field`: name, createdAt, lastUsedAt or expiresAt; prefix - for descending")
	return func(cli *runner, _ string) (commandAction, error) {
		switch {
		case o.Page < 1:
			return nil, errors.New("--page must be 1 or more")
		case o.PageSize < 1 || o.PageSize > keyward.MaxPageSize:
			return nil, fmt.Errorf("--page-size must be between 1 and %d", keyward.MaxPageSize)
		}
		switch o.Status {
		case keyward.StatusAll, keyward.StatusActive, keyward.StatusInactive, keyward.StatusExpired:
		default:
			return nil, errors.New("--status must be all, active, inactive or expired")
		}
		return func(ctx context.Context, c *client.Client) int {
			page, err := c.ListAPIKeys(ctx, o)
			if err != nil {
				return cli.failc(c, err)
			}
			if cli.json {
				return cli.printJSON(page)
			}
			cli.printTable(page)
			return exitOK
		}, nil
	}
}

// printTable prints one page of keys and a footer.
func (cli *runner) printTable(page *client.Page[keyward.APIKey]) {
	now := cli.now()
	tw := tabwriter.NewWriter(cli.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCLIENT ID\tNAME\tSTATUS\tLEVEL\tEXPIRES\tLAST USED")
	for _, k := range page.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", safe(k.ID), safe(k.ClientID), shorten(safe(k.Name), 40),
			k.Status(now), k.Level, fmtTime(k.ExpiresAt, "never"), fmtTime(k.LastUsedAt, "never"))
	}
	tw.Flush()
	noun := "keys"
	if page.TotalCount == 1 {
		noun = "key"
	}
	fmt.Fprintf(cli.stdout, "page %d of %d, %d %s\n", page.PageIndex, max(page.TotalPages, 1), page.TotalCount, noun)
}

func apikeysGetFlags(fs *flag.FlagSet) commandPrepare {
	return func(cli *runner, id string) (commandAction, error) {
		return func(ctx context.Context, c *client.Client) int {
			k, err := c.GetAPIKey(ctx, id)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printKey(k, "")
		}, nil
	}
}

func apikeysUpdateFlags(fs *flag.FlagSet) commandPrepare {
	var k keyFlags
	k.register(fs, false)
	return func(cli *runner, id string) (commandAction, error) {
		visited := visitedOf(fs)
		cli.repeated = map[string][]string{"--permission": nonEmpty(k.permissions)}
		in, err := k.input(visited, false, cli.now())
		if err != nil {
			return nil, err
		}
		match, err := ifMatchFlag(visited, k.ifMatch)
		if err != nil {
			return nil, err
		}
		if in.IsEmpty() {
			return nil, errors.New("nothing to change: give at least one of the flags that set a field (see --help)")
		}
		return func(ctx context.Context, c *client.Client) int {
			key, err := c.UpdateAPIKey(ctx, id, in, match)
			if err != nil {
				return cli.failc(c, err)
			}
			return cli.printKey(key, fmt.Sprintf("Updated API key %s.", safe(key.ID)))
		}, nil
	}
}

// parseRefill reads --refill: N/daily, N/monthly or N/monthly:DAY.
func parseRefill(s string) (*keyward.Refill, error) {
	n, when, ok := strings.Cut(s, "/")
	amount, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil {
		return nil, fmt.Errorf("--refill %q: want N/daily, N/monthly or N/monthly:DAY, e.g. 1000/daily", s)
	}
	r := &keyward.Refill{Amount: amount, Interval: when}
	if interval, day, ok := strings.Cut(when, ":"); ok {
		d, err := strconv.Atoi(day)
		if interval != keyward.RefillMonthly || err != nil {
			return nil, fmt.Errorf("--refill %q: a day (1-31) goes with monthly only, e.g. 1000/monthly:15", s)
		}
		r.Interval, r.DayOfMonth = interval, d
	}
	if r.Interval != keyward.RefillDaily && r.Interval != keyward.RefillMonthly {
		return nil, fmt.Errorf("--refill %q: the interval is daily or monthly", s)
	}
	return r, nil
}

// creditsText shows a key's credits, "unlimited" without any.
func creditsText(c *keyward.Credits) string {
	switch {
	case c == nil:
		return "unlimited"
	case c.Refill == nil:
		return fmt.Sprintf("%d left", c.Remaining)
	case c.Refill.Interval == keyward.RefillMonthly:
		return fmt.Sprintf("%d left, refilled to %d monthly on day %d", c.Remaining, c.Refill.Amount, c.Refill.DayOfMonth)
	}
	return fmt.Sprintf("%d left, refilled to %d %s", c.Remaining, c.Refill.Amount, c.Refill.Interval)
}

// rateLimitText shows a key's rate limit, "none" without one.
func rateLimitText(l *keyward.RateLimit) string {
	if l == nil {
		return "none"
	}
	return fmt.Sprintf("%d per %ds", l.Limit, l.WindowSeconds)
}

func apikeysRotateFlags(fs *flag.FlagSet) commandPrepare {
	grace := fs.String("grace", "0", "keep the old secret working for this `duration`: seconds or e.g. 1h, at most 24h")
	hmac := fs.Bool("hmac", false, "also turn HMAC request signatures on (or off with --hmac=false)")
	return func(cli *runner, id string) (commandAction, error) {
		s, err := parseSeconds(*grace)
		if err != nil {
			return nil, fmt.Errorf("--grace: %w", err)
		}
		in := keyward.RotateInput{GracePeriodSeconds: int(s)}
		if visitedOf(fs)["hmac"] {
			in.HMACEnabled = hmac
		}
		return func(ctx context.Context, c *client.Client) int {
			key, err := c.RotateAPIKey(ctx, id, in)
			if err != nil {
				return cli.failc(c, err)
			}
			if key.APIKey == nil {
				key.APIKey = &keyward.APIKey{ID: id}
			}
			old := "The old secret has stopped working."
			if s > 0 {
				old = "The old secret keeps working until " +
					cli.now().Add(time.Duration(s)*time.Second).UTC().Format(time.RFC3339) + "."
			}
			return cli.printIssued(key, fmt.Sprintf("Rotated the secret of API key %s (client ID %s). %s",
				safe(key.ID), safe(key.ClientID), old))
		}, nil
	}
}

func apikeysActiveFlags(active bool) func(fs *flag.FlagSet) commandPrepare {
	return func(fs *flag.FlagSet) commandPrepare {
		ifMatch := fs.String("if-match", "", "change the key only if its version is still this `version`")
		return func(cli *runner, id string) (commandAction, error) {
			match, err := ifMatchFlag(visitedOf(fs), *ifMatch)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, c *client.Client) int {
				key, err := c.SetAPIKeyActive(ctx, id, active, match)
				if err != nil {
					return cli.failc(c, err)
				}
				if cli.json {
					return cli.printJSON(key)
				}
				fmt.Fprintf(cli.stdout, "API key %s (%s) is now %s.\n", safe(key.ID), safe(key.Name), key.Status(cli.now()))
				return exitOK
			}, nil
		}
	}
}

func apikeysDeleteFlags(fs *flag.FlagSet) commandPrepare {
	ifMatch := fs.String("if-match", "", "delete the key only if its version is still this `version`")
	return func(cli *runner, id string) (commandAction, error) {
		match, err := ifMatchFlag(visitedOf(fs), *ifMatch)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *client.Client) int {
			key, err := c.DeleteAPIKey(ctx, id, match)
			if err != nil {
				return cli.failc(c, err)
			}
			if cli.json {
				return cli.printJSON(key)
			}
			fmt.Fprintf(cli.stdout, "Deleted API key %s (%s, client ID %s).\n", safe(key.ID), safe(key.Name), safe(key.ClientID))
			return exitOK
		}, nil
	}
}

// printKey prints one key (never a secret: an APIKey holds none), preceded
// by a line saying what happened when what is not empty.
func (cli *runner) printKey(k *keyward.APIKey, what string) int {
	if cli.json {
		return cli.printJSON(k)
	}
	if what != "" {
		fmt.Fprintln(cli.stderr, what)
	}
	var perms []string
	for _, p := range k.Permissions {
		perms = append(perms, safe(p.Name))
	}
	sort.Strings(perms)
	if len(perms) == 0 {
		perms = []string{"none"}
	}
	owner := safe(k.OwnerID)
	if k.UserName != "" {
		owner = safe(k.UserName) + " (" + owner + ")"
	}
	meta := ""
	if len(k.Meta) > 0 && string(k.Meta) != "null" && string(k.Meta) != "{}" {
		meta = shorten(safe(string(k.Meta)), 200)
	}
	hint := ""
	if k.SecretHint != "" {
		hint = "…" + safe(k.SecretHint)
	}
	tw := tabwriter.NewWriter(cli.stdout, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"ID", safe(k.ID)},
		{"Client ID", safe(k.ClientID)},
		{"Name", safe(k.Name)},
		{"Description", safe(k.Description)},
		{"Status", k.Status(cli.now())},
		{"Level", strconv.Itoa(k.Level)},
		{"Permissions", strings.Join(perms, ", ")},
		{"Audiences", safe(strings.Join(k.Audiences, ", "))},
		{"Owner", owner},
		{"Device", safe(k.DeviceName)},
		{"Expires", fmtTime(k.ExpiresAt, "never")},
		{"Token lifespan", fmt.Sprintf("%ds", k.TokenLifespanSeconds)},
		{"HMAC", map[bool]string{true: "enabled", false: "disabled"}[k.HMACEnabled]},
		{"Rate limit", rateLimitText(k.RateLimit)},
		{"Rate limits", namedLimitsText(k.RateLimits)},
		{"Credits", creditsText(k.Credits)},
		{"Allowed from", allowedText(k.AllowedCIDRs)},
		{"Secret", hint},
		{"Meta", meta},
		{"Created", fmtTime(&k.CreatedAt, "") + byText(k.CreatedBy)},
		{"Updated", fmtTime(&k.UpdatedAt, "")},
		{"Last used", fmtTime(k.LastUsedAt, "never")},
		{"Version", strconv.Itoa(k.Version)},
	} {
		if row[1] == "" {
			continue // nothing to show (no description, device, meta, ...)
		}
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	tw.Flush()
	return exitOK
}

// allowedText shows a key's address allowlist, "anywhere" without one.
func allowedText(cidrs []string) string {
	if len(cidrs) == 0 {
		return "anywhere"
	}
	out := make([]string, len(cidrs))
	for i, c := range cidrs {
		out[i] = safe(c)
	}
	return strings.Join(out, ", ")
}
