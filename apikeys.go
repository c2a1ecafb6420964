package keyward

import (
	"context"
	"encoding/json"
	"reflect"
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

// APIKeyInput is what a caller may set on a key. Nil and left-out fields
// are left as they are (PATCH) or take their defaults (create, replace); a
// null Optional clears its field.
type APIKeyInput struct {
	Name        *string          `json:"name,omitempty"`
	Description *string          `json:"description,omitempty"`
	ClientID    Optional[string] `json:"clientId,omitzero"` // a slug; create only (null: generated)
	Permissions *[]PermissionRef `json:"permissions,omitempty"`
	Level       *int             `json:"level,omitempty"`
	IsActive    *bool            `json:"isActive,omitempty"`
	// ExpiresAt null: the key never expires.
	ExpiresAt            Optional[time.Time] `json:"expiresAt,omitzero"`
	ExpiresIn            *int64              `json:"expiresIn,omitempty"` // seconds from now; create and replace only
	TokenLifespanSeconds *int                `json:"tokenLifespanSeconds,omitempty"`
	HMACEnabled          *bool               `json:"hmacEnabled,omitempty"`
	RateLimit            Optional[RateLimit] `json:"rateLimit,omitzero"` // null: none of its own
	Credits              Optional[Credits]   `json:"credits,omitzero"`   // null: unlimited uses
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
	// AllowedCIDRs replaces the key's address allowlist; an empty list or
	// null removes it (any address).
	AllowedCIDRs Optional[[]string] `json:"allowedCidrs,omitzero"`
	Meta         json.RawMessage    `json:"meta,omitempty"`
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
		k, err := newKey(p, t, id, in.ClientID, now)
		if err != nil {
			return err
		}
		if err := s.changeKey(ctx, tx, p, k, nil, in, now); err != nil {
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
		if err := saveKeyLimits(ctx, tx, &APIKey{}, k); err != nil {
			return err
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

// newKey returns a key about to be created by p in tenant t, with its
// defaults: owned by p's owner, with the clientId asked for (a slug, which
// the tenant's prefix is put before) or a generated one.
func newKey(p *Principal, t *Tenant, id string, clientID Optional[string], now time.Time) (*APIKey, error) {
	k := &APIKey{ID: id, TenantID: p.TenantID, TokenLifespanSeconds: DefaultTokenLifespan, CreatedAt: now,
		UpdatedAt: now, CreatedBy: p.ID, Version: 1, SecretGeneration: 1, Meta: json.RawMessage("{}")}
	if !p.crossTenant {
		k.OwnerID = p.OwnerID
	}
	slug, ok := clientID.Get()
	switch {
	case !ok:
		k.ClientID = secret.NewClientID(t.Prefix)
	case !slugRE.MatchString(slug):
		return nil, Invalid(FieldError{Field: "clientId", Message: "must be 1-64 of A-Z, a-z, 0-9, '.', '_', '~' and '-', starting with a letter or digit"})
	default:
		k.ClientID = t.Prefix + "_" + slug
	}
	return k, nil
}

// saveKeyLimits stores k's credits and named rate limits where they
// differ from prev's, which are kept beside the key.
func saveKeyLimits(ctx context.Context, tx StoreTx, prev, k *APIKey) error {
	if !sameCredits(prev.Credits, k.Credits) {
		if err := tx.SetKeyCredits(ctx, k.TenantID, k.ID, k.Credits); err != nil {
			return err
		}
	}
	if !sameNamedRateLimits(prev.RateLimits, k.RateLimits) {
		return tx.SetKeyRateLimits(ctx, k.TenantID, k.ID, k.RateLimits)
	}
	return nil
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

// changeKey makes the change in to k, which was prev (nil on create):
// validated, applied, then authorized (keychange.go).
func (s *Service) changeKey(ctx context.Context, tx StoreTx, p *Principal, k, prev *APIKey, in APIKeyInput, now time.Time) error {
	f := validateKeyInput(in, prev, now)
	refs, err := resolveKeyRefs(ctx, tx, k.TenantID, in, &f)
	if err != nil {
		return err
	}
	if err := f.err(); err != nil {
		return err
	}
	applyKeyInput(k, in, refs, now)
	var caller *APIKey
	if prev == nil || changesRights(prev, k) || !sameBounds(boundsOf(prev), boundsOf(k)) {
		if caller, err = callerKey(ctx, tx, p); err != nil {
			return err
		}
	}
	if prev == nil && caller != nil {
		inheritBounds(k, in, caller)
	}
	if err := checkKey(k); err != nil {
		return err
	}
	return s.authorizeKey(ctx, tx, p, caller, k, prev, in)
}

// authorizeKey asks the policy whether p (the key caller, when p is a key
// and the change needs it) may turn prev (nil on create) into k, after
// reading the facts it needs: the catalog, the owners' rights.
func (s *Service) authorizeKey(ctx context.Context, tx StoreTx, p *Principal, caller, k, prev *APIKey, in APIKeyInput) error {
	if prev != nil && p.isKey(prev.TenantID, prev.ID) {
		if err := p.authorizeOwnKeyChange(ownChange(prev, k, in)); err != nil {
			return err
		}
	}
	c, err := s.keyChangeFacts(ctx, tx, p, caller, k, prev)
	if err != nil {
		return err
	}
	return p.authorizeKeyChange(c)
}

// ownChange describes, for the policy, what a key changing itself from
// prev to k changes of what bounds it.
func ownChange(prev, k *APIKey, in APIKeyInput) ownKeyChange {
	return ownKeyChange{
		expiryOrRateLimit: !in.ExpiresAt.IsZero() || !in.RateLimit.IsZero(),
		credits:           !sameCredits(prev.Credits, k.Credits),
		rateLimits:        !sameNamedRateLimits(prev.RateLimits, k.RateLimits),
		widensAllowlist:   widensAllowlist(prev.AllowedCIDRs, k.AllowedCIDRs),
		audiences:         !slices.Equal(prev.Audiences, k.Audiences),
	}
}

// keyChangeFacts reads what the policy needs to decide whether p, the key
// caller when it is one, may turn prev (nil on create) into k.
func (s *Service) keyChangeFacts(ctx context.Context, tx StoreTx, p *Principal, caller, k, prev *APIKey) (keyChange, error) {
	t, catalog, err := tenantCatalog(ctx, tx, k.TenantID)
	if err != nil {
		return keyChange{}, err
	}
	next, owner, err := s.keyFacts(ctx, tx, k, t.IsRoot, catalog)
	if err != nil {
		return keyChange{}, err
	}
	c := keyChange{next: next, rights: prev == nil, credits: k.Credits, creditsGrant: prev == nil, bounds: boundsOf(k)}
	ownerChanged := prev == nil || prev.OwnerID != k.OwnerID
	if prev != nil {
		pf, _, err := s.keyFacts(ctx, tx, prev, t.IsRoot, catalog)
		if err != nil {
			return keyChange{}, err
		}
		c.prev, c.rights = &pf, changesRights(prev, k)
		c.creditsGrant = creditsGrant(prev.Credits, k.Credits)
		pb := boundsOf(prev)
		c.prevBounds = &pb
	}
	credits, bounds := callerLimits(caller)
	if c.rights {
		c.callerCredits = credits
	}
	c.callerBounds = bounds
	if owner != nil && ownerChanged && k.OwnerID != p.OwnerID {
		r := s.userRights(owner, t.IsRoot, catalog)
		c.owner = &r
	}
	if owner != nil && (ownerChanged || prev.Level != k.Level) && !k.ActsAsOwner {
		c.ownerLevel = &owner.Level
	}
	return c, nil
}

// callerKey returns the key p is, nil for a principal that is not a key
// (a user: its keys are bounded by what it sets, not by a key of its own).
func callerKey(ctx context.Context, tx StoreTx, p *Principal) (*APIKey, error) {
	if p.Kind != KindAPIKey {
		return nil, nil
	}
	self, err := tx.GetAPIKey(ctx, p.HomeTenantID(), p.ID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return self, nil
}

// callerLimits returns the credits and the bounds of caller, nil for none
// (nil credits: a key without them; nil bounds: no key).
func callerLimits(caller *APIKey) (*Credits, *keyBounds) {
	if caller == nil {
		return nil, nil
	}
	b := boundsOf(caller)
	return caller.Credits, &b
}

// boundsOf returns what bounds k's use in time, rate and place.
func boundsOf(k *APIKey) keyBounds {
	return keyBounds{ExpiresAt: k.ExpiresAt, RateLimit: k.RateLimit, RateLimits: k.RateLimits, AllowedCIDRs: k.AllowedCIDRs}
}

// sameBounds reports whether a and b bound a key alike.
func sameBounds(a, b keyBounds) bool {
	return sameTime(a.ExpiresAt, b.ExpiresAt) && sameRateLimit(a.RateLimit, b.RateLimit) &&
		sameNamedRateLimits(a.RateLimits, b.RateLimits) && slices.Equal(a.AllowedCIDRs, b.AllowedCIDRs)
}

// inheritBounds gives k, which key caller creates or imports, caller's
// expiry, rate limit, named limits and allowlist where in leaves them out: a key made by
// a bounded key is bounded alike unless it asks for tighter bounds (looser
// ones are refused, keyBounds.cover). An expiresIn (a lifetime from now)
// past the caller's expiry ends with it instead: a FreeSewing key, which
// always expires, makes keys with the lifetime it was made with itself.
func inheritBounds(k *APIKey, in APIKeyInput, caller *APIKey) {
	if caller.ExpiresAt != nil && (in.ExpiresAt.IsZero() && in.ExpiresIn == nil ||
		in.ExpiresIn != nil && k.ExpiresAt != nil && k.ExpiresAt.After(*caller.ExpiresAt)) {
		t := *caller.ExpiresAt
		k.ExpiresAt = &t
	}
	if in.RateLimit.IsZero() && caller.RateLimit != nil {
		l := *caller.RateLimit
		k.RateLimit = &l
	}
	if in.RateLimits == nil && len(caller.RateLimits) > 0 {
		k.RateLimits = slices.Clone(caller.RateLimits)
	}
	if in.AllowedCIDRs.IsZero() && len(caller.AllowedCIDRs) > 0 {
		k.AllowedCIDRs = slices.Clone(caller.AllowedCIDRs)
	}
}

// changesRights reports whether turning prev into k gives the key rights:
// a new owner, level or permissions, acting as its owner or not, and also
// a new audience (its tokens reach another API), more credits, or a wider
// allowlist.
func changesRights(prev, k *APIKey) bool {
	return prev.OwnerID != k.OwnerID || prev.ActsAsOwner != k.ActsAsOwner || prev.Level != k.Level ||
		!samePermissions(prev.Permissions, k.Permissions) || !slices.Equal(prev.Audiences, k.Audiences) ||
		creditsGrant(prev.Credits, k.Credits) || widensAllowlist(prev.AllowedCIDRs, k.AllowedCIDRs)
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
	byID, byName, err := catalogIndex(ctx, tx, tenantID)
	if err != nil {
		return nil, err
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

// catalogIndex returns the permissions of a tenant's catalog by id and by
// name: made once per import (memoTx), for each call otherwise.
func catalogIndex(ctx context.Context, tx StoreTx, tenantID string) (byID, byName map[string]*Permission, err error) {
	if m, ok := tx.(*memoTx); ok {
		return m.catalogIndex(ctx, tenantID)
	}
	catalog, err := tx.ListPermissions(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	byID, byName = indexCatalog(catalog)
	return byID, byName, nil
}

// indexCatalog returns catalog by id and by name.
func indexCatalog(catalog []*Permission) (byID, byName map[string]*Permission) {
	byID, byName = make(map[string]*Permission, len(catalog)), make(map[string]*Permission, len(catalog))
	for _, c := range catalog {
		byID[c.ID], byName[c.Name] = c, c
	}
	return byID, byName
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
	s.leases.countLeased(k)
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
	if !in.ClientID.IsZero() { // even null
		return nil, Invalid(FieldError{Field: "clientId", Message: "is immutable"})
	}
	if err := checkID("key", id); err != nil {
		return nil, err
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
		if err := s.changeKey(ctx, tx, p, &k, prev, in, now); err != nil {
			return err
		}
		k.UpdatedAt, k.Version = now, prev.Version+1
		if err := tx.UpdateAPIKey(ctx, &k, prev.Version); err != nil {
			return err
		}
		if err := saveKeyLimits(ctx, tx, prev, &k); err != nil {
			return err
		}
		changes := keyChanges(prev, &k)
		if err := s.auditDetails(ctx, tx, p, updateAction(prev, in), p.TenantID, k.ID, map[string]any{"name": k.Name, "changed": changes.fields(), "changes": changes}); err != nil {
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

// updateAction is the audit action of an update: an activation or a
// deactivation when that is all it does.
func updateAction(prev *APIKey, in APIKeyInput) string {
	active := in.IsActive
	in.IsActive = nil
	if active == nil || *active == prev.IsActive || !in.IsEmpty() {
		return "apikey.update"
	}
	return map[bool]string{true: "apikey.activate", false: "apikey.deactivate"}[*active]
}

// IsEmpty reports whether in changes nothing.
func (in APIKeyInput) IsEmpty() bool { return reflect.ValueOf(in).IsZero() }

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
	if err := checkReplaceVersion(existing, version, ifMatch); err != nil {
		return nil, false, err
	}
	if err := s.checkClientIDKept(ctx, existing, in.ClientID); err != nil {
		return nil, false, err
	}
	full, err := replacement(in, existing, s.now())
	if err != nil {
		return nil, false, err
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

// checkReplaceVersion checks that a replace names the version of the key
// it replaces: in the body (version) or in If-Match.
func checkReplaceVersion(existing *APIKey, version, ifMatch *int) error {
	switch {
	case ifMatch != nil && *ifMatch != existing.Version:
		return Errorf(EPRECONDITION, "the key's version is %d, not %d", existing.Version, *ifMatch)
	case version != nil && *version != existing.Version:
		return Errorf(EVERSIONCONFLICT, "the key's version is %d, not %d", existing.Version, *version)
	case version == nil && ifMatch == nil:
		return Errorf(EVERSIONCONFLICT, "give the key's current version (version or If-Match) to replace it")
	}
	return nil
}

// checkClientIDKept refuses a replace that gives the key another clientId
// (a slug, without the tenant's prefix): it is immutable.
func (s *Service) checkClientIDKept(ctx context.Context, existing *APIKey, clientID Optional[string]) error {
	slug, ok := clientID.Get()
	if !ok {
		return nil
	}
	t, err := s.store.GetTenant(ctx, existing.TenantID)
	if err != nil {
		return err
	}
	if existing.ClientID != t.Prefix+"_"+slug {
		return Invalid(FieldError{Field: "clientId", Message: "is immutable"})
	}
	return nil
}

// replacement is the change a replace of existing with in makes: every
// field in leaves out takes its default, and expiresIn becomes the expiry
// it means.
func replacement(in APIKeyInput, existing *APIKey, now time.Time) (APIKeyInput, error) {
	full := in
	full.ClientID = Optional[string]{}
	full.Description = orDefault(in.Description, "")
	full.DeviceName = orDefault(in.DeviceName, "")
	full.Permissions = orDefault(in.Permissions, []PermissionRef{})
	full.Level = orDefault(in.Level, 0)
	full.IsActive = orDefault(in.IsActive, true)
	full.RateLimit = in.RateLimit.or(Null[RateLimit]())
	full.Credits = in.Credits.or(Null[Credits]())
	full.RateLimits = orDefault(in.RateLimits, []NamedRateLimit{})
	full.TokenLifespanSeconds = orDefault(in.TokenLifespanSeconds, DefaultTokenLifespan)
	full.HMACEnabled = orDefault(in.HMACEnabled, existing.HMACEnabled)
	full.ActsAsOwner = orDefault(in.ActsAsOwner, false)
	full.Audiences = orDefault(in.Audiences, []string{})
	full.AllowedCIDRs = in.AllowedCIDRs.or(Some([]string{}))
	if full.Meta == nil {
		full.Meta = json.RawMessage("{}")
	}
	full.ExpiresAt = in.ExpiresAt.or(Null[time.Time]())
	if in.ExpiresIn != nil {
		var f fieldErrors
		if checkExpiresIn(&f, *in.ExpiresIn); f.err() != nil {
			return full, f.err()
		}
		full.ExpiresAt, full.ExpiresIn = Some(now.Add(time.Duration(*in.ExpiresIn)*time.Second)), nil
	}
	return full, nil
}

// orDefault returns v, or a pointer to def when v is nil.
func orDefault[T any](v *T, def T) *T {
	if v != nil {
		return v
	}
	return &def
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
	s.dropUsage(KeyRef{TenantID: p.TenantID, ID: id})
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
		caller, err := callerKey(ctx, tx, p)
		if err != nil {
			return err
		}
		bound, callerBounds := callerLimits(caller)
		if err := p.authorizeKeyRotate(facts, prev.Credits, bound, boundsOf(prev), callerBounds); err != nil {
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
