package keyward

import (
	"slices"
	"sort"
)

// Built-in permissions guard keyward's own API.
const (
	PermAPIKeysRead       = "apikeys:read"
	PermAPIKeysWrite      = "apikeys:write" // create, update, activate, rotate
	PermAPIKeysDelete     = "apikeys:delete"
	PermPermissionsRead   = "permissions:read"
	PermPermissionsWrite  = "permissions:write"
	PermUsersRead         = "users:read"
	PermUsersWrite        = "users:write"
	PermAuditRead         = "audit:read"
	PermKeysVerify        = "keys:verify"
	PermTenantsAdmin      = "tenants:admin" // root tenant only
	maxLevel              = 8
	minLevelOwnKeysRead   = 1
	minLevelOwnKeysWrite  = 4
	minLevelAllKeysRead   = 5
	minLevelAllKeysWrite  = 7
	minLevelAllPermission = 8
)

// builtinPermissions lists every built-in permission with its description.
var builtinPermissions = []struct{ Name, Description string }{
	{PermAPIKeysRead, "Read API keys"},
	{PermAPIKeysWrite, "Create, update, activate and rotate API keys"},
	{PermAPIKeysDelete, "Delete API keys"},
	{PermPermissionsRead, "Read the permission catalog"},
	{PermPermissionsWrite, "Manage custom permissions"},
	{PermUsersRead, "Read users"},
	{PermUsersWrite, "Manage users"},
	{PermAuditRead, "Read the audit log"},
	{PermKeysVerify, "Verify keys, tokens and signatures for a resource server"},
	{PermTenantsAdmin, "Manage tenants (root tenant only)"},
}

// builtinAliases are the dialects' names for built-in permissions, seeded as
// built-in composites in every tenant's catalog.
var builtinAliases = []struct {
	Name, Description string
	Members           []string
}{
	{"customer_applications_read", "Carbonext: read applications", []string{PermAPIKeysRead}},
	{"customer_applications_write", "Carbonext: manage applications", []string{PermAPIKeysRead, PermAPIKeysWrite, PermAPIKeysDelete}},
	{"apiKeyCreate", "Portos: create API keys", []string{PermAPIKeysWrite}},
	{"apiKeyUpdate", "Portos: update API keys", []string{PermAPIKeysWrite}},
	{"apiKeyDelete", "Portos: delete API keys", []string{PermAPIKeysDelete}},
}

func isBuiltinName(name string) bool {
	for _, b := range builtinPermissions {
		if b.Name == name {
			return true
		}
	}
	for _, a := range builtinAliases {
		if a.Name == name {
			return true
		}
	}
	return false
}

// Principal kinds.
const (
	KindUser   = "user"
	KindAPIKey = "apikey"
	KindSystem = "system"
	// KindAnonymous is the actor of failed logins in the audit log.
	KindAnonymous = "anonymous"
)

// Principal is whoever calls: a user or an API key, as the Service
// authenticated it. Handlers never build one themselves.
type Principal struct {
	Kind     string
	ID       string // user id or key id
	TenantID string
	Name     string // userName or key name
	ClientID string // keys only
	// OwnerID is the user whose keys count as "own": the user itself, or
	// the user a key acts for.
	OwnerID string
	Level   int
	// perms holds the principal's explicit permissions with composites
	// expanded, by name; they apply tenant-wide.
	perms map[string]bool
	// rootTenant is true when the principal belongs to the root tenant.
	rootTenant bool
	// crossTenant is true when a root tenants:admin principal acts in another
	// tenant (?tenant=): it then holds every built-in permission there.
	crossTenant bool
	// homeTenant is the principal's own tenant while it acts in another
	// (crossTenant); "" when it acts in its own, TenantID.
	homeTenant string
	// unspentSignature is the replay-guard entry of the NWS4 signature of
	// a safe request: a secret handed out spends it first.
	unspentSignature *signatureNonce
	// scope, when not nil, limits the principal to these permission names
	// (an OAuth2 access token's scope).
	scope map[string]bool

	// Request context, for the audit log.
	IP        string
	UserAgent string

	// Rate is where a key stands against its own rate limit (nil without
	// one), for the RateLimit-* response headers.
	Rate *RateStatus

	// prevSecret is set when a key authenticated with its previous secret
	// (or a token of it) during a rotation's grace period.
	prevSecret bool

	// catalog is, for a key, its tenant's catalog its rights were
	// resolved with (nil: read it when needed).
	catalog []*Permission

	// spent is what the request spent of the key's credits when it
	// authenticated (nil: nothing), for RefundRequest.
	spent *CreditSpend
}

// SpentCredits reports whether the request spent credits of the key when
// it authenticated.
func (p *Principal) SpentCredits() bool { return p.spent != nil }

func (p *Principal) inScope(perm string) bool {
	return p.scope == nil || p.scope[perm]
}

