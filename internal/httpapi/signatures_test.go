package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signature"
)

// signed builds a request to s signed as keyward-v1 by keyid with secret;
// change may alter the signature input before it is signed.
func signed(t *testing.T, s *server, method, path string, body []byte, keyid, sec string, change func(in *signature.Input)) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	components := append([]string(nil), signature.RequiredComponents...)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Digest", signature.ContentDigest(body))
		components = append(components, "content-type", "content-digest")
	}
	now := time.Now()
	in := &signature.Input{Label: "kw", Components: components, Params: []signature.Param{
		{Name: "created", Value: now.Unix()}, {Name: "expires", Value: now.Add(time.Minute).Unix()},
		{Name: "nonce", Value: base64.RawURLEncoding.EncodeToString(secret.RandomBytes(18))},
		{Name: "keyid", Value: keyid}, {Name: "tag", Value: signature.Profile},
	}}
	if change != nil {
		change(in)
	}
	base, err := signature.SignatureBase(in, signature.ComponentValues(method, req.URL.Host, req.URL.EscapedPath(), req.URL.RawQuery, req.Header))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Signature-Input", "kw="+in.Serialize())
	req.Header.Set("Signature", "kw=:"+base64.StdEncoding.EncodeToString(signature.HMACSHA256([]byte(sec), base))+":")
	return req
}

func setParam(name string, v any) func(in *signature.Input) {
	return func(in *signature.Input) {
		for i, p := range in.Params {
			if p.Name == name {
				in.Params[i].Value = v
			}
		}
	}
}

// send sends req and returns the status and problem code.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p httpapi.Problem
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &p)
	return res.StatusCode, p.Code
}

func TestSignedRequests(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "signer", "hmacEnabled": true, "level": 4})
	plain := s.newKey(map[string]any{"name": "plain"})
	off := s.newKey(map[string]any{"name": "off", "hmacEnabled": true, "isActive": false})
	other := s.newKey(map[string]any{"name": "other", "hmacEnabled": true})
	gone := s.newKey(map[string]any{"name": "gone", "hmacEnabled": true})
	s.do("DELETE", "/v1/apikeys/"+gone.ID, s.admin, nil, 200, nil)
	body := []byte(`{"name":"made by a signed request"}`)

	// A signed request authenticates as the key.
	req := signed(t, s, "GET", "/v1/whoami?x=1", nil, k.ClientID, k.ClientSecret, nil)
	if code, _ := send(t, req); code != 200 {
		t.Fatalf("signed GET: %d", code)
	}
	create := signed(t, s, "POST", "/v1/apikeys", body, k.ClientID, k.ClientSecret, nil)
	if code, p := send(t, create); code != 201 {
		t.Fatalf("signed POST: %d %s", code, p)
	}

	replay := signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, nil)
	send(t, replay.Clone(replay.Context()))
	tampered := signed(t, s, "POST", "/v1/apikeys", body, k.ClientID, k.ClientSecret, nil)
	tampered.Body = io.NopCloser(strings.NewReader(`{"name":"changed after signing"}`))
	tampered.ContentLength = -1
	onlyInput := signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, nil)
	onlyInput.Header.Del("Signature")
	badHeader := signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, nil)
	badHeader.Header.Set("Signature-Input", `kw=("@method" `)
	bigBody := bytes.Repeat([]byte("a"), keyward.MaxSignedBody+10)
	now := time.Now()

	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantCode   string
	}{
		{"replay", replay, 401, keyward.EREPLAY},
		{"body changed after signing", tampered, 401, keyward.EDIGESTMISMATCH},
		{"wrong secret", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, plain.ClientSecret, nil), 401, keyward.ESIGINVALID},
		{"another key's keyid", signed(t, s, "GET", "/v1/whoami", nil, other.ClientID, k.ClientSecret, nil), 401, keyward.ESIGINVALID},
		{"missing Signature", onlyInput, 401, keyward.ESIGMISSING},
		{"malformed Signature-Input", badHeader, 400, keyward.ESIGMALFORMED},
		{"wrong tag", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, setParam("tag", "other")), 401, keyward.ESIGTAG},
		{"@query not covered", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, func(in *signature.Input) {
			in.Components = []string{"@method", "@authority", "@path"}
		}), 401, keyward.ESIGCOMPONENT},
		{"content-digest not covered", signed(t, s, "POST", "/v1/apikeys", body, k.ClientID, k.ClientSecret, func(in *signature.Input) {
			in.Components = in.Components[:5]
		}), 401, keyward.ESIGCOMPONENT},
		{"created too old", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, func(in *signature.Input) {
			setParam("created", now.Add(-301*time.Second).Unix())(in)
			setParam("expires", now.Add(-1*time.Second).Unix())(in)
		}), 401, keyward.ESIGTOOOLD},
		{"created in the future", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, func(in *signature.Input) {
			// Well past the 60 s allowed: whole seconds and a slow run must not bring it back in.
			setParam("created", now.Add(90*time.Second).Unix())(in)
			setParam("expires", now.Add(150*time.Second).Unix())(in)
		}), 401, keyward.ESIGFUTURE},
		{"expired", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, func(in *signature.Input) {
			setParam("created", now.Add(-20*time.Second).Unix())(in)
			setParam("expires", now.Add(-10*time.Second).Unix())(in)
		}), 401, keyward.ESIGEXPIRED},
		{"window over 300 s", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, setParam("expires", now.Add(301*time.Second).Unix())), 401, keyward.ESIGWINDOW},
		{"short nonce", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, setParam("nonce", "abc")), 400, keyward.ESIGMALFORMED},
		{"alg from the request", signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, func(in *signature.Input) {
			in.Params = append(in.Params, signature.Param{Name: "alg", Value: "rsa-pss-sha512"})
		}), 400, keyward.ESIGMALFORMED},
		// What the keyid names is not told: the answer of a wrong signature.
		{"key without hmacEnabled", signed(t, s, "GET", "/v1/whoami", nil, plain.ClientID, plain.ClientSecret, nil), 401, keyward.ESIGINVALID},
		{"inactive key", signed(t, s, "GET", "/v1/whoami", nil, off.ClientID, off.ClientSecret, nil), 401, keyward.ESIGINVALID},
		{"deleted key", signed(t, s, "GET", "/v1/whoami", nil, gone.ClientID, gone.ClientSecret, nil), 401, keyward.ESIGINVALID},
		{"body over 10 MiB", signed(t, s, "POST", "/v1/apikeys", bigBody, k.ClientID, k.ClientSecret, nil), 413, keyward.EBODYTOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, problem := send(t, tt.req)
			if code != tt.wantStatus || problem != tt.wantCode {
				t.Errorf("got %d %q, want %d %q", code, problem, tt.wantStatus, tt.wantCode)
			}
		})
	}

	// A forged signature burns no nonce: the genuine request with the same
	// nonce still works afterwards.
	genuine := signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, setParam("nonce", "the-same-nonce-for-both-requests"))
	forged := signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, plain.ClientSecret, setParam("nonce", "the-same-nonce-for-both-requests"))
	if code, p := send(t, forged); p != keyward.ESIGINVALID {
		t.Fatalf("forged: %d %s", code, p)
	}
	if code, p := send(t, genuine); code != 200 {
		t.Errorf("the genuine request after a forgery with its nonce: %d %s", code, p)
	}

	// During a rotation's grace period both secrets sign.
	var rot keyward.IssuedKey
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", s.admin, map[string]any{"gracePeriodSeconds": 300}, 200, &rot)
	for _, sec := range []string{k.ClientSecret, rot.ClientSecret} {
		if code, p := send(t, signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, sec, nil)); code != 200 {
			t.Errorf("signing during grace: %d %s", code, p)
		}
	}
	s.do("POST", "/v1/apikeys/"+k.ID+"/rotate", s.admin, map[string]any{}, 200, &rot)
	if code, _ := send(t, signed(t, s, "GET", "/v1/whoami", nil, k.ClientID, k.ClientSecret, nil)); code != 401 {
		t.Errorf("the secret rotated away without grace still signs: %d", code)
	}
}

