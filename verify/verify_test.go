package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signature"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/wire"
	"github.com/keyward/keyward/verify"
)

// keywardServer runs a real keyward on loopback over SQLite in dir and
// returns its URL and an admin login token.
func keywardServer(dir string) (url string, admin string, stop func(), err error) {
	return keywardServerWith(dir, keyward.Config{})
}

// keywardServerWith is keywardServer with cfg's token algorithm.
func keywardServerWith(dir string, cfg keyward.Config) (url string, admin string, stop func(), err error) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(dir, "keyward.db"))
	if err != nil {
		return "", "", nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		return "", "", nil, err
	}
	ts := httptest.NewUnstartedServer(nil)
	svc, err := wire.NewService(keyward.Config{Store: db, MasterKey: secret.RandomBytes(32), PublicURL: "http://" + ts.Listener.Addr().String(),
		TokenAlgorithm: cfg.TokenAlgorithm})
	if err != nil {
		return "", "", nil, err
	}
	if _, err := svc.Bootstrap(ctx, "example-password"); err != nil {
		return "", "", nil, err
	}
	ts.Config.Handler = httpapi.New(svc, nil, nil)
	ts.Start()
	res, err := svc.Login(ctx, "", "admin", "example-password")
	if err != nil {
		return "", "", nil, err
	}
	return ts.URL, res.AccessToken, func() { ts.Close(); svc.Close(); db.Close() }, nil
}

func call(method, u, auth string, body any, out any) (int, error) {
	var r io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		r, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, u, r)
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode, nil
}

func basic(id, sec string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+sec))
}

// Example protects a route of a resource server with keyward access tokens.
func Example() {
	dir, _ := os.MkdirTemp("", "keyward-example")
	defer os.RemoveAll(dir)
	keywardURL, admin, stop, err := keywardServer(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	// In keyward: a permission for our API and a client holding it.
	call("POST", keywardURL+"/v1/permissions", "Bearer "+admin, map[string]any{"name": "orders_read"}, nil)
	var client struct{ ClientID, ClientSecret, TenantID string }
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{
		"name": "shop", "permissions": []map[string]string{{"name": "orders_read"}}}, &client)

	// The resource server: a route of our tenant that needs orders_read.
	v := verify.New(verify.Config{Issuer: keywardURL, Tenant: client.TenantID})
	mux := http.NewServeMux()
	mux.Handle("GET /orders", v.Require("orders_read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := verify.FromContext(r.Context())
		fmt.Fprintf(w, "orders for %s", p.ClientID[:6])
	})))
	api := httptest.NewServer(mux)
	defer api.Close()

	// The client gets a token (client credentials) and calls the API.
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	call("POST", keywardURL+"/oauth2/token", basic(client.ClientID, client.ClientSecret),
		url.Values{"grant_type": {"client_credentials"}, "scope": {"orders_read"}}, &tok)
	req, _ := http.NewRequest("GET", api.URL+"/orders", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, _ := http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))

	res, _ = http.Get(api.URL + "/orders")
	fmt.Println(res.StatusCode, res.Header.Get("WWW-Authenticate"))
	res.Body.Close()
	// Output:
	// 200 orders for kw_id_
	// 401 Bearer error="invalid_token", scope="orders_read"
}

