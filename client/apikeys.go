package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyward/keyward"
)

// ListAPIKeysOptions filters and pages GET /v1/apikeys. Zero values leave
// the choice to the server.
type ListAPIKeysOptions struct {
	Page       int    // 1-based
	PageSize   int    // 1..500, default 20
	Query      string // name contains, case-insensitive
	Status     string // keyward.StatusAll, StatusActive, StatusInactive or StatusExpired
	Permission string // permission name the key holds
	OwnerID    string // keys of this user only
	Sort       string // name, createdAt, lastUsedAt or expiresAt; "-" in front for descending
}

func (o ListAPIKeysOptions) values() url.Values {
	q := ListOptions{Page: o.Page, PageSize: o.PageSize}.values()
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("q", o.Query)
	set("status", o.Status)
	set("permission", o.Permission)
	set("ownerId", o.OwnerID)
	set("sort", o.Sort)
	return q
}

// CreateAPIKey creates a key (POST /v1/apikeys). The answer holds the
// key's secret, which the server never shows again. Name is required;
// every nil field takes its default.
func (c *Client) CreateAPIKey(ctx context.Context, in keyward.APIKeyInput) (*keyward.IssuedKey, error) {
	var out keyward.IssuedKey
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/apikeys", body: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAPIKeys returns one page of the keys the caller may read
// (GET /v1/apikeys).
func (c *Client) ListAPIKeys(ctx context.Context, opts ListAPIKeysOptions) (*Page[keyward.APIKey], error) {
	var out Page[keyward.APIKey]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/apikeys", query: opts.values()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAPIKey returns one key, without its secret (GET /v1/apikeys/{id}).
// Its Version is the ETag to pass as ifMatch to UpdateAPIKey and
// DeleteAPIKey.
func (c *Client) GetAPIKey(ctx context.Context, id string) (*keyward.APIKey, error) {
	p, err := idPath("/v1/apikeys", id)
	if err != nil {
		return nil, err
	}
	var out keyward.APIKey
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateAPIKey changes the given fields of in (PATCH /v1/apikeys/{id});
// set in.ExpiresAt to keyward.Null to remove the expiry ("expiresAt": null),
// in.RateLimit to remove the key's rate limit ("rateLimit": null) and
// in.Credits to remove its credits ("credits": null); in.AllowedCIDRs
// replaces the key's address allowlist (an empty list removes it). ClientID
// and ExpiresIn cannot be changed this way: the server rejects them (invalid).
// With ifMatch, the server changes the key only at that version, else
// answers precondition (HTTP 412).
func (c *Client) UpdateAPIKey(ctx context.Context, id string, in keyward.APIKeyInput, ifMatch *int) (*keyward.APIKey, error) {
	p, err := idPath("/v1/apikeys", id)
	if err != nil {
		return nil, err
	}
	var out keyward.APIKey
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: p, body: in, ifMatch: ifMatch}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetAPIKeyActive activates or deactivates a key: UpdateAPIKey with only
// isActive.
func (c *Client) SetAPIKeyActive(ctx context.Context, id string, active bool, ifMatch *int) (*keyward.APIKey, error) {
	return c.UpdateAPIKey(ctx, id, keyward.APIKeyInput{IsActive: &active}, ifMatch)
}

// ReplaceAPIKey creates the key with this id or replaces every settable
// field of the existing one (PUT /v1/apikeys/{id}). Replacing needs the
// key's current version (else version_conflict, HTTP 409); fields left nil
// take their defaults. created tells which happened: only a created key
// carries its ClientSecret; a replaced one has it empty.
func (c *Client) ReplaceAPIKey(ctx context.Context, id string, in keyward.APIKeyInput, version *int) (key *keyward.IssuedKey, created bool, err error) {
	p, err := idPath("/v1/apikeys", id)
	if err != nil {
		return nil, false, err
	}
	body := struct {
		keyward.APIKeyInput
		Version *int `json:"version,omitempty"`
	}{in, version}
	var out keyward.IssuedKey
	status, err := c.do(ctx, request{method: http.MethodPut, path: p, body: body}, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, status == http.StatusCreated, nil
}

// DeleteAPIKey deletes a key and returns it as it was
// (DELETE /v1/apikeys/{id}). With ifMatch, only at that version.
func (c *Client) DeleteAPIKey(ctx context.Context, id string, ifMatch *int) (*keyward.APIKey, error) {
	p, err := idPath("/v1/apikeys", id)
	if err != nil {
		return nil, err
	}
	var out keyward.APIKey
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: p, ifMatch: ifMatch}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateAPIKey issues a new secret for a key (POST /v1/apikeys/{id}/rotate);
// the old one keeps working for in.GracePeriodSeconds (0..86400). The
// answer holds the new secret, which the server never shows again.
func (c *Client) RotateAPIKey(ctx context.Context, id string, in keyward.RotateInput) (*keyward.IssuedKey, error) {
	p, err := idPath("/v1/apikeys", id, "rotate")
	if err != nil {
		return nil, err
	}
	var out keyward.IssuedKey
	if _, err := c.do(ctx, request{method: http.MethodPost, path: p, body: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// APIKeyUsage returns a key's usage over the last days days, today
// included (GET /v1/apikeys/{id}/usage): per day the requests it
// authenticated (Count) and its verifications by outcome (Outcomes, keyed
// by keyward.UsageOutcomes); with hourly, Hours holds the same per hour.
// days 0 leaves the period to the server (14).
func (c *Client) APIKeyUsage(ctx context.Context, id string, days int, hourly bool) (*keyward.KeyUsage, error) {
	p, err := idPath("/v1/apikeys", id, "usage")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if days != 0 {
		q.Set("days", strconv.Itoa(days))
	}
	if hourly {
		q.Set("granularity", "hour")
	}
	var out keyward.KeyUsage
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p, query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Int returns a pointer to v: handy for ifMatch and the optional fields of
// the input types.
func Int(v int) *int { return &v }

// Int64 returns a pointer to v.
func Int64(v int64) *int64 { return &v }

// String returns a pointer to v.
func String(v string) *string { return &v }

// Bool returns a pointer to v.
func Bool(v bool) *bool { return &v }
