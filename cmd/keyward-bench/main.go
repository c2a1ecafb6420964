// Command keyward-bench drives a running keyward server over loopback and
// prints throughput and latency for its hot paths next to two references it
// measures itself in the same run, with the same client: the floor (a bare
// net/http handler) and the signing reference (the same plus one Ed25519
// signature per request), served by keyward-bench itself on 127.0.0.1:0
// (each in a child process, or in process with --references inprocess).
//
//	keyward-bench --server http://127.0.0.1:8080 --user admin --password … [--duration 5s] [--concurrency 16] [--cold-keys 10000] [--compare FILE]
//	keyward-bench --password … --scenarios list,memory [--list-keys 1000000] [--memory-keys 1000000]
//
// Every row shows req/s, p50, p99, its ratio to the floor and, for the
// scenarios issue 13 sets a target for, its ratio to that target's
// reference and whether it meets it. --compare also writes the table as
// markdown with the machine and the command line (docs/performance.md).
//
// --server may list several replicas, comma-separated: requests are spread
// over them in turn, as a round-robin load balancer would.
//
// It creates the keys it needs (and deletes them afterwards) with the admin
// credentials. Every scenario is bounded in time; the tool stops by itself.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/client"
)

const usage = `keyward-bench loads a running keyward server over loopback and prints, for each
scenario, req/s, p50, p99 and its ratio to the floor (a bare net/http handler) and, where issue 13
sets a target, to that target's reference: healthz >= 0.90 of the floor; key and verify >= 0.90 of
keyward's healthz; token >= 0.85 of the signing reference (the floor plus one Ed25519 signature);
cold and cold-key >= 0.35 of the floor on SQLite, 0.20 on PostgreSQL (--store). keyward-bench serves
both references itself on 127.0.0.1:0 (--references) and loads them first with the same client,
concurrency and duration. Ratios are comparable only within one run; on a shared machine, take the
median of a few rounds (--rounds 3).

The cold scenarios use --cold-keys distinct keys round-robin; for every request to miss the key
cache, run the server with a small --cache-ttl (e.g. 1ns) or --cache-size, or use more keys than
the run sends requests. The misses/req column is read from the server's /metrics.

Not run by default (--scenarios list,memory): list loads GET /v1/apikeys of a tenant of
--list-keys keys (keyward-bench-N, imported once through POST /v1/apikeys:import and kept: a
second run imports nothing), a row per filter (name, status, permission, owner: common and rare
matches), per sort and for a deep page by number and by cursor, each judged p99 < 50ms. memory
verifies each of --memory-keys such keys once and prints the server's RSS growth per cached key,
judged <= 1 KiB; run the server with --cache-ttl 1h (and --db-timeout 60s while a million seed).

Usage: keyward-bench --password … [flags]

`

