package httpapi_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// served writes the /openapi.json s serves into dir and returns its path.
func served(t *testing.T, s *server, dir string) string {
	t.Helper()
	res := s.do("GET", "/openapi.json", "", nil, 200, nil)
	path := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(path, res.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// command runs name in dir within timeout, failing t with its output.
func command(t *testing.T, dir string, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestGeneratedGoClient: oapi-codegen (v2.8.2, pinned as a tool in
// test/goclient/go.mod), with no configuration, generates from the served
// /openapi.json a Go client that compiles, and test/goclient's smoke
// program logs in, creates a key, lists, gets and verifies it with it
// against a live server. The generated code stays in a temporary copy of
// that module, out of keyward's build.
func TestGeneratedGoClient(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and builds a client: not in -short")
	}
	t.Parallel() // mostly waits for go build: runs beside the other long tests
	src, err := filepath.Abs("../../test/goclient")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(mod, "kwclient"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := sqliteServer(t)
	doc := served(t, s, mod)
	env := []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
	command(t, mod, 5*time.Minute, env, "go", "tool", "oapi-codegen", "-package", "kwclient", "-o", "kwclient/client.gen.go", doc)
	command(t, mod, 5*time.Minute, env, "go", "build", "-o", "smoke", ".")
	out := command(t, mod, time.Minute, nil, filepath.Join(mod, "smoke"), "-server", s.URL, "-password", adminPassword)
	if !strings.HasPrefix(out, "ok: ") {
		t.Errorf("the smoke program printed %q, want ok: …", out)
	}
	var l struct{ TotalCount int }
	s.do("GET", "/v1/apikeys?q=go-client", s.admin, nil, 200, &l)
	if l.TotalCount != 1 {
		t.Errorf("after the smoke program: got %d keys named go-client, want 1", l.TotalCount)
	}
}

// TestGeneratedTypeScriptClient: openapi-typescript turns the served
// /openapi.json into types that compile under tsc --strict together with
// test/node/apiclient.ts (openapi-fetch calls), and the compiled program
// logs in, creates a key, lists, gets and verifies it against a live
// server.
func TestGeneratedTypeScriptClient(t *testing.T) {
	harness := nodeHarness(t)
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(harness, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(harness, "apiclient.ts"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"apiclient.ts": src, "package.json": []byte(`{"type":"module"}`)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := sqliteServer(t)
	doc := served(t, s, dir)
	bin := filepath.Join(harness, "node_modules", ".bin")
	command(t, dir, 2*time.Minute, nil, filepath.Join(bin, "openapi-typescript"), doc, "-o", "keyward-api.d.ts")
	command(t, dir, 2*time.Minute, nil, filepath.Join(bin, "tsc"), "--strict", "--noEmitOnError", "--target", "es2022",
		"--module", "nodenext", "--moduleResolution", "nodenext", "--outDir", "out", "apiclient.ts")
	out := command(t, dir, time.Minute, nil, "node", filepath.Join("out", "apiclient.js"), s.URL, adminPassword)
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("the smoke program printed %q: %v", out, err)
	}
	if got["listed"] != float64(1) || got["valid"] != true || got["notFound"] != "not_found" || got["got"] == "" {
		t.Errorf("the smoke program answered %v; want the key listed once, got, valid, and a not_found problem", got)
	}
}
