package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
)

// permissionColumns selects a permission p with its children's ids, in
// their stored order, as one comma-separated column (ids hold no commas).
const permissionColumns = `p.id, p.tenant_id, p.name, p.description, p.composite, p.client_role, p.container_id,
	p.attributes, p.built_in, p.created_at,
	(SELECT string_agg(c.child_id, ',' ORDER BY c.position) FROM permission_children c WHERE c.parent_id = p.id)`

// scanPermission scans permissionColumns after the destinations in before.
func scanPermission(row interface{ Scan(...any) error }, before ...any) (*keyward.Permission, error) {
	var p keyward.Permission
	var attrs, children sql.NullString
	dest := append(before, &p.ID, &p.TenantID, &p.Name, &p.Description, &p.Composite, &p.ClientRole,
		&p.ContainerID, &attrs, &p.BuiltIn, timeCol{&p.CreatedAt}, &children)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if p.Attributes, err = decodeAttributes(attrs); err != nil {
		return nil, err
	}
	if children.Valid {
		p.Children = strings.Split(children.String, ",")
	}
	return &p, nil
}

// CreatePermission stores a new permission and its children (ids of
// permissions of the same tenant, kept in the given order). A duplicate id
// or name in the tenant is ECONFLICT.
func (s *store) CreatePermission(ctx context.Context, p *keyward.Permission) error {
	attrs, err := attributesArg(p.Attributes)
	if err != nil {
		return err
	}
	return s.atomic(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `
			INSERT INTO permissions (id, tenant_id, name, description, composite, client_role, container_id,
				attributes, built_in, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			p.ID, p.TenantID, p.Name, p.Description, p.Composite, p.ClientRole, p.ContainerID,
			attrs, p.BuiltIn, s.ts(p.CreatedAt))
		if err != nil {
			return writeError(err, "creating a permission", "a permission with this name already exists")
		}
		return insertChildren(ctx, q, p)
	})
}

func insertChildren(ctx context.Context, q querier, p *keyward.Permission) error {
	if len(p.Children) == 0 {
		return nil
	}
	args := []any{p.TenantID, p.ID}
	values := make([]string, len(p.Children))
	for i, c := range p.Children {
		args = append(args, c)
		values[i] = "($1, $2, $" + strconv.Itoa(len(args)) + ", " + strconv.Itoa(i) + ")"
	}
	_, err := q.ExecContext(ctx, `INSERT INTO permission_children (tenant_id, parent_id, child_id, position) VALUES `+
		strings.Join(values, ", "), args...)
	if err != nil {
		return writeError(err, "storing the children of a permission", "a permission's children must be distinct")
	}
	return nil
}

// UpdatePermission stores every field of p but ID, TenantID and CreatedAt,
// and replaces its children. A permission missing from p.TenantID is
// ENOTFOUND; a duplicate name is ECONFLICT.
func (s *store) UpdatePermission(ctx context.Context, p *keyward.Permission) error {
	attrs, err := attributesArg(p.Attributes)
	if err != nil {
		return err
	}
	return s.atomic(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `
			UPDATE permissions SET name = $1, description = $2, composite = $3, client_role = $4,
				container_id = $5, attributes = $6, built_in = $7
			WHERE id = $8 AND tenant_id = $9`,
			p.Name, p.Description, p.Composite, p.ClientRole, p.ContainerID, attrs, p.BuiltIn, p.ID, p.TenantID)
		if err != nil {
			return writeError(err, "updating a permission", "a permission with this name already exists")
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("updating a permission: %w", err)
		} else if n == 0 {
			return notFound("permission")
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM permission_children WHERE parent_id = $1`, p.ID); err != nil {
			return fmt.Errorf("updating the children of a permission: %w", err)
		}
		return insertChildren(ctx, q, p)
	})
}

