package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/signature"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// nodeHarness returns the folder of the npm test harness, skipping the test
// when node or its packages are missing, unless KEYWARD_TEST_NODE is set
// (as CI does): then it fails.
func nodeHarness(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../test/node")
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("KEYWARD_TEST_NODE") != "" {
			t.Fatalf("KEYWARD_TEST_NODE is set but node or test/node/node_modules is missing (run npm ci in test/node): %v %v", nodeErr, modErr)
		}
		t.Skip("node or test/node/node_modules missing (npm ci in test/node): skipping the npm client tests")
	}
	return dir
}

// runNode runs a harness script and decodes the JSON it prints.
func runNode(t *testing.T, dir, script string, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node %s: %v\n%s\n%s", script, err, b, stderr)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("node %s printed %s: %v", script, b, err)
	}
}

// TestOAuthWithNodeClients drives discovery, the grant, introspection and
// revocation with openid-client, and verifies the token with jose.
func TestOAuthWithNodeClients(t *testing.T) {
	dir := nodeHarness(t)
	s := sqliteServer(t)
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
	k := s.newKey(map[string]any{"name": "node client", "tokenLifespanSeconds": 900,
		"permissions": []map[string]string{{"name": "orders_read"}}})
	rs := s.newKey(map[string]any{"name": "resource server", "permissions": []map[string]string{{"name": "keys:verify"}}})
	scoped := s.newKey(map[string]any{"name": "scoped", "audiences": []string{"https://orders.example.com", "billing"}})

	var got map[string]any
	runNode(t, dir, "oauth.mjs", &got, s.URL, k.ClientID, k.ClientSecret, rs.ClientID, rs.ClientSecret, scoped.ClientID, scoped.ClientSecret)
	want := map[string]any{
		"issuer":                s.URL,
		"basic":                 map[string]any{"tokenType": "bearer", "scope": "orders_read", "expiresIn": float64(900)},
		"post":                  map[string]any{"tokenType": "bearer", "scope": "orders_read"},
		"jwt":                   map[string]any{"alg": "EdDSA", "typ": "at+jwt", "sub": k.ClientID, "clientId": k.ClientID, "scope": "orders_read"},
		"introspectBefore":      map[string]any{"active": true, "clientId": k.ClientID, "scope": "orders_read"},
		"introspectBasic":       map[string]any{"active": true},
		"introspectWrongSecret": map[string]any{"error": "invalid_client", "status": float64(401)},
		"introspectAfterRevoke": map[string]any{"active": false},
		"introspectOther":       map[string]any{"active": true},
		"badScope":              "invalid_scope",
		"resource":              map[string]any{"aud": "https://orders.example.com", "introspectedAud": "https://orders.example.com"},
		"otherResource":         "invalid_target",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("npm clients saw (-want +got):\n%s", diff)
	}
}

// TestSignaturesWithNodeLibrary: npm http-message-signatures signs and
// keyward verifies, and keyward's signer verifies with that library.
func TestSignaturesWithNodeLibrary(t *testing.T) {
	dir := nodeHarness(t)
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "node signer", "hmacEnabled": true, "level": 4})

	var got struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	runNode(t, dir, "signatures.mjs", &got, "sign", s.URL+"/v1/whoami?x=1", k.ClientID, k.ClientSecret)
	if got.Status != 200 || !strings.Contains(got.Body, k.ID) {
		t.Errorf("GET signed by the library: %d %s", got.Status, got.Body)
	}
	runNode(t, dir, "signatures.mjs", &got, "sign", s.URL+"/v1/apikeys", k.ClientID, k.ClientSecret, `{"name":"signed in node"}`)
	if got.Status != 201 {
		t.Errorf("POST signed by the library: %d %s", got.Status, got.Body)
	}
	runNode(t, dir, "signatures.mjs", &got, "sign", s.URL+"/v1/whoami", k.ClientID, "kw_sk_not-the-secret")
	if got.Status != 401 || !strings.Contains(got.Body, "signature_invalid") {
		t.Errorf("the library with a wrong secret: %d %s", got.Status, got.Body)
	}

	req, _ := http.NewRequest("POST", "http://api.example.com/orders?page=2", strings.NewReader(`{"n":1}`))
	req.Header.Set("Content-Type", "application/json")
	if err := signature.SignKeywardV1(req, k.ClientID, []byte(k.ClientSecret), time.Now(), time.Minute, "abcdefghijklmnopqrstuvwxyz"); err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{}
	for name := range req.Header {
		headers[strings.ToLower(name)] = req.Header.Get(name)
	}
	msg, _ := json.Marshal(map[string]any{"method": "POST", "url": req.URL.String(), "headers": headers})
	var v struct {
		Verified bool `json:"verified"`
	}
	runNode(t, dir, "signatures.mjs", &v, "verify", string(msg), k.ClientSecret)
	if !v.Verified {
		t.Error("the library does not verify keyward's signature")
	}
	runNode(t, dir, "signatures.mjs", &v, "verify", string(msg), "another secret")
	if v.Verified {
		t.Error("the library verifies keyward's signature under another secret")
	}
}

