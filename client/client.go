// Package client is the Go client for keyward's native management API
// (/v1): logging in, API keys, key verification, users, permissions,
// tenants and the audit log.
//
// A Client is safe for concurrent use. It authenticates every request with
// the bearer token given to WithToken: a user access token from Login, or an
// API key's secret. A non-2xx answer comes back as an *Error carrying the
// server's problem details:
//
//	c := client.New("https://keys.example.com", client.WithToken(os.Getenv("KEYWARD_TOKEN")))
//	key, err := c.GetAPIKey(ctx, id)
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == keyward.ENOTFOUND {
//		// no such key, or not visible to the caller
//	}
//
// The client never logs, and no secret it handles (token, password, client
// secret) appears in its error messages or in the output of %v on a Client.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// DefaultUserAgent is the User-Agent sent unless WithUserAgent says otherwise.
const DefaultUserAgent = "keyward-go-client"

// maxResponseBytes bounds how much of a response body the client reads.
const maxResponseBytes = 32 << 20

// Client talks to one keyward server. Create it with New; derive variants
// (another token, another tenant) with With.
type Client struct {
	baseURL    string // without a trailing slash
	token      string
	tenant     string
	userAgent  string
	httpClient *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithToken authenticates every request with "Authorization: Bearer token":
// a user access token (see Login) or an API key's secret.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithHTTPClient sends requests through hc instead of a default client with
// a 30-second timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithTenant adds ?tenant=<id or name> to every request except Login, so a
// root-tenant principal holding tenants:admin acts in that tenant.
func WithTenant(tenant string) Option {
	return func(c *Client) { c.tenant = tenant }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client of the server at baseURL, such as
// "http://127.0.0.1:8080" (a path prefix is kept: "https://host/keyward").
// It does no I/O; a malformed baseURL is reported by the first call.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		userAgent:  DefaultUserAgent,
		httpClient: &http.Client{Timeout: 30 * time.Second},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// With returns a copy of c with opts applied; c itself is unchanged. Use it
// to switch to the token Login returned:
//
//	res, err := c.Login(ctx, client.LoginInput{UserName: "admin", Password: pw})
//	...
//	c = c.With(client.WithToken(res.AccessToken))
func (c *Client) With(opts ...Option) *Client {
	cp := *c
	for _, o := range opts {
		o(&cp)
	}
	return &cp
}

// BaseURL returns the server URL the client was made for.
func (c *Client) BaseURL() string { return c.baseURL }

// String describes the client without its token.
func (c *Client) String() string {
	s := "keyward client for " + c.baseURL
	if c.tenant != "" {
		s += " (tenant " + c.tenant + ")"
	}
	return s
}

// GoString is like String, so that %#v does not print the token either.
func (c *Client) GoString() string { return "client.Client{" + c.String() + "}" }

// LoginInput is the body of Login. Tenant is the tenant (id or name) the
// user belongs to; empty means the root tenant.
type LoginInput struct {
	UserName string `json:"userName"`
	Password string `json:"password"`
	Tenant   string `json:"tenant,omitempty"`
}

// String describes the input without the password.
func (in LoginInput) String() string {
	return fmt.Sprintf("{UserName:%s Password:[redacted] Tenant:%s}", in.UserName, in.Tenant)
}

// GoString is like String.
func (in LoginInput) GoString() string { return "client.LoginInput" + in.String() }

// Login exchanges a user name and password for a user access token
// (POST /v1/login). It does not change c: pass the token to WithToken.
// A wrong name or password is an *Error with code unauthorized.
func (c *Client) Login(ctx context.Context, in LoginInput) (*keyward.LoginResult, error) {
	var out keyward.LoginResult
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/login", body: in, noTenant: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// WhoAmI describes the caller: kind, id, tenant, level and effective
// permissions (GET /v1/whoami).
func (c *Client) WhoAmI(ctx context.Context) (*keyward.WhoAmI, error) {
	var out keyward.WhoAmI
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/whoami"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyKey checks a credential on behalf of a resource server
// (POST /v1/keys/verify; the caller needs keys:verify). The answer says
// whether the credential is valid in its Code; an *Error means the call
// itself failed.
func (c *Client) VerifyKey(ctx context.Context, in keyward.VerifyRequest) (*keyward.VerifyResult, error) {
	var out keyward.VerifyResult
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/keys/verify", body: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Page is one page of a list, in the envelope every /v1 list answers with.
// PageIndex is 1-based.
type Page[T any] struct {
	Items           []T  `json:"items"`
	PageIndex       int  `json:"pageIndex"`
	PageSize        int  `json:"pageSize"`
	TotalPages      int  `json:"totalPages"`
	TotalCount      int  `json:"totalCount"`
	HasPreviousPage bool `json:"hasPreviousPage"`
	HasNextPage     bool `json:"hasNextPage"`
}

// ListOptions selects a page. Zero values leave the choice to the server
// (page 1, 20 items).
type ListOptions struct {
	Page     int // 1-based
	PageSize int // 1..500
}

func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.Page > 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.PageSize > 0 {
		q.Set("page-size", strconv.Itoa(o.PageSize))
	}
	return q
}

// request is one call to the API.
type request struct {
	method   string
	path     string     // escaped, from the server root: "/v1/apikeys/<id>"
	query    url.Values // may be nil
	body     any        // sent as JSON unless nil; a json.RawMessage is sent as is
	ndjson   []byte     // sent as application/x-ndjson instead of body, unless nil
	ifMatch  *int       // sent as If-Match: "<n>"
	noTenant bool       // do not add ?tenant=
}

// do sends r and decodes a 2xx JSON answer into out (unless out is nil).
// It returns the status code; a non-2xx answer is an *Error.
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	u, err := url.Parse(c.baseURL + r.path)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return 0, fmt.Errorf("keyward client: invalid server URL %q", c.baseURL)
	}
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	if c.tenant != "" && !r.noTenant {
		q.Set("tenant", c.tenant)
	}
	u.RawQuery = q.Encode()

	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, fmt.Errorf("keyward client: encoding the body of %s %s: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
	}
	if r.ndjson != nil {
		body = bytes.NewReader(r.ndjson)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("keyward client: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.ndjson != nil {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if k := idempotencyKeyOf(ctx); k != "" {
		req.Header.Set("Idempotency-Key", `"`+k+`"`)
	}
	if r.ifMatch != nil {
		req.Header.Set("If-Match", `"`+strconv.Itoa(*r.ifMatch)+`"`)
	}

	res, err := c.httpClient.Do(req)
	if err != nil {
		// *url.Error names the method and URL (without any password); the
		// token travels in a header and so never shows.
		return 0, fmt.Errorf("keyward client: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return res.StatusCode, fmt.Errorf("keyward client: reading the answer to %s %s: %w", r.method, r.path, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, parseError(res, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, fmt.Errorf("keyward client: decoding the answer to %s %s (HTTP %d): %w",
				r.method, r.path, res.StatusCode, err)
		}
	}
	return res.StatusCode, nil
}

// idPath joins a collection path and an object id, escaping the id.
func idPath(collection, id string, rest ...string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", errors.New("keyward client: an id is required")
	}
	p := collection + "/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p, nil
}
