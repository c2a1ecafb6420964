package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
)

const testToken = "kw_sk_testtokenTESTTOKENtesttokenTESTTOKENabc123456"

// sent is the request the test server received.
type sent struct {
	Method  string
	Path    string // escaped
	Query   url.Values
	Headers map[string]string // the headers the client is expected to set
	Body    any               // decoded JSON; nil without a body
}

// answer is what the test server replies.
type answer struct {
	status      int
	contentType string
	header      map[string]string
	body        string
}

// checkedHeaders are the request headers the tests compare.
var checkedHeaders = []string{"Authorization", "Accept", "Content-Type", "If-Match", "User-Agent", "Idempotency-Key"}

// fakeServer starts a server that records each request and replies with a.
func fakeServer(t *testing.T, a answer) (*httptest.Server, *[]sent) {
	t.Helper()
	var got []sent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request body: %v", err)
		}
		s := sent{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Headers: map[string]string{}}
		for _, h := range checkedHeaders {
			if v := r.Header.Get(h); v != "" {
				s.Headers[h] = v
			}
		}
		if len(b) > 0 {
			if err := json.Unmarshal(b, &s.Body); err != nil {
				t.Errorf("the request body is not JSON: %v: %s", err, b)
			}
		}
		got = append(got, s)
		ct := a.contentType
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		status := a.status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

// jsonOf decodes a JSON literal for comparison with a recorded body.
func jsonOf(t *testing.T, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON in the test: %v: %s", err, s)
	}
	return v
}

// headers builds the expected request headers: Accept, User-Agent and the
// token always, Content-Type when there is a body, plus extra.
func headers(body bool, extra ...string) map[string]string {
	h := map[string]string{
		"Accept":        "application/json",
		"User-Agent":    client.DefaultUserAgent,
		"Authorization": "Bearer " + testToken,
	}
	if body {
		h["Content-Type"] = "application/json"
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(h, extra[i])
		} else {
			h[extra[i]] = extra[i+1]
		}
	}
	return h
}

func ptr[T any](v T) *T { return &v }

const keyJSON = `{"id":"0b8e3c9a-1f1e-4c61-9d0e-5e7f6a1b2c3d","tenantId":"t1","clientId":"kw_id_abc","name":"billing",
"description":"","ownerId":"u1","userName":"admin","deviceName":"","permissions":[{"id":"p1","name":"orders_read",
"description":null,"composite":false,"clientRole":false,"containerId":"t1","attributes":{},"builtIn":false,
"createdAt":"2025-01-01T00:00:00Z"}],"level":2,"isActive":true,"expiresAt":null,"tokenLifespanSeconds":3600,
"hmacEnabled":false,"meta":{},"secretHint":"wxyz","createdAt":"2025-01-01T00:00:00Z",
"updatedAt":"2025-01-02T00:00:00Z","lastUsedAt":null,"createdBy":"u1","version":3}`

const issuedJSON = `{"id":"0b8e3c9a-1f1e-4c61-9d0e-5e7f6a1b2c3d","clientId":"kw_id_abc","name":"billing","version":1,
"clientSecret":"kw_sk_secretSECRETsecretSECRETsecretSECRETsecretxyz123"}`

func envelopeJSON(item string) string {
	return `{"items":[` + item + `],"pageIndex":2,"pageSize":1,"totalPages":3,"totalCount":3,"hasPreviousPage":true,"hasNextPage":true}`
}

