package keyward

import (
	"encoding/json"
	"time"
)

// Tenant is an isolated customer or workspace. Every other object belongs to
// exactly one tenant. The root tenant (created on first start as "default")
// is the only one whose level-8 users hold tenants:admin.
type Tenant struct {
	ID       string `json:"id"`
	Name     string `json:"name"`   // unique slug, e.g. "default"
	Prefix   string `json:"prefix"` // key prefix, 1-16 of [a-z0-9_], e.g. "kw"
	IsActive bool   `json:"isActive"`
	IsRoot   bool   `json:"isRoot"`
	// PortosReadableSecrets lets Portos answers carry the clientSecret of
	// HMAC keys the caller covers, read from the sealed copy and audited
	// (SPEC §7). Off by default: a secret is shown once.
	PortosReadableSecrets bool      `json:"portosReadableSecrets"`
	CreatedAt             time.Time `json:"createdAt"`
	UpdatedAt             time.Time `json:"updatedAt"`
	Version               int       `json:"version"`
}

// User is a human in a tenant. PasswordHash is an argon2id PHC string and
// never serializes.
type User struct {
	ID           string       `json:"id"`
	TenantID     string       `json:"tenantId"`
	UserName     string       `json:"userName"`
	PasswordHash string       `json:"-"`
	Level        int          `json:"level"`
	Permissions  []Permission `json:"permissions"`
	IsActive     bool         `json:"isActive"`
	// RateLimits are the user's named limits, by name, shared by all the
	// user's keys (omitted: none).
	RateLimits []NamedRateLimit `json:"rateLimits,omitempty"`
	CreatedAt  time.Time        `json:"createdAt"`
	UpdatedAt  time.Time        `json:"updatedAt"`
	Version    int              `json:"version"`
	// SessionGeneration is carried by the user's login tokens; a password
	// change or deactivation increments it and so ends every session.
	SessionGeneration int `json:"-"`
	// DisabledKeys lists, in the answer to a deactivation or deletion, the
	// keys that stopped working with it: the user's own keys and those whose
	// current secret it was shown. Never stored.
	DisabledKeys []string `json:"disabledKeys,omitempty"`
}

// Permission is a named right in a tenant's catalog, in the shape of a
// Keycloak role. Built-in permissions guard keyward's own API and are
// read-only; a composite permission contains others (Children, by id).
type Permission struct {
	ID          string              `json:"id"`
	TenantID    string              `json:"-"`
	Name        string              `json:"name"`
	Description *string             `json:"description"`
	Composite   bool                `json:"composite"`
	ClientRole  bool                `json:"clientRole"`
	ContainerID string              `json:"containerId"`
	Attributes  map[string][]string `json:"attributes"`
	BuiltIn     bool                `json:"builtIn"`
	Children    []string            `json:"children,omitempty"` // ids of contained permissions
	CreatedAt   time.Time           `json:"createdAt"`
}

// Audiences are a key's allowed token audiences; none serializes as [].
type Audiences []string

// MarshalJSON writes none as [], never null.
func (a Audiences) MarshalJSON() ([]byte, error) {
	if a == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(a))
}

