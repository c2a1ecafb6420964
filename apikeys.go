package keyward

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// PermissionRef names a permission of the tenant catalog by id or by name.
type PermissionRef struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// APIKeyInput is what a caller may set on a key. Nil fields are left as
// they are (PATCH) or take their defaults (create, replace).
type APIKeyInput struct {
	Name                 *string          `json:"name,omitempty"`
	Description          *string          `json:"description,omitempty"`
	ClientID             *string          `json:"clientId,omitempty"` // a slug; create only
	Permissions          *[]PermissionRef `json:"permissions,omitempty"`
	Level                *int             `json:"level,omitempty"`
	IsActive             *bool            `json:"isActive,omitempty"`
	ExpiresAt            *time.Time       `json:"expiresAt,omitempty"`
	ExpiresIn            *int64           `json:"expiresIn,omitempty"` // seconds from now; create and replace only
	ClearExpiry          bool             `json:"-"`                   // PATCH expiresAt: null
	TokenLifespanSeconds *int             `json:"tokenLifespanSeconds,omitempty"`
	HMACEnabled          *bool            `json:"hmacEnabled,omitempty"`
	RateLimit            *RateLimit       `json:"rateLimit,omitempty"`
	ClearRateLimit       bool             `json:"-"` // PATCH rateLimit: null
	Credits              *Credits         `json:"credits,omitempty"`
	ClearCredits         bool             `json:"-"` // PATCH credits: null
	// RateLimits replaces the key's named limits ([] removes them).
	RateLimits *[]NamedRateLimit `json:"rateLimits,omitempty"`
	DeviceName *string           `json:"deviceName,omitempty"`
	// Audiences replaces the key's allowed token audiences; [] clears them.
	Audiences   *[]string `json:"audiences,omitempty"`
	OwnerID     *string   `json:"ownerId,omitempty"`
	ActsAsOwner *bool     `json:"actsAsOwner,omitempty"`
	// OwnerUserName names the owner by userName instead of OwnerID (Portos'
	// userName); an unknown name is EINVALID naming "userName". The owner
	// changes under the same rules as with OwnerID.
	OwnerUserName *string `json:"-"`
	// AllowedCIDRs replaces the key's address allowlist; an empty list
	// removes it (any address).
	AllowedCIDRs *[]string       `json:"allowedCidrs,omitempty"`
	Meta         json.RawMessage `json:"meta,omitempty"`
}

// IssuedKey is a key together with its secret, returned only by create,
// create-or-replace (when it created) and rotate.
type IssuedKey struct {
	*APIKey
	ClientSecret string `json:"clientSecret"`
}

// sortFields are the fields API key lists may be sorted by.
var sortFields = map[string]bool{"name": true, "createdAt": true, "lastUsedAt": true, "expiresAt": true, "id": true, "isActive": true,
	"clientId": true, "description": true, "deviceName": true, "userName": true, "version": true}

// conditionTypes gives the value type of each field a Condition may test.
// "permissions" tests the names of the key's explicit permissions.
var conditionTypes = map[string]string{"id": "string", "name": "string", "isActive": "bool", "createdAt": "time",
	"clientId": "string", "description": "string", "deviceName": "string", "userName": "string", "version": "int",
	"permissions": "string"}

// checkCondition returns what is wrong with c, or "".
func checkCondition(c Condition) string {
	typ, ok := conditionTypes[c.Field]
	switch {
	case !ok:
		return "cannot be filtered on"
	case len(c.Values) == 0 || (c.Op != "in" && len(c.Values) != 1) || len(c.Values) > 100:
		return "needs one value (in: 1 to 100)"
	}
	switch c.Op {
	case "eq", "neq", "in":
	case "gt", "gte", "lt", "lte":
		if typ == "bool" {
			return "operator " + c.Op + " does not apply to a boolean"
		}
		if c.Field == "permissions" {
			return "operator " + c.Op + " does not apply to a set"
		}
	case "contains":
		if typ != "string" {
			return "operator contains applies to text only"
		}
	default:
		return "unknown operator " + c.Op
	}
	for _, v := range c.Values {
		var good bool
		switch v.(type) {
		case string:
			good = typ == "string"
		case bool:
			good = typ == "bool"
		case time.Time:
			good = typ == "time"
		case int:
			good = typ == "int"
		}
		if !good {
			return "must be a " + map[string]string{"string": "text", "bool": "boolean", "time": "time", "int": "whole number"}[typ]
		}
	}
	return ""
}

// CreateAPIKey creates a key owned by in.OwnerID (default: the caller's
// owner) and returns it with its secret, which is never available again.
// Needs apikeys:write on the owner's keys; level and permissions may not
// exceed the caller's (EFORBIDDEN).
func (s *Service) CreateAPIKey(ctx context.Context, p *Principal, in APIKeyInput) (*IssuedKey, error) {
	k, err := s.createAPIKey(ctx, p, secret.NewID(), in)
	return k, s.denied(ctx, p, "apikey.create", "", err)
}

