package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// form posts an application/x-www-form-urlencoded body.
func (s *server) form(path, auth string, vals url.Values) response {
	s.t.Helper()
	return s.raw("POST", path, auth, strings.NewReader(vals.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

func (s *server) newKey(body map[string]any) keyward.IssuedKey {
	s.t.Helper()
	var k keyward.IssuedKey
	s.do("POST", "/v1/apikeys", s.admin, body, 201, &k)
	return k
}

func (s *server) tokenFor(k keyward.IssuedKey, scope string) string {
	s.t.Helper()
	res := s.form("/oauth2/token", basic(url.QueryEscape(k.ClientID), url.QueryEscape(k.ClientSecret)),
		url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	if res.Status != 200 {
		s.t.Fatalf("token: got %d %s", res.Status, res.Body)
	}
	var tr keyward.TokenResponse
	json.Unmarshal(res.Body, &tr)
	return tr.AccessToken
}

func TestClientCredentialsWithGoClient(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		var perm keyward.Permission
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, &perm)
		k := s.newKey(map[string]any{"name": "m2m", "level": 4, "tokenLifespanSeconds": 600,
			"permissions": []map[string]string{{"name": "orders_read"}}})
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			cfg := clientcredentials.Config{ClientID: k.ClientID, ClientSecret: k.ClientSecret, TokenURL: s.URL + "/oauth2/token",
				Scopes: []string{"orders_read"}, AuthStyle: style}
			tok, err := cfg.Token(context.Background())
			if err != nil {
				t.Fatalf("auth style %v: %v", style, err)
			}
			if tok.TokenType != "Bearer" || tok.Extra("scope") != "orders_read" {
				t.Errorf("got type %q scope %v", tok.TokenType, tok.Extra("scope"))
			}
			if d := time.Until(tok.Expiry); d < 590*time.Second || d > 601*time.Second {
				t.Errorf("got expiry in %v, want the key's 600 s lifespan", d)
			}
			// The token works on keyward's own API, as the key.
			var who keyward.WhoAmI
			s.do("GET", "/v1/whoami", tok.AccessToken, nil, 200, &who)
			if who.ID != k.ID || who.Kind != "apikey" {
				t.Errorf("whoami with the token: got %+v", who)
			}
			// Its scope limits the key: orders_read only, so no key management.
			s.do("GET", "/v1/apikeys", tok.AccessToken, nil, 403, nil)
		}
		// Without a scope the token carries everything the key holds, level included.
		full := s.tokenFor(k, "")
		s.do("GET", "/v1/apikeys", full, nil, 200, nil)
	})
}

func TestTokenErrors(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "c"})
	off := s.newKey(map[string]any{"name": "off", "isActive": false})
	good := basic(k.ClientID, k.ClientSecret)
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, auth, ctype, body string
		wantStatus              int
		wantError               string
	}{
		{"ok basic", good, form, "grant_type=client_credentials", 200, ""},
		{"ok post", "", form, "grant_type=client_credentials&client_id=" + k.ClientID + "&client_secret=" + k.ClientSecret, 200, ""},
		{"basic percent-encoded", basic(strings.ReplaceAll(k.ClientID, "_", "%5F"), strings.ReplaceAll(k.ClientSecret, "_", "%5F")), form, "grant_type=client_credentials", 200, ""},
		{"missing grant type", good, form, "", 400, "invalid_request"},
		{"unknown grant type", good, form, "grant_type=password", 400, "unsupported_grant_type"},
		{"duplicate parameter", good, form, "grant_type=client_credentials&grant_type=client_credentials", 400, "invalid_request"},
		{"json body", good, "application/json", `{"grant_type":"client_credentials"}`, 400, "invalid_request"},
		{"no client auth", "", form, "grant_type=client_credentials", 401, "invalid_client"},
		{"two auth methods", good, form, "grant_type=client_credentials&client_secret=" + k.ClientSecret, 400, "invalid_request"},
		{"wrong secret", basic(k.ClientID, off.ClientSecret), form, "grant_type=client_credentials", 401, "invalid_client"},
		{"unknown client", basic("kw_id_nobody", k.ClientSecret), form, "grant_type=client_credentials", 401, "invalid_client"},
		{"inactive key", basic(off.ClientID, off.ClientSecret), form, "grant_type=client_credentials", 401, "invalid_client"},
		{"scope not held", good, form, "grant_type=client_credentials&scope=orders_read", 400, "invalid_scope"},
		{"malformed basic", "Basic !!!", form, "grant_type=client_credentials", 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.raw("POST", "/oauth2/token", tt.auth, strings.NewReader(tt.body), "Content-Type", tt.ctype)
			if res.Status != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", res.Status, res.Body, tt.wantStatus)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("got Cache-Control %q, want no-store", res.Header.Get("Cache-Control"))
			}
			var e struct {
				Error string `json:"error"`
			}
			json.Unmarshal(res.Body, &e)
			if e.Error != tt.wantError {
				t.Errorf("got error %q, want %q", e.Error, tt.wantError)
			}
			if tt.wantStatus == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if strings.Contains(string(res.Body), k.ClientSecret) {
				t.Errorf("the answer holds the secret")
			}
		})
	}
}

