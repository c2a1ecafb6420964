// Command keyward-bench drives a running keyward server over loopback and
// prints throughput and latency for its hot paths next to GET /healthz, the
// HTTP floor of the same run.
//
//	keyward-bench --server http://127.0.0.1:8080 --user admin --password … [--duration 5s] [--concurrency 16]
//
// --server may list several replicas, comma-separated: requests are spread
// over them in turn, as a round-robin load balancer would.
//
// It creates the keys it needs (and deletes them afterwards) with the admin
// credentials. Every scenario is bounded in time; the tool stops by itself.
package main

import (
	"bytes"
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
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward/client"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

type config struct {
	server, user, password string
	duration               time.Duration
	concurrency            int
	scenarios              string
	soak                   time.Duration
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.server, "server", "http://127.0.0.1:8080", "keyward server URL, or several replicas' URLs comma-separated to spread requests over in turn (loopback only)")
	fs.StringVar(&c.user, "user", "admin", "admin user name")
	fs.StringVar(&c.password, "password", getenv("KEYWARD_PASSWORD"), "admin password (env KEYWARD_PASSWORD)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "how long each scenario runs (at most 60s)")
	fs.IntVar(&c.concurrency, "concurrency", 16, "concurrent connections (1-256)")
	fs.StringVar(&c.scenarios, "scenarios", "healthz,key,verify,token,introspect,signed", "comma-separated scenarios: healthz, key (GET /v1/whoami with a key), limited (the same with a key that has a rate limit it never reaches: the limiter's cost), verify (POST /v1/keys/verify), token (POST /oauth2/token), introspect (POST /oauth2/introspect), signed (GET /v1/whoami signed keyward-v1)")
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
	b := &bench{cfg: c, servers: servers, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.concurrency, MaxConnsPerHost: c.concurrency}, Timeout: 10 * time.Second}}
	if err := b.setup(ctx); err != nil {
		fmt.Fprintf(stderr, "keyward-bench: setup: %v\n", err)
		return 1
	}
	defer b.teardown(ctx)
	if c.soak > 0 {
		if !b.soak(ctx, c.soak, stdout) {
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\trequests\terrors\treq/s\tp50\tp99\tof floor\n")
	var floor float64
	for _, name := range strings.Split(c.scenarios, ",") {
		sc, ok := b.scenario(strings.TrimSpace(name))
		if !ok {
			fmt.Fprintf(stderr, "keyward-bench: unknown scenario %q\n", name)
			return 2
		}
		r := b.load(ctx, sc)
		if name == "healthz" {
			floor = r.rps
		}
		rel := "-"
		if floor > 0 {
			rel = fmt.Sprintf("%.0f%%", 100*r.rps/floor)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%v\t%v\t%s\n", name, r.n, r.errors, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), rel)
	}
	tw.Flush()
	return 0
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

func (b *bench) teardown(ctx context.Context) {
	for _, id := range []string{b.keyID, b.verifierID, b.hmacID, b.limitedID} {
		if id != "" {
			b.call(ctx, "DELETE", "/v1/apikeys/"+id, map[string]string{"Authorization": b.admin}, nil, nil)
		}
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
			var r struct{ Valid bool }
			code, err := b.call(ctx, "POST", "/v1/keys/verify", h, bytes.NewReader(body), &r)
			return ok(code, err) && r.Valid
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

// load runs one scenario with the configured concurrency for the duration.
func (b *bench) load(ctx context.Context, one func(context.Context) bool) result {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.duration)
	defer cancel()
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
			for ctx.Err() == nil {
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
