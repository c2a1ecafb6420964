package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// The references are what keyward's numbers are read against, measured in
// the same run by the same client: the floor, a bare net/http handler
// answering a small body (what any Go HTTP server costs on this machine),
// and the signing reference, the same handler plus one Ed25519 signature of
// a small payload per request (what issuing a signed token cannot go
// below). keyward-bench serves both itself, on 127.0.0.1:0: by default each
// in a child process of its own (keyward-bench run again with
// referenceEnv set), as keyward runs in a process of its own; in process
// with --references inprocess. On a shared machine the difference matters:
// the operating system shares the CPUs among threads, so a server sharing
// the client's process (and its GOMAXPROCS) gets a smaller share than
// keyward does.
type references struct {
	floor, signing string // base URLs
	stop           []func()
}

// referenceEnv, set to "floor" or "signing", makes keyward-bench serve that
// reference instead (see serveReference).
const referenceEnv = "KEYWARD_BENCH_REFERENCE"

// referencePayload is about the size of an access token's claims.
var referencePayload = []byte(`{"iss":"http://127.0.0.1:8080","sub":"kw_0123456789abcdef","client_id":"kw_0123456789abcdef","scope":"keys:verify","exp":1700000900,"iat":1700000000,"jti":"0123456789abcdef0123"}`)

// referenceHandler returns the floor's or the signing reference's handler.
func referenceHandler(kind string) (http.Handler, error) {
	switch kind {
	case "floor":
		body := []byte(`{"status":"ok"}` + "\n")
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}), nil
	case "signing":
		_, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			return nil, err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sig := ed25519.Sign(priv, referencePayload)
			out := make([]byte, 0, 120)
			out = append(out, `{"signature":"`...)
			out = base64.RawURLEncoding.AppendEncode(out, sig)
			out = append(out, "\"}\n"...)
			w.Header().Set("Content-Type", "application/json")
			w.Write(out)
		}), nil
	}
	return nil, fmt.Errorf("unknown reference %q", kind)
}

// listenReference serves the reference kind on 127.0.0.1:0 and returns its
// base URL and how to stop it.
func listenReference(kind string) (string, func(), error) {
	h, err := referenceHandler(kind)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// serveReference is the child process's side: it serves the reference
// kind, writes its base URL as one line to out, and serves until in (its
// parent's pipe) closes.
func serveReference(kind string, in io.Reader, out io.Writer) int {
	url, stop, err := listenReference(kind)
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyward-bench: reference %s: %v\n", kind, err)
		return 1
	}
	defer stop()
	fmt.Fprintln(out, url)
	io.Copy(io.Discard, in)
	return 0
}

// startReferences starts the floor and the signing reference, each in a
// child process unless inProcess.
func startReferences(inProcess bool) (*references, error) {
	refs := &references{}
	for _, kind := range []string{"floor", "signing"} {
		start := startChildReference
		if inProcess {
			start = listenReference
		}
		url, stop, err := start(kind)
		if err != nil {
			refs.close()
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		refs.stop = append(refs.stop, stop)
		if kind == "floor" {
			refs.floor = url
		} else {
			refs.signing = url
		}
	}
	return refs, nil
}

// startChildReference runs keyward-bench again as the reference kind.
func startChildReference(kind string) (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), referenceEnv+"="+kind)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case url := <-line:
		if strings.HasPrefix(url, "http://127.0.0.1:") {
			return url, stop, nil
		}
	case <-time.After(10 * time.Second):
	}
	stop()
	return "", nil, errors.New("the child process did not say where it listens")
}

func (r *references) close() {
	for _, stop := range r.stop {
		stop()
	}
}

// getter returns one request of a reference: GET url, answered 200.
func (b *bench) getter(url string) func(ctx context.Context) bool {
	return func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return false
		}
		res, err := b.http.Do(req)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode == 200
	}
}