// TestAccessTokenShape checks the JWT against RFC 9068 and our JWKS.
func TestAccessTokenShape(t *testing.T) {
	wantKty := map[string]string{keyward.AlgEdDSA: "OKP", keyward.AlgES256: "EC", keyward.AlgRS256: "RSA"}
	for _, alg := range []string{keyward.AlgEdDSA, keyward.AlgES256, keyward.AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) { c.TokenAlgorithm = alg })
			k := s.newKey(map[string]any{"name": "shape", "level": 2})
			raw := s.tokenFor(k, "")
			var set jose.JSONWebKeySet
			res := s.do("GET", "/.well-known/jwks.json", "", nil, 200, &set)
			var members struct{ Keys []map[string]any }
			json.Unmarshal(res.Body, &members)
			if len(members.Keys) != 1 {
				t.Fatalf("got JWKS %s, want one key", res.Body)
			}
			if m := members.Keys[0]; m["kty"] != wantKty[alg] || m["alg"] != alg || m["use"] != "sig" || m["kid"] == "" || m["d"] != nil || m["p"] != nil {
				t.Errorf("got JWK %v, want kty %s, alg %s, use sig, a kid and no private part", m, wantKty[alg], alg)
			}
			tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			h := tok.Headers[0]
			if h.ExtraHeaders[jose.HeaderType] != "at+jwt" || h.Algorithm != alg || h.KeyID == "" {
				t.Errorf("got header typ=%v alg=%s kid=%q, want at+jwt %s with a kid", h.ExtraHeaders[jose.HeaderType], h.Algorithm, alg, h.KeyID)
			}
			keys := set.Key(h.KeyID)
			if len(keys) != 1 || len(set.Keys) != 1 {
				t.Fatalf("JWKS has %d keys, %d with kid %s; want exactly the signing key", len(set.Keys), len(keys), h.KeyID)
			}
			var c map[string]any
			if err := tok.Claims(keys[0].Key, &c); err != nil {
				t.Fatalf("the token does not verify against the JWKS: %v", err)
			}
			for _, claim := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "tenant", "level"} {
				if _, ok := c[claim]; !ok {
					t.Errorf("claim %s missing: %v", claim, c)
				}
			}
			if c["sub"] != k.ClientID || c["client_id"] != k.ClientID || c["iss"] != s.URL || c["level"] != float64(2) {
				t.Errorf("got claims %v", c)
			}
			var meta map[string]any
			s.do("GET", "/.well-known/oauth-authorization-server", "", nil, 200, &meta)
			if meta["issuer"] != s.URL || meta["token_endpoint"] != s.URL+"/oauth2/token" || meta["jwks_uri"] != s.URL+"/.well-known/jwks.json" {
				t.Errorf("got metadata %v", meta)
			}
			if meta["introspection_endpoint"] != s.URL+"/oauth2/introspect" {
				t.Errorf("got metadata %v", meta)
			}
			// Not an OpenID Provider: no OpenID discovery document.
			s.do("GET", "/.well-known/openid-configuration", "", nil, 404, nil)
		})
	}
}