// DeletePermission deletes a permission and its list of children. A
// permission missing from tenantID is ENOTFOUND; one still held by a key, a
// user or a composite is ECONFLICT (the Service checks PermissionInUse
// first; this only guards against races).
func (s *store) DeletePermission(ctx context.Context, tenantID, id string) error {
	return s.writeOne(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM permissions WHERE id = $1 AND tenant_id = $2`, id, tenantID)
		if violation(err) == violationForeignKey {
			return keyward.Errorf(keyward.ECONFLICT, "the permission is held by a key, a user or a composite")
		} else if err != nil {
			return fmt.Errorf("deleting a permission: %w", err)
		}
		return checkDeleted(res, "permission")
	})
}

// GetPermission returns the permission id of tenantID, or ENOTFOUND.
//
// Inside a transaction on PostgreSQL it also locks the permission until the
// transaction ends, so that a read-modify-write of it in one transaction
// loses no concurrent change (SQLite runs write transactions one at a time).
func (s *store) GetPermission(ctx context.Context, tenantID, id string) (*keyward.Permission, error) {
	lock := ""
	if s.tx != nil && s.pg {
		lock = " FOR UPDATE OF p"
	}
	p, err := scanPermission(s.read.QueryRowContext(ctx, `SELECT `+permissionColumns+`
		FROM permissions p WHERE p.id = $1 AND p.tenant_id = $2`+lock, id, tenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("permission")
	} else if err != nil {
		return nil, fmt.Errorf("reading a permission: %w", err)
	}
	return p, nil
}

// ListPermissions returns the whole catalog of tenantID ordered by name
// (byte order).
func (s *store) ListPermissions(ctx context.Context, tenantID string) ([]*keyward.Permission, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+permissionColumns+`
		FROM permissions p WHERE p.tenant_id = $1 ORDER BY p.name, p.id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("listing permissions: %w", err)
	}
	defer rows.Close()
	out := []*keyward.Permission{}
	for rows.Next() {
		p, err := scanPermission(rows)
		if err != nil {
			return nil, fmt.Errorf("listing permissions: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing permissions: %w", err)
	}
	return out, nil
}

// PermissionInUse reports whether a key, a user or a composite of tenantID
// holds permission id.
func (s *store) PermissionInUse(ctx context.Context, tenantID, id string) (bool, error) {
	var used bool
	err := s.read.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM api_key_permissions WHERE permission_id = $1 AND tenant_id = $2) OR
		EXISTS (SELECT 1 FROM user_permissions WHERE permission_id = $1 AND tenant_id = $2) OR
		EXISTS (SELECT 1 FROM permission_children WHERE child_id = $1 AND tenant_id = $2)`, id, tenantID).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("checking whether a permission is in use: %w", err)
	}
	return used, nil
}

// loadPermissions returns the explicit permissions of each owner in refs
// (keys or users, per join: the join table and its owner column; a
// KeyRef names a user too), ordered by name, in one query. Every owner gets
// a non-nil slice. Owners are matched by tenant and id: key ids repeat
// across tenants.
func (s *store) loadPermissions(ctx context.Context, q querier, join, ownerCol string, refs []keyward.KeyRef) (map[keyward.KeyRef][]keyward.Permission, error) {
	out := make(map[keyward.KeyRef][]keyward.Permission, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	ids, tenants := make([]any, 0, len(refs)), make([]any, 0, 1)
	seenID, seenTenant := map[string]bool{}, map[string]bool{}
	for _, r := range refs {
		out[r] = []keyward.Permission{}
		if !seenID[r.ID] {
			seenID[r.ID] = true
			ids = append(ids, r.ID)
		}
		if !seenTenant[r.TenantID] {
			seenTenant[r.TenantID] = true
			tenants = append(tenants, r.TenantID)
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT j.tenant_id, j.`+ownerCol+`, `+permissionColumns+`
		FROM `+join+` j JOIN permissions p ON p.tenant_id = j.tenant_id AND p.id = j.permission_id
		WHERE j.`+ownerCol+` IN (`+placeholders(1, len(ids))+`)
		AND j.tenant_id IN (`+placeholders(len(ids)+1, len(tenants))+`)
		ORDER BY j.tenant_id, j.`+ownerCol+`, p.name, p.id`, append(ids, tenants...)...)
	if err != nil {
		return nil, fmt.Errorf("reading permissions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, owner string
		p, err := scanPermission(rows, &tenant, &owner)
		if err != nil {
			return nil, fmt.Errorf("reading permissions: %w", err)
		}
		r := keyward.KeyRef{TenantID: tenant, ID: owner}
		if perms, ok := out[r]; ok { // not an owner of the same id in another asked-for tenant
			out[r] = append(perms, *p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading permissions: %w", err)
	}
	return out, nil
}

// insertGrants stores the explicit permissions of one key or user.
func insertGrants(ctx context.Context, q querier, join, ownerCol, tenantID, ownerID string, perms []keyward.Permission) error {
	if len(perms) == 0 {
		return nil
	}
	args := []any{tenantID, ownerID}
	values := make([]string, len(perms))
	for i, p := range perms {
		args = append(args, p.ID)
		values[i] = "($1, $2, $" + strconv.Itoa(len(args)) + ")"
	}
	_, err := q.ExecContext(ctx, `INSERT INTO `+join+` (tenant_id, `+ownerCol+`, permission_id) VALUES `+
		strings.Join(values, ", "), args...)
	if err != nil {
		return writeError(err, "storing permissions", "permissions must be distinct")
	}
	return nil
}