// Has reports whether the principal holds perm tenant-wide: explicitly, by
// its level, or as a cross-tenant admin.
func (p *Principal) Has(perm string) bool {
	if !p.inScope(perm) {
		return false
	}
	if perm == PermTenantsAdmin {
		// Only root-tenant principals, never while acting in another tenant.
		return p.rootTenant && !p.crossTenant && (p.perms[perm] || p.Level >= minLevelAllPermission)
	}
	if p.crossTenant || p.perms[perm] || p.Level >= minLevelAllPermission {
		return true
	}
	switch perm {
	case PermAPIKeysRead:
		return p.Level >= minLevelAllKeysRead
	case PermAPIKeysWrite, PermAPIKeysDelete:
		return p.Level >= minLevelAllKeysWrite
	}
	return false
}

// hasOnOwn reports whether the level grants perm on keys the principal owns.
func (p *Principal) hasOnOwn(perm string) bool {
	if !p.inScope(perm) {
		return false
	}
	switch perm {
	case PermAPIKeysRead:
		return p.Level >= minLevelOwnKeysRead
	case PermAPIKeysWrite, PermAPIKeysDelete:
		return p.Level >= minLevelOwnKeysWrite
	}
	return false
}

// canKey reports whether the principal may use perm on a key owned by ownerID.
func (p *Principal) canKey(perm, ownerID string) bool {
	return p.Has(perm) || (ownerID != "" && ownerID == p.OwnerID && p.hasOnOwn(perm))
}

// CanKey reports whether the principal may use perm (apikeys:read, :write
// or :delete) on a key owned by ownerID. The console asks it to decide which
// buttons to show; the Service decides again on every call.
func (p *Principal) CanKey(perm, ownerID string) bool { return p.canKey(perm, ownerID) }

// CanSomeKeys reports whether the principal may use perm on any key at all:
// tenant-wide, or on keys it owns.
func (p *Principal) CanSomeKeys(perm string) bool { return p.Has(perm) || p.hasOnOwn(perm) }

// canGrant reports whether the principal holds permission name itself and so
// may give it to a key or user it creates or changes. Level 8 holds every
// permission of its tenant's catalog (built-in and custom); others hold what
// they hold explicitly or, for built-ins, tenant-wide by level.
func (p *Principal) canGrant(name string) bool {
	if !p.inScope(name) {
		return false
	}
	if name == PermTenantsAdmin {
		return p.Has(PermTenantsAdmin)
	}
	if p.crossTenant || p.Level >= minLevelAllPermission {
		return true
	}
	return p.perms[name] || p.Has(name)
}

// EffectivePermissions returns the permission names the principal holds
// tenant-wide, and those it holds only on keys it owns, each sorted.
func (p *Principal) EffectivePermissions(catalog []*Permission) (tenantWide, ownKeys []string) {
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] && p.Has(name) {
			seen[name] = true
			tenantWide = append(tenantWide, name)
		}
	}
	for _, b := range builtinPermissions {
		add(b.Name)
	}
	for name := range p.perms {
		if p.inScope(name) {
			if !seen[name] {
				seen[name] = true
				tenantWide = append(tenantWide, name)
			}
		}
	}
	if p.Level >= minLevelAllPermission || p.crossTenant {
		for _, c := range catalog {
			if c.Name != PermTenantsAdmin && p.inScope(c.Name) && !seen[c.Name] {
				seen[c.Name] = true
				tenantWide = append(tenantWide, c.Name)
			}
		}
	}
	for _, perm := range []string{PermAPIKeysRead, PermAPIKeysWrite, PermAPIKeysDelete} {
		if !seen[perm] && p.hasOnOwn(perm) {
			ownKeys = append(ownKeys, perm)
		}
	}
	sort.Strings(tenantWide)
	slices.Sort(ownKeys)
	return tenantWide, ownKeys
}

// expand returns the names of perms and, recursively, of the members of the
// composites among them, using the tenant catalog. Nesting is bounded when
// composites are made (MaxCompositeDepth), so expansion is always complete.
func expand(catalog []*Permission, perms []Permission) map[string]bool {
	byID := make(map[string]*Permission, len(catalog))
	for _, c := range catalog {
		byID[c.ID] = c
	}
	out := map[string]bool{}
	seen := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		c, ok := byID[id]
		if !ok || seen[id] {
			return
		}
		seen[id] = true
		out[c.Name] = true
		for _, child := range c.Children {
			walk(child)
		}
	}
	for _, p := range perms {
		walk(p.ID)
	}
	return out
}

// HomeTenantID is the tenant the principal belongs to: TenantID, unless a
// root admin acts in another tenant.
func (p *Principal) HomeTenantID() string {
	if p.homeTenant != "" {
		return p.homeTenant
	}
	return p.TenantID
}

// isKey reports whether the principal is the key id of tenantID. Key ids
// are unique per tenant only: a key of another tenant acting here (a root
// admin's key) with the same id is another key.
func (p *Principal) isKey(tenantID, id string) bool {
	return p.Kind == KindAPIKey && p.ID == id && p.HomeTenantID() == tenantID
}
