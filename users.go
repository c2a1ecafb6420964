package keyward

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

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
	// RateLimits replaces the user's named limits, shared by all its keys
	// ([] removes them).
	RateLimits *[]NamedRateLimit `json:"rateLimits,omitempty"`
}

// CreateUser creates a user. Needs users:write; level and permissions may
// not exceed the caller's.
func (s *Service) CreateUser(ctx context.Context, p *Principal, in UserInput) (*User, error) {
	if err := p.authorizeUserWrite(); err != nil {
		return nil, s.denied(ctx, p, "user.create", "", err)
	}
	f := validateUserCreate(in)
	now := s.now()
	u := &User{ID: secret.NewID(), TenantID: p.TenantID, UserName: in.newUserName(), IsActive: true, CreatedAt: now, UpdatedAt: now,
		Version: 1, SessionGeneration: 1, Permissions: []Permission{}}
	var out *User
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		perms, err := resolveUserPermissions(ctx, tx, p.TenantID, in, &f)
		if err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		applyUserInput(u, in, perms, "")
		if err := s.authorizeUser(ctx, tx, p, nil, u); err != nil {
			return err
		}
		if err := authorizeUserCredential(ctx, tx, p); err != nil {
			return err
		}
		u.PasswordHash = secret.HashPassword(*in.Password)
		if err := tx.CreateUser(ctx, u); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "user %s already exists", u.UserName)
			}
			return err
		}
		if len(u.RateLimits) > 0 {
			if err := tx.SetUserRateLimits(ctx, u.TenantID, u.ID, u.RateLimits); err != nil {
				return err
			}
		}
		if err := s.auditDetails(ctx, tx, p, "user.create", p.TenantID, u.ID, map[string]any{"userName": u.UserName}); err != nil {
			return err
		}
		out, err = tx.GetUser(ctx, p.TenantID, u.ID)
		return err
	})
	if err != nil {
		return nil, s.denied(ctx, p, "user.create", "", err)
	}
	return out, nil
}

// authorizeUserCredential asks the policy whether p may hand out a user
// credential (a new user, a password), after reading p's key when p is one.
func authorizeUserCredential(ctx context.Context, tx StoreTx, p *Principal) error {
	caller, err := callerKey(ctx, tx, p)
	if err != nil {
		return err
	}
	return p.authorizeUserCredential(callerLimits(caller))
}

// resolveUserPermissions resolves the permissions in names (nil when it
// names none), adding the unknown ones to f.
func resolveUserPermissions(ctx context.Context, tx StoreTx, tenantID string, in UserInput, f *fieldErrors) ([]Permission, error) {
	if in.Permissions == nil {
		return nil, nil
	}
	return resolvePermissions(ctx, tx, tenantID, *in.Permissions, f)
}

// authorizeUser asks the policy whether p may turn prev into next (either
// nil for a create or a delete), after reading the catalog.
func (s *Service) authorizeUser(ctx context.Context, tx StoreTx, p *Principal, prev, next *User) error {
	if prev != nil && next != nil {
		if err := p.authorizeOwnUserChange(prev, next); err != nil {
			return err
		}
	}
	t, catalog, err := tenantCatalog(ctx, tx, p.TenantID)
	if err != nil {
		return err
	}
	var before, after *Rights
	if prev != nil {
		r := s.userRights(prev, t.IsRoot, catalog)
		before = &r
	}
	if next != nil {
		r := s.userRights(next, t.IsRoot, catalog)
		after = &r
	}
	return p.authorizeUserChange(before, after)
}

