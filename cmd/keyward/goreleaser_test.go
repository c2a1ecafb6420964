package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// .goreleaser.yaml stamps the variables "keyward version" reads: a binary
// built with its -ldflags (the templates filled in as a release would)
// prints them. goreleaser check validates the rest where it is installed.
func TestGoreleaserLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	b, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, want := range []string{"version: 2", "goos: [linux, darwin]", "goarch: [amd64, arm64]", "CGO_ENABLED=0", "checksum:"} {
		if !strings.Contains(cfg, want) {
			t.Errorf(".goreleaser.yaml lacks %q", want)
		}
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+- (-X main\.\w+=.*|-s -w)$`).FindAllStringSubmatch(cfg, -1) {
		flags = append(flags, m[1])
	}
	ld := strings.NewReplacer("{{ .Version }}", "9.8.7", "{{ .ShortCommit }}", "abc1234", "{{ .CommitDate }}", "2026-11-27T18:00:00Z").Replace(strings.Join(flags, " "))
	for _, v := range []string{"main.version=v9.8.7", "main.revision=abc1234", "main.buildTime=2026-11-27T18:00:00Z"} {
		if !strings.Contains(ld, v) {
			t.Fatalf("the ldflags %q do not set %s", ld, v)
		}
	}
	// The variables exist (this does not compile otherwise).
	_, _, _ = version, revision, buildTime

	bin := filepath.Join(t.TempDir(), "keyward")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", ld, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build with the release ldflags: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("keyward version: %v\n%s", err, out)
	}
	for _, want := range []string{"v9.8.7", "abc1234", "2026-11-27T18:00:00Z", runtime.Version()} {
		if !strings.Contains(string(out), want) {
			t.Errorf("keyward version printed %q, want %s in it", out, want)
		}
	}
}
