package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/client"
)

const curlUsage = `Usage: keyward curl [flags] URL

Sends one HTTP request signed with an hmacEnabled key (RFC 9421 profile
keyward-v1) and prints the response body to standard output. Works against
keyward's own API and any API that checks signatures with keyward.

Flags:
`

// headerList collects repeated -H flags.
type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// runCurl implements "keyward curl".
func runCurl(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward curl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	method := fs.String("X", "", "request method (default GET, or POST with -d)")
	data := fs.String("d", "", "request body; @file reads a file, @- standard input")
	var headers headerList
	fs.Var(&headers, "H", "a request header, \"Name: value\"; repeat for several")
	id := fs.String("client-id", getenv("KEYWARD_CLIENT_ID"), "the signing key's client id (env KEYWARD_CLIENT_ID)")
	sec := fs.String("client-secret", getenv("KEYWARD_CLIENT_SECRET"), "its secret (env KEYWARD_CLIENT_SECRET; prefer the environment)")
	verbose := fs.Bool("i", false, "print the response status and headers to standard error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), curlUsage)
		fs.PrintDefaults()
	}
	// Flags may follow the URL.
	var positional []string
	for rest := args; ; {
		if code, done := parseFlags(fs, rest, stdout); done {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 || *id == "" || *sec == "" {
		fmt.Fprintln(stderr, "keyward curl: give one URL, and --client-id and --client-secret (or KEYWARD_CLIENT_ID and KEYWARD_CLIENT_SECRET)")
		return exitUsage
	}
	var body []byte
	switch {
	case *data == "@-":
		b, err := io.ReadAll(io.LimitReader(stdin, 10<<20))
		if err != nil {
			fmt.Fprintf(stderr, "keyward curl: %v\n", err)
			return exitUsage
		}
		body = b
	case strings.HasPrefix(*data, "@"):
		b, err := os.ReadFile((*data)[1:])
		if err != nil {
			fmt.Fprintf(stderr, "keyward curl: %v\n", err)
			return exitUsage
		}
		body = b
	case *data != "":
		body = []byte(*data)
	}
	m := *method
	if m == "" {
		m = "GET"
		if body != nil {
			m = "POST"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(m), positional[0], rd)
	if err != nil {
		fmt.Fprintf(stderr, "keyward curl: %v\n", err)
		return exitUsage
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(stderr, "keyward curl: header %q: want \"Name: value\"\n", h)
			return exitUsage
		}
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Transport: client.NewSigner(*id, *sec, nil)}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "keyward curl: %v\n", err)
		return exitError
	}
	defer res.Body.Close()
	if *verbose {
		fmt.Fprintln(stderr, res.Proto, res.Status)
		res.Header.Write(stderr)
	}
	io.Copy(stdout, res.Body)
	if res.StatusCode >= 400 {
		return exitError
	}
	return exitOK
}