func (s *Service) createAPIKey(ctx context.Context, p *Principal, id string, in APIKeyInput) (*IssuedKey, error) {
	if in.IsActive == nil {
		t := true
		in.IsActive = &t
	}
	var issued *IssuedKey
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		if err := s.stillActive(ctx, tx, p); err != nil {
			return err
		}
		t, err := tx.GetTenant(ctx, p.TenantID)
		if err != nil {
			return err
		}
		now := s.now()
		k := &APIKey{ID: id, TenantID: p.TenantID, TokenLifespanSeconds: DefaultTokenLifespan, CreatedAt: now,
			UpdatedAt: now, CreatedBy: p.ID, Version: 1, SecretGeneration: 1, Meta: json.RawMessage("{}")}
		if !p.crossTenant {
			k.OwnerID = p.OwnerID
		}
		if in.ClientID != nil {
			if !slugRE.MatchString(*in.ClientID) {
				return Invalid(FieldError{Field: "clientId", Message: "must be 1-64 of A-Z, a-z, 0-9, '.', '_', '~' and '-', starting with a letter or digit"})
			}
			k.ClientID = t.Prefix + "_" + *in.ClientID
		} else {
			k.ClientID = secret.NewClientID(t.Prefix)
		}
		if err := s.applyKeyInput(ctx, tx, p, k, nil, in, now, true); err != nil {
			return err
		}
		sec := secret.NewSecret(t.Prefix)
		s.setSecret(k, sec)
		k.SecretHolderID, k.SecretHolderTenantID = p.ID, p.HomeTenantID() // p was shown this secret
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "clientId %s is already taken", k.ClientID)
			}
			return err
		}
		if k.Credits != nil {
			if err := tx.SetKeyCredits(ctx, k.TenantID, k.ID, k.Credits); err != nil {
				return err
			}
		}
		if len(k.RateLimits) > 0 {
			if err := tx.SetKeyRateLimits(ctx, k.TenantID, k.ID, k.RateLimits); err != nil {
				return err
			}
		}
		if err := s.auditDetails(ctx, tx, p, "apikey.create", p.TenantID, k.ID, map[string]any{"name": k.Name}); err != nil {
			return err
		}
		stored, err := tx.GetAPIKey(ctx, p.TenantID, k.ID)
		if err != nil {
			return err
		}
		issued = &IssuedKey{APIKey: stored, ClientSecret: sec}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return issued, nil
}

// stillActive re-reads, inside tx, whether the principal that is about to
// be shown a secret is still active (a key: and its secret not revoked),
// holding the row until tx ends: a deactivation running at the same time
// either comes first, and this refuses, or waits and then retires the new
// secret with the others.
func (s *Service) stillActive(ctx context.Context, tx StoreTx, p *Principal) error {
	if p.Kind != KindUser && p.Kind != KindAPIKey {
		return nil
	}
	ok, err := tx.PrincipalActive(ctx, p.Kind, p.HomeTenantID(), p.ID)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(EUNAUTHORIZED, "the caller is no longer active")
	}
	return nil
}

// setSecret stores the hash (and, for HMAC keys, the sealed secret) of sec.
func (s *Service) setSecret(k *APIKey, sec string) {
	k.SecretHash = secret.Hash(sec)
	k.SecretHint = secret.Hint(sec)
	k.SecretCiphertext = nil
	if k.HMACEnabled {
		k.SecretCiphertext = s.sealer.Seal([]byte(sec), []byte(k.ID))
	}
}