// nws4 signs req as Portos' reference clients do.
func nws4(t *testing.T, req *http.Request, body []byte, clientID, sec string, at time.Time) {
	t.Helper()
	ts := at.UTC().Format("2006-01-02T15:04:05.000Z")
	bh := signature.BodySHA256(body)
	req.Header.Set("X-Nd-Date", ts)
	req.Header.Set("X-Nd-Content-Sha256", bh)
	signedHeaders := []string{"host", "x-nd-content-sha256", "x-nd-date"}
	values := map[string]string{"host": req.URL.Host, "x-nd-content-sha256": bh, "x-nd-date": ts}
	cr := signature.NWS4CanonicalRequest(req.Method, req.URL.EscapedPath(), req.URL.RawQuery, values, signedHeaders, bh)
	sig := signature.NWS4Signature(sec, ts[:10], signature.NWS4StringToSign(ts, clientID, cr))
	req.Header.Set("Authorization", signature.NWS4Auth{Credential: clientID, SignedHeaders: signedHeaders, Timestamp: ts, Signature: sig}.Format())
}

func TestNWS4Requests(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "portos", "hmacEnabled": true, "level": 4})
	body := []byte(`{"name":"John"}`)
	mk := func(b []byte, at time.Time, q string) *http.Request {
		req, _ := http.NewRequest("POST", s.URL+"/v1/apikeys?"+q, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		nws4(t, req, b, k.ClientID, k.ClientSecret, at)
		return req
	}
	if code, p := send(t, mk(body, time.Now(), "i=1&validate")); code != 201 {
		t.Fatalf("NWS4-signed POST: %d %s", code, p)
	}
	tampered := mk(body, time.Now(), "")
	tampered.Body = io.NopCloser(strings.NewReader(`{"name":"Mallory"}`))
	tampered.ContentLength = -1
	tests := []struct {
		name     string
		req      *http.Request
		wantCode string
	}{
		{"body changed", tampered, keyward.EDIGESTMISMATCH},
		{"outside the 150 s window", mk(body, time.Now().Add(-200*time.Second), ""), keyward.ESIGTOOOLD},
		{"ahead of the window", mk(body, time.Now().Add(200*time.Second), ""), keyward.ESIGFUTURE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, p := send(t, tt.req); code != 401 || p != tt.wantCode {
				t.Errorf("got %d %q, want 401 %q", code, p, tt.wantCode)
			}
		})
	}
	query := mk(body, time.Now(), "a=1")
	query.URL.RawQuery = "a=2"
	if code, p := send(t, query); p != keyward.ESIGINVALID {
		t.Errorf("query changed after signing: %d %q, want signature_invalid", code, p)
	}

}

