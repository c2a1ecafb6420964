package keyward

import (
	"context"
	"strings"

	"github.com/keyward/keyward/internal/secret"
)

// UserInput is what a caller may set on a user; nil fields are unchanged
// (PATCH) or take their defaults (create: level 0, active).
type UserInput struct {
	UserName    *string          `json:"userName,omitempty"`
	Password    *string          `json:"password,omitempty"`
	Level       *int             `json:"level,omitempty"`
	Permissions *[]PermissionRef `json:"permissions,omitempty"`
	IsActive    *bool            `json:"isActive,omitempty"`
}

// CreateUser creates a user. Needs users:write; level and permissions may
// not exceed the caller's.
func (s *Service) CreateUser(ctx context.Context, p *Principal, in UserInput) (*User, error) {
	if !p.Has(PermUsersWrite) {
		return nil, Errorf(EFORBIDDEN, "users:write is required")
	}
	var f fieldErrors
	name := ""
	if in.UserName != nil {
		name = strings.TrimSpace(*in.UserName)
	}
	if !userNameRE.MatchString(name) {
		f.add("userName", "must be 1-64 of letters, digits and . _ @ + -, starting with a letter or digit")
	}
	if in.Password == nil {
		f.add("password", "is required")
	} else if err := validatePassword(*in.Password); err != nil {
		f.add("password", err.(*Error).Fields[0].Message)
	}
	now := s.now()
	u := &User{ID: secret.NewID(), TenantID: p.TenantID, UserName: name, IsActive: true, CreatedAt: now, UpdatedAt: now,
		Version: 1, Permissions: []Permission{}}
	if in.Level != nil {
		checkLevel(&f, "level", *in.Level)
		u.Level = *in.Level
	}
	if in.IsActive != nil {
		u.IsActive = *in.IsActive
	}
	var out *User
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		if in.Permissions != nil {
			perms, err := resolvePermissions(ctx, tx, p.TenantID, *in.Permissions, &f)
			if err != nil {
				return err
			}
			u.Permissions = perms
		}
		if err := f.err(); err != nil {
			return err
		}
		if err := checkUserGrant(p, u, nil); err != nil {
			return err
		}
		u.PasswordHash = secret.HashPassword(*in.Password)
		if err := tx.CreateUser(ctx, u); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "user %s already exists", u.UserName)
			}
			return err
		}
		if err := s.audit(ctx, tx, p, "user.create", p.TenantID, u.ID); err != nil {
			return err
		}
		var err error
		out, err = tx.GetUser(ctx, p.TenantID, u.ID)
		return err
	})
	return out, err
}

// checkUserGrant enforces no escalation on users: the caller may not create
// or change a user above its own level, nor give a permission it lacks.
func checkUserGrant(p *Principal, u, prev *User) error {
	if prev != nil && prev.Level > p.Level {
		return Errorf(EFORBIDDEN, "the user's level %d is above yours (%d)", prev.Level, p.Level)
	}
	if u.Level > p.Level {
		return Errorf(EFORBIDDEN, "level %d is above your own level %d", u.Level, p.Level)
	}
	had := map[string]bool{}
	if prev != nil {
		for _, pp := range prev.Permissions {
			had[pp.ID] = true
		}
	}
	for _, pp := range u.Permissions {
		if !had[pp.ID] && !p.canGrant(pp.Name) {
			return Errorf(EFORBIDDEN, "you cannot grant permission %s: you do not hold it", pp.Name)
		}
	}
	return nil
}

// GetUser returns a user. Needs users:read, except for one's own user.
func (s *Service) GetUser(ctx context.Context, p *Principal, id string) (*User, error) {
	if err := checkID("user", id); err != nil {
		return nil, err
	}
	if !p.Has(PermUsersRead) && !(p.Kind == KindUser && p.ID == id) {
		return nil, Errorf(EFORBIDDEN, "users:read is required")
	}
	return s.store.GetUser(ctx, p.TenantID, id)
}

// ListUsers lists the tenant's users. Needs users:read.
func (s *Service) ListUsers(ctx context.Context, p *Principal, f UserFilter) (List[*User], error) {
	if !p.Has(PermUsersRead) {
		return List[*User]{}, Errorf(EFORBIDDEN, "users:read is required")
	}
	if _, err := ValidatePage(f.Page.Number, f.Page.Size); err != nil {
		return List[*User]{}, err
	}
	if len(f.Query) > MaxNameLen {
		return List[*User]{}, Invalid(FieldError{Field: "q", Message: "must be at most 200 characters"})
	}
	return s.store.ListUsers(ctx, p.TenantID, f)
}