func main() {
	if kind := os.Getenv(referenceEnv); kind != "" {
		os.Exit(serveReference(kind, os.Stdin, os.Stdout))
	}
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

type config struct {
	server, user, password string
	duration               time.Duration
	concurrency            int
	scenarios              string
	soak                   time.Duration
	coldKeys               int
	keepColdKeys           bool
	store                  string
	compare                string
	references             string
	rounds                 int
	settle                 time.Duration
	listKeys, memoryKeys   int
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var c config
	fs.StringVar(&c.server, "server", "http://127.0.0.1:8080", "keyward server URL, or several replicas' URLs comma-separated to spread requests over in turn (loopback only)")
	fs.StringVar(&c.user, "user", "admin", "admin user name")
	fs.StringVar(&c.password, "password", getenv("KEYWARD_PASSWORD"), "admin password (env KEYWARD_PASSWORD)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "how long each scenario (and each reference) runs (at most 60s)")
	fs.IntVar(&c.concurrency, "concurrency", 16, "concurrent connections (1-256)")
	fs.StringVar(&c.scenarios, "scenarios", strings.Join(defaultScenarios, ","), "comma-separated scenarios: healthz, key (GET /v1/whoami with a key), limited (the same with a key that has a rate limit it never reaches: the limiter's cost), verify (POST /v1/keys/verify), token (POST /oauth2/token), introspect (POST /oauth2/introspect), signed (GET /v1/whoami signed keyward-v1), cold (POST /v1/keys/verify of --cold-keys distinct keys round-robin), cold-key (GET /v1/whoami with those keys round-robin); not by default: list (GET /v1/apikeys of a --list-keys tenant, a row per filter, sort and deep page, each judged p99 < 50ms), memory (the server's RSS growth per cached key after verifying --memory-keys keys once, judged <= 1 KiB)")
	fs.BoolVar(&c.keepColdKeys, "keep-cold-keys", false, "leave the cold scenarios' keys in place at the end instead of deleting them one by one through the API (minutes for a few hundred thousand: for a server on a throwaway data directory)")
	fs.IntVar(&c.coldKeys, "cold-keys", 10_000, "distinct keys the cold scenarios import (POST /v1/apikeys:import, in parallel) and use round-robin (1-1000000); more than the run sends cold requests keeps every one a miss and the verifier warm")
	fs.IntVar(&c.listKeys, "list-keys", 1_000_000, "keys in the tenant the list scenarios page through (100-10000000): keyward-bench-N, imported once through POST /v1/apikeys:import and kept for the next run")
	fs.IntVar(&c.memoryKeys, "memory-keys", 1_000_000, "distinct keys the memory scenario verifies once each (100-10000000), from the tenant keyward-bench-N (imported once and kept, shared with list when the counts are equal)")
	fs.StringVar(&c.store, "store", "sqlite", "the server's database, sqlite or postgres: it picks the cold scenarios' target (0.35 or 0.20 of the floor)")
	fs.StringVar(&c.compare, "compare", "", "also write the results as a markdown table to this file, with the machine and the command line")
	fs.StringVar(&c.references, "references", "process", "where the floor and the signing reference run: process (each in a child process of its own, as keyward runs in its own: fair on a shared machine) or inprocess (in keyward-bench's process, sharing the client's CPUs)")
	fs.IntVar(&c.rounds, "rounds", 1, "run the references and the scenarios this many times in turn (1-20) and report, for each, the round with the median req/s (its errors summed over all rounds): on a shared machine the load changes from one scenario to the next")
	fs.DurationVar(&c.settle, "settle", time.Minute, "after importing 10,000 keys or more (the cold keys, a seeded tenant), wait at most this long, before the first reference, for the machine's CPUs to be 90% idle for two seconds in a row: the database digests an import (PostgreSQL's autovacuum and analyze) and would slow the references down, flattering every ratio; 0: don't wait")
	fs.DurationVar(&c.soak, "soak", 0, "instead of the scenarios, run a mixed workload (verify, key, token, create, list, rotate, signed) this long against one server, reporting every 10s, and fail on any 5xx or unexpected answer, or when the server's memory or goroutines grow 10% or more after the warm-up (a third of the run, at most 5m)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var servers []string
	for _, s := range strings.Split(c.server, ",") {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		u, err := url.Parse(s)
		if err != nil || !isLoopback(u.Hostname()) {
			fmt.Fprintln(stderr, "keyward-bench: --server must be loopback URLs (127.0.0.0/8, ::1 or localhost)")
			return 2
		}
		servers = append(servers, s)
	}
	if c.duration <= 0 || c.duration > time.Minute || c.concurrency < 1 || c.concurrency > 256 || c.password == "" {
		fmt.Fprintln(stderr, "keyward-bench: need --password, --duration in (0, 60s] and --concurrency in [1, 256]")
		return 2
	}
	if c.soak < 0 || c.soak > 7*24*time.Hour {
		fmt.Fprintln(stderr, "keyward-bench: --soak must be at most 168h")
		return 2
	}
	if c.coldKeys < 1 || c.coldKeys > 1_000_000 {
		fmt.Fprintln(stderr, "keyward-bench: --cold-keys must be in [1, 1000000]")
		return 2
	}
	if c.listKeys < 100 || c.listKeys > 10_000_000 || c.memoryKeys < 100 || c.memoryKeys > 10_000_000 {
		fmt.Fprintln(stderr, "keyward-bench: --list-keys and --memory-keys must be in [100, 10000000]")
		return 2
	}
	if c.rounds < 1 || c.rounds > 20 {
		fmt.Fprintln(stderr, "keyward-bench: --rounds must be in [1, 20]")
		return 2
	}
	if c.references != "process" && c.references != "inprocess" {
		fmt.Fprintln(stderr, "keyward-bench: --references must be process or inprocess")
		return 2
	}
	if c.store != "sqlite" && c.store != "postgres" {
		fmt.Fprintln(stderr, "keyward-bench: --store must be sqlite or postgres")
		return 2
	}
	var names []string
	for _, name := range strings.Split(c.scenarios, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(allScenarios, name) {
			fmt.Fprintf(stderr, "keyward-bench: unknown scenario %q\n", name)
			return 2
		}
		names = append(names, name)
	}
	b := &bench{cfg: c, servers: servers, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.concurrency, MaxConnsPerHost: c.concurrency}, Timeout: 10 * time.Second}}
	if err := b.setup(ctx); err != nil {
		fmt.Fprintf(stderr, "keyward-bench: setup: %v\n", err)
		return 1
	}
	defer b.teardown(ctx, stderr)
	if c.soak > 0 {
		if !b.soak(ctx, c.soak, stdout) {
			return 1
		}
		return 0
	}
	if slices.Contains(names, "cold") || slices.Contains(names, "cold-key") {
		if err := b.createColdKeys(ctx, stderr); err != nil {
			fmt.Fprintf(stderr, "keyward-bench: setup: %v\n", err)
			return 1
		}
	}
	var listSeed *seed
	var lists []listCase
	if slices.Contains(names, "list") {
		var err error
		if listSeed, err = b.seedTenant(ctx, c.listKeys, stderr); err == nil {
			lists, err = b.listCases(ctx, listSeed)
		}
		if err != nil {
			fmt.Fprintf(stderr, "keyward-bench: list: %v\n", err)
			return 1
		}
	}
	var memRow *row
	var memNotes []string
	if slices.Contains(names, "memory") {
		// Before any other load, so that the growth is the cache's.
		s, err := b.seedTenant(ctx, c.memoryKeys, stderr)
		if err == nil {
			b.seeds = append(b.seeds, s)
			var r row
			r, memNotes, err = b.memory(ctx, s, stderr)
			memRow = &r
		}
		if err != nil {
			fmt.Fprintf(stderr, "keyward-bench: memory: %v\n", err)
			return 1
		}
	}
	var settleNote string
	if n := b.imported.Load(); n >= settleAfter && c.settle > 0 {
		fmt.Fprintf(stderr, "keyward-bench: waiting (at most %s) for the machine to settle after importing %d keys…\n", c.settle, n)
		waited, idle, ok, err := settle(ctx, c.settle, time.Second, readProcStat)
		switch {
		case err != nil:
			settleNote = fmt.Sprintf("did not wait for the machine to settle after the import (%v)", err)
		case ok:
			settleNote = fmt.Sprintf("waited %s after the import for the machine's CPUs to be %.0f%% idle", waited.Round(time.Second), settleIdle*100)
		default:
			settleNote = fmt.Sprintf("the machine did not settle within --settle %s after the import (CPUs %.0f%% idle): the references may have run slower than usual", c.settle, idle*100)
		}
		fmt.Fprintf(stderr, "keyward-bench: %s\n", settleNote)
	}
	rep := &report{cfg: c, args: args, machine: readMachine(), start: time.Now().UTC()}
	if settleNote != "" {
		rep.notes = append(rep.notes, settleNote)
	}
	if b.importNote != "" {
		rep.notes = append(rep.notes, b.importNote)
	}
	refs, err := startReferences(c.references == "inprocess")
	if err != nil {
		fmt.Fprintf(stderr, "keyward-bench: references: %v\n", err)
		return 1
	}
	defer refs.close()
	rounds := map[string][]row{}
	for round := range c.rounds {
		if c.rounds > 1 {
			fmt.Fprintf(stderr, "keyward-bench: round %d of %d\n", round+1, c.rounds)
		}
		for _, ref := range []struct{ name, url string }{{"floor", refs.floor}, {"signing", refs.signing}} {
			fmt.Fprintf(stderr, "keyward-bench: %s reference (%s)…\n", ref.name, c.references)
			rounds[ref.name] = append(rounds[ref.name], row{name: ref.name, result: b.load(ctx, b.getter(ref.url))})
		}
		for _, name := range names {
			if name == "memory" {
				continue // measured once, above
			}
			if name == "list" {
				for _, lc := range lists {
					fmt.Fprintf(stderr, "keyward-bench: %s…\n", lc.name)
					rounds[lc.name] = append(rounds[lc.name], row{name: lc.name, result: b.load(ctx, b.listScenario(listSeed, lc))})
				}
				continue
			}
			fmt.Fprintf(stderr, "keyward-bench: %s…\n", name)
			sc, _ := b.scenario(name)
			hits0, misses0, okBefore := b.cacheCounters(ctx)
			r := row{name: name, result: b.load(ctx, sc)}
			if hits1, misses1, okAfter := b.cacheCounters(ctx); okBefore && okAfter && r.n > 0 {
				r.lookups, r.misses, r.cacheKnown = (hits1-hits0+misses1-misses0)/float64(r.n), (misses1-misses0)/float64(r.n), true
			}
			rounds[name] = append(rounds[name], r)
		}
	}
	var order []string
	for _, name := range append([]string{"floor", "signing"}, names...) {
		switch name {
		case "list":
			for _, lc := range lists {
				order = append(order, lc.name)
			}
		case "memory":
			if memRow != nil {
				rep.rows = append(rep.rows, *memRow)
				memRow = nil
			}
		default:
			order = append(order, name)
		}
		for _, name := range order {
			if rs, ok := rounds[name]; ok {
				rep.rows = append(rep.rows, medianRow(rs))
				delete(rounds, name) // a scenario listed twice is reported once
			}
		}
		order = order[:0]
	}
	if listSeed != nil {
		for _, lc := range lists {
			rep.notes = append(rep.notes, b.listMatches(ctx, listSeed, lc))
		}
		how := "imported by this run"
		if listSeed.reused {
			how = "seeded by an earlier run, reused"
		}
		rep.notes = append(rep.notes, fmt.Sprintf("list scenarios: tenant %s, %d keys (%s; kept for the next run), 20 keys a page, the admin's token", listSeed.tenant, listSeed.n, how))
	}
	rep.notes = append(rep.notes, memNotes...)
	rep.judge()
	rep.text(stdout)
	if c.compare != "" {
		if err := os.WriteFile(c.compare, []byte(rep.markdown()), 0o644); err != nil {
			fmt.Fprintf(stderr, "keyward-bench: --compare: %v\n", err)
			return 1
		}
	}
	return 0
}

// medianRow returns the round with the median req/s, with the errors of
// every round.
func medianRow(rs []row) row {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b row) int { return cmp.Compare(a.rps, b.rps) })
	m := sorted[len(sorted)/2]
	m.errors = 0
	for _, r := range rs {
		m.errors += r.errors
	}
	return m
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

