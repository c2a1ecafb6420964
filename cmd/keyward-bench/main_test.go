package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
)

// TestBenchRuns runs every scenario briefly against a real server and
// checks each line reports requests and no errors.
func TestBenchRuns(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	svc, err := keyward.NewService(keyward.Config{Store: db, MasterKey: secret.RandomBytes(32), PublicURL: "http://" + ts.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Bootstrap(ctx, "bench-password"); err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = httpapi.New(svc, nil, nil)
	ts.Start()
	defer ts.Close()

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
	if code := run(ctx, []string{"--server", "http://10.0.0.1:8080", "--password", "x"}, func(string) string { return "" }, &out, &errb); code != 2 {
		t.Errorf("a non-loopback server: exit %d, want 2", code)
	}
}
