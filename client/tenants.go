package client

import (
	"context"
	"net/http"
	"time"

	"github.com/keyward/keyward"
)

// ListTenants returns one page of tenants (GET /v1/tenants; needs
// tenants:admin).
func (c *Client) ListTenants(ctx context.Context, opts ListOptions) (*Page[keyward.Tenant], error) {
	var out Page[keyward.Tenant]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/tenants", query: opts.values()}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateTenant creates a tenant (POST /v1/tenants; needs tenants:admin).
func (c *Client) CreateTenant(ctx context.Context, in keyward.TenantInput) (*keyward.Tenant, error) {
	var out keyward.Tenant
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/tenants", body: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetTenant returns one tenant by id (GET /v1/tenants/{id}).
func (c *Client) GetTenant(ctx context.Context, id string) (*keyward.Tenant, error) {
	return c.tenantCall(ctx, http.MethodGet, id, nil)
}

// UpdateTenant changes the non-nil fields of in (PATCH /v1/tenants/{id}).
func (c *Client) UpdateTenant(ctx context.Context, id string, in keyward.TenantInput) (*keyward.Tenant, error) {
	return c.tenantCall(ctx, http.MethodPatch, id, in)
}

func (c *Client) tenantCall(ctx context.Context, method, id string, body any) (*keyward.Tenant, error) {
	p, err := idPath("/v1/tenants", id)
	if err != nil {
		return nil, err
	}
	var out keyward.Tenant
	if _, err := c.do(ctx, request{method: method, path: p, body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAuditOptions filters and pages GET /v1/audit.
type ListAuditOptions struct {
	Page     int       // 1-based
	PageSize int       // 1..500, default 20
	Action   string    // e.g. "apikey.create"
	ActorID  string    // who did it
	TargetID string    // what it was done to
	Since    time.Time // entries at or after this time; zero for all
}

// ListAudit returns one page of the tenant's audit log, newest first
// (GET /v1/audit; needs audit:read).
func (c *Client) ListAudit(ctx context.Context, opts ListAuditOptions) (*Page[keyward.AuditEntry], error) {
	q := ListOptions{Page: opts.Page, PageSize: opts.PageSize}.values()
	for k, v := range map[string]string{"action": opts.Action, "actorId": opts.ActorID, "targetId": opts.TargetID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.UTC().Format(time.RFC3339Nano))
	}
	var out Page[keyward.AuditEntry]
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/audit", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