type bench struct {
	cfg                     config
	servers                 []string
	next                    atomic.Uint64
	http                    *http.Client
	admin                   string
	keyID, clientID, secret string
	verifierID, verifier    string
	verifierSecret          string
	token                   string
	hmacID, hmacClient      string
	hmacSecret              string
	limitedID, limited      string
	coldIDs, coldSecrets    []string      // the cold scenarios' keys
	coldNext                atomic.Uint64 // the next cold key, shared by both cold scenarios
	seeds                   []*seed       // the memory scenario's tenants (their verifier keys are deleted)
	imported                atomic.Int64  // keys this run imported (the cold keys, a seeded tenant's)
	importNote              string        // the cold keys' import rate, for the report
}

func (b *bench) call(ctx context.Context, method, path string, hdr map[string]string, body io.Reader, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.server()+path, body)
	if err != nil {
		return 0, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, err
		}
	} else {
		io.Copy(io.Discard, res.Body)
	}
	return res.StatusCode, nil
}

// validPrefix is how keyward's answer to a valid verification begins:
// VerifyResult's first member is valid.
const validPrefix = `{"valid":true,`

// verified sends POST /v1/keys/verify and reports whether it answered 200
// with a valid verification. It reads the answer's first bytes instead of
// decoding it: the client shares the machine with the server, and decoding
// each answer with encoding/json (about 4 µs and 10 allocations here, which
// the other scenarios, whose answers are discarded, do not spend) would be
// counted against verify.
func (b *bench) verified(ctx context.Context, hdr map[string]string, body io.Reader) bool {
	req, err := http.NewRequestWithContext(ctx, "POST", b.server()+"/v1/keys/verify", body)
	if err != nil {
		return false
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := b.http.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var head [len(validPrefix)]byte
	_, err = io.ReadFull(res.Body, head[:])
	io.Copy(io.Discard, res.Body)
	return err == nil && res.StatusCode == 200 && string(head[:]) == validPrefix
}

// server returns the replica for the next request, in turn.
func (b *bench) server() string {
	return b.servers[int(b.next.Add(1)-1)%len(b.servers)]
}

func jsonBody(v any) io.Reader { b, _ := json.Marshal(v); return bytes.NewReader(b) }

func (b *bench) setup(ctx context.Context) error {
	var login struct{ AccessToken string }
	if code, err := b.call(ctx, "POST", "/v1/login", map[string]string{"Content-Type": "application/json"},
		jsonBody(map[string]string{"userName": b.cfg.user, "password": b.cfg.password}), &login); err != nil || code != 200 {
		return fmt.Errorf("login: status %d %v", code, err)
	}
	b.admin = "Bearer " + login.AccessToken
	mk := func(name string, perms []string, extra map[string]any) (id, clientID, sec string, err error) {
		refs := []map[string]string{}
		for _, p := range perms {
			refs = append(refs, map[string]string{"name": p})
		}
		var k struct{ ID, ClientID, ClientSecret string }
		body := map[string]any{"name": name, "level": 1, "permissions": refs}
		for f, v := range extra {
			body[f] = v
		}
		code, err := b.call(ctx, "POST", "/v1/apikeys", map[string]string{"Authorization": b.admin, "Content-Type": "application/json"},
			jsonBody(body), &k)
		if err != nil || code != 201 {
			return "", "", "", fmt.Errorf("creating a key: status %d %v", code, err)
		}
		return k.ID, k.ClientID, k.ClientSecret, nil
	}
	var err error
	if b.keyID, b.clientID, b.secret, err = mk("keyward-bench client", nil, nil); err != nil {
		return err
	}
	if b.verifierID, b.verifier, b.verifierSecret, err = mk("keyward-bench verifier", []string{"keys:verify"}, nil); err != nil {
		return err
	}
	if b.hmacID, b.hmacClient, b.hmacSecret, err = mk("keyward-bench signer", nil, map[string]any{"hmacEnabled": true}); err != nil {
		return err
	}
	limit := map[string]any{"rateLimit": map[string]int{"limit": 1_000_000_000, "windowSeconds": 86400}}
	if b.limitedID, _, b.limited, err = mk("keyward-bench limited", nil, limit); err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	code, err := b.call(ctx, "POST", "/oauth2/token", b.basicForm(), strings.NewReader("grant_type=client_credentials"), &tok)
	if err != nil || code != 200 {
		return fmt.Errorf("getting a token: status %d %v", code, err)
	}
	b.token = tok.AccessToken
	return nil
}

func (b *bench) basicForm() map[string]string {
	return map[string]string{
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(b.clientID+":"+b.secret)),
		"Content-Type":  "application/x-www-form-urlencoded",
	}
}