// TestSignatureVerifyEndpoint: a resource server forwards signed requests
// it received and gets keyward's verdict.
func TestSignatureVerifyEndpoint(t *testing.T) {
	s := sqliteServer(t)
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
	verifier := s.newKey(map[string]any{"name": "api", "permissions": []map[string]string{{"name": "keys:verify"}}})
	client := s.newKey(map[string]any{"name": "client", "hmacEnabled": true, "permissions": []map[string]string{{"name": "orders_read"}}})
	s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": "other"}, 201, nil)
	var foreign keyward.IssuedKey
	s.do("POST", "/v1/apikeys?tenant=other", s.admin, map[string]any{"name": "foreign", "hmacEnabled": true}, 201, &foreign)

	// forward signs a request to the resource server's own API and forwards it.
	forward := func(keyid, sec string, body []byte, perms ...string) keyward.VerifyResult {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, _ := http.NewRequest("POST", "https://api.example.com/orders?page=2", rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		nonce := base64.RawURLEncoding.EncodeToString(secret.RandomBytes(18))
		if err := signature.SignKeywardV1(req, keyid, []byte(sec), time.Now(), time.Minute, nonce); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if req.Body != nil {
			got, _ = io.ReadAll(req.Body)
		}
		sum := sha256sum(got)
		headers := map[string]string{}
		for k := range req.Header {
			headers[k] = req.Header.Get(k)
		}
		in := map[string]any{"method": "POST", "authority": "api.example.com", "path": "/orders", "query": "page=2",
			"headers": headers, "permissions": perms}
		if body != nil {
			in["bodySha256"] = sum
		}
		var res keyward.VerifyResult
		s.do("POST", "/v1/signatures/verify", verifier.ClientSecret, in, 200, &res)
		return res
	}
	if r := forward(client.ClientID, client.ClientSecret, []byte(`{"n":1}`), "orders_read"); !r.Valid || *r.KeyID != client.ID {
		t.Errorf("a genuine signed request: %+v", r)
	}
	if r := forward(client.ClientID, client.ClientSecret, nil, "orders_write"); r.Code != keyward.CodeInsufficientPermissions {
		t.Errorf("missing permission: %+v", r)
	}
	if r := forward(client.ClientID, verifier.ClientSecret, nil); r.Code != keyward.CodeInvalidSignature || r.Reason != keyward.ESIGINVALID || r.KeyID != nil {
		t.Errorf("a forged signature: %+v", r)
	}
	if r := forward(foreign.ClientID, foreign.ClientSecret, nil); r.Code != keyward.CodeNotFound {
		t.Errorf("another tenant's key: %+v, want NOT_FOUND", r)
	}
	if r := forward(foreign.ClientID, client.ClientSecret, nil); r.Code != keyward.CodeNotFound {
		t.Errorf("a forgery naming another tenant's key: %+v, want NOT_FOUND", r)
	}
	s.do("POST", "/v1/signatures/verify", client.ClientSecret, map[string]any{"method": "GET", "authority": "a", "path": "/"}, 403, nil)
}

func sha256sum(b []byte) string {
	sum := signature.ContentDigest(b) // "sha-256=:<base64>:"
	return strings.TrimSuffix(strings.TrimPrefix(sum, "sha-256=:"), ":")
}

// TestGoClientSigner: the public client's Signer authenticates every call.
func TestGoClientSigner(t *testing.T) {
	s := sqliteServer(t)
	k := s.newKey(map[string]any{"name": "go signer", "hmacEnabled": true, "level": 4})
	hc := &http.Client{Transport: client.NewSigner(k.ClientID, k.ClientSecret, nil)}
	c := client.New(s.URL, client.WithHTTPClient(hc))
	who, err := c.WhoAmI(context.Background())
	if err != nil || who.ID != k.ID {
		t.Fatalf("WhoAmI through the signer: %+v %v", who, err)
	}
	made, err := c.CreateAPIKey(context.Background(), keyward.APIKeyInput{Name: ptrTo("signed create")})
	if err != nil || made.ClientSecret == "" {
		t.Fatalf("a signed POST with a body: %v", err)
	}
	if fmt.Sprint(client.NewSigner(k.ClientID, k.ClientSecret, nil)) == "" || strings.Contains(fmt.Sprint(client.NewSigner(k.ClientID, k.ClientSecret, nil)), k.ClientSecret) {
		t.Error("a Signer prints its secret")
	}
}

func ptrTo[T any](v T) *T { return &v }
