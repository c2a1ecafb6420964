// Package wiretest starts a real keyward HTTP server for tests: the
// Service built by wire over a real database, the native API on loopback,
// whatever dialects or console a test mounts beside it, a bootstrapped
// admin, and a clock the test can move. Every package's test server is
// this one, so they cannot drift apart from each other or from serve.
package wiretest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/wire"
)

// DefaultAdminPassword is the password of the bootstrapped "admin" when
// Options.AdminPassword is empty.
const DefaultAdminPassword = "wiretest-admin-password"

// Clock is the Service's time source in tests. It follows the real clock
// until the test moves it: Add shifts it (an expiry passes without a
// sleep), Set stops it at a given time.
type Clock struct {
	mu     sync.Mutex
	frozen bool
	at     time.Time     // when frozen
	offset time.Duration // added to the real clock otherwise
}

// NewFrozenClock returns a Clock standing at t until Add or Set.
func NewFrozenClock(t time.Time) *Clock { return &Clock{frozen: true, at: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.at
	}
	return time.Now().Add(c.offset)
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
	c.offset += d
}

// Set stops the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen, c.at = true, t
}

// Options change the server Start runs; the zero value is the native API
// over the database with an in-memory nonce store and no logs.
type Options struct {
	// Config changes the Service's configuration before it is built
	// (its Store, MasterKey, PublicURL and Now are set already).
	Config func(*keyward.Config)
	// Logger receives the Service's and the API's logs.
	Logger *slog.Logger
	// Clock is the Service's clock; by default a new one that follows the
	// real clock.
	Clock *Clock
	// AdminPassword is the bootstrapped admin's (DefaultAdminPassword
	// when empty).
	AdminPassword string
	// Mount adds to the API what a test needs beside it: dialects, the
	// console, trusted proxies.
	Mount func(api *httpapi.Server, svc *keyward.Service)
	// Handler wraps the API as the listeners serve it.
	Handler func(api http.Handler) http.Handler
	// Server changes the HTTP server before it starts (e.g. its limits).
	Server func(*http.Server)
	// Listeners are the addresses served (the first is the public URL);
	// by default one on 127.0.0.1:0.
	Listeners []net.Listener
	// TLS serves HTTPS (with httptest's certificate).
	TLS bool
}

// Server is a running keyward.
type Server struct {
	URL   string   // of the first listener
	URLs  []string // of every listener, in the order of Options.Listeners
	Svc   *keyward.Service
	API   *httpapi.Server
	Clock *Clock
	// Admin is a login token of the bootstrapped admin, got through
	// POST /v1/login.
	Admin string
}

// Start runs keyward over db until t ends.
func Start(t testing.TB, db *sqlstore.DB, o Options) *Server {
	t.Helper()
	if o.Clock == nil {
		o.Clock = &Clock{}
	}
	if o.AdminPassword == "" {
		o.AdminPassword = DefaultAdminPassword
	}
	listeners := o.Listeners
	if len(listeners) == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners = []net.Listener{ln}
	}
	scheme := "http://"
	if o.TLS {
		scheme = "https://"
	}
	cfg := keyward.Config{Store: db, MasterKey: secret.RandomBytes(32), Logger: o.Logger, Now: o.Clock.Now,
		PublicURL: scheme + listeners[0].Addr().String()}
	if o.Config != nil {
		o.Config(&cfg)
	}
	svc, err := wire.NewService(cfg)
	if err != nil {
		for _, ln := range listeners {
			ln.Close()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.Bootstrap(context.Background(), o.AdminPassword); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(svc, o.Logger, nil)
	if o.Mount != nil {
		o.Mount(api, svc)
	}
	var h http.Handler = api
	if o.Handler != nil {
		h = o.Handler(api)
	}
	s := &Server{Svc: svc, API: api, Clock: o.Clock}
	for _, ln := range listeners {
		ts := httptest.NewUnstartedServer(h)
		ts.Listener.Close()
		ts.Listener = ln
		if o.Server != nil {
			o.Server(ts.Config)
		}
		if o.TLS {
			ts.StartTLS()
		} else {
			ts.Start()
		}
		t.Cleanup(ts.Close)
		s.URLs = append(s.URLs, ts.URL)
	}
	s.URL = s.URLs[0]
	s.Admin = Login(t, s.URL, "", "admin", o.AdminPassword)
	return s
}

// Login signs a user in through POST /v1/login at base and returns the
// access token; it fails t unless the answer is 200.
func Login(t testing.TB, base, tenant, user, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"userName": user, "password": password, "tenant": tenant})
	client := http.DefaultClient
	if strings.HasPrefix(base, "https://") {
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}}
	}
	res, err := client.Post(base+"/v1/login", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out keyward.LoginResult
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/login as %s: status %d (%v)", user, res.StatusCode, err)
	}
	return out.AccessToken
}

// insecureTLS trusts any certificate: httptest's, of a server the test
// started itself.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
