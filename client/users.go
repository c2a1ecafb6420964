package client

import (
	"context"
	"net/http"

	"github.com/keyward/keyward"
)

// ListUsersOptions filters and pages GET /v1/users.
type ListUsersOptions struct {
	Page     int    // 1-based
	PageSize int    // 1..500, default 20
	Query    string // userName contains, case-insensitive
}

// ListUsers returns one page of the tenant's users (GET /v1/users; needs
// users:read).
func (c *Client) ListUsers(ctx context.Context, opts ListUsersOptions) (*Page[keyward.User], error) {
	q := ListOptions{Page: opts.Page, PageSize: opts.PageSize}.values()
	if opts.Query != "" {
		q.Set("q", opts.Query)
	}
	var out Page[keyward.User]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/users", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateUser creates a user (POST /v1/users; needs users:write). UserName
// and Password are required; the password never comes back.
func (c *Client) CreateUser(ctx context.Context, in keyward.UserInput) (*keyward.User, error) {
	var out keyward.User
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/users", body: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetUser returns one user (GET /v1/users/{id}).
func (c *Client) GetUser(ctx context.Context, id string) (*keyward.User, error) {
	return c.userCall(ctx, http.MethodGet, id, nil)
}

// UpdateUser changes the non-nil fields of in (PATCH /v1/users/{id}).
// Deactivating a user deactivates the keys it owns.
func (c *Client) UpdateUser(ctx context.Context, id string, in keyward.UserInput) (*keyward.User, error) {
	return c.userCall(ctx, http.MethodPatch, id, in)
}

// DeleteUser deletes a user and returns it as it was (DELETE /v1/users/{id}).
func (c *Client) DeleteUser(ctx context.Context, id string) (*keyward.User, error) {
	return c.userCall(ctx, http.MethodDelete, id, nil)
}

func (c *Client) userCall(ctx context.Context, method, id string, body any) (*keyward.User, error) {
	p, err := idPath("/v1/users", id)
	if err != nil {
		return nil, err
	}
	var out keyward.User
	if _, err := c.do(ctx, request{method: method, path: p, body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
