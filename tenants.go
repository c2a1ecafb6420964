package keyward

import (
	"context"
	"strings"

	"github.com/keyward/keyward/internal/secret"
)

// TenantInput is what a root admin may set on a tenant.
type TenantInput struct {
	Name     *string `json:"name,omitempty"`
	Prefix   *string `json:"prefix,omitempty"`
	IsActive *bool   `json:"isActive,omitempty"`
	// PortosReadableSecrets turns readable HMAC secrets on or off for the
	// Portos dialect (see Tenant).
	PortosReadableSecrets *bool `json:"portosReadableSecrets,omitempty"`
}

func requireTenantsAdmin(p *Principal) error {
	if !p.Has(PermTenantsAdmin) {
		return Errorf(EFORBIDDEN, "tenants:admin is required")
	}
	return nil
}

// CreateTenant creates a tenant with the built-in permission catalog.
// Needs tenants:admin.
func (s *Service) CreateTenant(ctx context.Context, p *Principal, in TenantInput) (*Tenant, error) {
	if err := requireTenantsAdmin(p); err != nil {
		return nil, err
	}
	now := s.now()
	t := &Tenant{ID: secret.NewID(), Prefix: DefaultPrefix, IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if in.Name == nil {
		return nil, Invalid(FieldError{Field: "name", Message: "is required"})
	}
	if err := applyTenantInput(t, in); err != nil {
		return nil, err
	}
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		if err := tx.CreateTenant(ctx, t); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "tenant %s already exists", t.Name)
			}
			return err
		}
		if err := s.seedCatalog(ctx, tx, t, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, "tenant.create", t.ID, t.ID)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func applyTenantInput(t *Tenant, in TenantInput) error {
	var f fieldErrors
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if !tenantRE.MatchString(name) || secret.ValidID(name) {
			f.add("name", "must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit")
		}
		t.Name = name
	}
	if in.Prefix != nil {
		if !secret.ValidPrefix(*in.Prefix) {
			f.add("prefix", "must be 1-16 of a-z, 0-9 and _")
		}
		t.Prefix = *in.Prefix
	}
	if in.IsActive != nil {
		if t.IsRoot && !*in.IsActive {
			f.add("isActive", "the root tenant cannot be deactivated")
		}
		t.IsActive = *in.IsActive
	}
	if in.PortosReadableSecrets != nil {
		t.PortosReadableSecrets = *in.PortosReadableSecrets
	}
	return f.err()
}

// GetTenant returns a tenant: any tenant for tenants:admin, else only the
// caller's own.
func (s *Service) GetTenant(ctx context.Context, p *Principal, id string) (*Tenant, error) {
	if err := checkID("tenant", id); err != nil {
		return nil, err
	}
	if id != p.TenantID && !p.Has(PermTenantsAdmin) {
		return nil, Errorf(ENOTFOUND, "tenant not found")
	}
	return s.store.GetTenant(ctx, id)
}

// ListTenants lists every tenant. Needs tenants:admin.
func (s *Service) ListTenants(ctx context.Context, p *Principal, page Page) (List[*Tenant], error) {
	if err := requireTenantsAdmin(p); err != nil {
		return List[*Tenant]{}, err
	}
	if _, err := ValidatePage(page.Number, page.Size); err != nil {
		return List[*Tenant]{}, err
	}
	return s.store.ListTenants(ctx, page)
}

// UpdateTenant changes a tenant. Needs tenants:admin. Deactivating a tenant
// makes every key and user of it fail at once.
func (s *Service) UpdateTenant(ctx context.Context, p *Principal, id string, in TenantInput) (*Tenant, error) {
	if err := checkID("tenant", id); err != nil {
		return nil, err
	}
	if err := requireTenantsAdmin(p); err != nil {
		if id != p.TenantID {
			return nil, Errorf(ENOTFOUND, "tenant not found")
		}
		return nil, err
	}
	var out *Tenant
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		prev, err := tx.GetTenant(ctx, id)
		if err != nil {
			return err
		}
		t := *prev
		if err := applyTenantInput(&t, in); err != nil {
			return err
		}
		t.UpdatedAt, t.Version = s.now(), prev.Version+1
		if err := tx.UpdateTenant(ctx, &t, prev.Version); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "tenant %s already exists", t.Name)
			}
			return err
		}
		out = &t
		return s.audit(ctx, tx, p, "tenant.update", id, id)
	})
	s.invalidateAll(ctx)
	return out, err
}

// ListAudit lists the tenant's audit log, newest first. Needs audit:read.
func (s *Service) ListAudit(ctx context.Context, p *Principal, f AuditFilter) (List[*AuditEntry], error) {
	if !p.Has(PermAuditRead) {
		return List[*AuditEntry]{}, Errorf(EFORBIDDEN, "audit:read is required")
	}
	if _, err := ValidatePage(f.Page.Number, f.Page.Size); err != nil {
		return List[*AuditEntry]{}, err
	}
	if f.ActorID != "" && !secret.ValidID(f.ActorID) && f.ActorID != "bootstrap" && f.ActorID != "cli" {
		return List[*AuditEntry]{}, Invalid(FieldError{Field: "actorId", Message: "must be an id"})
	}
	if f.TargetID != "" && !secret.ValidID(f.TargetID) {
		return List[*AuditEntry]{}, Invalid(FieldError{Field: "targetId", Message: "must be an id"})
	}
	return s.store.ListAudit(ctx, p.TenantID, f)
}