// applyKeyInput validates in and applies it to k, enforcing the rules on who
// may give a key what. prev is the key before the change (nil on create).
func (s *Service) applyKeyInput(ctx context.Context, tx StoreTx, p *Principal, k, prev *APIKey, in APIKeyInput, now time.Time, create bool) error {
	var f fieldErrors
	if create || in.Name != nil {
		name := ""
		if in.Name != nil {
			name = strings.TrimSpace(*in.Name)
		}
		checkText(&f, "name", name, true, MaxNameLen)
		k.Name = name
	}
	if in.Description != nil {
		checkText(&f, "description", *in.Description, false, MaxDescriptionLen)
		k.Description = *in.Description
	}
	if in.DeviceName != nil {
		checkText(&f, "deviceName", *in.DeviceName, false, MaxNameLen)
		k.DeviceName = *in.DeviceName
	}
	if in.Level != nil {
		checkLevel(&f, "level", *in.Level)
		k.Level = *in.Level
	}
	if in.IsActive != nil {
		k.IsActive = *in.IsActive
	}
	switch {
	case in.ExpiresAt != nil && in.ExpiresIn != nil:
		f.add("expiresIn", "give expiresAt or expiresIn, not both")
	case in.ExpiresIn != nil:
		if *in.ExpiresIn < 1 || *in.ExpiresIn > MaxExpiresIn {
			f.add("expiresIn", "must be between 1 and "+strconv.Itoa(MaxExpiresIn)+" seconds")
		} else {
			t := now.Add(time.Duration(*in.ExpiresIn) * time.Second)
			k.ExpiresAt = &t
		}
	case in.ExpiresAt != nil:
		if !in.ExpiresAt.After(now) {
			f.add("expiresAt", "must be in the future")
		} else if in.ExpiresAt.Sub(now) > MaxExpiresIn*time.Second {
			f.add("expiresAt", "must be at most ten years from now")
		}
		k.ExpiresAt = normalizeTime(in.ExpiresAt)
	case in.ClearExpiry:
		k.ExpiresAt = nil
	}
	if in.TokenLifespanSeconds != nil {
		if *in.TokenLifespanSeconds < MinTokenLifespan || *in.TokenLifespanSeconds > MaxTokenLifespan {
			f.add("tokenLifespanSeconds", "must be between 60 and 86400")
		}
		k.TokenLifespanSeconds = *in.TokenLifespanSeconds
	}
	switch {
	case in.RateLimit != nil && in.ClearRateLimit:
		f.add("rateLimit", "give a rate limit or null, not both")
	case in.RateLimit != nil:
		checkRateLimit(&f, "rateLimit", *in.RateLimit)
		l := *in.RateLimit
		k.RateLimit = &l
	case in.ClearRateLimit:
		k.RateLimit = nil
	}
	switch {
	case in.Credits != nil && in.ClearCredits:
		f.add("credits", "give credits or null, not both")
	case in.Credits != nil:
		c := *in.Credits
		if c.Refill != nil {
			r := *c.Refill
			c.Refill = &r
		}
		checkCredits(&f, &c)
		if c.Refill != nil && (f.err() == nil) {
			c.Period = c.Refill.periodStart(now).Unix()
		}
		k.Credits = &c
	case in.ClearCredits:
		k.Credits = nil
	}
	if in.RateLimits != nil {
		k.RateLimits = checkNamedRateLimits(&f, *in.RateLimits)
	}
	if in.HMACEnabled != nil {
		if *in.HMACEnabled && !create && prev != nil && !prev.HMACEnabled {
			f.add("hmacEnabled", "can only be turned on when the key is created or rotated (POST .../rotate with hmacEnabled)")
		}
		k.HMACEnabled = *in.HMACEnabled
		if !k.HMACEnabled {
			k.SecretCiphertext, k.PrevSecretCiphertext = nil, nil
		}
	}
	if in.ActsAsOwner != nil {
		k.ActsAsOwner = *in.ActsAsOwner
	}
	if in.Audiences != nil {
		checkAudiences(&f, "audiences", *in.Audiences)
		k.Audiences = nil
		if len(*in.Audiences) > 0 {
			k.Audiences = append(Audiences{}, *in.Audiences...)
		}
	}
	if in.Meta != nil && string(in.Meta) != "null" {
		checkMeta(&f, in.Meta)
		k.Meta = in.Meta
	}
	if in.OwnerID != nil {
		k.OwnerID = *in.OwnerID
		if k.OwnerID != "" && !secret.ValidID(k.OwnerID) {
			f.add("ownerId", "must be a user id")
		}
	}
	if in.OwnerUserName != nil {
		switch u, err := tx.GetUserByName(ctx, k.TenantID, *in.OwnerUserName); {
		case err == nil:
			k.OwnerID = u.ID
		case ErrorCode(err) == ENOTFOUND:
			f.add("userName", "no user "+strconv.Quote(*in.OwnerUserName)+" in this tenant")
		default:
			return err
		}
	}
	if in.AllowedCIDRs != nil {
		cidrs, errs := ParseAllowedCIDRs("allowedCidrs", *in.AllowedCIDRs)
		f = append(f, errs...)
		k.AllowedCIDRs = cidrs
	}
	if in.Permissions != nil {
		perms, err := resolvePermissions(ctx, tx, k.TenantID, *in.Permissions, &f)
		if err != nil {
			return err
		}
		k.Permissions = perms
	}
	if err := f.err(); err != nil {
		return err
	}

	if k.ActsAsOwner && k.OwnerID == "" {
		return Invalid(FieldError{Field: "actsAsOwner", Message: "needs an owner (ownerId)"})
	}
	if prev != nil && p.isKey(prev.TenantID, prev.ID) && (in.ExpiresAt != nil || in.ClearExpiry ||
		in.RateLimit != nil || in.ClearRateLimit) {
		return Errorf(EFORBIDDEN, "a key may not change its own expiry or rate limit")
	}
	if prev != nil && p.isKey(prev.TenantID, prev.ID) && !sameCredits(prev.Credits, k.Credits) {
		return Errorf(EFORBIDDEN, "a key may not change its own credits")
	}
	if prev != nil && p.isKey(prev.TenantID, prev.ID) && !sameNamedRateLimits(prev.RateLimits, k.RateLimits) {
		return Errorf(EFORBIDDEN, "a key may not change its own rate limits")
	}
	if prev != nil && p.isKey(prev.TenantID, prev.ID) && widensAllowlist(prev.AllowedCIDRs, k.AllowedCIDRs) {
		return Errorf(EFORBIDDEN, "a key may not widen its own allowedCidrs")
	}
	if prev != nil && p.isKey(prev.TenantID, prev.ID) && !slices.Equal(prev.Audiences, k.Audiences) {
		// Any change may widen: an added audience reaches another API, and
		// none at all is keyward's own, the management API.
		return Errorf(EFORBIDDEN, "a key may not change its own audiences")
	}
	return s.authorizeKey(ctx, tx, p, k, prev)
}

