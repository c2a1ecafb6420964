package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/console"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/dialect/piercloud"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// fullServer is keyward as "keyward serve" wires it: the native API, every
// dialect and the console, over db, with the database's nonce store.
func fullServer(t testing.TB, db *sqlstore.DB, configure ...func(*keyward.Config)) *server {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := httptest.NewUnstartedServer(nil)
	cfg := keyward.Config{Store: db, MasterKey: secret.RandomBytes(32), Logger: logger, NonceStore: db.NonceStore(nil),
		PublicURL: "http://" + ts.Listener.Addr().String()}
	for _, f := range configure {
		f(&cfg)
	}
	svc, err := keyward.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.Bootstrap(context.Background(), adminPassword); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(svc, logger, nil)
	for _, mount := range []func(*http.ServeMux, *keyward.Service, dialect.Host){carbonext.Mount, freesewing.Mount, piercloud.Mount, portos.Mount} {
		mount(api.Mux(), svc, api)
	}
	console.Mount(api.Mux(), svc, logger)
	ts.Config.Handler = api
	ts.Config.MaxHeaderBytes = 64 << 10
	ts.Start()
	t.Cleanup(ts.Close)
	s := &server{t: t, URL: ts.URL, svc: svc, logs: logs}
	s.admin = s.login("", "admin", adminPassword)
	return s
}

// backends runs fn on a full server over SQLite and, when configured,
// PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Helper()
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) { fn(t, fullServer(t, db)) })
}

// problemField reports whether body is a problem (or a dialect's error
// shape, when native is false) naming field.
func problemField(body []byte, field string) bool {
	var p httpapi.Problem
	if json.Unmarshal(body, &p) != nil {
		return false
	}
	for _, f := range p.Errors {
		if f.Field == field {
			return true
		}
	}
	return strings.Contains(p.Detail, field)
}

// TestPageNumbersBounded: a page number whose offset would overflow is a
// 400 naming the page on every list, not page 1 under another label or a
// 500 (issue 12 #5).
func TestPageNumbersBounded(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		tests := []struct {
			path, field string
		}{
			{"/v1/apikeys?page=4611686018427387904", "page"},
			{"/v1/apikeys?page=10000001", "page"},
			{"/v1/users?page=4611686018427387904", "page"},
			{"/v1/audit?page=4611686018427387904", "page"},
			{"/v1/tenants?page=4611686018427387904", "page"},
			{"/v1/customers/applications?page=4611686018427387904", "page"},
			{"/apikeys?$skip=9223372036854775807", "$skip"},
		}
		for _, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				res := s.raw("GET", tt.path, "Bearer "+s.admin, nil)
				if res.Status != 400 || !problemField(res.Body, tt.field) {
					t.Errorf("got %d %s, want 400 naming %s", res.Status, res.Body, tt.field)
				}
			})
		}
		res := s.raw("GET", "/v1/apikeys?page=10000000", "Bearer "+s.admin, nil)
		if res.Status != 200 {
			t.Errorf("the last allowed page: got %d %s, want 200", res.Status, res.Body)
		}
	})
}

// TestSecretInPathNotLogged: a secret a client puts in a URL path never
// reaches the log, on any surface (issue 12 #8).
func TestSecretInPathNotLogged(t *testing.T) {
	backends(t, func(t *testing.T, s *server) {
		var k keyward.IssuedKey
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": "pasted"}, 201, &k)
		typo := k.ClientSecret[:len(k.ClientSecret)-1] + "0"
		for _, path := range []string{
			"/v1/apikeys/" + k.ClientSecret,
			"/v1/apikeys/" + typo + "/rotate",
			"/apikeys/" + k.ClientSecret,
			"/v1/customers/applications/" + k.ClientSecret,
			"/console/keys/" + k.ClientSecret,
			"/nowhere/" + k.ClientSecret,
		} {
			s.raw("GET", path, "Bearer "+s.admin, nil)
			s.raw("POST", path, "Bearer "+s.admin, strings.NewReader("{}"))
		}
		logs := s.logs.String()
		if !strings.Contains(logs, "[redacted]") {
			t.Fatalf("the log holds no redacted path: %s", logs)
		}
		for _, sec := range []string{k.ClientSecret, typo} {
			if strings.Contains(logs, sec[6:]) {
				t.Errorf("the log holds a secret (%.10s...)", sec)
			}
		}
	})
}
