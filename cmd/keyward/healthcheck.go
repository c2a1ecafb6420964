package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

const healthcheckUsage = `Usage: keyward healthcheck [flags]

GETs a keyward server's /healthz and exits 0 when it answers 200, 1 otherwise
(unreachable, another status, or no answer within --timeout). For container
HEALTHCHECKs, where there is no curl: with no --url it checks the server this
environment would start, http://<KEYWARD_ADDR>/healthz, an unspecified host
(0.0.0.0, ::) becoming 127.0.0.1 (https:// when KEYWARD_TLS_CERT is set, the
certificate not checked: it names the server, not 127.0.0.1).

Flags:
`

// runHealthcheck implements "keyward healthcheck".
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "the URL to GET (default http://<KEYWARD_ADDR>/healthz)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), healthcheckUsage)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "keyward healthcheck: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	client := http.DefaultClient
	if *url == "" {
		addr, _ := env(getenv, "ADDR")
		u, err := healthzURL(addr)
		if err != nil {
			fmt.Fprintf(stderr, "keyward healthcheck: %v\n", err)
			return exitUsage
		}
		if cert, _ := env(getenv, "TLS_CERT"); cert != "" {
			// The server this environment starts serves HTTPS with a
			// certificate for its public name, not for the loopback
			// address asked here: whether the process answers is the
			// question, not who it is.
			u = "https" + strings.TrimPrefix(u, "http")
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		}
		*url = u
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "keyward healthcheck: %v\n", err)
		return exitUsage
	}
	res, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "keyward healthcheck: %v\n", err)
		return exitError
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "keyward healthcheck: %s answered %s\n", *url, res.Status)
		return exitError
	}
	return exitOK
}

// healthzURL is the /healthz URL of a server listening on addr (the serve
// default when empty), reached over loopback when addr's host is
// unspecified.
func healthzURL(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("KEYWARD_ADDR %q: %v", addr, err)
	}
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