// offboard runs inside tx when a principal (a user, or a key) loses its
// access: every key whose current secret it was shown stops working until
// someone who covers the key rotates it, and the grace period of a previous
// secret it was shown ends. It goes on through those keys as holders in
// turn: a key whose secret the principal knew could make or rotate keys in
// its name, whose secrets it then knew too (a user's key imports or creates
// a key: deactivating the user stops both). It returns every key changed.
// The holder belongs to the tenant p acts in; the keys it was shown may be
// in any tenant (a root admin acts in others).
func (s *Service) offboard(ctx context.Context, tx StoreTx, p *Principal, holderID string) ([]KeyRef, error) {
	refs := []KeyRef{}
	now := s.now()
	first := KeyRef{TenantID: p.TenantID, ID: holderID}
	holders, seen := []KeyRef{first}, map[KeyRef]bool{first: true}
	for len(holders) > 0 {
		h := holders[0]
		holders = holders[1:]
		keys, err := tx.ListAPIKeysBySecretHolder(ctx, h.TenantID, h.ID)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			v := k.Version
			if k.SecretHolderID == h.ID && k.SecretHolderTenantID == h.TenantID {
				k.SecretRevoked = true
			}
			if k.PrevSecretHolderID == h.ID && k.PrevSecretHolderTenantID == h.TenantID { // the grace period of the secret it saw ends
				k.PrevSecretHash, k.PrevSecretCiphertext, k.PrevSecretExpiresAt = nil, nil, nil
				k.PrevSecretHolderID, k.PrevSecretHolderTenantID = "", ""
			}
			k.UpdatedAt, k.Version = now, v+1
			if err := tx.UpdateAPIKey(ctx, k, v); err != nil {
				return nil, err
			}
			err := s.auditDetails(ctx, tx, p, "apikey.secret_revoked", k.TenantID, k.ID, map[string]any{"holderId": h.ID})
			if err != nil {
				return nil, err
			}
			ref := KeyRef{TenantID: k.TenantID, ID: k.ID}
			refs = append(refs, ref)
			if !seen[ref] {
				seen[ref] = true
				holders = append(holders, ref)
			}
		}
	}
	slices.SortFunc(refs, func(a, b KeyRef) int { return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.ID, b.ID)) })
	return slices.Compact(refs), nil
}

// refIDs returns the ids of keys, for answers and audit entries.
func refIDs(keys []KeyRef) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
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
	if f.Sort != "" && !slices.Contains(UserSorts, f.Sort) {
		return List[*User]{}, Invalid(FieldError{Field: "sort", Message: "must be one of " + strings.Join(UserSorts, ", ")})
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
	if err := p.authorizeUserWrite(); err != nil {
		return nil, err
	}
	f := validateUserUpdate(in, p.Kind == KindUser && p.ID == id)
	var hash string
	if in.Password != nil && len(f) == 0 {
		hash = secret.HashPassword(*in.Password)
	}
	var out *User
	var keyIDs []string
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		prev, err := tx.GetUser(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		perms, err := resolveUserPermissions(ctx, tx, p.TenantID, in, &f)
		if err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		u := *prev
		applyUserInput(&u, in, perms, hash)
		if err := s.authorizeUser(ctx, tx, p, prev, &u); err != nil {
			return err
		}
		if hash != "" {
			if err := authorizeUserCredential(ctx, tx, p); err != nil {
				return err
			}
		}
		now := s.now()
		if err := saveUser(ctx, tx, prev, &u, hash != "", now); err != nil {
			return err
		}
		deactivated := prev.IsActive && !u.IsActive
		if deactivated {
			if keyIDs, err = s.offboardUser(ctx, tx, p, id, now); err != nil {
				return err
			}
		}
		changes := userChanges(prev, &u, hash != "")
		details := map[string]any{"userName": u.UserName, "changed": changes.fields(), "changes": changes}
		if deactivated {
			details["disabledKeys"] = keyIDs
		}
		if err := s.auditDetails(ctx, tx, p, "user.update", p.TenantID, id, details); err != nil {
			return err
		}
		out, err = tx.GetUser(ctx, p.TenantID, id)
		return err
	})
	// The user's state feeds every cached key it owns, and its level and
	// permissions feed its own principal: drop them all.
	s.invalidateAll(ctx)
	if err != nil {
		return nil, s.denied(ctx, p, "user.update", id, err)
	}
	out.DisabledKeys = keyIDs
	return out, nil
}

