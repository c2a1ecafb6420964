package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// capturedNWS4 is an NWS4-signed request as an eavesdropper keeps it:
// send builds it again, byte for byte, aimed at base (the same authority
// it was signed for).
type capturedNWS4 struct {
	t                  *testing.T
	method, url, host  string
	body               []byte
	header, auth, date string
}

func captureNWS4(t *testing.T, s *server, method, path string, body []byte, k keyward.IssuedKey) *capturedNWS4 {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	nws4(t, req, body, k.ClientID, k.ClientSecret, time.Now())
	return &capturedNWS4{t: t, method: method, url: s.URL + path, host: req.Host, body: body,
		header: req.Header.Get("X-Nd-Content-Sha256"), auth: req.Header.Get("Authorization"), date: req.Header.Get("X-Nd-Date")}
}

// send sends the captured request to base (default: where it was
// captured) and returns the status and body.
func (c *capturedNWS4) send(base string) (int, []byte) {
	c.t.Helper()
	u := c.url
	if base != "" {
		orig, _ := url.Parse(c.url)
		b, _ := url.Parse(base)
		orig.Host = b.Host
		u = orig.String()
	}
	req, err := http.NewRequest(c.method, u, bytes.NewReader(c.body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = c.host
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Nd-Content-Sha256", c.header)
	req.Header.Set("X-Nd-Date", c.date)
	req.Header.Set("Authorization", c.auth)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func problemCode(b []byte) string {
	var p struct{ Code string }
	json.Unmarshal(b, &p)
	return p.Code
}

// nws4Server is a server with the Portos dialect whose replay guard is
// the database's (what keyward serve uses).
func nws4Server(t *testing.T, db *sqlstore.DB, master []byte) *server {
	return newServerWith(t, db, []func(*http.ServeMux, *keyward.Service, dialect.Host){portos.Mount}, func(c *keyward.Config) {
		c.MasterKey, c.NonceStore, c.Changes = master, db.NonceStore(nil), db.ChangeFeed()
	})
}

// TestNWS4ReplayRefused (attack finding M4): NWS4 has no nonce, so an
// NWS4 signature is spent as one. A captured request that changes state or
// hands out a secret is refused when replayed within the 150 s window —
// answered as keyward-v1 answers a replay (401 replay_detected) — and acts
// once. A replayed read that reveals nothing is answered again.
func TestNWS4ReplayRefused(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := nws4Server(t, db, secret.RandomBytes(32))
		k := s.newKey(map[string]any{"name": "portos client", "hmacEnabled": true, "level": 8})
		target := s.newKey(map[string]any{"name": "target", "hmacEnabled": true})
		var who keyward.WhoAmI
		s.do("GET", "/v1/whoami", s.admin, nil, 200, &who)

		count := func(name string) int {
			var l struct{ TotalCount int }
			s.do("GET", "/v1/apikeys?q="+url.QueryEscape(name), s.admin, nil, 200, &l)
			return l.TotalCount
		}
		version := func(id string) int {
			var got keyward.APIKey
			s.do("GET", "/v1/apikeys/"+id, s.admin, nil, 200, &got)
			return got.Version
		}

		// Native create: once.
		create := captureNWS4(t, s, "POST", "/v1/apikeys", []byte(`{"name":"replayed create"}`), k)
		if code, b := create.send(""); code != 201 {
			t.Fatalf("signed create: got %d %s", code, b)
		}
		if code, b := create.send(""); code != 401 || problemCode(b) != keyward.EREPLAY {
			t.Errorf("replayed create: got %d %s, want 401 %s", code, b, keyward.EREPLAY)
		}
		if n := count("replayed create"); n != 1 {
			t.Errorf("keys made by a create and its replay: got %d, want 1", n)
		}

		// The same signature spelled in capitals is the same signature.
		upper := captureNWS4(t, s, "POST", "/v1/apikeys", []byte(`{"name":"spelled twice"}`), k)
		if code, b := upper.send(""); code != 201 {
			t.Fatalf("signed create: got %d %s", code, b)
		}
		i := strings.LastIndex(upper.auth, "Signature%3D") + len("Signature%3D")
		upper.auth = upper.auth[:i] + strings.ToUpper(upper.auth[i:])
		if code, b := upper.send(""); code != 401 || problemCode(b) != keyward.EREPLAY {
			t.Errorf("replay with the signature in capitals: got %d %s, want 401 %s", code, b, keyward.EREPLAY)
		}

		// Native rotate: once.
		v := version(target.ID)
		rotate := captureNWS4(t, s, "POST", "/v1/apikeys/"+target.ID+"/rotate", []byte(`{}`), k)
		if code, b := rotate.send(""); code != 200 {
			t.Fatalf("signed rotate: got %d %s", code, b)
		}
		if code, b := rotate.send(""); code != 401 || problemCode(b) != keyward.EREPLAY {
			t.Errorf("replayed rotate: got %d %s, want 401 %s", code, b, keyward.EREPLAY)
		}
		if got := version(target.ID); got != v+1 {
			t.Errorf("version after a rotate and its replay: got %d, want %d", got, v+1)
		}

		// Portos create: once, answered as Portos answers a bad signature.
		pcreate := captureNWS4(t, s, "POST", "/apikeys", []byte(`{"name":"portos replayed","isActive":true}`), k)
		if code, b := pcreate.send(""); code != 201 {
			t.Fatalf("signed Portos create: got %d %s", code, b)
		}
		code, b := pcreate.send("")
		var pp struct {
			Status int `json:"status"`
		}
		json.Unmarshal(b, &pp)
		if code != 401 || pp.Status != 401 {
			t.Errorf("replayed Portos create: got %d %s, want 401 {title, status}", code, b)
		}
		if n := count("portos replayed"); n != 1 {
			t.Errorf("keys made by a Portos create and its replay: got %d, want 1", n)
		}

		// A read that reveals nothing may be repeated within the window.
		whoami := captureNWS4(t, s, "GET", "/v1/whoami", nil, k)
		for i := range 2 {
			if code, b := whoami.send(""); code != 200 {
				t.Errorf("signed GET /v1/whoami, time %d: got %d %s, want 200", i+1, code, b)
			}
		}
		get := captureNWS4(t, s, "GET", "/apikeys/"+target.ID, nil, k)
		for i := range 2 {
			if code, b := get.send(""); code != 200 || strings.Contains(string(b), "clientSecret") {
				t.Errorf("Portos GET without readable secrets, time %d: got %d %s, want 200 without a secret", i+1, code, b)
			}
		}

		// A read that hands out a secret does so once.
		s.do("PATCH", "/v1/tenants/"+who.TenantID, s.admin, map[string]any{"portosReadableSecrets": true}, 200, nil)
		read := captureNWS4(t, s, "GET", "/apikeys/"+target.ID, nil, k)
		if code, b := read.send(""); code != 200 || !strings.Contains(string(b), `"clientSecret"`) {
			t.Fatalf("Portos GET with readable secrets: got %d %s, want 200 with the secret", code, b)
		}
		if code, b := read.send(""); code != 401 || strings.Contains(string(b), "_sk_") {
			t.Errorf("replayed Portos GET of a secret: got %d %s, want 401 and no secret", code, b)
		}
		list := captureNWS4(t, s, "GET", "/apikeys", nil, k)
		if code, b := list.send(""); code != 200 || !strings.Contains(string(b), `"clientSecret"`) {
			t.Fatalf("Portos list with readable secrets: got %d %s", code, b)
		}
		if code, b := list.send(""); code != 401 || strings.Contains(string(b), "_sk_") {
			t.Errorf("replayed Portos list of secrets: got %d %s, want 401 and no secret", code, b)
		}
	})
}

// TestNWS4ReplayThroughVerify: a resource server forwarding NWS4-signed
// requests to /v1/signatures/verify gets the same rule — a request that
// may change something verifies once; a read may verify again.
func TestNWS4ReplayThroughVerify(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := nws4Server(t, db, secret.RandomBytes(32))
		k := s.newKey(map[string]any{"name": "portos client", "hmacEnabled": true})
		verifier := s.newKey(map[string]any{"name": "verifier", "permissions": refs("keys:verify")})
		for _, tt := range []struct {
			method string
			body   []byte
			second string
		}{{"POST", []byte(`{"order":1}`), "INVALID_SIGNATURE"}, {"GET", nil, "VALID"}} {
			req, _ := http.NewRequest(tt.method, "https://api.example.com/orders", bytes.NewReader(tt.body))
			nws4(t, req, tt.body, k.ClientID, k.ClientSecret, time.Now())
			forward := map[string]any{"method": tt.method, "authority": "api.example.com", "path": "/orders",
				"headers": map[string]string{"Authorization": req.Header.Get("Authorization"),
					"X-Nd-Date": req.Header.Get("X-Nd-Date"), "X-Nd-Content-Sha256": req.Header.Get("X-Nd-Content-Sha256")},
				"bodySha256": base64.StdEncoding.EncodeToString(sha256Sum(tt.body))}
			for i, want := range []string{"VALID", tt.second} {
				var res struct{ Code, Reason string }
				s.do("POST", "/v1/signatures/verify", verifier.ClientSecret, forward, 200, &res)
				if res.Code != want || (want == "INVALID_SIGNATURE" && res.Reason != keyward.EREPLAY) {
					t.Errorf("%s verified, time %d: got %s %s, want %s", tt.method, i+1, res.Code, res.Reason, want)
				}
			}
		}
	})
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// TestNWS4ReplayAcrossRestartAndReplicas: the spent signatures live in the
// database, so a restart (SQLite) or another replica (PostgreSQL) refuses
// the replay too.
func TestNWS4ReplayAcrossRestartAndReplicas(t *testing.T) {
	for _, backend := range []struct {
		name string
		dsn  func(t testing.TB) string
	}{{"sqlite restart", sqltest.SQLiteDSN}, {"postgres replicas", sqltest.PostgresDSN}} {
		t.Run(backend.name, func(t *testing.T) {
			dsn := backend.dsn(t)
			master := secret.RandomBytes(32)
			first := nws4Server(t, sqltest.Open(t, dsn, true), master)
			k := first.newKey(map[string]any{"name": "portos client", "hmacEnabled": true, "level": 8})
			create := captureNWS4(t, first, "POST", "/v1/apikeys", []byte(`{"name":"once"}`), k)
			rotate := captureNWS4(t, first, "POST", "/v1/apikeys/"+k.ID+"/rotate", []byte(`{"gracePeriodSeconds":60}`), k)
			for _, c := range []*capturedNWS4{create, rotate} {
				if code, b := c.send(""); code != 201 && code != 200 {
					t.Fatalf("%s %s: got %d %s", c.method, c.url, code, b)
				}
			}
			// A second service on the same database: a restarted process,
			// or another replica.
			second := nws4Server(t, sqltest.Open(t, dsn, false), master)
			for _, c := range []*capturedNWS4{create, rotate} {
				if code, b := c.send(second.URL); code != 401 || problemCode(b) != keyward.EREPLAY {
					t.Errorf("%s %s replayed on the second service: got %d %s, want 401 %s", c.method, c.url, code, b, keyward.EREPLAY)
				}
			}
			var l struct{ TotalCount int }
			second.do("GET", "/v1/apikeys?q=once", second.admin, nil, 200, &l)
			if l.TotalCount != 1 {
				t.Errorf("keys made: got %d, want 1", l.TotalCount)
			}
		})
	}
}
