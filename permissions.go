package keyward

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/secret"
)

// PermissionInput is what a caller may set on a custom permission.
type PermissionInput struct {
	Name        *string              `json:"name,omitempty"`
	Description *string              `json:"description,omitempty"`
	Children    *[]PermissionRef     `json:"children,omitempty"` // makes it a composite
	Attributes  *map[string][]string `json:"attributes,omitempty"`
}

// ListPermissions returns the tenant's catalog. Needs permissions:read.
func (s *Service) ListPermissions(ctx context.Context, p *Principal) ([]*Permission, error) {
	if !p.Has(PermPermissionsRead) {
		return nil, Errorf(EFORBIDDEN, "permissions:read is required")
	}
	return s.store.ListPermissions(ctx, p.TenantID)
}

// GetPermission returns one permission. Needs permissions:read.
func (s *Service) GetPermission(ctx context.Context, p *Principal, id string) (*Permission, error) {
	if err := checkID("permission", id); err != nil {
		return nil, err
	}
	if !p.Has(PermPermissionsRead) {
		return nil, Errorf(EFORBIDDEN, "permissions:read is required")
	}
	return s.store.GetPermission(ctx, p.TenantID, id)
}

// CreatePermission adds a custom permission. Needs permissions:write; a
// composite may only contain permissions the caller holds.
func (s *Service) CreatePermission(ctx context.Context, p *Principal, in PermissionInput) (*Permission, error) {
	if !p.Has(PermPermissionsWrite) {
		return nil, Errorf(EFORBIDDEN, "permissions:write is required")
	}
	var out *Permission
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		t, err := tx.GetTenant(ctx, p.TenantID)
		if err != nil {
			return err
		}
		perm := &Permission{ID: secret.NewID(), TenantID: p.TenantID, ContainerID: t.Name, CreatedAt: s.now()}
		if in.Name == nil {
			return Invalid(FieldError{Field: "name", Message: "is required"})
		}
		if err := s.applyPermissionInput(ctx, tx, p, perm, in); err != nil {
			return err
		}
		if err := tx.CreatePermission(ctx, perm); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "permission %s already exists", perm.Name)
			}
			return err
		}
		if err := s.audit(ctx, tx, p, "permission.create", p.TenantID, perm.ID); err != nil {
			return err
		}
		out, err = tx.GetPermission(ctx, p.TenantID, perm.ID)
		return err
	})
	s.invalidateAll(ctx)
	return out, err
}

func (s *Service) applyPermissionInput(ctx context.Context, tx StoreTx, p *Principal, perm *Permission, in PermissionInput) error {
	var f fieldErrors
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		switch {
		case !permNameRE.MatchString(name):
			f.add("name", "must be 1-128 of letters, digits and _ . : -, starting with a letter or digit")
		case isBuiltinName(name):
			f.add("name", "is a built-in permission name")
		}
		perm.Name = name
	}
	if in.Description != nil {
		checkText(&f, "description", *in.Description, false, MaxDescriptionLen)
		d := *in.Description
		perm.Description = &d
	}
	if in.Attributes != nil {
		if len(*in.Attributes) > 64 {
			f.add("attributes", "must have at most 64 entries")
		}
		perm.Attributes = *in.Attributes
	}
	if in.Children != nil {
		children, err := resolvePermissions(ctx, tx, p.TenantID, *in.Children, &f)
		if err != nil {
			return err
		}
		catalog, err := tx.ListPermissions(ctx, p.TenantID)
		if err != nil {
			return err
		}
		perm.Children = perm.Children[:0]
		for i, c := range children {
			if c.ID == perm.ID || containsPermission(catalog, c.ID, perm.ID) {
				f.add("children["+strconv.Itoa(i)+"]", "would make the composite contain itself")
				continue
			}
			if err := p.authorizeCompose(c.Name); err != nil {
				return err
			}
			perm.Children = append(perm.Children, c.ID)
		}
		perm.Composite = len(perm.Children) > 0
		// The catalog as it would be: refuse nesting that could not be
		// expanded fully.
		after := make([]*Permission, 0, len(catalog)+1)
		for _, c := range catalog {
			if c.ID != perm.ID {
				after = append(after, c)
			}
		}
		if compositeDepth(append(after, perm)) > MaxCompositeDepth {
			f = append(f, depthError())
		}
	}
	return f.err()
}

// containsPermission reports whether permission id contains target,
// directly or through nested composites.
func containsPermission(catalog []*Permission, id, target string) bool {
	byID := map[string]*Permission{}
	for _, c := range catalog {
		byID[c.ID] = c
	}
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(cur string) bool {
		if cur == target {
			return true
		}
		if seen[cur] {
			return false
		}
		seen[cur] = true
		if c := byID[cur]; c != nil {
			for _, ch := range c.Children {
				if walk(ch) {
					return true
				}
			}
		}
		return false
	}
	return walk(id)
}

// UpdatePermission changes a custom permission. Built-ins are read-only.
func (s *Service) UpdatePermission(ctx context.Context, p *Principal, id string, in PermissionInput) (*Permission, error) {
	if err := checkID("permission", id); err != nil {
		return nil, err
	}
	if !p.Has(PermPermissionsWrite) {
		return nil, Errorf(EFORBIDDEN, "permissions:write is required")
	}
	var out *Permission
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		perm, err := tx.GetPermission(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		if perm.BuiltIn {
			return Errorf(EFORBIDDEN, "built-in permissions are read-only")
		}
		if (in.Name != nil && strings.TrimSpace(*in.Name) != perm.Name) || in.Children != nil {
			if err := p.authorizePermissionChange(); err != nil {
				return err
			}
		}
		prev := *perm
		prev.Children = slices.Clone(perm.Children)
		if err := s.applyPermissionInput(ctx, tx, p, perm, in); err != nil {
			return err
		}
		if err := tx.UpdatePermission(ctx, perm); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "permission %s already exists", perm.Name)
			}
			return err
		}
		catalog, err := tx.ListPermissions(ctx, p.TenantID)
		if err != nil {
			return err
		}
		changes := permissionChanges(&prev, perm, catalog)
		if err := s.auditDetails(ctx, tx, p, "permission.update", p.TenantID, id,
			map[string]any{"name": perm.Name, "changed": changes.fields(), "changes": changes}); err != nil {
			return err
		}
		out, err = tx.GetPermission(ctx, p.TenantID, id)
		return err
	})
	s.invalidateAll(ctx) // composites feed every cached key's permissions
	return out, err
}

// DeletePermission deletes a custom permission that nothing holds.
func (s *Service) DeletePermission(ctx context.Context, p *Principal, id string) (*Permission, error) {
	if err := checkID("permission", id); err != nil {
		return nil, err
	}
	if !p.Has(PermPermissionsWrite) {
		return nil, Errorf(EFORBIDDEN, "permissions:write is required")
	}
	var out *Permission
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		perm, err := tx.GetPermission(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		if perm.BuiltIn {
			return Errorf(EFORBIDDEN, "built-in permissions are read-only")
		}
		if err := p.authorizePermissionDelete(perm.Name); err != nil {
			return err
		}
		used, err := tx.PermissionInUse(ctx, p.TenantID, id)
		if err != nil {
			return err
		} else if used {
			return Errorf(ECONFLICT, "permission %s is held by a key, a user or a composite: remove it there first", perm.Name)
		}
		if err := tx.DeletePermission(ctx, p.TenantID, id); err != nil {
			return err
		}
		out = perm
		return s.audit(ctx, tx, p, "permission.delete", p.TenantID, id)
	})
	s.invalidateAll(ctx)
	return out, err
}