// authorizeKey asks the policy whether p may turn prev (nil on create) into
// k, after reading the facts it needs: the catalog, the owners' rights.
func (s *Service) authorizeKey(ctx context.Context, tx StoreTx, p *Principal, k, prev *APIKey) error {
	t, catalog, err := tenantCatalog(ctx, tx, k.TenantID)
	if err != nil {
		return err
	}
	next, owner, err := s.keyFacts(ctx, tx, k, t.IsRoot, catalog)
	if err != nil {
		return err
	}
	c := keyChange{next: next, rights: prev == nil}
	ownerChanged := prev == nil || prev.OwnerID != k.OwnerID
	if prev != nil {
		pf, _, err := s.keyFacts(ctx, tx, prev, t.IsRoot, catalog)
		if err != nil {
			return err
		}
		c.prev = &pf
		// A new audience lets the key's tokens reach another API: a grant
		// like a permission.
		c.rights = ownerChanged || prev.ActsAsOwner != k.ActsAsOwner || prev.Level != k.Level ||
			!samePermissions(prev.Permissions, k.Permissions) || !slices.Equal(prev.Audiences, k.Audiences) ||
			creditsGrant(prev.Credits, k.Credits) ||
			// Widening where the key works is a grant too.
			widensAllowlist(prev.AllowedCIDRs, k.AllowedCIDRs)
	}
	if owner != nil && ownerChanged && k.OwnerID != p.OwnerID {
		r := s.userRights(owner, t.IsRoot, catalog)
		c.owner = &r
	}
	if err := p.authorizeKeyChange(c); err != nil {
		return err
	}
	if owner != nil && (ownerChanged || prev.Level != k.Level) && !k.ActsAsOwner && k.Level > owner.Level {
		return Errorf(EFORBIDDEN, "level %d is above the owner's level %d", k.Level, owner.Level)
	}
	return nil
}

// tenantCatalog reads what every policy decision in a tenant needs: the
// tenant (is it the root?) and its permission catalog.
func tenantCatalog(ctx context.Context, tx StoreTx, tenantID string) (*Tenant, []*Permission, error) {
	t, err := tx.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	catalog, err := tx.ListPermissions(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	return t, catalog, nil
}

// keyFacts returns what the policy needs of k, and its owner (nil without
// one). An owner that does not exist is a validation error.
func (s *Service) keyFacts(ctx context.Context, tx StoreTx, k *APIKey, root bool, catalog []*Permission) (keyFacts, *User, error) {
	f := keyFacts{ID: k.ID, OwnerID: k.OwnerID}
	var owner *User
	if k.OwnerID != "" {
		var err error
		owner, err = tx.GetUser(ctx, k.TenantID, k.OwnerID)
		if ErrorCode(err) == ENOTFOUND {
			return f, nil, Invalid(FieldError{Field: "ownerId", Message: "no such user in this tenant"})
		} else if err != nil {
			return f, nil, err
		}
	}
	f.Rights = grantRights(k.Level, expand(catalog, k.Permissions), root, catalog)
	if k.ActsAsOwner && owner != nil {
		// It acts with its owner's rights; what it lists as its own must be
		// covered too, lest it claim what nobody gave it.
		f.Rights = f.Rights.union(s.userRights(owner, root, catalog))
	}
	return f, owner, nil
}

// userRights returns the rights of u.
func (s *Service) userRights(u *User, root bool, catalog []*Permission) Rights {
	return grantRights(u.Level, expand(catalog, u.Permissions), root, catalog)
}

// samePermissions reports whether a and b hold the same permissions.
func samePermissions(a, b []Permission) bool {
	ids := map[string]bool{}
	for _, p := range a {
		ids[p.ID] = true
	}
	n := 0
	for _, p := range b {
		if !ids[p.ID] {
			return false
		}
		n++
	}
	return n == len(ids)
}

// resolvePermissions turns references into catalog permissions, recording
// unknown ones as field errors.
func resolvePermissions(ctx context.Context, tx StoreTx, tenantID string, refs []PermissionRef, f *fieldErrors) ([]Permission, error) {
	if len(refs) > MaxPermissionRefs {
		f.add("permissions", "must hold at most "+strconv.Itoa(MaxPermissionRefs)+" permissions")
		return []Permission{}, nil
	}
	catalog, err := tx.ListPermissions(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	byID := map[string]*Permission{}
	byName := map[string]*Permission{}
	for _, c := range catalog {
		byID[c.ID], byName[c.Name] = c, c
	}
	out := []Permission{}
	seen := map[string]bool{}
	for i, r := range refs {
		field := "permissions[" + strconv.Itoa(i) + "]"
		var c *Permission
		switch {
		case r.ID != "" && r.Name != "":
			c = byID[r.ID]
			if c != nil && c.Name != r.Name {
				c = nil
			}
		case r.ID != "":
			c = byID[r.ID]
		case r.Name != "":
			c = byName[r.Name]
		default:
			f.add(field, "give id or name")
			continue
		}
		if c == nil {
			f.add(field, "no such permission in this tenant")
			continue
		}
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, *c)
		}
	}
	return out, nil
}

