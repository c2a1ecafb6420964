package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

// TestBenchRuns runs every scenario briefly against a real server and
// checks each line reports requests and no errors.
func TestBenchRuns(t *testing.T) {
	ctx := context.Background()
	ts := benchServer(t)

	var out, errb bytes.Buffer
	code := run(ctx, []string{"--server", ts.URL, "--duration", "200ms", "--concurrency", "2"},
		func(k string) string { return map[string]string{"KEYWARD_PASSWORD": "bench-password"}[k] }, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 7 {
		t.Fatalf("got %d lines, want a header and 6 scenarios:\n%s", len(lines), out.String())
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 7 || f[1] == "0" || f[2] != "0" {
			t.Errorf("scenario line %q: want requests > 0 and 0 errors", l)
		}
	}
	// Several replicas: requests are spread over all of them.
	var hits [2]atomic.Int64
	api := httpapi.New(ts.Svc, nil, nil)
	var urls []string
	for i := range hits {
		rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			api.ServeHTTP(w, r)
		}))
		defer rs.Close()
		urls = append(urls, rs.URL)
	}
	out.Reset()
	code = run(ctx, []string{"--server", strings.Join(urls, ","), "--duration", "100ms", "--concurrency", "2", "--scenarios", "healthz,key,limited,signed"},
		func(k string) string { return map[string]string{"KEYWARD_PASSWORD": "bench-password"}[k] }, &out, &errb)
	if code != 0 || strings.Count(out.String(), "\n") != 5 {
		t.Fatalf("two replicas: exit %d: %s %s", code, out.String(), errb.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n")[1:] {
		if f := strings.Fields(l); f[2] != "0" {
			t.Errorf("two replicas, %q: want 0 errors", l)
		}
	}
	if hits[0].Load() < 10 || hits[1].Load() < 10 {
		t.Errorf("requests per replica: %d and %d, want both busy", hits[0].Load(), hits[1].Load())
	}
	if code := run(ctx, []string{"--server", "http://10.0.0.1:8080", "--password", "x"}, func(string) string { return "" }, &out, &errb); code != 2 {
		t.Errorf("a non-loopback server: exit %d, want 2", code)
	}
}

// TestSoakShort runs the soak briefly against a real server: the mixed
// workload answers no 5xx and nothing unexpected, and the report judges
// memory and goroutines. (Whether they stay flat is judged by the 60 s run
// in .ci/run, against a server process of its own; here the server shares
// the test's process.)
func TestSoakShort(t *testing.T) {
	ctx := context.Background()
	ts := benchServer(t)

	tests := []struct {
		args     []string
		wantCode int
		want     []string
	}{
		{[]string{"--soak", "2s", "--concurrency", "4"}, -1, []string{"soak: 2s with 4 connections", " 0 answered 5xx, 0 unexpected", "soak: rss after warm-up", "soak: goroutines after warm-up"}},
		{[]string{"--soak", "200h"}, 2, nil},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"--server", ts.URL}, tt.args...),
			func(k string) string { return map[string]string{"KEYWARD_PASSWORD": "bench-password"}[k] }, &out, &errb)
		if tt.wantCode >= 0 && code != tt.wantCode {
			t.Errorf("%v: got exit %d, want %d: %s", tt.args, code, tt.wantCode, errb.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: got output\n%s\nwant it to contain %q", tt.args, out.String(), w)
			}
		}
	}
}

// benchServer runs keyward's native API over a fresh SQLite database, its
// admin's password "bench-password".
func benchServer(t *testing.T) *wiretest.Server {
	t.Helper()
	return wiretest.Start(t, sqltest.SQLite(t), wiretest.Options{AdminPassword: "bench-password"})
}