// countingTransport counts JWKS fetches.
type countingTransport struct{ jwks atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/jwks.json") {
		c.jwks.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestRequire(t *testing.T) {
	keywardURL, admin, stop, err := keywardServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, p := range []string{"orders_read", "orders_write"} {
		call("POST", keywardURL+"/v1/permissions", "Bearer "+admin, map[string]any{"name": p}, nil)
	}
	newKey := func(perms ...string) (id, sec string) {
		refs := []map[string]string{}
		for _, p := range perms {
			refs = append(refs, map[string]string{"name": p})
		}
		var k struct{ ClientID, ClientSecret string }
		if code, err := call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "k", "permissions": refs}, &k); code != 201 {
			t.Fatalf("create key: %d %v", code, err)
		}
		return k.ClientID, k.ClientSecret
	}
	token := func(id, sec string) string {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		call("POST", keywardURL+"/oauth2/token", basic(id, sec), url.Values{"grant_type": {"client_credentials"}}, &tok)
		return tok.AccessToken
	}
	_, verifierSecret := newKey("keys:verify")
	readerID, readerSecret := newKey("orders_read")
	writerID, writerSecret := newKey("orders_write")

	ct := &countingTransport{}
	v := verify.New(verify.Config{Issuer: keywardURL, VerifierSecret: verifierSecret, HTTPClient: &http.Client{Transport: ct}})
	h := v.Require("orders_read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := verify.FromContext(r.Context())
		if !ok {
			t.Error("no principal in the context")
		}
		fmt.Fprint(w, p.Kind+" "+p.ClientID)
	}))
	forged := strings.Split(token(readerID, readerSecret), ".")
	forged[2] = forged[2][:len(forged[2])-4] + "AAAA"

	tests := []struct {
		name       string
		header     []string
		wantStatus int
		wantBody   string
	}{
		{"token with scope", []string{"Authorization", "Bearer " + token(readerID, readerSecret)}, 200, "token " + readerID},
		{"token without scope", []string{"Authorization", "Bearer " + token(writerID, writerSecret)}, 403, ""},
		{"forged token", []string{"Authorization", "Bearer " + strings.Join(forged, ".")}, 401, ""},
		{"plain key bearer", []string{"Authorization", "Bearer " + readerSecret}, 200, "apikey " + readerID},
		{"plain key header", []string{"X-API-Key", readerSecret}, 200, "apikey " + readerID},
		{"plain key lacking permission", []string{"X-API-Key", writerSecret}, 403, ""},
		{"unknown key", []string{"X-API-Key", secret.NewSecret("kw")}, 401, ""},
		{"no credentials", nil, 401, ""},
		{"basic is not accepted", []string{"Authorization", basic(readerID, readerSecret)}, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/orders", nil)
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || (tt.wantBody != "" && rec.Body.String() != tt.wantBody) {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if rec.Code == 401 && !strings.Contains(rec.Header().Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("401 without WWW-Authenticate invalid_token")
			}
		})
	}
	if n := ct.jwks.Load(); n != 1 {
		t.Errorf("fetched the JWKS %d times, want once (cached, refetch bounded)", n)
	}

	// A key over its rate limit gets 429 with Retry-After.
	var limited struct{ ClientID, ClientSecret string }
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "limited", "rateLimit": map[string]int{"limit": 1, "windowSeconds": 86400},
		"permissions": []map[string]string{{"name": "orders_read"}}}, &limited)
	for i, want := range []int{200, 429} {
		req := httptest.NewRequest("GET", "/orders", nil)
		req.Header.Set("X-API-Key", limited.ClientSecret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want || (want == 429 && (rec.Header().Get("Retry-After") == "" || rec.Header().Get("RateLimit-Remaining") != "0")) {
			t.Errorf("rate-limited key, request %d: got %d (Retry-After %q), want %d", i+1, rec.Code, rec.Header().Get("Retry-After"), want)
		}
	}

	// A key whose usage credits are spent gets 429 with Retry-After until
	// the refill (at most a day away, at 00:00 UTC).
	var metered struct{ ClientID, ClientSecret string }
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "metered",
		"credits":     map[string]any{"remaining": 2, "refill": map[string]any{"amount": 2, "interval": "daily"}},
		"permissions": []map[string]string{{"name": "orders_read"}}}, &metered)
	for i, want := range []int{200, 200, 429} {
		req := httptest.NewRequest("GET", "/orders", nil)
		req.Header.Set("X-API-Key", metered.ClientSecret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		retry, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
		if rec.Code != want || (want == 429 && (retry < 1 || retry > 86400)) {
			t.Errorf("metered key, request %d: got %d (Retry-After %q), want %d", i+1, rec.Code, rec.Header().Get("Retry-After"), want)
		}
	}

	// Signed requests are forwarded to keyward; a replay is refused.
	var signer struct{ ClientID, ClientSecret string }
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "signer", "hmacEnabled": true,
		"permissions": []map[string]string{{"name": "orders_read"}}}, &signer)
	sreq := httptest.NewRequest("POST", "http://api.example.com/orders?page=1", strings.NewReader(`{"n":1}`))
	sreq.Header.Set("Content-Type", "application/json")
	if err := signature.SignKeywardV1(sreq, signer.ClientID, []byte(signer.ClientSecret), time.Now(), time.Minute, "abcdefghijklmnopqrstuvwxyz0123"); err != nil {
		t.Fatal(err)
	}
	replay := sreq.Clone(context.Background())
	replay.Body = io.NopCloser(strings.NewReader(`{"n":1}`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, sreq)
	if rec.Code != 200 || rec.Body.String() != "apikey "+signer.ClientID {
		t.Errorf("a signed request: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, replay)
	if rec.Code != 401 {
		t.Errorf("its replay: %d, want 401", rec.Code)
	}
	// Tokens naming unknown key ids do not refetch within the interval.
	for i := range 5 {
		parts := strings.Split(token(readerID, readerSecret), ".")
		hdr, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "at+jwt", "kid": fmt.Sprint("unknown-", i)})
		parts[0] = base64.RawURLEncoding.EncodeToString(hdr)
		if _, err := v.VerifyToken(context.Background(), strings.Join(parts, ".")); err == nil {
			t.Fatal("a token with an unknown kid verified")
		}
	}
	if n := ct.jwks.Load(); n != 1 {
		t.Errorf("unknown kids fetched the JWKS %d times in all, want no refetch within MinRefreshInterval", n)
	}
}