// UpdateUser changes a user. Needs users:write and a level at least the
// user's. Deactivating a user deactivates every key it owns; a caller cannot
// deactivate itself.
func (s *Service) UpdateUser(ctx context.Context, p *Principal, id string, in UserInput) (*User, error) {
	if err := checkID("user", id); err != nil {
		return nil, err
	}
	if !p.Has(PermUsersWrite) {
		return nil, Errorf(EFORBIDDEN, "users:write is required")
	}
	var f fieldErrors
	if in.UserName != nil {
		f.add("userName", "is immutable")
	}
	var hash string
	if in.Password != nil {
		if err := validatePassword(*in.Password); err != nil {
			f.add("password", err.(*Error).Fields[0].Message)
		} else {
			hash = secret.HashPassword(*in.Password)
		}
	}
	if in.Level != nil {
		checkLevel(&f, "level", *in.Level)
	}
	if in.IsActive != nil && !*in.IsActive && p.Kind == KindUser && p.ID == id {
		f.add("isActive", "you cannot deactivate yourself")
	}
	var out *User
	var keyIDs []string
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		prev, err := tx.GetUser(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		u := *prev
		if in.Permissions != nil {
			perms, err := resolvePermissions(ctx, tx, p.TenantID, *in.Permissions, &f)
			if err != nil {
				return err
			}
			u.Permissions = perms
		}
		if err := f.err(); err != nil {
			return err
		}
		if in.Level != nil {
			u.Level = *in.Level
		}
		if in.IsActive != nil {
			u.IsActive = *in.IsActive
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		if err := checkUserGrant(p, &u, prev); err != nil {
			return err
		}
		now := s.now()
		u.UpdatedAt, u.Version = now, prev.Version+1
		if err := tx.UpdateUser(ctx, &u, prev.Version); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, p, "user.update", p.TenantID, id); err != nil {
			return err
		}
		if prev.IsActive && !u.IsActive {
			// A key cannot outlive its owner's rights.
			keyIDs, err = tx.ListAPIKeyIDsByOwner(ctx, p.TenantID, id)
			if err != nil {
				return err
			}
			for _, kid := range keyIDs {
				k, err := tx.GetAPIKey(ctx, p.TenantID, kid)
				if err != nil {
					return err
				}
				if !k.IsActive {
					continue
				}
				v := k.Version
				k.IsActive, k.UpdatedAt, k.Version = false, now, v+1
				if err := tx.UpdateAPIKey(ctx, k, v); err != nil {
					return err
				}
				if err := s.audit(ctx, tx, p, "apikey.deactivate", p.TenantID, kid); err != nil {
					return err
				}
			}
		}
		out, err = tx.GetUser(ctx, p.TenantID, id)
		return err
	})
	// The user's state feeds every cached key it owns, and its level and
	// permissions feed its own principal: drop them all.
	s.invalidateAll(ctx)
	return out, err
}

// DeleteUser deletes a user and every key it owns. Needs users:write and a
// level at least the user's; a caller cannot delete itself.
func (s *Service) DeleteUser(ctx context.Context, p *Principal, id string) (*User, error) {
	if err := checkID("user", id); err != nil {
		return nil, err
	}
	if !p.Has(PermUsersWrite) {
		return nil, Errorf(EFORBIDDEN, "users:write is required")
	}
	if p.Kind == KindUser && p.ID == id {
		return nil, Invalid(FieldError{Field: "id", Message: "you cannot delete yourself"})
	}
	var out *User
	var keyIDs []string
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		u, err := tx.GetUser(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		if u.Level > p.Level {
			return Errorf(EFORBIDDEN, "the user's level %d is above yours (%d)", u.Level, p.Level)
		}
		keyIDs, err = tx.ListAPIKeyIDsByOwner(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		for _, kid := range keyIDs {
			if err := s.audit(ctx, tx, p, "apikey.delete", p.TenantID, kid); err != nil {
				return err
			}
		}
		if err := tx.DeleteUser(ctx, p.TenantID, id); err != nil {
			return err
		}
		out = u
		return s.audit(ctx, tx, p, "user.delete", p.TenantID, id)
	})
	s.invalidate(ctx, keyIDs...)
	return out, err
}
