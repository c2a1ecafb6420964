package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolveBuild(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name                  string
		bi                    *debug.BuildInfo
		ldVersion, ldRev, ldT string
		want                  buildInfo
	}{
		{"no build information", nil, "", "", "",
			buildInfo{Version: "dev", Revision: "unknown", GoVersion: runtime.Version()}},
		{"go install of a tag", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}}, "", "", "",
			buildInfo{Version: "v1.4.0", Revision: "unknown", GoVersion: "go1.26.0"}},
		{"a build in a checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "3f2a9c1", "vcs.time", "2026-11-27T18:00:00Z", "vcs.modified", "false")}, "", "", "",
			buildInfo{Version: "dev", Revision: "3f2a9c1", Time: "2026-11-27T18:00:00Z", GoVersion: "go1.26.0"}},
		{"a modified checkout", &debug.BuildInfo{GoVersion: "go1.26.0",
			Settings: vcs("vcs.revision", "3f2a9c1", "vcs.modified", "true")}, "", "", "",
			buildInfo{Version: "dev", Revision: "3f2a9c1-dirty", GoVersion: "go1.26.0"}},
		{"-ldflags win", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-2026"},
			Settings: vcs("vcs.revision", "3f2a9c1", "vcs.time", "2026-11-27T18:00:00Z")}, "v1.5.0", "abcdef0", "2026-12-01T00:00:00Z",
			buildInfo{Version: "v1.5.0", Revision: "abcdef0", Time: "2026-12-01T00:00:00Z", GoVersion: "go1.26.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolveBuild(tt.bi, tt.ldVersion, tt.ldRev, tt.ldT); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBuildInfoString(t *testing.T) {
	tests := []struct {
		b    buildInfo
		want string
	}{
		{buildInfo{Version: "dev", Revision: "unknown", GoVersion: "go1.26.0"}, "keyward dev (revision unknown, go1.26.0)"},
		{buildInfo{Version: "v1.5.0", Revision: "abcdef0", Time: "2026-12-01T00:00:00Z", GoVersion: "go1.26.0"},
			"keyward v1.5.0 (revision abcdef0, 2026-12-01T00:00:00Z, go1.26.0)"},
	}
	for _, tt := range tests {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		t.Run(arg, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{arg}, func(string) string { return "" }, nil, &stdout, &stderr)
			if want := currentBuild().String() + "\n"; code != exitOK || stdout.String() != want {
				t.Errorf("got exit %d, stdout %q; want %d and %q", code, stdout.String(), exitOK, want)
			}
		})
	}
}

func TestMetricsBuildInfo(t *testing.T) {
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "metrics-password"}, "--data-dir", t.TempDir())
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	b := currentBuild()
	want := `keyward_build_info{goversion="` + b.GoVersion + `",revision="` + b.Revision + `",version="` + b.Version + `"} 1`
	if !strings.Contains(string(body), want+"\n") {
		t.Errorf("GET /metrics: got no line %q in\n%s", want, body)
	}
}

func TestHealthzURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz"},
		{":9000", "http://127.0.0.1:9000/healthz"},
		{"[::]:8080", "http://127.0.0.1:8080/healthz"},
		{"10.1.2.3:8080", "http://10.1.2.3:8080/healthz"},
		{"[::1]:8080", "http://[::1]:8080/healthz"},
		{"keys.internal:8080", "http://keys.internal:8080/healthz"},
	}
	for _, tt := range tests {
		got, err := healthzURL(tt.addr)
		if err != nil || got != tt.want {
			t.Errorf("healthzURL(%q): got %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}

func TestHealthcheckCommand(t *testing.T) {
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "health-password"}, "--data-dir", t.TempDir())
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	addr := strings.TrimPrefix(s.URL, "http://")
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		want       int
		wantStderr string
	}{
		{"a running server", nil, []string{"--url", s.URL + "/healthz"}, exitOK, ""},
		{"the address from KEYWARD_ADDR", map[string]string{"KEYWARD_ADDR": addr}, nil, exitOK, ""},
		{"not 200", nil, []string{"--url", failing.URL + "/healthz"}, exitError, "503"},
		{"nothing listening", nil, []string{"--url", dead.URL + "/healthz"}, exitError, "connection refused"},
		{"a bad KEYWARD_ADDR", map[string]string{"KEYWARD_ADDR": "no-port"}, nil, exitUsage, "KEYWARD_ADDR"},
		{"an argument", nil, []string{"extra"}, exitUsage, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"healthcheck"}, tt.args...), func(k string) string { return tt.env[k] }, nil, &stdout, &stderr)
			if code != tt.want || !strings.Contains(stderr.String(), tt.wantStderr) || (tt.wantStderr == "" && stderr.Len() > 0) {
				t.Errorf("got exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.want, tt.wantStderr)
			}
		})
	}
}
