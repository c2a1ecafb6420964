// Package dialecttest starts a real keyward server (native API plus the
// dialects under test) on loopback over a fresh database, for the dialects'
// tests.
package dialecttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/wire/wiretest"
)

// AdminPassword is the password of the bootstrapped "admin".
const AdminPassword = "dialect-admin-password"

// Server is a running keyward with an admin login token.
type Server struct {
	URL   string
	Svc   *keyward.Service
	Host  dialect.Host // the native API the dialects are mounted beside
	Admin string
	Clock *wiretest.Clock // the Service's
	t     testing.TB
}

// Start runs keyward over db with the dialects that mount adds.
func Start(t testing.TB, db *sqlstore.DB, mount ...func(mux *http.ServeMux, svc *keyward.Service, host dialect.Host)) *Server {
	t.Helper()
	return StartWith(t, db, nil, mount...)
}

// StartWith is Start with the Service's configuration changed by config
// (e.g. a failed-authentication limit).
func StartWith(t testing.TB, db *sqlstore.DB, config func(*keyward.Config), mount ...func(mux *http.ServeMux, svc *keyward.Service, host dialect.Host)) *Server {
	t.Helper()
	w := wiretest.Start(t, db, wiretest.Options{Config: config, AdminPassword: AdminPassword,
		Mount: func(api *httpapi.Server, svc *keyward.Service) {
			for _, m := range mount {
				m(api.Mux(), svc, api)
			}
		}})
	return &Server{URL: w.URL, Svc: w.Svc, Host: w.API, Admin: w.Admin, Clock: w.Clock, t: t}
}

// Response is an HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Raw sends body (JSON-encoded unless it is a string or nil) with the
// given Authorization value and headers (name, value pairs).
func (s *Server) Raw(method, path, auth string, body any, header ...string) Response {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewReader([]byte(b))
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Do sends JSON with a bearer token, fails unless the status is want, and
// decodes the answer into out.
func (s *Server) Do(method, path, token string, in any, want int, out any) Response {
	s.t.Helper()
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	res := s.Raw(method, path, auth, in)
	if res.Status != want {
		s.t.Fatalf("%s %s: got %d, want %d: %s", method, path, res.Status, want, res.Body)
	}
	if out != nil {
		if err := json.Unmarshal(res.Body, out); err != nil {
			s.t.Fatalf("%s %s: decoding %s: %v", method, path, res.Body, err)
		}
	}
	return res
}

// RunNode runs a script of the npm harness in test/node (from a dialect's
// package directory) with args, and decodes the JSON it prints into out.
// Without node or the harness's packages it skips, unless
// KEYWARD_TEST_NODE is set (as in CI): then it fails.
func RunNode(t *testing.T, script string, out any, args ...string) {
	t.Helper()
	dir, err := filepath.Abs("../../../test/node")
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "axios"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("KEYWARD_TEST_NODE") != "" {
			t.Fatalf("KEYWARD_TEST_NODE is set but node or test/node/node_modules is missing (npm ci in test/node): %v %v", nodeErr, modErr)
		}
		t.Skip("node or test/node/node_modules missing (npm ci in test/node): skipping the npm client replay")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v: %s", script, err, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("node %s printed %s: %v", script, b, err)
	}
}