// authlibPython returns a python3 that imports authlib (Debian's
// python3-authlib), skipping the test when there is none, unless
// KEYWARD_TEST_PYTHON is set (as CI does): then it fails.
func authlibPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import authlib.oauth2.rfc8414").Run() == nil {
			return path
		}
	}
	if os.Getenv("KEYWARD_TEST_PYTHON") != "" {
		t.Fatal("KEYWARD_TEST_PYTHON is set but no python3 imports authlib (apt-get install python3-authlib)")
	}
	t.Skip("no python3 with authlib (apt-get install python3-authlib): skipping the authlib tests")
	return ""
}

// TestOAuthWithAuthlib: authlib validates the RFC 8414 metadata (issuer =
// the tokens' iss, also at the issuer's path per §3.1), verifies a token
// against the JWKS, and reads introspection answers as a resource server.
func TestOAuthWithAuthlib(t *testing.T) {
	py := authlibPython(t)
	script, err := filepath.Abs("../../test/python/authlib_interop.py")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, publicURL, metaPath, alg string
		insecure                       bool // authlib allows http only when told
	}{
		{"listen address", "", "/.well-known/oauth-authorization-server", keyward.AlgEdDSA, true},
		{"https issuer with a path", "https://keys.example.com/keys", "/.well-known/oauth-authorization-server/keys", keyward.AlgES256, false},
		{"https issuer, bare path", "https://keys.example.com/keys", "/.well-known/oauth-authorization-server", keyward.AlgRS256, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) {
				c.TokenAlgorithm = tt.alg
				if tt.publicURL != "" {
					c.PublicURL = tt.publicURL
				}
			})
			issuer := tt.publicURL
			if issuer == "" {
				issuer = s.svc.PublicURL()
			}
			s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
			k := s.newKey(map[string]any{"name": "python client", "permissions": []map[string]string{{"name": "orders_read"}}})
			rs := s.newKey(map[string]any{"name": "resource server", "permissions": []map[string]string{{"name": "keys:verify"}}})

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, script, s.URL, tt.metaPath, k.ClientID, k.ClientSecret, rs.ClientID, rs.ClientSecret)
			cmd.Env = os.Environ()
			if tt.insecure {
				cmd.Env = append(cmd.Env, "AUTHLIB_INSECURE_TRANSPORT=1")
			}
			b, err := cmd.Output()
			if err != nil {
				stderr := ""
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("authlib: %v\n%s\n%s", err, b, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("authlib printed %s: %v", b, err)
			}
			alg := tt.alg
			want := map[string]any{
				"metadataStatus": float64(200), "metadata": "valid", "issuer": issuer,
				"openidConfigurationStatus": float64(404),
				"tokenStatus":               float64(200),
				"jwt":                       map[string]any{"alg": alg, "sub": k.ClientID, "iss": issuer},
				"introspectStatus":          float64(200), "introspectScope": "ok", "introspectOtherScope": "insufficient_scope",
				"introspectWrongSecret": map[string]any{"status": float64(401), "error": "invalid_client"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("authlib saw (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResourceWithGoClients: golang.org/x/oauth2's client credentials flow
// asks for an RFC 8707 resource with both auth styles, go-jose verifies the
// token (RS256 and ES256) against the JWKS and sees the audience, and a
// resource the key does not allow comes back as a RetrieveError
// invalid_target.
func TestResourceWithGoClients(t *testing.T) {
	const orders = "https://orders.example.com"
	for _, alg := range []string{keyward.AlgRS256, keyward.AlgES256} {
		t.Run(alg, func(t *testing.T) {
			s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) { c.TokenAlgorithm = alg })
			k := s.newKey(map[string]any{"name": "m2m", "audiences": []string{orders, "billing"}})
			var set jose.JSONWebKeySet
			s.do("GET", "/.well-known/jwks.json", "", nil, 200, &set)
			for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
				cfg := clientcredentials.Config{ClientID: k.ClientID, ClientSecret: k.ClientSecret, TokenURL: s.URL + "/oauth2/token",
					AuthStyle: style, EndpointParams: url.Values{"resource": {orders}}}
				tok, err := cfg.Token(context.Background())
				if err != nil {
					t.Fatalf("auth style %v: %v", style, err)
				}
				parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				keys := set.Key(parsed.Headers[0].KeyID)
				if len(keys) != 1 || keys[0].Algorithm != alg || keys[0].Use != "sig" {
					t.Fatalf("JWKS key for kid %s: %+v", parsed.Headers[0].KeyID, keys)
				}
				var c jwt.Claims
				if err := parsed.Claims(keys[0].Key, &c); err != nil {
					t.Fatalf("go-jose does not verify the %s token against the JWKS: %v", alg, err)
				}
				if err := c.Validate(jwt.Expected{Issuer: s.svc.PublicURL(), AnyAudience: jwt.Audience{orders}, Time: time.Now()}); err != nil {
					t.Errorf("claims %+v: %v", c, err)
				}
				if len(c.Audience) != 1 {
					t.Errorf("got aud %v, want only %s", c.Audience, orders)
				}
			}
			cfg := clientcredentials.Config{ClientID: k.ClientID, ClientSecret: k.ClientSecret, TokenURL: s.URL + "/oauth2/token",
				EndpointParams: url.Values{"resource": {"https://other.example.com"}}}
			_, err := cfg.Token(context.Background())
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_target" || re.Response.StatusCode != 400 {
				t.Errorf("a resource the key does not allow: got %v, want a 400 invalid_target", err)
			}
		})
	}
}