// createColdKeys creates the cold scenarios' --cold-keys distinct keys
// through POST /v1/apikeys:import, coldImportLines a request (fewer after
// an import outlasts the server's --db-timeout), one request at a time,
// each key with a keyward-shaped secret made here (an
// import keeps it: it verifies as a created key's does). Importing is about
// a hundred times faster than creating one key a request, so a run can use
// more keys than it sends cold requests: then every cold request misses the
// key cache while the verifier's own key stays cached (issue 13's cold
// verification), without shortening the server's --cache-ttl.
func (b *bench) createColdKeys(ctx context.Context, stderr io.Writer) error {
	n := b.cfg.coldKeys
	fmt.Fprintf(stderr, "keyward-bench: importing %d keys for the cold scenarios…\n", n)
	b.coldIDs, b.coldSecrets = make([]string, n), make([]string, n)
	for i := range b.coldSecrets {
		b.coldSecrets[i] = secret.NewSecret("kwb")
	}
	h := map[string]string{"Authorization": b.admin, "Content-Type": "application/x-ndjson"}
	// An import of 10,000 keys may take longer than the loads' timeout;
	// nothing else runs meanwhile.
	defer func(c *http.Client) { b.http = c }(b.http)
	b.http = &http.Client{Transport: b.http.Transport, Timeout: 5 * time.Minute}
	start, size := time.Now(), coldImportLines
	// One import at a time: the database writes them one at a time anyway
	// (SQLite has one writer), and many at once only wait past its timeout.
	for lo := 0; lo < n; {
		hi := min(lo+size, n)
		code, err := b.importColdKeys(ctx, h, lo, hi)
		if err != nil && code == 503 && size > coldMinImportLines {
			// Rolled back: send fewer lines a request from now on.
			size = max(coldMinImportLines, size/2)
			fmt.Fprintf(stderr, "keyward-bench: an import of %d keys outlasted the server's --db-timeout: %d a request from now on\n", hi-lo, size)
			continue
		}
		if err != nil {
			return err
		}
		lo = hi
	}
	d := time.Since(start)
	fmt.Fprintf(stderr, "keyward-bench: imported %d keys in %v (%.0f keys/s)\n", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
	b.importNote = importNote(n, d, b.cfg.store)
	return nil
}

// importNote is the report's note on the import of n cold keys in d: its
// rate, and on SQLite whether it meets issue 13's target.
func importNote(n int, d time.Duration, store string) string {
	rate := float64(n) / d.Seconds()
	note := fmt.Sprintf("cold keys imported at %.0f keys/s (%d in %v, up to %d lines a request, one request at a time)", rate, n, d.Round(time.Millisecond), coldImportLines)
	switch {
	case store != "sqlite":
	case n < importJudged:
		note += fmt.Sprintf("; too few to judge against issue 13's target on SQLite (>= %d keys/s, from %d keys)", importTarget, importJudged)
	case rate < importTarget:
		note += fmt.Sprintf("; issue 13's target on SQLite, >= %d keys/s: not met", importTarget)
	default:
		note += fmt.Sprintf("; issue 13's target on SQLite, >= %d keys/s: met", importTarget)
	}
	return note
}

// importTarget is issue 13's bulk import rate on SQLite (keys/s), judged
// on an import of importJudged keys or more: fewer take too short a time
// to say.
const (
	importTarget = 20_000
	importJudged = 100_000
)

// importColdKeys imports the cold keys lo to hi-1 in one request, and
// returns the answer's status.
func (b *bench) importColdKeys(ctx context.Context, h map[string]string, lo, hi int) (int, error) {
	var body bytes.Buffer
	for _, sec := range b.coldSecrets[lo:hi] {
		body.WriteString(`{"name":"keyward-bench cold","level":1,"secret":"` + sec + `"}` + "\n")
	}
	var res struct {
		Items []struct {
			Line int
			ID   string
		}
		Failed int
	}
	code, err := b.call(ctx, "POST", "/v1/apikeys:import", h, &body, &res)
	if err != nil || code != 200 || res.Failed != 0 || len(res.Items) != hi-lo {
		return code, fmt.Errorf("importing cold keys %d-%d: status %d, %d failed, %v", lo, hi-1, code, res.Failed, err)
	}
	b.imported.Add(int64(len(res.Items)))
	for _, it := range res.Items {
		if it.Line < 1 || it.Line > hi-lo || it.ID == "" {
			return code, fmt.Errorf("importing cold keys %d-%d: unexpected item %+v", lo, hi-1, it)
		}
		b.coldIDs[lo+it.Line-1] = it.ID
	}
	return code, nil
}

// coldImportLines is how many keys one import request carries at first
// (keyward.MaxImportLines: an import commits once a request, so the fewer
// requests, the fewer commits), coldMinImportLines the fewest should
// imports outlast the server's --db-timeout.
const (
	coldImportLines    = 10_000
	coldMinImportLines = 500
)

// coldKey returns the next cold key, round-robin over all of them; both
// cold scenarios share the turn, so the second does not start over on the
// keys the first has just put in the server's cache.
func (b *bench) coldKey() string {
	return b.coldSecrets[(b.coldNext.Add(1)-1)%uint64(len(b.coldSecrets))]
}

// parallel runs f(0) … f(n-1), --concurrency at a time, and returns the
// first error (after which no new call starts).
func (b *bench) parallel(n int, f func(i int) error) error {
	var mu sync.Mutex
	var first error
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, b.cfg.concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				mu.Lock()
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// cacheCounters reads the key cache's hits and misses from every server's
// /metrics; ok is false when a server does not publish them.
func (b *bench) cacheCounters(ctx context.Context) (hits, misses float64, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, s := range b.servers {
		m, err := b.metrics(ctx, s, "keyward_key_cache_hits_total", "keyward_key_cache_misses_total")
		if err != nil || len(m) < 2 {
			return 0, 0, false
		}
		hits += m["keyward_key_cache_hits_total"]
		misses += m["keyward_key_cache_misses_total"]
	}
	return hits, misses, true
}

// metrics reads the named unlabelled samples from server's /metrics.
func (b *bench) metrics(ctx context.Context, server string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", server+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		io.Copy(io.Discard, res.Body)
		return nil, fmt.Errorf("/metrics: status %d", res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}
