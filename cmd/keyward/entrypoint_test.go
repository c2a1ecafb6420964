package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestContainerEntrypoint runs the binary deploy/build.sh makes the way the
// Dockerfile does: "keyward serve" with no flags, KEYWARD_ADDR=0.0.0.0:… and
// KEYWARD_DATA_DIR set, the HEALTHCHECK's "keyward healthcheck" with no
// flags, and SIGTERM to stop (docker stop).
func TestContainerEntrypoint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and signals a real binary: skipped in -short mode")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "keyward")
	build := exec.Command("bash", "../../deploy/build.sh", bin)
	build.Env = append(os.Environ(), "VERSION=v9.9.9-entrypoint", "REVISION=entrypoint", "BUILD_TIME=2026-11-27T00:00:00Z")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build.sh: %v\n%s", err, out)
	}
	data, cwd := filepath.Join(dir, "data"), filepath.Join(dir, "cwd")
	os.Mkdir(cwd, 0o755)
	baseEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}

	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "keyward v9.9.9-entrypoint (revision entrypoint, 2026-11-27T00:00:00Z, go") {
		t.Errorf("keyward version: got %q, %v; want the -ldflags version, revision and time", out, err)
	}

	serve := exec.Command(bin, "serve")
	serve.Dir = cwd
	serve.Env = append(baseEnv, "KEYWARD_ADDR=0.0.0.0:0", "KEYWARD_DATA_DIR="+data, "KEYWARD_ADMIN_PASSWORD=entrypoint-password")
	var stderr lockedBuffer
	serve.Stderr = &stderr
	out, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		select {
		case <-exited:
		default:
			serve.Process.Kill()
		}
	}()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "keyward listening on "); ok {
				urls <- u
			}
		}
		exited <- serve.Wait()
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-exited:
		t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", stderr.String())
	}
	// Go reports a listener on 0.0.0.0 as [::] where IPv6 is available.
	host, port, err := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	if a, perr := netip.ParseAddr(host); err != nil || perr != nil || !a.IsUnspecified() {
		t.Fatalf("got listening on %s, want every address, http://0.0.0.0:<port> (KEYWARD_ADDR)", url)
	}

	healthcheck := func() (int, string) {
		cmd := exec.Command(bin, "healthcheck")
		cmd.Env = append(baseEnv, "KEYWARD_ADDR=0.0.0.0:"+port)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), errOut.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, errOut.String()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, msg := healthcheck()
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keyward healthcheck against the running server: exit %d: %s", code, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, tt := range []struct {
		path string
		want bool
	}{
		{filepath.Join(data, "master.key"), true},
		{filepath.Join(cwd, "keyward-data"), false},
	} {
		if _, err := os.Stat(tt.path); (err == nil) != tt.want {
			t.Errorf("%s: got exists %v, want %v (the data directory comes from KEYWARD_DATA_DIR)", tt.path, err == nil, tt.want)
		}
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM: got %v, want exit 0\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("the log does not say it drained on SIGTERM:\n%s", stderr.String())
	}
	if code, _ := healthcheck(); code != exitError {
		t.Errorf("keyward healthcheck with the server stopped: got exit %d, want %d", code, exitError)
	}
}