// saveUser writes u, which was prev, inside tx. A new password or a
// deactivation ends every session of the user.
func saveUser(ctx context.Context, tx StoreTx, prev, u *User, newPassword bool, now time.Time) error {
	u.UpdatedAt, u.Version = now, prev.Version+1
	if newPassword || (prev.IsActive && !u.IsActive) {
		u.SessionGeneration = prev.SessionGeneration + 1
	}
	if err := tx.UpdateUser(ctx, u, prev.Version); err != nil {
		return err
	}
	if !sameNamedRateLimits(prev.RateLimits, u.RateLimits) {
		return tx.SetUserRateLimits(ctx, u.TenantID, u.ID, u.RateLimits)
	}
	return nil
}

// offboardUser runs inside tx when user id is deactivated: a key cannot
// outlive its owner's rights, nor a secret the access of whoever was shown
// it. It deactivates the user's keys, revokes the secrets the user and
// those keys were shown, and returns the ids of every key that stopped
// working, sorted.
func (s *Service) offboardUser(ctx context.Context, tx StoreTx, p *Principal, id string, now time.Time) ([]string, error) {
	owned, err := tx.ListAPIKeyIDsByOwner(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	shown, err := s.offboard(ctx, tx, p, id)
	if err != nil {
		return nil, err
	}
	keyIDs := append(refIDs(shown), owned...)
	for _, kid := range owned {
		k, err := tx.GetAPIKey(ctx, p.TenantID, kid)
		if err != nil {
			return nil, err
		}
		if !k.IsActive {
			continue
		}
		v := k.Version
		k.IsActive, k.UpdatedAt, k.Version = false, now, v+1
		if err := tx.UpdateAPIKey(ctx, k, v); err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tx, p, "apikey.deactivate", p.TenantID, kid); err != nil {
			return nil, err
		}
		made, err := s.offboard(ctx, tx, p, kid) // and the secrets that key was shown
		if err != nil {
			return nil, err
		}
		keyIDs = append(keyIDs, refIDs(made)...)
	}
	slices.Sort(keyIDs)
	return slices.Compact(keyIDs), nil
}

// DeleteUser deletes a user and every key it owns. Needs users:write and a
// level at least the user's; a caller cannot delete itself.
func (s *Service) DeleteUser(ctx context.Context, p *Principal, id string) (*User, error) {
	if err := checkID("user", id); err != nil {
		return nil, err
	}
	if err := p.authorizeUserWrite(); err != nil {
		return nil, err
	}
	if p.Kind == KindUser && p.ID == id {
		return nil, Invalid(FieldError{Field: "id", Message: "you cannot delete yourself"})
	}
	var out *User
	var keyIDs []string
	var affected []KeyRef
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		affected = nil
		u, err := tx.GetUser(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		if err := s.authorizeUser(ctx, tx, p, u, nil); err != nil {
			return err
		}
		owned, err := tx.ListAPIKeyIDsByOwner(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		shown, err := s.offboard(ctx, tx, p, id)
		if err != nil {
			return err
		}
		for _, kid := range owned {
			if err := s.audit(ctx, tx, p, "apikey.delete", p.TenantID, kid); err != nil {
				return err
			}
			made, err := s.offboard(ctx, tx, p, kid) // the secrets the deleted key was shown
			if err != nil {
				return err
			}
			shown = append(shown, made...)
		}
		if err := tx.DeleteUser(ctx, p.TenantID, id); err != nil {
			return err
		}
		affected = shown
		for _, kid := range owned {
			affected = append(affected, KeyRef{TenantID: p.TenantID, ID: kid})
		}
		keyIDs = refIDs(affected)
		slices.Sort(keyIDs)
		keyIDs = slices.Compact(keyIDs)
		out = u
		return s.auditDetails(ctx, tx, p, "user.delete", p.TenantID, id, map[string]any{"userName": u.UserName, "disabledKeys": keyIDs})
	})
	s.invalidate(ctx, affected...)
	if err != nil {
		return nil, s.denied(ctx, p, "user.delete", id, err)
	}
	out.DisabledKeys = keyIDs
	return out, nil
}
