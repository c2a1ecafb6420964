package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keyward/keyward"
)

const tenantColumns = `id, name, prefix, is_active, is_root, created_at, updated_at, version, portos_readable_secrets`

func scanTenant(row interface{ Scan(...any) error }) (*keyward.Tenant, error) {
	var t keyward.Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Prefix, &t.IsActive, &t.IsRoot,
		timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt}, &t.Version, &t.PortosReadableSecrets)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateTenant stores a new tenant. A duplicate id or name is ECONFLICT.
func (s *store) CreateTenant(ctx context.Context, t *keyward.Tenant) error {
	return s.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `
			INSERT INTO tenants (`+tenantColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.ID, t.Name, t.Prefix, t.IsActive, t.IsRoot, s.ts(t.CreatedAt), s.ts(t.UpdatedAt), t.Version, t.PortosReadableSecrets)
		if err != nil {
			return writeError(err, "creating a tenant", "a tenant with this name already exists")
		}
		return nil
	})
}

// UpdateTenant stores every field of t but ID and CreatedAt, including the
// new Version, if the stored version is expectVersion. A missing tenant is
// ENOTFOUND, another stored version EVERSIONCONFLICT, a duplicate name
// ECONFLICT.
func (s *store) UpdateTenant(ctx context.Context, t *keyward.Tenant, expectVersion int) error {
	return s.writeOne(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `
			UPDATE tenants SET name = $1, prefix = $2, is_active = $3, is_root = $4, updated_at = $5, version = $6,
				portos_readable_secrets = $9
			WHERE id = $7 AND version = $8`,
			t.Name, t.Prefix, t.IsActive, t.IsRoot, s.ts(t.UpdatedAt), t.Version, t.ID, expectVersion, t.PortosReadableSecrets)
		if err != nil {
			return writeError(err, "updating a tenant", "a tenant with this name already exists")
		}
		return s.checkUpdated(ctx, q, res, "tenant", `SELECT version FROM tenants WHERE id = $1`, []any{t.ID}, expectVersion)
	})
}

// GetTenant returns the tenant with id, or ENOTFOUND.
func (s *store) GetTenant(ctx context.Context, id string) (*keyward.Tenant, error) {
	return s.getTenant(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id)
}

// GetTenantByName returns the tenant named name (exactly), or ENOTFOUND.
func (s *store) GetTenantByName(ctx context.Context, name string) (*keyward.Tenant, error) {
	return s.getTenant(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE name = $1`, name)
}

func (s *store) getTenant(ctx context.Context, query string, arg string) (*keyward.Tenant, error) {
	t, err := scanTenant(s.read.QueryRowContext(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("tenant")
	} else if err != nil {
		return nil, fmt.Errorf("reading a tenant: %w", err)
	}
	return t, nil
}

// ListTenants returns one page of all tenants ordered by name.
func (s *store) ListTenants(ctx context.Context, page keyward.Page) (keyward.List[*keyward.Tenant], error) {
	list := keyward.List[*keyward.Tenant]{Items: []*keyward.Tenant{}, Page: page}
	n, err := s.CountTenants(ctx)
	if err != nil {
		return list, err
	}
	list.TotalCount = n
	rows, err := s.read.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY name, id LIMIT $1 OFFSET $2`,
		page.Size, page.Offset())
	if err != nil {
		return list, fmt.Errorf("listing tenants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return list, fmt.Errorf("listing tenants: %w", err)
		}
		list.Items = append(list.Items, t)
	}
	if err := rows.Err(); err != nil {
		return list, fmt.Errorf("listing tenants: %w", err)
	}
	return list, nil
}

// CountTenants returns the number of tenants.
func (s *store) CountTenants(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM tenants`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting tenants: %w", err)
	}
	return n, nil
}