// TestRequests checks the exact request each method sends and that it
// decodes the answer.
func TestRequests(t *testing.T) {
	ctx := context.Background()
	since := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		opts   []client.Option
		call   func(c *client.Client) (any, error)
		answer answer
		want   sent
		check  func(t *testing.T, got any)
	}{
		{
			name: "login leaves out the token and the tenant parameter",
			opts: []client.Option{client.WithToken(""), client.WithTenant("acme")},
			call: func(c *client.Client) (any, error) {
				return c.Login(ctx, client.LoginInput{UserName: "admin", Password: "pw-123456", Tenant: "acme"})
			},
			answer: answer{body: `{"accessToken":"eyJ.x.y","tokenType":"Bearer","expiresIn":3600}`},
			want: sent{Method: "POST", Path: "/v1/login", Query: url.Values{},
				Headers: headers(true, "Authorization", ""),
				Body:    jsonOf(t, `{"userName":"admin","password":"pw-123456","tenant":"acme"}`)},
			check: func(t *testing.T, got any) {
				want := &keyward.LoginResult{AccessToken: "eyJ.x.y", TokenType: "Bearer", ExpiresIn: 3600}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "whoami with a tenant",
			opts:   []client.Option{client.WithTenant("acme")},
			call:   func(c *client.Client) (any, error) { return c.WhoAmI(ctx) },
			answer: answer{body: `{"kind":"user","id":"u1","tenantId":"t1","name":"admin","level":8,"permissions":["apikeys:read"],"ownKeyPermissions":[]}`},
			want:   sent{Method: "GET", Path: "/v1/whoami", Query: url.Values{"tenant": {"acme"}}, Headers: headers(false)},
			check: func(t *testing.T, got any) {
				w := got.(*keyward.WhoAmI)
				if w.Kind != "user" || w.Level != 8 || len(w.Permissions) != 1 {
					t.Errorf("got %+v", w)
				}
			},
		},
		{
			name: "verify a key for an end client's address",
			call: func(c *client.Client) (any, error) {
				return c.VerifyKey(ctx, keyward.VerifyRequest{Key: "kw_sk_x", IP: "2001:db8::7"})
			},
			answer: answer{body: `{"valid":false,"code":"IP_NOT_ALLOWED","keyId":"k1"}`},
			want: sent{Method: "POST", Path: "/v1/keys/verify", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"key":"kw_sk_x","ip":"2001:db8::7"}`)},
			check: func(t *testing.T, got any) {
				if r := got.(*keyward.VerifyResult); r.Valid || r.Code != keyward.CodeIPNotAllowed {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "an allowlist set",
			call: func(c *client.Client) (any, error) {
				return c.UpdateAPIKey(ctx, "k1", keyward.APIKeyInput{AllowedCIDRs: keyward.Some([]string{"203.0.113.0/24"})}, nil)
			},
			answer: answer{body: `{"id":"k1","allowedCidrs":["203.0.113.0/24"]}`},
			want: sent{Method: "PATCH", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"allowedCidrs":["203.0.113.0/24"]}`)},
			check: func(t *testing.T, got any) {
				if k := got.(*keyward.APIKey); len(k.AllowedCIDRs) != 1 || k.AllowedCIDRs[0] != "203.0.113.0/24" {
					t.Errorf("got %+v", k.AllowedCIDRs)
				}
			},
		},
		{
			name: "verify a batch",
			call: func(c *client.Client) (any, error) {
				return c.VerifyKeys(ctx, []keyward.VerifyRequest{{Key: "kw_sk_x"}, {Token: "eyJ.a.b", IP: "::1"}})
			},
			answer: answer{body: `{"items":[{"valid":true,"code":"VALID"},{"valid":false,"code":"NOT_FOUND"}]}`},
			want: sent{Method: "POST", Path: "/v1/keys/verify:batch", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"items":[{"key":"kw_sk_x"},{"token":"eyJ.a.b","ip":"::1"}]}`)},
			check: func(t *testing.T, got any) {
				r := got.([]*keyward.VerifyResult)
				if len(r) != 2 || !r[0].Valid || r[1].Code != keyward.CodeNotFound {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "create with an Idempotency-Key",
			call: func(c *client.Client) (any, error) {
				return c.CreateAPIKey(client.WithIdempotencyKey(ctx, "8e03978e-40d5"), keyward.APIKeyInput{Name: ptr("once")})
			},
			answer: answer{status: 201, body: `{"id":"k1","clientSecret":"kw_sk_x"}`},
			want: sent{Method: "POST", Path: "/v1/apikeys", Query: url.Values{}, Headers: headers(true, "Idempotency-Key", `"8e03978e-40d5"`),
				Body: jsonOf(t, `{"name":"once"}`)},
		},
		{
			name: "an allowlist removed",
			call: func(c *client.Client) (any, error) {
				return c.UpdateAPIKey(ctx, "k1", keyward.APIKeyInput{AllowedCIDRs: keyward.Some([]string{})}, nil)
			},
			answer: answer{body: `{"id":"k1"}`},
			want: sent{Method: "PATCH", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"allowedCidrs":[]}`)},
		},
		{
			name: "custom user agent",
			opts: []client.Option{client.WithUserAgent("billing-service/1.2")},
			call: func(c *client.Client) (any, error) { return c.WhoAmI(ctx) },
			want: sent{Method: "GET", Path: "/v1/whoami", Query: url.Values{},
				Headers: headers(false, "User-Agent", "billing-service/1.2")},
			answer: answer{body: `{}`},
		},
		{
			name: "verify a key",
			call: func(c *client.Client) (any, error) {
				return c.VerifyKey(ctx, keyward.VerifyRequest{Key: "kw_sk_x", Permissions: []string{"orders_read"}})
			},
			answer: answer{body: `{"valid":false,"code":"INSUFFICIENT_PERMISSIONS","keyId":"k1","permissions":["a"]}`},
			want: sent{Method: "POST", Path: "/v1/keys/verify", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"key":"kw_sk_x","permissions":["orders_read"]}`)},
			check: func(t *testing.T, got any) {
				r := got.(*keyward.VerifyResult)
				if r.Valid || r.Code != "INSUFFICIENT_PERMISSIONS" || r.KeyID == nil || *r.KeyID != "k1" {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "create a key sends only the fields set, level 0 included",
			call: func(c *client.Client) (any, error) {
				return c.CreateAPIKey(ctx, keyward.APIKeyInput{
					Name:        client.String("billing"),
					ClientID:    keyward.Some("billing"),
					Permissions: &[]keyward.PermissionRef{{Name: "orders_read"}, {ID: "p2"}},
					Level:       client.Int(0),
					ExpiresIn:   client.Int64(86400),
					HMACEnabled: client.Bool(true),
					Audiences:   &[]string{"https://orders.example.com"},
					Meta:        json.RawMessage(`{"team":"billing"}`),
				})
			},
			answer: answer{status: 201, body: issuedJSON},
			want: sent{Method: "POST", Path: "/v1/apikeys", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"name":"billing","clientId":"billing","permissions":[{"name":"orders_read"},{"id":"p2"}],
					"level":0,"expiresIn":86400,"hmacEnabled":true,"audiences":["https://orders.example.com"],"meta":{"team":"billing"}}`)},
			check: func(t *testing.T, got any) {
				k := got.(*keyward.IssuedKey)
				if k.ClientSecret == "" || k.APIKey == nil || k.ClientID != "kw_id_abc" {
					t.Errorf("got %+v", k)
				}
			},
		},
		{
			name: "list keys with every filter",
			call: func(c *client.Client) (any, error) {
				return c.ListAPIKeys(ctx, client.ListAPIKeysOptions{Page: 2, PageSize: 50, Query: "pay", Status: "active",
					Permission: "orders_read", OwnerID: "u1", Sort: "-createdAt"})
			},
			answer: answer{body: envelopeJSON(keyJSON)},
			want: sent{Method: "GET", Path: "/v1/apikeys", Headers: headers(false), Query: url.Values{
				"page": {"2"}, "page-size": {"50"}, "q": {"pay"}, "status": {"active"}, "permission": {"orders_read"},
				"ownerId": {"u1"}, "sort": {"-createdAt"},
			}},
			check: func(t *testing.T, got any) {
				p := got.(*client.Page[keyward.APIKey])
				if len(p.Items) != 1 || p.Items[0].Name != "billing" || p.Items[0].Version != 3 ||
					p.PageIndex != 2 || p.TotalPages != 3 || p.TotalCount != 3 || !p.HasNextPage || !p.HasPreviousPage {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name:   "list keys without options sends no parameters",
			call:   func(c *client.Client) (any, error) { return c.ListAPIKeys(ctx, client.ListAPIKeysOptions{}) },
			answer: answer{body: envelopeJSON("")},
			want:   sent{Method: "GET", Path: "/v1/apikeys", Query: url.Values{}, Headers: headers(false)},
		},
		{
			name:   "get a key escapes its id",
			call:   func(c *client.Client) (any, error) { return c.GetAPIKey(ctx, "a/b c") },
			answer: answer{body: keyJSON, header: map[string]string{"ETag": `"3"`}},
			want:   sent{Method: "GET", Path: "/v1/apikeys/a%2Fb%20c", Query: url.Values{}, Headers: headers(false)},
			check: func(t *testing.T, got any) {
				k := got.(*keyward.APIKey)
				if k.Version != 3 || len(k.Permissions) != 1 || k.Permissions[0].Name != "orders_read" {
					t.Errorf("got %+v", k)
				}
			},
		},
		{
			name: "update sends only the fields set",
			call: func(c *client.Client) (any, error) {
				return c.UpdateAPIKey(ctx, "k1", keyward.APIKeyInput{Name: client.String("new"), Description: client.String("")}, nil)
			},
			answer: answer{body: keyJSON},
			want: sent{Method: "PATCH", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"name":"new","description":""}`)},
		},
		{
			name: "update with If-Match and an expiry",
			call: func(c *client.Client) (any, error) {
				return c.UpdateAPIKey(ctx, "k1", keyward.APIKeyInput{ExpiresAt: keyward.Some(expires)}, client.Int(3))
			},
			answer: answer{body: keyJSON},
			want: sent{Method: "PATCH", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true, "If-Match", `"3"`),
				Body: jsonOf(t, `{"expiresAt":"2030-01-02T03:04:05Z"}`)},
		},
		{
			name: "update clears the expiry with null",
			call: func(c *client.Client) (any, error) {
				return c.UpdateAPIKey(ctx, "k1", keyward.APIKeyInput{ExpiresAt: keyward.Null[time.Time](), Level: client.Int(2)}, nil)
			},
			answer: answer{body: keyJSON},
			want: sent{Method: "PATCH", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"expiresAt":null,"level":2}`)},
		},
		{
			name: "update removes the credits with null and sets named limits",
			call: func(c *client.Client) (any, error) {
				return c.UpdateAPIKey(ctx, "k1", keyward.APIKeyInput{Credits: keyward.Null[keyward.Credits](),
					RateLimits: &[]keyward.NamedRateLimit{{Name: "burst", Limit: 10, WindowSeconds: 1}}}, nil)
			},
			answer: answer{body: keyJSON},
			want: sent{Method: "PATCH", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"credits":null,"rateLimits":[{"name":"burst","limit":10,"windowSeconds":1}]}`)},
		},
		{
			name: "update sets credits",
			call: func(c *client.Client) (any, error) {
				return c.UpdateAPIKey(ctx, "k1", keyward.APIKeyInput{Credits: keyward.Some(keyward.Credits{Remaining: 5,
					Refill: &keyward.Refill{Amount: 100, Interval: "monthly", DayOfMonth: 15}})}, nil)
			},
			answer: answer{body: keyJSON},
			want: sent{Method: "PATCH", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"credits":{"remaining":5,"refill":{"amount":100,"interval":"monthly","dayOfMonth":15}}}`)},
		},
		{
			name:   "deactivate",
			call:   func(c *client.Client) (any, error) { return c.SetAPIKeyActive(ctx, "k1", false, nil) },
			answer: answer{body: keyJSON},
			want: sent{Method: "PATCH", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"isActive":false}`)},
		},
		{
			name: "replace creates",
			call: func(c *client.Client) (any, error) {
				k, created, err := c.ReplaceAPIKey(ctx, "k1", keyward.APIKeyInput{Name: client.String("n")}, nil)
				if err == nil && (!created || k.ClientSecret == "") {
					return nil, fmt.Errorf("created=%v secret set=%v, want a created key with its secret", created, k.ClientSecret != "")
				}
				return k, err
			},
			answer: answer{status: 201, body: issuedJSON},
			want: sent{Method: "PUT", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"name":"n"}`)},
		},
		{
			name: "replace with a version replaces",
			call: func(c *client.Client) (any, error) {
				k, created, err := c.ReplaceAPIKey(ctx, "k1", keyward.APIKeyInput{Name: client.String("n")}, client.Int(3))
				if err == nil && (created || k.ClientSecret != "" || k.Version != 3) {
					return nil, fmt.Errorf("created=%v version=%d, want a replaced key at version 3 without a secret", created, k.Version)
				}
				return k, err
			},
			answer: answer{body: keyJSON},
			want: sent{Method: "PUT", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"name":"n","version":3}`)},
		},
		{
			name:   "delete with If-Match",
			call:   func(c *client.Client) (any, error) { return c.DeleteAPIKey(ctx, "k1", client.Int(7)) },
			answer: answer{body: keyJSON},
			want:   sent{Method: "DELETE", Path: "/v1/apikeys/k1", Query: url.Values{}, Headers: headers(false, "If-Match", `"7"`)},
		},
		{
			name: "rotate",
			call: func(c *client.Client) (any, error) {
				return c.RotateAPIKey(ctx, "k1", keyward.RotateInput{GracePeriodSeconds: 3600, HMACEnabled: client.Bool(false)})
			},
			answer: answer{body: issuedJSON},
			want: sent{Method: "POST", Path: "/v1/apikeys/k1/rotate", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"gracePeriodSeconds":3600,"hmacEnabled":false}`)},
			check: func(t *testing.T, got any) {
				if got.(*keyward.IssuedKey).ClientSecret == "" {
					t.Error("the new secret is missing")
				}
			},
		},
		{
			name: "list users",
			call: func(c *client.Client) (any, error) {
				return c.ListUsers(ctx, client.ListUsersOptions{Page: 1, Query: "ad"})
			},
			answer: answer{body: envelopeJSON(`{"id":"u1","userName":"admin","level":8}`)},
			want: sent{Method: "GET", Path: "/v1/users", Headers: headers(false),
				Query: url.Values{"page": {"1"}, "q": {"ad"}}},
			check: func(t *testing.T, got any) {
				if p := got.(*client.Page[keyward.User]); len(p.Items) != 1 || p.Items[0].UserName != "admin" {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "create a user",
			call: func(c *client.Client) (any, error) {
				return c.CreateUser(ctx, keyward.UserInput{UserName: client.String("bob"), Password: client.String("correct horse"),
					Level: client.Int(4), Permissions: &[]keyward.PermissionRef{{Name: "orders_read"}}})
			},
			answer: answer{status: 201, body: `{"id":"u2","userName":"bob","level":4}`},
			want: sent{Method: "POST", Path: "/v1/users", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"userName":"bob","password":"correct horse","level":4,"permissions":[{"name":"orders_read"}]}`)},
		},
		{
			name:   "get a user",
			call:   func(c *client.Client) (any, error) { return c.GetUser(ctx, "u2") },
			answer: answer{body: `{"id":"u2"}`},
			want:   sent{Method: "GET", Path: "/v1/users/u2", Query: url.Values{}, Headers: headers(false)},
		},
		{
			name: "update a user",
			call: func(c *client.Client) (any, error) {
				return c.UpdateUser(ctx, "u2", keyward.UserInput{IsActive: client.Bool(false)})
			},
			answer: answer{body: `{"id":"u2"}`},
			want: sent{Method: "PATCH", Path: "/v1/users/u2", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"isActive":false}`)},
		},
		{
			name:   "delete a user",
			call:   func(c *client.Client) (any, error) { return c.DeleteUser(ctx, "u2") },
			answer: answer{body: `{"id":"u2"}`},
			want:   sent{Method: "DELETE", Path: "/v1/users/u2", Query: url.Values{}, Headers: headers(false)},
		},
		{
			name:   "list permissions",
			call:   func(c *client.Client) (any, error) { return c.ListPermissions(ctx, client.ListOptions{}) },
			answer: answer{body: envelopeJSON(`{"id":"p1","name":"apikeys:read","builtIn":true}`)},
			want:   sent{Method: "GET", Path: "/v1/permissions", Query: url.Values{}, Headers: headers(false)},
			check: func(t *testing.T, got any) {
				if p := got.(*client.Page[keyward.Permission]); len(p.Items) != 1 || !p.Items[0].BuiltIn {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "create a composite permission",
			call: func(c *client.Client) (any, error) {
				return c.CreatePermission(ctx, keyward.PermissionInput{Name: client.String("orders_all"),
					Children: &[]keyward.PermissionRef{{Name: "orders_read"}}})
			},
			answer: answer{status: 201, body: `{"id":"p9","name":"orders_all","composite":true}`},
			want: sent{Method: "POST", Path: "/v1/permissions", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"name":"orders_all","children":[{"name":"orders_read"}]}`)},
		},
		{
			name:   "get a permission",
			call:   func(c *client.Client) (any, error) { return c.GetPermission(ctx, "p9") },
			answer: answer{body: `{"id":"p9"}`},
			want:   sent{Method: "GET", Path: "/v1/permissions/p9", Query: url.Values{}, Headers: headers(false)},
		},
		{
			name: "update a permission",
			call: func(c *client.Client) (any, error) {
				return c.UpdatePermission(ctx, "p9", keyward.PermissionInput{Description: client.String("all orders")})
			},
			answer: answer{body: `{"id":"p9"}`},
			want: sent{Method: "PATCH", Path: "/v1/permissions/p9", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"description":"all orders"}`)},
		},
		{
			name:   "delete a permission",
			call:   func(c *client.Client) (any, error) { return c.DeletePermission(ctx, "p9") },
			answer: answer{body: `{"id":"p9"}`},
			want:   sent{Method: "DELETE", Path: "/v1/permissions/p9", Query: url.Values{}, Headers: headers(false)},
		},
		{
			name: "list tenants",
			call: func(c *client.Client) (any, error) {
				return c.ListTenants(ctx, client.ListOptions{Page: 3, PageSize: 10})
			},
			answer: answer{body: envelopeJSON(`{"id":"t1","name":"default","isRoot":true}`)},
			want: sent{Method: "GET", Path: "/v1/tenants", Headers: headers(false),
				Query: url.Values{"page": {"3"}, "page-size": {"10"}}},
		},
		{
			name: "create a tenant",
			call: func(c *client.Client) (any, error) {
				return c.CreateTenant(ctx, keyward.TenantInput{Name: client.String("acme"), Prefix: client.String("acme")})
			},
			answer: answer{status: 201, body: `{"id":"t2","name":"acme"}`},
			want: sent{Method: "POST", Path: "/v1/tenants", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"name":"acme","prefix":"acme"}`)},
		},
		{
			name:   "get a tenant",
			call:   func(c *client.Client) (any, error) { return c.GetTenant(ctx, "t2") },
			answer: answer{body: `{"id":"t2"}`},
			want:   sent{Method: "GET", Path: "/v1/tenants/t2", Query: url.Values{}, Headers: headers(false)},
		},
		{
			name: "update a tenant",
			call: func(c *client.Client) (any, error) {
				return c.UpdateTenant(ctx, "t2", keyward.TenantInput{IsActive: client.Bool(false)})
			},
			answer: answer{body: `{"id":"t2"}`},
			want: sent{Method: "PATCH", Path: "/v1/tenants/t2", Query: url.Values{}, Headers: headers(true),
				Body: jsonOf(t, `{"isActive":false}`)},
		},
		{
			name: "list the audit log",
			call: func(c *client.Client) (any, error) {
				return c.ListAudit(ctx, client.ListAuditOptions{PageSize: 5, Action: "apikey.create", ActorID: "u1",
					TargetID: "k1", Since: since.In(time.FixedZone("CET", 3600))})
			},
			answer: answer{body: envelopeJSON(`{"id":"a1","action":"apikey.create","at":"2025-03-04T05:06:07Z"}`)},
			want: sent{Method: "GET", Path: "/v1/audit", Headers: headers(false), Query: url.Values{
				"page-size": {"5"}, "action": {"apikey.create"}, "actorId": {"u1"}, "targetId": {"k1"},
				"since": {"2025-03-04T05:06:07Z"},
			}},
			check: func(t *testing.T, got any) {
				if p := got.(*client.Page[keyward.AuditEntry]); len(p.Items) != 1 || !p.Items[0].At.Equal(since) {
					t.Errorf("got %+v", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := fakeServer(t, tt.answer)
			opts := append([]client.Option{client.WithToken(testToken)}, tt.opts...)
			c := client.New(srv.URL, opts...)
			res, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if len(*got) != 1 {
				t.Fatalf("the server got %d requests, want 1", len(*got))
			}
			if diff := cmp.Diff(tt.want, (*got)[0]); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	srv, got := fakeServer(t, answer{body: `{}`})
	c := client.New(srv.URL+"/keyward/", client.WithToken(testToken))
	if _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := (*got)[0].Path; p != "/keyward/v1/whoami" {
		t.Errorf("path = %q, want /keyward/v1/whoami", p)
	}
}

func TestWithCopies(t *testing.T) {
	srv, got := fakeServer(t, answer{body: `{}`})
	base := client.New(srv.URL, client.WithToken("first"))
	derived := base.With(client.WithToken("second"), client.WithTenant("acme"))
	ctx := context.Background()
	if _, err := base.WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := derived.WhoAmI(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b := (*got)[0].Headers["Authorization"], (*got)[1].Headers["Authorization"]; a != "Bearer first" || b != "Bearer second" {
		t.Errorf("Authorization = %q then %q, want Bearer first then Bearer second", a, b)
	}
	if q := (*got)[0].Query.Get("tenant"); q != "" {
		t.Errorf("the base client sent tenant=%q", q)
	}
	if q := (*got)[1].Query.Get("tenant"); q != "acme" {
		t.Errorf("the derived client sent tenant=%q, want acme", q)
	}
}

func TestWithHTTPClient(t *testing.T) {
	srv, _ := fakeServer(t, answer{body: `{}`})
	var used bool
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	if _, err := client.New(srv.URL, client.WithHTTPClient(hc)).WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !used {
		t.Error("the given http.Client was not used")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		answer  answer
		want    *client.Error
		wantMsg string
	}{
		{
			name: "validation problem with fields",
			answer: answer{status: 400, contentType: "application/problem+json", body: `{"type":"urn:keyward:problem:invalid",
				"title":"Bad Request","status":400,"detail":"the request is invalid","code":"invalid",
				"errors":[{"field":"name","message":"is required"},{"field":"level","message":"must be between 0 and 8"}]}`},
			want: &client.Error{StatusCode: 400, Code: "invalid", Title: "Bad Request", Detail: "the request is invalid",
				Type:   "urn:keyward:problem:invalid",
				Fields: []keyward.FieldError{{Field: "name", Message: "is required"}, {Field: "level", Message: "must be between 0 and 8"}}},
			wantMsg: "the request is invalid: name: is required; level: must be between 0 and 8 (HTTP 400, invalid)",
		},
		{
			name: "one field error is not repeated",
			answer: answer{status: 400, contentType: "application/problem+json",
				body: `{"title":"Bad Request","status":400,"detail":"clientId: is immutable","code":"invalid","errors":[{"field":"clientId","message":"is immutable"}]}`},
			want: &client.Error{StatusCode: 400, Code: "invalid", Title: "Bad Request", Detail: "clientId: is immutable",
				Fields: []keyward.FieldError{{Field: "clientId", Message: "is immutable"}}},
			wantMsg: "clientId: is immutable (HTTP 400, invalid)",
		},
		{
			name: "not found",
			answer: answer{status: 404, contentType: "application/problem+json",
				body: `{"type":"urn:keyward:problem:not_found","title":"Not Found","status":404,"detail":"api key not found","code":"not_found"}`},
			want: &client.Error{StatusCode: 404, Code: "not_found", Title: "Not Found", Detail: "api key not found",
				Type: "urn:keyward:problem:not_found"},
			wantMsg: "api key not found (HTTP 404, not_found)",
		},
		{
			name: "version conflict",
			answer: answer{status: 409, contentType: "application/problem+json",
				body: `{"title":"Conflict","status":409,"detail":"the key's version is 4, not 3","code":"version_conflict"}`},
			want:    &client.Error{StatusCode: 409, Code: "version_conflict", Title: "Conflict", Detail: "the key's version is 4, not 3"},
			wantMsg: "the key's version is 4, not 3 (HTTP 409, version_conflict)",
		},
		{
			name: "rate limited with Retry-After",
			answer: answer{status: 429, contentType: "application/problem+json", header: map[string]string{"Retry-After": "7"},
				body: `{"title":"Too Many Requests","status":429,"detail":"slow down","code":"rate_limited"}`},
			want: &client.Error{StatusCode: 429, Code: "rate_limited", Title: "Too Many Requests", Detail: "slow down",
				RetryAfter: 7 * time.Second},
			wantMsg: "slow down (HTTP 429, rate_limited)",
		},
		{
			name:    "plain text from a mux",
			answer:  answer{status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n"},
			want:    &client.Error{StatusCode: 404, Code: "not_found", Title: "Not Found", Detail: "404 page not found"},
			wantMsg: "404 page not found (HTTP 404, not_found)",
		},
		{
			name:    "an HTML page from a proxy is dropped",
			answer:  answer{status: 502, contentType: "text/html", body: "<html><body><h1>Bad Gateway</h1></body></html>"},
			want:    &client.Error{StatusCode: 502, Code: "unavailable", Title: "Bad Gateway"},
			wantMsg: "Bad Gateway (HTTP 502, unavailable)",
		},
		{
			name:    "broken problem JSON",
			answer:  answer{status: 500, contentType: "application/problem+json", body: `{"title":`},
			want:    &client.Error{StatusCode: 500, Code: "internal", Title: "Internal Server Error"},
			wantMsg: "Internal Server Error (HTTP 500, internal)",
		},
		{
			name: "control characters are removed",
			answer: answer{status: 403, contentType: "application/problem+json",
				body: `{"title":"Forbidden","status":403,"detail":"no\u001b[31m way\nsecond line","code":"forbidden"}`},
			want:    &client.Error{StatusCode: 403, Code: "forbidden", Title: "Forbidden", Detail: "no [31m way"},
			wantMsg: "no [31m way (HTTP 403, forbidden)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeServer(t, tt.answer)
			_, err := client.New(srv.URL, client.WithToken(testToken)).GetAPIKey(context.Background(), "k1")
			var got *client.Error
			if !errors.As(err, &got) {
				t.Fatalf("err = %#v, want a *client.Error", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if msg := err.Error(); msg != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", msg, tt.wantMsg)
			}
			if !client.HasCode(err, tt.want.Code) {
				t.Errorf("HasCode(err, %q) = false", tt.want.Code)
			}
		})
	}
}

func TestNetworkErrorIsWrappedWithoutSecrets(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	_, err := client.New(addr, client.WithToken(testToken)).ListAPIKeys(context.Background(), client.ListAPIKeysOptions{Query: "x"})
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("err = %v, want it to wrap a *url.Error", err)
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		t.Errorf("a network error became a *client.Error: %v", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("the error shows the token: %v", err)
	}
}

func TestContextCancellation(t *testing.T) {
	srv, _ := fakeServer(t, answer{body: `{}`})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := client.New(srv.URL).WhoAmI(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestUndecodableAnswer(t *testing.T) {
	srv, _ := fakeServer(t, answer{body: `not json`})
	_, err := client.New(srv.URL).GetAPIKey(context.Background(), "k1")
	if err == nil || !strings.Contains(err.Error(), "decoding the answer to GET /v1/apikeys/k1") {
		t.Errorf("err = %v, want a decoding error naming the request", err)
	}
}

func TestLocalErrorsSendNothing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(c *client.Client) error
	}{
		{"empty key id", func(c *client.Client) error { _, err := c.GetAPIKey(ctx, ""); return err }},
		{"blank user id", func(c *client.Client) error { _, err := c.DeleteUser(ctx, " "); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := fakeServer(t, answer{body: `{}`})
			if err := tt.call(client.New(srv.URL)); err == nil {
				t.Error("no error")
			}
			if len(*got) != 0 {
				t.Errorf("the server got %d requests, want none", len(*got))
			}
		})
	}
	if _, err := client.New("not a url").WhoAmI(ctx); err == nil {
		t.Error("no error for a malformed server URL")
	}
}

func TestFormattingHidesSecrets(t *testing.T) {
	c := client.New("http://127.0.0.1:8080", client.WithToken(testToken), client.WithTenant("acme"))
	in := client.LoginInput{UserName: "admin", Password: "hunter2-hunter2"}
	for _, s := range []string{
		//lint:ignore S1025 every formatting verb is the point
		fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c),
		fmt.Sprint(in), fmt.Sprintf("%+v", in), fmt.Sprintf("%#v", in),
	} {
		if strings.Contains(s, testToken) || strings.Contains(s, "hunter2") {
			t.Errorf("formatted output shows a secret: %s", s)
		}
	}
}