// TestTokensOfAnotherTenantAreRefused: every tenant's tokens share keyward's
// issuer, audience and signing keys, so a resource server must refuse the
// tokens (and keys) of tenants other than its own, offline and online.
func TestTokensOfAnotherTenantAreRefused(t *testing.T) {
	keywardURL, admin, stop, err := keywardServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	newKey := func(tenant string, perms ...string) (id, sec, tenantID string) {
		refs := []map[string]string{}
		for _, p := range perms {
			refs = append(refs, map[string]string{"name": p})
		}
		var k struct{ ClientID, ClientSecret, TenantID string }
		if code, err := call("POST", keywardURL+"/v1/apikeys?tenant="+tenant, "Bearer "+admin, map[string]any{"name": "k", "permissions": refs}, &k); code != 201 {
			t.Fatalf("create key in %q: %d %v", tenant, code, err)
		}
		return k.ClientID, k.ClientSecret, k.TenantID
	}
	token := func(id, sec string) string {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		call("POST", keywardURL+"/oauth2/token", basic(id, sec), url.Values{"grant_type": {"client_credentials"}}, &tok)
		return tok.AccessToken
	}
	if code, _ := call("POST", keywardURL+"/v1/tenants", "Bearer "+admin, map[string]any{"name": "beta"}, nil); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	for _, tenant := range []string{"", "beta"} { // the same permission name in both
		if code, _ := call("POST", keywardURL+"/v1/permissions?tenant="+tenant, "Bearer "+admin, map[string]any{"name": "orders_read"}, nil); code != 201 {
			t.Fatalf("create permission in %q: %d", tenant, code)
		}
	}
	_, verifierSecret, ownTenant := newKey("", "keys:verify")
	ownID, ownSecret, _ := newKey("", "orders_read")
	betaID, betaSecret, betaTenant := newKey("beta", "orders_read")
	if ownTenant == betaTenant {
		t.Fatal("both keys in one tenant")
	}
	ownToken, betaToken := token(ownID, ownSecret), token(betaID, betaSecret)

	for _, cfg := range []struct {
		name string
		cfg  verify.Config
	}{
		{"tenant learned from the verifier key", verify.Config{Issuer: keywardURL, VerifierSecret: verifierSecret}},
		{"tenant configured, offline only", verify.Config{Issuer: keywardURL, Tenant: ownTenant}},
		{"tenant configured and verifier key", verify.Config{Issuer: keywardURL, Tenant: ownTenant, VerifierSecret: verifierSecret}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			h := verify.New(cfg.cfg).Require("orders_read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			tests := []struct {
				name, auth string
				want       int
			}{
				{"own tenant's token", "Bearer " + ownToken, 200},
				{"other tenant's token", "Bearer " + betaToken, 401},
				{"other tenant's key", "Bearer " + betaSecret, 401},
			}
			for _, tt := range tests {
				req := httptest.NewRequest("GET", "/orders", nil)
				req.Header.Set("Authorization", tt.auth)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tt.want {
					t.Errorf("%s: got %d, want %d", tt.name, rec.Code, tt.want)
				}
			}
		})
	}
	// Without a tenant to serve, tokens are not guessed at: refused.
	h := verify.New(verify.Config{Issuer: keywardURL}).Require("orders_read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest("GET", "/orders", nil)
	req.Header.Set("Authorization", "Bearer "+ownToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == 200 {
		t.Errorf("a verifier without a tenant accepted a token: got %d", rec.Code)
	}
}

// TestTokenAlgorithms: tokens signed EdDSA, ES256 and RS256 verify offline
// against the JWKS; one whose header names another algorithm than its key
// does not.
func TestTokenAlgorithms(t *testing.T) {
	for _, alg := range []string{keyward.AlgEdDSA, keyward.AlgES256, keyward.AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			keywardURL, admin, stop, err := keywardServerWith(t.TempDir(), keyward.Config{TokenAlgorithm: alg})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			var k struct{ ClientID, ClientSecret string }
			if code, err := call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "k",
				"permissions": []map[string]string{{"name": "keys:verify"}}}, &k); code != 201 {
				t.Fatalf("create key: %d %v", code, err)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			call("POST", keywardURL+"/oauth2/token", basic(k.ClientID, k.ClientSecret), url.Values{"grant_type": {"client_credentials"}}, &tok)
			v := verify.New(verify.Config{Issuer: keywardURL, VerifierSecret: k.ClientSecret})
			p, err := v.VerifyToken(context.Background(), tok.AccessToken)
			if err != nil || p.ClientID != k.ClientID {
				t.Fatalf("got %+v, %v; want the token of %s", p, err, k.ClientID)
			}
			parts := strings.Split(tok.AccessToken, ".")
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			var h map[string]string
			json.Unmarshal(hdr, &h)
			if h["alg"] != alg {
				t.Errorf("got alg %s, want %s", h["alg"], alg)
			}
			other := map[string]string{keyward.AlgEdDSA: "ES256", keyward.AlgES256: "RS256", keyward.AlgRS256: "EdDSA"}[alg]
			h["alg"] = other
			b, _ := json.Marshal(h)
			parts[0] = base64.RawURLEncoding.EncodeToString(b)
			if _, err := v.VerifyToken(context.Background(), strings.Join(parts, ".")); err == nil {
				t.Errorf("a %s token relabelled %s verified", alg, other)
			}
		})
	}
}