// TestTokenEndsAtOnce: deactivating, deleting, rotating without grace and
// revoking make outstanding tokens inactive immediately.
func TestTokenEndsAtOnce(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		verifier := s.newKey(map[string]any{"name": "rs", "permissions": []map[string]string{{"name": "keys:verify"}}})
		introspect := func(tok string) bool {
			t.Helper()
			res := s.form("/oauth2/introspect", basic(verifier.ClientID, verifier.ClientSecret), url.Values{"token": {tok}})
			if res.Status != 200 {
				t.Fatalf("introspect: %d %s", res.Status, res.Body)
			}
			var in keyward.Introspection
			json.Unmarshal(res.Body, &in)
			return in.Active
		}
		verify := func(tok string) string {
			t.Helper()
			var r keyward.VerifyResult
			s.do("POST", "/v1/keys/verify", verifier.ClientSecret, map[string]string{"token": tok}, 200, &r)
			return r.Code
		}
		tests := []struct {
			name   string
			change func(k keyward.IssuedKey, tok string)
		}{
			{"deactivate", func(k keyward.IssuedKey, _ string) {
				s.do("PATCH", "/v1/apikeys/"+k.ID, s.admin, map[string]any{"isActive": false}, 200, nil)
			}},
			{"delete", func(k keyward.IssuedKey, _ string) { s.do("DELETE", "/v1/apikeys/"+k.ID, s.admin, nil, 200, nil) }},
			{"rotate without grace", func(k keyward.IssuedKey, _ string) {
				s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", s.admin, map[string]any{}, 200, nil)
			}},
			{"revoke", func(k keyward.IssuedKey, tok string) {
				res := s.form("/oauth2/revoke", basic(k.ClientID, k.ClientSecret), url.Values{"token": {tok}})
				if res.Status != 200 {
					t.Fatalf("revoke: %d %s", res.Status, res.Body)
				}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k := s.newKey(map[string]any{"name": tt.name})
				tok := s.tokenFor(k, "")
				if !introspect(tok) || verify(tok) != keyward.CodeValid {
					t.Fatal("a fresh token is not active")
				}
				s.do("GET", "/v1/whoami", tok, nil, 200, nil)
				tt.change(k, tok)
				if introspect(tok) {
					t.Errorf("introspection: still active after %s", tt.name)
				}
				if code := verify(tok); code != keyward.CodeNotFound {
					t.Errorf("verify: got %s after %s, want NOT_FOUND", code, tt.name)
				}
				s.do("GET", "/v1/whoami", tok, nil, 401, nil)
			})
		}
		t.Run("rotate with grace keeps tokens", func(t *testing.T) {
			k := s.newKey(map[string]any{"name": "grace"})
			tok := s.tokenFor(k, "")
			s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", s.admin, map[string]any{"gracePeriodSeconds": 600}, 200, nil)
			if !introspect(tok) {
				t.Error("token inactive during the rotation's grace period")
			}
		})
		t.Run("other tenant sees inactive", func(t *testing.T) {
			k := s.newKey(map[string]any{"name": "mine"})
			tok := s.tokenFor(k, "")
			s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": "other"}, 201, nil)
			var ov keyward.IssuedKey
			s.do("POST", "/v1/apikeys?tenant=other", s.admin, map[string]any{"name": "v", "permissions": []map[string]string{{"name": "keys:verify"}}}, 201, &ov)
			res := s.form("/oauth2/introspect", "Bearer "+ov.ClientSecret, url.Values{"token": {tok}})
			if res.Status != 200 || !strings.Contains(string(res.Body), `"active":false`) || strings.Contains(string(res.Body), k.ClientID) {
				t.Errorf("another tenant's introspection: %d %s", res.Status, res.Body)
			}
		})
		t.Run("introspection needs keys:verify", func(t *testing.T) {
			k := s.newKey(map[string]any{"name": "plain"})
			res := s.form("/oauth2/introspect", "Bearer "+k.ClientSecret, url.Values{"token": {s.tokenFor(k, "")}})
			if res.Status != 403 {
				t.Errorf("got %d, want 403", res.Status)
			}
		})
	})
}

