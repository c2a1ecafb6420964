package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func runCaptured(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// commandPaths returns every command and subcommand keyward knows.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	var paths [][]string
	for _, n := range completionTree() {
		if len(n.path) > 0 {
			paths = append(paths, n.path)
		}
	}
	if len(paths) < 30 {
		t.Fatalf("got %d command paths, want every command and subcommand (30 or more)", len(paths))
	}
	return paths
}

// Every command's --help prints its usage once, on stdout, and exits 0;
// "keyward help <command...>" prints the same.
func TestHelpOncePerCommand(t *testing.T) {
	for _, path := range commandPaths(t) {
		name := strings.Join(path, " ")
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCaptured(t, append(append([]string{}, path...), "--help")...)
			if code != exitOK {
				t.Fatalf("%s --help: exit %d, want 0; stderr %q", name, code, errOut)
			}
			if got := strings.Count(out+errOut, "Usage:"); got != 1 {
				t.Errorf("%s --help: got Usage %d times in stdout+stderr, want once:\n%s\n--- stderr\n%s", name, got, out, errOut)
			}
			if !strings.Contains(out, "Usage:") {
				t.Errorf("%s --help: the usage is not on stdout: %q", name, out)
			}
			code, viaHelp, _ := runCaptured(t, append([]string{"help"}, path...)...)
			if code != exitOK || viaHelp != out {
				t.Errorf("keyward help %s: exit %d, output differs from %s --help:\ngot  %q\nwant %q", name, code, name, viaHelp, out)
			}
		})
	}
}

func TestHelpUnknownCommand(t *testing.T) {
	code, _, errOut := runCaptured(t, "help", "nope")
	if code != exitUsage || !strings.Contains(errOut, `unknown command "nope"`) {
		t.Errorf("help nope: got exit %d, stderr %q; want 2 and unknown command", code, errOut)
	}
}

// A flag error prints the error and the usage once, on stderr.
func TestFlagErrorUsageOnce(t *testing.T) {
	code, out, errOut := runCaptured(t, "serve", "--no-such-flag")
	if code != exitUsage || out != "" {
		t.Fatalf("serve --no-such-flag: exit %d, stdout %q; want 2 and nothing", code, out)
	}
	if got := strings.Count(errOut, "Usage:"); got != 1 || !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("serve --no-such-flag: got Usage %d times, stderr:\n%s", got, errOut)
	}
}

func TestCompletionFlagsAreReal(t *testing.T) {
	tests := []struct {
		path []string
		want []string
	}{
		{[]string{"serve"}, []string{"addr", "data-dir", "database-url", "redis-url"}},
		{[]string{"apikeys", "create"}, []string{"name", "permission", "server", "token"}},
		{[]string{"admin", "reset-password"}, []string{"user", "tenant"}},
		{[]string{"curl"}, []string{"client-id", "X", "H"}},
	}
	for _, tt := range tests {
		got := map[string]bool{}
		for _, f := range flagNames(tt.path...) {
			got[f.name] = true
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("flags of %v: got %v, want --%s among them", tt.path, got, w)
			}
		}
	}
}

// The bash script parses, and completing words through its function gives
// the commands, subcommands and flags.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	_, script, _ := runCaptured(t, "completion", "bash")
	file := filepath.Join(t.TempDir(), "keyward.bash")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	tests := []struct {
		line string // the words typed, the last one being completed
		want string
	}{
		{"keyward ap", "apikeys"},
		{"keyward apikeys cr", "create"},
		{"keyward apikeys create --perm", "--permission"},
		{"keyward apikeys get key_123 --ser", "--server"},
		{"keyward serve --data", "--data-dir --database-url"},
		{"keyward users de", "deactivate delete"},
		{"keyward help perm", "permissions"},
		{"keyward completion z", "zsh"},
		{"keyward admin r", "reset-password"},
		{"keyward version --x", ""},
	}
	for _, tt := range tests {
		words := strings.Fields(tt.line)
		harness := "source " + file + "\nCOMP_WORDS=(" + strings.Join(words, " ") + ")\nCOMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "\n_keyward\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command(bash, "-c", harness).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tt.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("completing %q: got %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestCompletionShells(t *testing.T) {
	for _, sh := range []string{"zsh", "fish"} {
		code, out, _ := runCaptured(t, "completion", sh)
		if code != exitOK || !strings.Contains(out, "reset-password") || !strings.Contains(out, "database-url") {
			t.Errorf("completion %s: exit %d, output lacks commands or flags:\n%.300s", sh, code, out)
		}
	}
	if code, _, _ := runCaptured(t, "completion", "tcsh"); code != exitUsage {
		t.Errorf("completion tcsh: got exit %d, want 2", code)
	}
}
