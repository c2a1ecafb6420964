package client

import (
	"context"
	"net/http"

	"github.com/keyward/keyward"
)

// ListPermissions returns the tenant's permission catalog, built-ins
// included (GET /v1/permissions; needs permissions:read). The server may
// answer with the whole catalog on one page whatever opts ask for.
func (c *Client) ListPermissions(ctx context.Context, opts ListOptions) (*Page[keyward.Permission], error) {
	var out Page[keyward.Permission]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/permissions", query: opts.values()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreatePermission adds a permission to the catalog (POST /v1/permissions;
// needs permissions:write). Children make it a composite.
func (c *Client) CreatePermission(ctx context.Context, in keyward.PermissionInput) (*keyward.Permission, error) {
	var out keyward.Permission
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/permissions", body: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPermission returns one permission (GET /v1/permissions/{id}).
func (c *Client) GetPermission(ctx context.Context, id string) (*keyward.Permission, error) {
	return c.permissionCall(ctx, http.MethodGet, id, nil)
}

// UpdatePermission changes the non-nil fields of in
// (PATCH /v1/permissions/{id}). Built-in permissions are read-only.
func (c *Client) UpdatePermission(ctx context.Context, id string, in keyward.PermissionInput) (*keyward.Permission, error) {
	return c.permissionCall(ctx, http.MethodPatch, id, in)
}

// DeletePermission removes a permission from the catalog and returns it as
// it was (DELETE /v1/permissions/{id}).
func (c *Client) DeletePermission(ctx context.Context, id string) (*keyward.Permission, error) {
	return c.permissionCall(ctx, http.MethodDelete, id, nil)
}

func (c *Client) permissionCall(ctx context.Context, method, id string, body any) (*keyward.Permission, error) {
	p, err := idPath("/v1/permissions", id)
	if err != nil {
		return nil, err
	}
	var out keyward.Permission
	if _, err := c.do(ctx, request{method: method, path: p, body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