// APIKey is a machine credential. The secret itself is never stored: only its
// SHA-256 (and, for HMAC keys, an AES-256-GCM ciphertext). None of the secret
// material serializes.
type APIKey struct {
	ID                   string       `json:"id"`
	TenantID             string       `json:"tenantId"`
	ClientID             string       `json:"clientId"`
	Name                 string       `json:"name"`
	Description          string       `json:"description"`
	OwnerID              string       `json:"ownerId"`
	UserName             string       `json:"userName"` // the owner's userName, filled by the store
	DeviceName           string       `json:"deviceName"`
	Permissions          []Permission `json:"permissions"`
	Level                int          `json:"level"`
	IsActive             bool         `json:"isActive"`
	ExpiresAt            *time.Time   `json:"expiresAt"`
	TokenLifespanSeconds int          `json:"tokenLifespanSeconds"`
	HMACEnabled          bool         `json:"hmacEnabled"`
	RateLimit            *RateLimit   `json:"rateLimit"` // nil: none of its own
	Credits              *Credits     `json:"credits"`   // nil: unlimited uses
	// RateLimits are the key's named limits, by name (omitted: none).
	RateLimits []NamedRateLimit `json:"rateLimits,omitempty"`
	Meta       json.RawMessage  `json:"meta"`
	SecretHint string           `json:"secretHint"`
	CreatedAt  time.Time        `json:"createdAt"`
	UpdatedAt  time.Time        `json:"updatedAt"`
	LastUsedAt *time.Time       `json:"lastUsedAt"`
	CreatedBy  string           `json:"createdBy"`
	Version    int              `json:"version"`
	// ActsAsOwner makes the key act with its owner's current rights instead
	// of a grant of its own (Portos keys "act within the context of" their
	// user). It needs an owner.
	ActsAsOwner bool `json:"actsAsOwner"`
	// Audiences are the audiences (absolute URIs or names) the key's access
	// tokens may carry (RFC 8707); the token request's resource or audience
	// picks among them, and without one a token carries them all. None:
	// tokens carry keyward's default audience.
	Audiences Audiences `json:"audiences"`
	// SecretHolderID is the principal (user or key) that was shown the
	// current secret: its creator or last rotator.
	SecretHolderID string `json:"secretHolderId,omitempty"`
	// SecretHolderTenantID is the holder's own tenant (key ids repeat
	// across tenants, and a root admin may act in any tenant).
	SecretHolderTenantID string `json:"-"`
	// SecretRevoked is set when the secret holder lost its access: the key
	// is refused until someone who covers it rotates the secret.
	SecretRevoked bool `json:"secretRevoked"`
	// AllowedCIDRs are the client addresses (IPv4/IPv6 prefixes,
	// normalised) the key works from; absent (empty): any address.
	AllowedCIDRs []string `json:"allowedCidrs,omitempty"`

	// SecretGeneration counts the key's secrets: 1 at creation, +1 on every
	// rotation. OAuth2 access tokens carry it, so a rotation retires the
	// tokens issued under the previous secret.
	SecretGeneration int `json:"-"`

	// Secret material: never serialized, never logged.
	SecretHash           []byte     `json:"-"`
	SecretCiphertext     []byte     `json:"-"`
	PrevSecretHash       []byte     `json:"-"` // set during a rotation grace period
	PrevSecretCiphertext []byte     `json:"-"`
	PrevSecretExpiresAt  *time.Time `json:"-"`
	// PrevSecretHolderID was shown the previous secret: when it loses its
	// access, the grace period ends.
	PrevSecretHolderID       string `json:"-"`
	PrevSecretHolderTenantID string `json:"-"`

	// ImportedHash is set only on a key being imported from the SHA-256 of
	// its secret (secretHash), to that hash; SecretHash is then the scoped
	// hash. Store.CreateAPIKeys refuses the key when a key of its tenant
	// is stored, or being imported, under ImportedHash: a keyward secret
	// with that hash finds that key, never this one. Never stored.
	ImportedHash []byte `json:"-"`
}

// SigningKey is a key that signs OAuth2 access tokens. Its private part is
// sealed with the master key and never serialized.
type SigningKey struct {
	ID        string          `json:"kid"` // the JWT "kid"
	Algorithm string          `json:"alg"` // "EdDSA", "ES256" or "RS256"
	PublicJWK json.RawMessage `json:"-"`   // the public JWK, as published in the JWKS
	// PrivateSealed is the private key (PKCS #8 DER) sealed with the master key.
	PrivateSealed []byte `json:"-"`
	// Slot is the rotation period the key was made for (unix time divided by
	// the rotation interval). Slots are unique: when replicas race to make
	// the key of a period, one wins and the others load it.
	Slot      int64     `json:"-"`
	CreatedAt time.Time `json:"-"`
	RetireAt  time.Time `json:"-"` // signs no token from then on
	ExpiresAt time.Time `json:"-"` // leaves the JWKS then: every token it signed has expired
}

// UsageCount is how many requests a key made in one period (an hour in
// storage, a day in answers) starting at Start.
type UsageCount struct {
	Start time.Time `json:"start"`
	Count int64     `json:"count"`
	// Outcomes counts the period's verifications by outcome (in answers;
	// every outcome of UsageOutcomes, 0 included).
	Outcomes map[string]int64 `json:"outcomes,omitempty"`
}

// AuditEntry records one management change. It never holds a secret.
type AuditEntry struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	TenantID  string    `json:"tenantId"`
	ActorKind string    `json:"actorKind"` // "user", "apikey" or "system"
	ActorID   string    `json:"actorId"`
	Action    string    `json:"action"` // e.g. "apikey.create"
	TargetID  string    `json:"targetId"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"userAgent"`
	Result    string    `json:"result"` // AuditSuccess, AuditDenied or AuditFailure
	// Details says more where the action alone does not: the keys a user's
	// off-boarding disabled, why a change was denied, how many logins failed.
	Details json.RawMessage `json:"details,omitempty"`
}

// Audit results.
const (
	AuditSuccess = "success"
	AuditDenied  = "denied"  // the principal was not allowed (403)
	AuditFailure = "failure" // failed authentications, counted per window
)