// TestAudience: a Verifier takes only tokens for its configured audience.
func TestAudience(t *testing.T) {
	keywardURL, admin, stop, err := keywardServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	const orders = "https://orders.example.com"
	var verifier, scoped, plain struct{ ClientID, ClientSecret string }
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "v", "permissions": []map[string]string{{"name": "keys:verify"}}}, &verifier)
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "scoped", "audiences": []string{orders, "billing"}}, &scoped)
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "plain"}, &plain)
	token := func(id, sec string, form url.Values) string {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		form.Set("grant_type", "client_credentials")
		if code, err := call("POST", keywardURL+"/oauth2/token", basic(id, sec), form, &tok); code != 200 {
			t.Fatalf("token: %d %v", code, err)
		}
		return tok.AccessToken
	}
	forOrders := token(scoped.ClientID, scoped.ClientSecret, url.Values{"resource": {orders}})
	forBilling := token(scoped.ClientID, scoped.ClientSecret, url.Values{"audience": {"billing"}})
	forBoth := token(scoped.ClientID, scoped.ClientSecret, url.Values{})
	forKeyward := token(plain.ClientID, plain.ClientSecret, url.Values{})
	tests := []struct {
		audience string
		token    string
		want     bool
	}{
		{orders, forOrders, true},
		{orders, forBoth, true},
		{orders, forBilling, false},
		{orders, forKeyward, false},
		{"", forKeyward, true},
		{"", forOrders, false},
		{"billing", forBilling, true},
	}
	for i, tt := range tests {
		v := verify.New(verify.Config{Issuer: keywardURL, VerifierSecret: verifier.ClientSecret, Audience: tt.audience})
		_, err := v.VerifyToken(context.Background(), tt.token)
		if (err == nil) != tt.want {
			t.Errorf("case %d: audience %q: got error %v, want accepted=%v", i, tt.audience, err, tt.want)
		}
	}
}