// TestForgedTokens: tokens with alg none, an HMAC, an unknown key, a wrong
// type or past their expiry are refused everywhere.
func TestForgedTokens(t *testing.T) {
	s := sqliteServer(t)
	verifier := s.newKey(map[string]any{"name": "rs", "permissions": []map[string]string{{"name": "keys:verify"}}})
	k := s.newKey(map[string]any{"name": "victim", "level": 8})
	good := s.tokenFor(k, "")
	parts := strings.Split(good, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	json.Unmarshal(claims, &c)
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	var hdr map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	json.Unmarshal(hb, &hdr)

	none := seg(map[string]any{"alg": "none", "typ": "at+jwt", "kid": hdr["kid"]}) + "." + parts[1] + "."
	hsHeader := seg(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": hdr["kid"]}) + "." + parts[1]
	var set jose.JSONWebKeySet
	s.do("GET", "/.well-known/jwks.json", "", nil, 200, &set)
	pubJSON, _ := json.Marshal(set.Keys[0])
	mac := hmac.New(sha256.New, pubJSON)
	mac.Write([]byte(hsHeader))
	hs := hsHeader + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(key any, kid, typ string, claims map[string]any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
			(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(signer).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	unknownKey := sign(otherKey, hdr["kid"].(string), "at+jwt", c)
	expired := map[string]any{}
	for k, v := range c {
		expired[k] = v
	}
	expired["exp"] = time.Now().Add(-time.Minute).Unix()
	expiredTok := sign(otherKey, "nope", "at+jwt", expired)
	tampered := parts[0] + "." + seg(map[string]any{"sub": c["sub"], "client_id": c["client_id"], "level": 8, "scope": "tenants:admin"}) + "." + parts[2]

	for name, tok := range map[string]string{
		"alg none": none, "hmac with the public key": hs, "unknown signing key": unknownKey,
		"expired": expiredTok, "tampered claims": tampered, "garbage": "a.b.c",
	} {
		t.Run(name, func(t *testing.T) {
			s.do("GET", "/v1/whoami", tok, nil, 401, nil)
			res := s.form("/oauth2/introspect", basic(verifier.ClientID, verifier.ClientSecret), url.Values{"token": {tok}})
			if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"active":false}` {
				t.Errorf("introspection: got %d %s, want {\"active\":false}", res.Status, res.Body)
			}
		})
	}
	s.do("GET", "/v1/whoami", good, nil, 200, nil) // the real token still works
}

// TestSigningKeyMadeOnceUnderRace: the first requests arriving together
// make one signing key, not one each.
func TestSigningKeyMadeOnceUnderRace(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "race"})
	var wg sync.WaitGroup
	kids := make(chan string, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.form("/oauth2/token", basic(k.ClientID, k.ClientSecret), url.Values{"grant_type": {"client_credentials"}})
			var tr keyward.TokenResponse
			json.Unmarshal(res.Body, &tr)
			tok, err := jwt.ParseSigned(tr.AccessToken, []jose.SignatureAlgorithm{jose.EdDSA})
			if err != nil {
				t.Error(err)
				return
			}
			kids <- tok.Headers[0].KeyID
		}()
	}
	wg.Wait()
	close(kids)
	seen := map[string]bool{}
	for kid := range kids {
		seen[kid] = true
	}
	var set jose.JSONWebKeySet
	s.do("GET", "/.well-known/jwks.json", "", nil, 200, &set)
	if len(seen) != 1 || len(set.Keys) != 1 {
		t.Errorf("got %d kids in tokens and %d keys in the JWKS, want 1 and 1", len(seen), len(set.Keys))
	}
}

// TestIntrospectionAndRevocationClientAuth: both endpoints take
// client_secret_basic, client_secret_post and /v1 credentials, and answer
// failures in RFC 6749 §5.2's shape.
func TestIntrospectionAndRevocationClientAuth(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		s := newServer(t, db)
		rs := s.newKey(map[string]any{"name": "resource server", "permissions": []map[string]string{{"name": "keys:verify"}}})
		plain := s.newKey(map[string]any{"name": "no verify"})
		holder := s.newKey(map[string]any{"name": "holder"})
		type call struct {
			auth string
			form url.Values
		}
		post := func(id, sec string) url.Values { return url.Values{"client_id": {id}, "client_secret": {sec}} }
		tests := []struct {
			name       string
			call       call
			wantStatus int
			wantError  string // "" for success
			wantWWW    string // the WWW-Authenticate header of a 401
		}{
			{"basic", call{basic(rs.ClientID, rs.ClientSecret), nil}, 200, "", ""},
			{"post", call{"", post(rs.ClientID, rs.ClientSecret)}, 200, "", ""},
			{"bearer secret", call{"Bearer " + rs.ClientSecret, nil}, 200, "", ""},
			{"basic wrong secret", call{basic(rs.ClientID, "kw_sk_wrong"), nil}, 401, "invalid_client", `Basic realm="keyward"`},
			{"post wrong secret", call{"", post(rs.ClientID, "kw_sk_wrong")}, 401, "invalid_client", ""},
			{"post unknown client", call{"", post("nobody", "kw_sk_wrong")}, 401, "invalid_client", ""},
			{"post without secret", call{"", url.Values{"client_id": {rs.ClientID}}}, 401, "invalid_client", `Basic realm="keyward", Bearer realm="keyward"`},
			{"no authentication", call{"", nil}, 401, "invalid_client", `Basic realm="keyward", Bearer realm="keyward"`},
			{"bearer wrong", call{"Bearer kw_sk_wrong", nil}, 401, "invalid_client", `Basic realm="keyward", Bearer realm="keyward"`},
			{"two methods", call{basic(rs.ClientID, rs.ClientSecret), post(rs.ClientID, rs.ClientSecret)}, 400, "invalid_request", ""},
			{"bearer and post", call{"Bearer " + rs.ClientSecret, post(rs.ClientID, rs.ClientSecret)}, 400, "invalid_request", ""},
			{"basic client_id mismatch", call{basic(rs.ClientID, rs.ClientSecret), url.Values{"client_id": {"other"}}}, 400, "invalid_request", ""},
			{"malformed basic", call{"Basic !!!", nil}, 401, "invalid_client", `Basic realm="keyward"`},
		}
		for _, endpoint := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
			for _, tt := range tests {
				t.Run(endpoint+" "+tt.name, func(t *testing.T) {
					form := url.Values{"token": {s.tokenFor(rs, "")}} // its own: it may revoke it
					for k, v := range tt.call.form {
						form[k] = v
					}
					res := s.form(endpoint, tt.call.auth, form)
					if res.Status != tt.wantStatus {
						t.Fatalf("got %d %s, want %d", res.Status, res.Body, tt.wantStatus)
					}
					if tt.wantError == "" {
						if endpoint == "/oauth2/introspect" && !strings.Contains(string(res.Body), `"active":true`) {
							t.Errorf("got %s, want an active token", res.Body)
						}
						return
					}
					var e struct{ Error string }
					if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
						t.Errorf("got Content-Type %q, want application/json", ct)
					}
					if json.Unmarshal(res.Body, &e); e.Error != tt.wantError {
						t.Errorf("got %s, want error %q", res.Body, tt.wantError)
					}
					if wa := res.Header.Get("WWW-Authenticate"); res.Status == 401 && wa != tt.wantWWW {
						t.Errorf("got WWW-Authenticate %q, want %q", wa, tt.wantWWW)
					}
				})
			}
		}
		t.Run("introspection without keys:verify", func(t *testing.T) {
			res := s.form("/oauth2/introspect", "", url.Values{"token": {s.tokenFor(holder, "")}, "client_id": {plain.ClientID}, "client_secret": {plain.ClientSecret}})
			if res.Status != 403 || !strings.Contains(string(res.Body), `"error":"unauthorized_client"`) {
				t.Errorf("got %d %s, want 403 unauthorized_client", res.Status, res.Body)
			}
		})
		t.Run("revocation by post makes the token inactive", func(t *testing.T) {
			tok := s.tokenFor(holder, "")
			if res := s.form("/oauth2/revoke", "", url.Values{"token": {tok}, "client_id": {holder.ClientID}, "client_secret": {holder.ClientSecret}}); res.Status != 200 {
				t.Fatalf("revoke: %d %s", res.Status, res.Body)
			}
			res := s.form("/oauth2/introspect", "", url.Values{"token": {tok}, "client_id": {rs.ClientID}, "client_secret": {rs.ClientSecret}})
			if res.Status != 200 || !strings.Contains(string(res.Body), `"active":false`) {
				t.Errorf("introspection after revocation: %d %s", res.Status, res.Body)
			}
		})
		t.Run("missing token", func(t *testing.T) {
			res := s.form("/oauth2/introspect", basic(rs.ClientID, rs.ClientSecret), url.Values{})
			if res.Status != 400 || !strings.Contains(string(res.Body), `"error":"invalid_request"`) {
				t.Errorf("got %d %s, want 400 invalid_request", res.Status, res.Body)
			}
		})
	})
}

func TestIntrospectAnswersABlockedAddress429(t *testing.T) {
	s := newServer(t, sqltest.SQLite(t), func(c *keyward.Config) { c.FailedAuthLimit = &keyward.RateLimit{Limit: 1, WindowSeconds: 3600} })
	k := s.newKey(map[string]any{"name": "k", "permissions": []map[string]string{{"name": "keys:verify"}}})
	tok := s.tokenFor(k, "")
	for range 2 {
		s.form("/oauth2/introspect", "", url.Values{"token": {tok}, "client_id": {k.ClientID}, "client_secret": {"wrong"}})
	}
	res := s.form("/oauth2/introspect", "", url.Values{"token": {tok}, "client_id": {k.ClientID}, "client_secret": {k.ClientSecret}})
	if res.Status != 429 || res.Header.Get("Retry-After") == "" {
		t.Errorf("introspection from a blocked address: got %d, Retry-After %q; want 429 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
}