// GetAPIKey returns one key. Keys the caller may not read are ENOTFOUND.
func (s *Service) GetAPIKey(ctx context.Context, p *Principal, id string) (*APIKey, error) {
	if err := checkID("key", id); err != nil {
		return nil, err
	}
	k, err := s.store.GetAPIKey(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if !p.canKey(PermAPIKeysRead, k.OwnerID) {
		return nil, Errorf(ENOTFOUND, "api key not found")
	}
	return k, nil
}

// ListAPIKeys lists the keys the caller may read: every key of the tenant
// with apikeys:read, its own keys with read-own by level, else EFORBIDDEN.
func (s *Service) ListAPIKeys(ctx context.Context, p *Principal, f APIKeyFilter) (List[*APIKey], error) {
	var fe fieldErrors
	if f.Page.Number == 0 && f.Page.Skip >= 0 && f.Page.Size >= 1 && f.Page.Size <= MaxPageSize {
		// skip/take paging
		if f.Page.Skip > MaxSkip {
			fe.add("skip", "must be at most "+strconv.Itoa(MaxSkip))
		}
	} else if _, err := ValidatePage(f.Page.Number, f.Page.Size); err != nil {
		fe = append(fe, err.(*Error).Fields...)
	}
	switch f.Status {
	case "", StatusAll, StatusActive, StatusInactive, StatusExpired:
	default:
		fe.add("status", "must be all, active, inactive or expired")
	}
	if f.Sort != "" && strings.Count(f.Sort, ",") >= MaxSortTerms {
		fe.add("sort", "must have at most "+strconv.Itoa(MaxSortTerms)+" terms")
	} else if f.Sort != "" {
		for _, field := range strings.Split(f.Sort, ",") {
			if !sortFields[strings.TrimPrefix(field, "-")] {
				fe.add("sort", "must be fields among name, createdAt, lastUsedAt, expiresAt, id, isActive, clientId, description, deviceName, userName, version, each optionally prefixed with -")
				break
			}
		}
	}
	if len(f.Conditions) > MaxConditions {
		fe.add("filter", "must have at most "+strconv.Itoa(MaxConditions)+" conditions")
		f.Conditions = nil
	}
	for _, c := range f.Conditions {
		if err := checkCondition(c); err != "" {
			fe.add(c.Field, err)
		}
	}
	if f.OwnerID != "" && !secret.ValidID(f.OwnerID) {
		fe.add("ownerId", "must be a user id")
	}
	if len(f.Query) > MaxNameLen {
		fe.add("q", "must be at most 200 characters")
	}
	if len(f.Cursor) > MaxCursorLen {
		fe.add("cursor", "is not a cursor of this list")
	}
	if err := fe.err(); err != nil {
		return List[*APIKey]{}, err
	}
	if !p.Has(PermAPIKeysRead) {
		if !p.hasOnOwn(PermAPIKeysRead) || p.OwnerID == "" {
			return List[*APIKey]{}, Errorf(EFORBIDDEN, "apikeys:read is required")
		}
		if f.OwnerID != "" && f.OwnerID != p.OwnerID {
			return List[*APIKey]{Items: []*APIKey{}, Page: f.Page}, nil
		}
		f.OwnerID = p.OwnerID
	}
	f.Now = s.now()
	return s.store.ListAPIKeys(ctx, p.TenantID, f)
}

// UpdateAPIKey changes a key. ifMatch, when not nil, must equal the stored
// version (else EPRECONDITION). Without it, a concurrent change is retried
// on the fresh key, so no write is lost.
func (s *Service) UpdateAPIKey(ctx context.Context, p *Principal, id string, in APIKeyInput, ifMatch *int) (*APIKey, error) {
	if err := checkID("key", id); err != nil {
		return nil, err
	}
	if in.ClientID != nil {
		return nil, Invalid(FieldError{Field: "clientId", Message: "is immutable"})
	}
	if in.ExpiresIn != nil {
		return nil, Invalid(FieldError{Field: "expiresIn", Message: "is only accepted on create; use expiresAt"})
	}
	for attempt := 0; ; attempt++ {
		k, err := s.updateAPIKeyOnce(ctx, p, id, in, ifMatch)
		if ErrorCode(err) == EVERSIONCONFLICT && ifMatch == nil && attempt < 20 {
			continue
		}
		return k, s.denied(ctx, p, "apikey.update", id, err)
	}
}

func (s *Service) updateAPIKeyOnce(ctx context.Context, p *Principal, id string, in APIKeyInput, ifMatch *int) (*APIKey, error) {
	var out *APIKey
	var revoked []KeyRef
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		prev, err := s.visibleKey(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != prev.Version {
			return Errorf(EPRECONDITION, "the key's version is %d, not %d", prev.Version, *ifMatch)
		}
		k := *prev
		now := s.now()
		if err := s.applyKeyInput(ctx, tx, p, &k, prev, in, now, false); err != nil {
			return err
		}
		k.UpdatedAt, k.Version = now, prev.Version+1
		if err := tx.UpdateAPIKey(ctx, &k, prev.Version); err != nil {
			return err
		}
		if !sameCredits(prev.Credits, k.Credits) {
			if err := tx.SetKeyCredits(ctx, k.TenantID, k.ID, k.Credits); err != nil {
				return err
			}
		}
		if !sameNamedRateLimits(prev.RateLimits, k.RateLimits) {
			if err := tx.SetKeyRateLimits(ctx, k.TenantID, k.ID, k.RateLimits); err != nil {
				return err
			}
		}
		action := "apikey.update"
		if in.IsActive != nil && *in.IsActive != prev.IsActive && onlyActiveChanged(in) {
			action = map[bool]string{true: "apikey.activate", false: "apikey.deactivate"}[*in.IsActive]
		}
		changes := keyChanges(prev, &k)
		if err := s.auditDetails(ctx, tx, p, action, p.TenantID, k.ID, map[string]any{"name": k.Name, "changed": changes.fields(), "changes": changes}); err != nil {
			return err
		}
		if prev.IsActive && !k.IsActive {
			// Keys this key made or rotated die with it.
			if revoked, err = s.offboard(ctx, tx, p, k.ID); err != nil {
				return err
			}
		}
		out, err = tx.GetAPIKey(ctx, p.TenantID, id)
		return err
	})
	s.invalidate(ctx, append(revoked, KeyRef{TenantID: p.TenantID, ID: id})...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func sameRateLimit(a, b *RateLimit) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func onlyActiveChanged(in APIKeyInput) bool {
	in.IsActive = nil
	return in.Name == nil && in.Description == nil && in.Permissions == nil && in.Level == nil &&
		in.ExpiresAt == nil && !in.ClearExpiry && in.TokenLifespanSeconds == nil && in.HMACEnabled == nil &&
		in.RateLimit == nil && !in.ClearRateLimit && in.DeviceName == nil && in.OwnerID == nil && in.OwnerUserName == nil &&
		in.Meta == nil && in.ActsAsOwner == nil && in.Audiences == nil && in.Credits == nil && !in.ClearCredits && in.RateLimits == nil && in.AllowedCIDRs == nil
}

// KeyToChange returns key id if the caller may change it — it may read or
// write the key, or it is the key — else ENOTFOUND: what a dialect's
// update reads first, so that it refuses exactly what UpdateAPIKey would.
func (s *Service) KeyToChange(ctx context.Context, p *Principal, id string) (*APIKey, error) {
	if err := checkID("key", id); err != nil {
		return nil, err
	}
	return s.visibleKey(ctx, s.store, p, id)
}

// visibleKey reads a key the caller may read, else ENOTFOUND.
func (s *Service) visibleKey(ctx context.Context, tx StoreTx, p *Principal, id string) (*APIKey, error) {
	k, err := tx.GetAPIKey(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	self := p.isKey(k.TenantID, k.ID) // a key may always rotate itself
	if !self && !p.canKey(PermAPIKeysRead, k.OwnerID) && !p.canKey(PermAPIKeysWrite, k.OwnerID) {
		return nil, Errorf(ENOTFOUND, "api key not found")
	}
	return k, nil
}

// ReplaceAPIKey creates the key with this id, or replaces every settable
// field of the existing one. Replacing needs version (from the body, else
// ECONFLICT) or ifMatch (else EPRECONDITION) to equal the stored version.
// created tells which happened; only a created key carries its secret.
func (s *Service) ReplaceAPIKey(ctx context.Context, p *Principal, id string, in APIKeyInput, version, ifMatch *int) (key *IssuedKey, created bool, err error) {
	key, created, err = s.replaceAPIKey(ctx, p, id, in, version, ifMatch)
	return key, created, s.denied(ctx, p, "apikey.replace", id, err)
}

func (s *Service) replaceAPIKey(ctx context.Context, p *Principal, id string, in APIKeyInput, version, ifMatch *int) (key *IssuedKey, created bool, err error) {
	if err := checkID("key", id); err != nil {
		return nil, false, err
	}
	existing, err := s.store.GetAPIKey(ctx, p.TenantID, id)
	if ErrorCode(err) == ENOTFOUND {
		k, cerr := s.createAPIKey(ctx, p, id, in)
		if ErrorCode(cerr) != ECONFLICT {
			return k, cerr == nil, cerr
		}
		// A concurrent PUT may have created this id in the caller's tenant
		// first: this one then lost a race and answers as a replace would.
		// (Ids are unique per tenant: another tenant's key with this id is
		// another key, and never in the way.)
		if existing, err = s.store.GetAPIKey(ctx, p.TenantID, id); ErrorCode(err) == ENOTFOUND {
			return nil, false, cerr // the clientId or secret was taken
		}
	}
	if err != nil {
		return nil, false, err
	}
	if !p.canKey(PermAPIKeysRead, existing.OwnerID) && !p.canKey(PermAPIKeysWrite, existing.OwnerID) {
		return nil, false, Errorf(ENOTFOUND, "api key not found")
	}
	switch {
	case ifMatch != nil && *ifMatch != existing.Version:
		return nil, false, Errorf(EPRECONDITION, "the key's version is %d, not %d", existing.Version, *ifMatch)
	case version != nil && *version != existing.Version:
		return nil, false, Errorf(EVERSIONCONFLICT, "the key's version is %d, not %d", existing.Version, *version)
	case version == nil && ifMatch == nil:
		return nil, false, Errorf(EVERSIONCONFLICT, "give the key's current version (version or If-Match) to replace it")
	}
	if in.ClientID != nil {
		t, err := s.store.GetTenant(ctx, p.TenantID)
		if err != nil {
			return nil, false, err
		}
		if existing.ClientID != t.Prefix+"_"+*in.ClientID {
			return nil, false, Invalid(FieldError{Field: "clientId", Message: "is immutable"})
		}
	}
	// Replace: every field not given takes its default.
	full := in
	full.ClientID = nil
	def := func(v *string) *string {
		if v == nil {
			e := ""
			return &e
		}
		return v
	}
	full.Description, full.DeviceName = def(in.Description), def(in.DeviceName)
	if full.Permissions == nil {
		full.Permissions = &[]PermissionRef{}
	}
	if full.Level == nil {
		zero := 0
		full.Level = &zero
	}
	if full.IsActive == nil {
		t := true
		full.IsActive = &t
	}
	if full.ExpiresAt == nil && full.ExpiresIn == nil {
		full.ClearExpiry = true
	}
	if full.RateLimit == nil {
		full.ClearRateLimit = true
	}
	if full.Credits == nil {
		full.ClearCredits = true
	}
	if full.RateLimits == nil {
		full.RateLimits = &[]NamedRateLimit{}
	}
	if full.TokenLifespanSeconds == nil {
		d := DefaultTokenLifespan
		full.TokenLifespanSeconds = &d
	}
	if full.HMACEnabled == nil {
		full.HMACEnabled = &existing.HMACEnabled
	}
	if full.Meta == nil {
		full.Meta = json.RawMessage("{}")
	}
	if full.ActsAsOwner == nil {
		full.ActsAsOwner = new(bool)
	}
	if full.Audiences == nil {
		full.Audiences = &[]string{}
	}
	if full.AllowedCIDRs == nil {
		full.AllowedCIDRs = &[]string{}
	}
	expiresIn := full.ExpiresIn
	full.ExpiresIn = nil
	if expiresIn != nil {
		if *expiresIn < 1 || *expiresIn > MaxExpiresIn {
			return nil, false, Invalid(FieldError{Field: "expiresIn", Message: "must be between 1 and " + strconv.Itoa(MaxExpiresIn) + " seconds"})
		}
		t := s.now().Add(time.Duration(*expiresIn) * time.Second)
		full.ExpiresAt = &t
	}
	v := existing.Version
	k, err := s.updateAPIKeyOnce(ctx, p, id, full, &v)
	if ErrorCode(err) == EPRECONDITION && ifMatch == nil {
		err = Errorf(EVERSIONCONFLICT, "the key was changed concurrently; read it again")
	}
	if err != nil {
		return nil, false, err
	}
	return &IssuedKey{APIKey: k}, false, nil
}

// DeleteAPIKey deletes a key and returns it as it was. Needs apikeys:delete
// on the key and a level at least the key's.
func (s *Service) DeleteAPIKey(ctx context.Context, p *Principal, id string, ifMatch *int) (*APIKey, error) {
	if err := checkID("key", id); err != nil {
		return nil, err
	}
	var out *APIKey
	var revoked []KeyRef
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		k, err := s.visibleKey(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if err := p.authorizeKeyDelete(keyFacts{ID: k.ID, OwnerID: k.OwnerID, Rights: Rights{Level: k.Level}}); err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != k.Version {
			return Errorf(EPRECONDITION, "the key's version is %d, not %d", k.Version, *ifMatch)
		}
		if err := tx.DeleteAPIKey(ctx, p.TenantID, id, k.Version); err != nil {
			return err
		}
		out = k
		if revoked, err = s.offboard(ctx, tx, p, id); err != nil {
			return err
		}
		return s.auditDetails(ctx, tx, p, "apikey.delete", p.TenantID, id, map[string]any{"name": k.Name})
	})
	s.invalidate(ctx, append(revoked, KeyRef{TenantID: p.TenantID, ID: id})...)
	if err != nil {
		return nil, s.denied(ctx, p, "apikey.delete", id, err)
	}
	return out, nil
}

// RotateInput is the body of a rotation.
type RotateInput struct {
	GracePeriodSeconds int   `json:"gracePeriodSeconds"`
	HMACEnabled        *bool `json:"hmacEnabled,omitempty"`
}

// RotateAPIKey issues a new secret. The old one keeps working for
// GracePeriodSeconds (0..86400); a secret older than that stops at once.
func (s *Service) RotateAPIKey(ctx context.Context, p *Principal, id string, in RotateInput) (*IssuedKey, error) {
	if err := checkID("key", id); err != nil {
		return nil, err
	}
	if in.GracePeriodSeconds < 0 || in.GracePeriodSeconds > MaxGracePeriod {
		return nil, Invalid(FieldError{Field: "gracePeriodSeconds", Message: "must be between 0 and 86400"})
	}
	var out *IssuedKey
	err := s.store.Tx(ctx, func(tx StoreTx) error {
		prev, err := s.visibleKey(ctx, tx, p, id)
		if err != nil {
			return err
		}
		t, catalog, err := tenantCatalog(ctx, tx, p.TenantID)
		if err != nil {
			return err
		}
		facts, _, err := s.keyFacts(ctx, tx, prev, t.IsRoot, catalog)
		if err != nil {
			return err
		}
		if err := p.authorizeKeyRotate(facts); err != nil {
			return err
		}
		if err := s.stillActive(ctx, tx, p); err != nil {
			return err
		}
		now := s.now()
		k := *prev
		if in.HMACEnabled != nil {
			k.HMACEnabled = *in.HMACEnabled
		}
		k.PrevSecretHash, k.PrevSecretCiphertext, k.PrevSecretExpiresAt = nil, nil, nil
		k.PrevSecretHolderID, k.PrevSecretHolderTenantID = "", ""
		if in.GracePeriodSeconds > 0 && !prev.SecretRevoked {
			// A revoked secret (its holder lost access) is not given a
			// grace period: it stays dead, with the tokens minted with it.
			until := now.Add(time.Duration(in.GracePeriodSeconds) * time.Second)
			k.PrevSecretHash, k.PrevSecretExpiresAt = prev.SecretHash, &until
			k.PrevSecretHolderID, k.PrevSecretHolderTenantID = prev.SecretHolderID, prev.SecretHolderTenantID
			if k.HMACEnabled {
				k.PrevSecretCiphertext = prev.SecretCiphertext
			}
		}
		sec := secret.NewSecret(t.Prefix)
		s.setSecret(&k, sec)
		if !p.rotatesItself(id) {
			// p was shown the new secret. A key rotating itself stays with
			// whoever was shown the secret it rotated with.
			k.SecretHolderID, k.SecretHolderTenantID, k.SecretRevoked = p.ID, p.HomeTenantID(), false
		}
		k.UpdatedAt, k.Version, k.SecretGeneration = now, prev.Version+1, prev.SecretGeneration+1
		if err := tx.UpdateAPIKey(ctx, &k, prev.Version); err != nil {
			return err
		}
		if err := s.auditDetails(ctx, tx, p, "apikey.rotate", p.TenantID, id,
			map[string]any{"name": k.Name, "gracePeriodSeconds": in.GracePeriodSeconds}); err != nil {
			return err
		}
		stored, err := tx.GetAPIKey(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		out = &IssuedKey{APIKey: stored, ClientSecret: sec}
		return nil
	})
	s.invalidate(ctx, KeyRef{TenantID: p.TenantID, ID: id})
	if err != nil {
		return nil, s.denied(ctx, p, "apikey.rotate", id, err)
	}
	return out, nil
}

// MaxUsageDays bounds how far back APIKeyUsage looks.
const MaxUsageDays = 90

// KeyUsage is a key's request counts per day (UTC), oldest first, one entry
// for every day of the period including days without requests; with hourly
// granularity Hours holds the same per hour. Each entry's Count is the
// requests the key authenticated (as before outcomes were counted);
// Outcomes counts its verifications by outcome (UsageOutcomes).
type KeyUsage struct {
	KeyID       string       `json:"keyId"`
	Granularity string       `json:"granularity"` // "day" or "hour"
	Days        []UsageCount `json:"days"`
	Hours       []UsageCount `json:"hours,omitempty"`
	Total       int64        `json:"total"`
	// Outcomes totals the period's verifications by outcome.
	Outcomes map[string]int64 `json:"outcomes"`
}

// APIKeyUsage returns how many requests the key made on each of the last
// days days (1..90), today included. Needs read access to the key. Counts
// reach the store every few seconds, so the latest requests may be missing.
func (s *Service) APIKeyUsage(ctx context.Context, p *Principal, id string, days int) (*KeyUsage, error) {
	return s.APIKeyUsageBy(ctx, p, id, days, false)
}

// APIKeyUsageBy is APIKeyUsage, with Hours filled when hourly.
func (s *Service) APIKeyUsageBy(ctx context.Context, p *Principal, id string, days int, hourly bool) (*KeyUsage, error) {
	if days < 1 || days > MaxUsageDays {
		return nil, Invalid(FieldError{Field: "days", Message: "must be between 1 and 90"})
	}
	k, err := s.GetAPIKey(ctx, p, id)
	if err != nil {
		return nil, err
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(days - 1))
	hours, err := s.store.KeyUsage(ctx, p.TenantID, k.ID, first)
	if err != nil {
		return nil, err
	}
	outcomes, err := s.store.KeyOutcomes(ctx, p.TenantID, []string{k.ID}, first)
	if err != nil {
		return nil, err
	}
	u := newKeyUsage(k.ID, first, days, hourly)
	for _, h := range hours {
		i := int(h.Start.Sub(first) / (24 * time.Hour))
		if i >= 0 && i < days {
			u.Days[i].Count += h.Count
			u.Total += h.Count
		}
		if j := int(h.Start.Sub(first) / time.Hour); u.Hours != nil && j >= 0 && j < len(u.Hours) {
			u.Hours[j].Count += h.Count
		}
	}
	fillUsage(u, first, outcomes)
	return u, nil
}
