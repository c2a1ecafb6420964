package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const tokenUsage = `Usage: keyward token [flags]

Gets an OAuth2 access token with the client credentials grant and prints it
(with --json, the whole token response).

Flags:
`

// runToken implements "keyward token".
func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr(getenv, "KEYWARD_SERVER", "http://127.0.0.1:8080"), "keyward server URL (env KEYWARD_SERVER)")
	id := fs.String("client-id", getenv("KEYWARD_CLIENT_ID"), "client id (env KEYWARD_CLIENT_ID)")
	sec := fs.String("client-secret", getenv("KEYWARD_CLIENT_SECRET"), "client secret (env KEYWARD_CLIENT_SECRET; prefer the environment: flags show in process lists)")
	scope := fs.String("scope", "", "space-separated permission names to ask for (default: everything the key holds)")
	asJSON := fs.Bool("json", false, "print the whole token response as JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), tokenUsage)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if *id == "" || *sec == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "keyward token: --client-id and --client-secret (or KEYWARD_CLIENT_ID and KEYWARD_CLIENT_SECRET) are required")
		return exitUsage
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if *scope != "" {
		form.Set("scope", *scope)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(*server, "/")+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		fmt.Fprintf(stderr, "keyward token: %v\n", err)
		return exitUsage
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(*id), url.QueryEscape(*sec))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "keyward token: %v\n", err)
		return exitError
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		fmt.Fprintf(stderr, "keyward token: %v\n", err)
		return exitError
	}
	var tr struct {
		AccessToken      string `json:"access_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || (res.StatusCode != http.StatusOK && tr.Error == "") {
		fmt.Fprintf(stderr, "keyward token: the server answered %s\n", res.Status)
		return exitError
	}
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "keyward token: %s: %s\n", tr.Error, tr.ErrorDescription)
		return exitError
	}
	if *asJSON {
		stdout.Write(body)
		return exitOK
	}
	fmt.Fprintln(stdout, tr.AccessToken)
	return exitOK
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