// TestRequireAllowedCIDRs: the middleware sends the client's address, as
// its trusted proxies report it, for keys and signed requests alike.
func TestRequireAllowedCIDRs(t *testing.T) {
	keywardURL, admin, stop, err := keywardServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var verifier, key struct{ ClientID, ClientSecret string }
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "verifier",
		"permissions": []map[string]string{{"name": "keys:verify"}}}, &verifier)
	if code, err := call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "office", "hmacEnabled": true,
		"allowedCidrs": []string{"198.51.100.0/24", "2001:db8::/32"}}, &key); code != 201 {
		t.Fatalf("create key: %d %v", code, err)
	}
	v := verify.New(verify.Config{Issuer: keywardURL, VerifierSecret: verifier.ClientSecret,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	h := v.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	tests := []struct {
		name, remote, xff string
		want              int
	}{
		{"client in range", "198.51.100.4:1000", "", 200},
		{"IPv6 client in range", "[2001:db8::5]:1000", "", 200},
		{"client out of range", "203.0.113.4:1000", "", 403},
		{"untrusted peer claims a forwarded address", "203.0.113.4:1000", "198.51.100.4", 403},
		{"trusted proxy forwards a client in range", "10.0.0.1:1000", "198.51.100.4", 200},
		{"trusted proxy forwards a client out of range", "10.0.0.1:1000", "203.0.113.4", 403},
		{"forged left-most entry", "10.0.0.1:1000", "198.51.100.4, 203.0.113.4", 403},
	}
	for _, tt := range tests {
		for _, signed := range []bool{false, true} {
			req := httptest.NewRequest("GET", "http://api.example.com/orders", nil)
			req.RemoteAddr = tt.remote
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			if signed {
				nonce := base64.RawURLEncoding.EncodeToString(secret.RandomBytes(18))
				if err := signature.SignKeywardV1(req, key.ClientID, []byte(key.ClientSecret), time.Now(), time.Minute, nonce); err != nil {
					t.Fatal(err)
				}
			} else {
				req.Header.Set("X-API-Key", key.ClientSecret)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("%s (signed %v): got %d %s, want %d", tt.name, signed, rec.Code, rec.Body, tt.want)
			}
		}
	}
}

// TestRequireCost: Config.Cost prices each request: 0 checks the key
// without spending, 3 spends 3, and a key without enough credits left is
// refused with 429 and Retry-After until its refill.
func TestRequireCost(t *testing.T) {
	keywardURL, admin, stop, err := keywardServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// A monthly refill about two weeks away, so that no refill happens
	// while the test runs.
	now := time.Now().UTC()
	day := (now.Day()+14)%28 + 1
	refill := time.Date(now.Year(), now.Month(), day, 0, 0, 0, 0, time.UTC)
	if day < now.Day() {
		refill = time.Date(now.Year(), now.Month()+1, day, 0, 0, 0, 0, time.UTC)
	}
	var verifier, key struct{ ID, ClientSecret string }
	call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "verifier",
		"permissions": []map[string]string{{"name": "keys:verify"}}}, &verifier)
	if code, err := call("POST", keywardURL+"/v1/apikeys", "Bearer "+admin, map[string]any{"name": "metered",
		"credits": map[string]any{"remaining": 5, "refill": map[string]any{"amount": 5, "interval": "monthly", "dayOfMonth": day}}}, &key); code != 201 {
		t.Fatalf("create key: %d %v", code, err)
	}
	remaining := func() int64 {
		t.Helper()
		var k struct{ Credits struct{ Remaining int64 } }
		if code, err := call("GET", keywardURL+"/v1/apikeys/"+key.ID, "Bearer "+admin, nil, &k); code != 200 {
			t.Fatalf("read key: %d %v", code, err)
		}
		return k.Credits.Remaining
	}
	v := verify.New(verify.Config{Issuer: keywardURL, VerifierSecret: verifier.ClientSecret,
		Cost: func(r *http.Request) int { n, _ := strconv.Atoi(r.URL.Query().Get("cost")); return n }})
	h := v.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	serve := func(cost int) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/orders?cost="+strconv.Itoa(cost), nil)
		req.Header.Set("X-API-Key", key.ClientSecret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, step := range []struct {
		cost, status int
		left         int64
	}{
		{0, 200, 5},
		{0, 200, 5},
		{3, 200, 2},
		{3, 429, 2}, // 3 of 2 left: refused, nothing spent
		{0, 200, 2},
		{2, 200, 0},
		{0, 429, 0}, // spent: even a free check is refused
	} {
		rec := serve(step.cost)
		if rec.Code != step.status {
			t.Fatalf("cost %d: got %d %s, want %d", step.cost, rec.Code, rec.Body, step.status)
		}
		if got := remaining(); got != step.left {
			t.Fatalf("cost %d: got %d credits left, want %d", step.cost, got, step.left)
		}
		if rec.Code == 429 {
			retry, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
			if want := time.Until(refill).Seconds(); float64(retry) < want-2 || float64(retry) > want+2 {
				t.Errorf("cost %d: got Retry-After %q, want about %.0f (the refill at %s)", step.cost, rec.Header().Get("Retry-After"), want, refill)
			}
		}
	}
}