// Page selects one page of a list: Number is 1-based. With Number 0 the
// page starts after Skip rows instead (NData's $skip/$take).
type Page struct {
	Number int
	Size   int
	Skip   int
}

// Offset returns the number of rows before the page.
func (p Page) Offset() int {
	if p.Number == 0 {
		return p.Skip
	}
	return (p.Number - 1) * p.Size
}

// Key statuses for APIKeyFilter.Status.
const (
	StatusAll      = "all"
	StatusActive   = "active"   // isActive and not expired
	StatusInactive = "inactive" // not isActive
	StatusExpired  = "expired"  // expiresAt <= now
)

// Status is the key's status at now, as the list's status filter counts
// it: StatusInactive when switched off, else StatusExpired from its expiry
// on, else StatusActive.
func (k *APIKey) Status(now time.Time) string {
	switch {
	case !k.IsActive:
		return StatusInactive
	case expired(k.ExpiresAt, now):
		return StatusExpired
	}
	return StatusActive
}

// expired reports whether what expires at expiresAt (nil: never) has
// expired at now: the one definition of "expired", which includes the
// moment itself.
func expired(expiresAt *time.Time, now time.Time) bool {
	return expiresAt != nil && !now.Before(*expiresAt)
}

// APIKeyFilter selects API keys of one tenant.
type APIKeyFilter struct {
	Page       Page
	Query      string // name contains, case-insensitive
	Status     string // one of the Status* constants; "" means all
	Permission string // permission name the key holds explicitly
	OwnerID    string // only keys of this owner
	// Sort is a comma-separated list of fields, each optionally prefixed
	// with "-" for descending: name, createdAt, lastUsedAt, expiresAt, id,
	// isActive, clientId, description, deviceName, userName, version (text
	// ignores ASCII case). "" is "-createdAt".
	Sort string
	// Conditions are further comparisons, all of which must hold.
	Conditions []Condition
	Now        time.Time // reference time for the active/expired statuses
	// Cursor, when set, is a List.NextCursor of the same Sort: the list
	// starts right after the key it stands for, whatever Page's number or
	// skip (keyset paging: as fast deep as on page 1).
	Cursor string
	// ExactCount asks for an exact TotalCount however many keys match, for
	// the surfaces that page by number to the last page (the seed APIs,
	// the console); otherwise a count past some thousand matches may be an
	// estimate (List.TotalEstimated).
	ExactCount bool
}

// Condition compares one key field (NData): Field is "id", "clientId",
// "isActive", "name", "description", "userName" (the owner's), "deviceName",
// "createdAt", "version" or "permissions" (the names of the key's explicit
// permissions: eq, in and contains hold when one of them does, neq when none
// equals); Op is eq, neq, gt, gte, lt, lte, in or contains; Values are typed
// (string, bool, time.Time, int) and hold one value except for "in".
// contains is case-insensitive, on text fields only.
type Condition struct {
	Field  string
	Op     string
	Values []any
}

// UserFilter selects users of one tenant.
type UserFilter struct {
	Page  Page
	Query string // userName contains, case-insensitive
	// Sort orders the list by one field, "-" in front for descending:
	// userName (the default), level, isActive or createdAt.
	Sort string
}

// UserSorts are the orders UserFilter.Sort accepts.
var UserSorts = []string{"userName", "-userName", "level", "-level", "isActive", "-isActive", "createdAt", "-createdAt"}

// AuditFilter selects audit entries of one tenant, newest first.
type AuditFilter struct {
	Page     Page
	Action   string
	ActorID  string
	TargetID string
	Since    *time.Time
}

// List is one page of results with the totals a client needs to page on.
type List[T any] struct {
	Items      []T
	Page       Page
	TotalCount int
	// TotalEstimated says TotalCount is an estimate (at least the number
	// counted exactly): counting every match of a huge list is not cheap.
	TotalEstimated bool
	// NextCursor, when there are more items, continues after the last item
	// (APIKeyFilter.Cursor); lists without keyset paging leave it empty.
	NextCursor string
}

// TotalPages returns the number of pages at the list's page size.
func (l List[T]) TotalPages() int {
	if l.Page.Size <= 0 || l.TotalCount == 0 {
		return 0
	}
	return (l.TotalCount + l.Page.Size - 1) / l.Page.Size
}

// IdempotencyRecord keeps the answer to a request made with an
// Idempotency-Key, for the principal that made it. Response is sealed with
// the master key (it may hold a secret); Status 0 means in flight.
type IdempotencyRecord struct {
	TenantID    string
	Principal   string // kind, home tenant and id of the caller
	Key         string
	Fingerprint []byte // SHA-256 of the method, path and body
	Status      int
	Response    []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}