func (b *bench) teardown(ctx context.Context, stderr io.Writer) {
	for _, id := range []string{b.keyID, b.verifierID, b.hmacID, b.limitedID} {
		if id != "" {
			b.call(ctx, "DELETE", "/v1/apikeys/"+id, map[string]string{"Authorization": b.admin}, nil, nil)
		}
	}
	for _, s := range b.seeds {
		if s.verifyID != "" {
			b.call(ctx, "DELETE", inTenant("/v1/apikeys/"+s.verifyID, s.tenant), map[string]string{"Authorization": b.admin}, nil, nil)
		}
	}
	if len(b.coldIDs) > 0 && b.cfg.keepColdKeys {
		fmt.Fprintf(stderr, "keyward-bench: leaving the %d cold keys in place (--keep-cold-keys)\n", len(b.coldIDs))
	} else if len(b.coldIDs) > 0 {
		fmt.Fprintf(stderr, "keyward-bench: deleting the %d cold keys…\n", len(b.coldIDs))
		b.parallel(len(b.coldIDs), func(i int) error {
			b.call(ctx, "DELETE", "/v1/apikeys/"+b.coldIDs[i], map[string]string{"Authorization": b.admin}, nil, nil)
			return nil
		})
	}
}

// scenario returns one request of a scenario; it reports success.
func (b *bench) scenario(name string) (func(ctx context.Context) bool, bool) {
	ok := func(code int, err error) bool { return err == nil && code == 200 }
	switch name {
	case "healthz":
		return func(ctx context.Context) bool { return ok(b.call(ctx, "GET", "/healthz", nil, nil, nil)) }, true
	case "key":
		h := map[string]string{"Authorization": "Bearer " + b.secret}
		return func(ctx context.Context) bool { return ok(b.call(ctx, "GET", "/v1/whoami", h, nil, nil)) }, true
	case "limited":
		h := map[string]string{"Authorization": "Bearer " + b.limited}
		return func(ctx context.Context) bool { return ok(b.call(ctx, "GET", "/v1/whoami", h, nil, nil)) }, true
	case "verify":
		h := map[string]string{"Authorization": "Bearer " + b.verifierSecret, "Content-Type": "application/json"}
		body, _ := json.Marshal(map[string]string{"key": b.secret})
		return func(ctx context.Context) bool {
			return b.verified(ctx, h, bytes.NewReader(body))
		}, true
	case "token":
		h := b.basicForm()
		return func(ctx context.Context) bool {
			return ok(b.call(ctx, "POST", "/oauth2/token", h, strings.NewReader("grant_type=client_credentials"), nil))
		}, true
	case "signed":
		signer := &http.Client{Transport: client.NewSigner(b.hmacClient, b.hmacSecret, b.http.Transport), Timeout: 10 * time.Second}
		return func(ctx context.Context) bool {
			req, err := http.NewRequestWithContext(ctx, "GET", b.server()+"/v1/whoami", nil)
			if err != nil {
				return false
			}
			res, err := signer.Do(req)
			if err != nil {
				return false
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode == 200
		}, true
	case "cold":
		h := map[string]string{"Authorization": "Bearer " + b.verifierSecret, "Content-Type": "application/json"}
		return func(ctx context.Context) bool {
			body := append(append([]byte(`{"key":"`), b.coldKey()...), `"}`...)
			return b.verified(ctx, h, bytes.NewReader(body))
		}, true
	case "cold-key":
		return func(ctx context.Context) bool {
			return ok(b.call(ctx, "GET", "/v1/whoami", map[string]string{"Authorization": "Bearer " + b.coldKey()}, nil, nil))
		}, true
	case "introspect":
		h := map[string]string{"Authorization": "Bearer " + b.verifierSecret, "Content-Type": "application/x-www-form-urlencoded"}
		body := "token=" + url.QueryEscape(b.token)
		return func(ctx context.Context) bool {
			var r struct{ Active bool }
			code, err := b.call(ctx, "POST", "/oauth2/introspect", h, strings.NewReader(body), &r)
			return ok(code, err) && r.Active
		}, true
	}
	return nil, false
}

type result struct {
	n, errors int
	rps       float64
	p50, p99  time.Duration
}

// load runs one scenario with the configured concurrency for the duration:
// no request starts after it, and the requests in flight then finish and
// count (cutting them would count nothing for a scenario slower than the
// duration, and close their connections under the next scenario).
func (b *bench) load(ctx context.Context, one func(context.Context) bool) result {
	end := time.Now().Add(b.cfg.duration)
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range b.cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for ctx.Err() == nil && time.Now().Before(end) {
				t := time.Now()
				if !one(ctx) {
					if ctx.Err() != nil {
						break
					}
					bad++
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := result{n: len(lat), errors: errs, rps: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}
