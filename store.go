package keyward

import (
	"context"
	"encoding/json"
	"time"
)

// KeyRef names one API key. Key ids are unique within a tenant only (a PUT
// may choose one), so a key is always addressed by its tenant and id.
type KeyRef struct{ TenantID, ID string }

// String is the key's name in the cache, the change feed and the limiter:
// "<tenant id>/<key id>" (tenant ids never contain '/').
func (r KeyRef) String() string { return r.TenantID + "/" + r.ID }

// Store is the persistence contract. Implementations hold no business rules:
// they store and fetch what the Service gives them and report the few
// conditions only a database can see (not found, duplicates, stale versions).
//
// Errors: a missing object is ENOTFOUND; a duplicate unique value (tenant
// name, userName in a tenant, clientId, permission name in a tenant, secret
// hash) is ECONFLICT; an update or delete whose expected version differs from
// the stored one is EVERSIONCONFLICT. Every other error is internal.
//
// All times are UTC and truncated to microseconds by the Service before they
// reach the store; stores return them in UTC.
type Store interface {
	StoreTx

	// Tx runs fn in one transaction: all of fn's writes commit together, or
	// none do when fn returns an error (which Tx returns unchanged).
	Tx(ctx context.Context, fn func(tx StoreTx) error) error

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// StoreTx is the set of operations available inside and outside a
// transaction. Every lookup of a tenant-owned object takes the tenant id and
// finds nothing (ENOTFOUND) in another tenant.
type StoreTx interface {
	// Tenants.
	CreateTenant(ctx context.Context, t *Tenant) error
	UpdateTenant(ctx context.Context, t *Tenant, expectVersion int) error
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	GetTenantByName(ctx context.Context, name string) (*Tenant, error)
	ListTenants(ctx context.Context, page Page) (List[*Tenant], error)
	CountTenants(ctx context.Context) (int, error)

	// Permissions. Permission.Children holds the ids of a composite's members.
	CreatePermission(ctx context.Context, p *Permission) error
	// UpdatePermission stores p. Read it with GetPermission in the same Tx:
	// there, GetPermission holds the permission until the Tx ends, so that
	// concurrent read-modify-writes lose nothing.
	UpdatePermission(ctx context.Context, p *Permission) error
	DeletePermission(ctx context.Context, tenantID, id string) error
	GetPermission(ctx context.Context, tenantID, id string) (*Permission, error)
	// ListPermissions returns the whole catalog of a tenant ordered by name.
	ListPermissions(ctx context.Context, tenantID string) ([]*Permission, error)
	// PermissionInUse reports whether any key, user or composite holds id.
	PermissionInUse(ctx context.Context, tenantID, id string) (bool, error)

	// Users. User.Permissions is stored as the ids of its explicit permissions
	// and returned as full Permission objects.
	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, u *User, expectVersion int) error
	DeleteUser(ctx context.Context, tenantID, id string) error
	GetUser(ctx context.Context, tenantID, id string) (*User, error)
	GetUserByName(ctx context.Context, tenantID, userName string) (*User, error) // case-insensitive
	ListUsers(ctx context.Context, tenantID string, f UserFilter) (List[*User], error)

	// API keys. APIKey.Permissions is stored as the ids of its explicit
	// permissions and returned as full Permission objects; UserName is filled
	// from the owner.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// CreateAPIKeys stores many new keys (an import) as CreateAPIKey
	// would, in a few statements. A key whose id, clientId or secret hash
	// (current or previous, of any key, stored or earlier in keys) is taken
	// is left out: its entry of the answer (one per key) is ECONFLICT, the
	// others' nil. So is a key whose ImportedHash is the current or
	// previous secret hash of a key of its tenant, stored or in keys.
	CreateAPIKeys(ctx context.Context, keys []*APIKey) ([]error, error)
	UpdateAPIKey(ctx context.Context, k *APIKey, expectVersion int) error
	DeleteAPIKey(ctx context.Context, tenantID, id string, expectVersion int) error
	GetAPIKey(ctx context.Context, tenantID, id string) (*APIKey, error)
	// GetAPIKeyByClientID looks across all tenants: client ids are globally unique.
	GetAPIKeyByClientID(ctx context.Context, clientID string) (*APIKey, error)
	// GetAPIKeyBySecretHash finds the key whose current or previous secret
	// hash equals hash, across all tenants.
	GetAPIKeyBySecretHash(ctx context.Context, hash []byte) (*APIKey, error)
	// KeyForVerification finds, in one round trip, the key whose current or
	// previous secret hash equals hash (as GetAPIKeyBySecretHash), with
	// everything that decides whether it works: its tenant's state, its
	// owner's and the version of its tenant's permission catalog.
	KeyForVerification(ctx context.Context, hash []byte) (*VerificationRecord, error)
	// GetAPIKeysBySecretHashes finds, in one round trip, every key whose
	// current or previous secret hash is one of hashes (at most 100), across
	// all tenants, in no particular order; unknown hashes are left out.
	GetAPIKeysBySecretHashes(ctx context.Context, hashes [][]byte) ([]*APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string, f APIKeyFilter) (List[*APIKey], error)
	// ListAPIKeyIDsByOwner returns the ids of every key that ownerID owns.
	ListAPIKeyIDsByOwner(ctx context.Context, tenantID, ownerID string) ([]string, error)
	// ListAPIKeysBySecretHolder returns the keys, in any tenant, whose
	// current secret was shown to the principal holderID of holderTenantID
	// (SecretHolderID, SecretHolderTenantID) and that are not SecretRevoked
	// yet, or whose previous secret was (PrevSecretHolder...). In a Tx the
	// keys stay locked until it ends.
	ListAPIKeysBySecretHolder(ctx context.Context, holderTenantID, holderID string) ([]*APIKey, error)
	// PrincipalActive reports whether user or key id (kind KindUser or
	// KindAPIKey) of tenantID exists, is active and, for a key, not
	// SecretRevoked; unknown is false. In a Tx a concurrent change of the
	// row waits until the Tx ends.
	PrincipalActive(ctx context.Context, kind, tenantID, id string) (bool, error)
	// TouchAPIKeys records last-use times (key → time); unknown keys are
	// ignored, a later stored time is never moved back, and a time before
	// the key's creation (a use of a deleted key with its id) is skipped.
	// It does not bump versions.
	TouchAPIKeys(ctx context.Context, lastUsed map[KeyRef]time.Time) error
	// AddKeyUsage adds request counts (key → count) to each key's count for
	// the hour that contains at. Unknown keys are ignored, and so is a
	// count whose last use (lastUsed; a key not in it is not checked) is
	// before the key's creation: a deleted key's, with its id.
	AddKeyUsage(ctx context.Context, at time.Time, counts map[KeyRef]int64, lastUsed map[KeyRef]time.Time) error
	// KeyUsage returns the key's hourly counts from since on, oldest first.
	KeyUsage(ctx context.Context, tenantID, keyID string, since time.Time) ([]UsageCount, error)
	// SetKeyCredits sets the credits of a key (nil: removes them), c.Period
	// included.
	SetKeyCredits(ctx context.Context, tenantID, keyID string, c *Credits) error
	// SpendCredits spends sp.Cost of a key's credits in one conditional
	// update, exact under concurrency: when sp.Refill equals the stored
	// refill and the stored period is before sp.Period, the remaining count
	// is first set to the refill's amount and the period to sp.Period.
	// Nothing is spent unless the (refilled) remaining count is positive
	// and at least sp.Cost.
	SpendCredits(ctx context.Context, sp CreditSpend) (CreditResult, error)
	// RefundCredits gives back sp.Cost spent by SpendCredits(sp) (or
	// leased by ReserveCredits), unless the stored period is no longer
	// sp.Period or the generation no longer sp.Generation (refilled, or
	// set anew).
	RefundCredits(ctx context.Context, sp CreditSpend) error
	// ReserveCredits takes a lease of a key's credits in one conditional
	// update, refilling first as SpendCredits does: when the (refilled)
	// remaining count is at least max(sp.Cost, 1), it takes
	// min(remaining, max(sp.Cost, min(sp.Want, max(remaining/8, 1)))) and
	// answers Spent with Taken; otherwise it takes nothing.
	ReserveCredits(ctx context.Context, sp CreditSpend) (CreditResult, error)
	// SetKeyRateLimits and SetUserRateLimits replace the named rate limits
	// of a key or a user (APIKey.RateLimits, User.RateLimits, read back
	// sorted by name).
	SetKeyRateLimits(ctx context.Context, tenantID, keyID string, ls []NamedRateLimit) error
	SetUserRateLimits(ctx context.Context, tenantID, userID string, ls []NamedRateLimit) error
	// AddKeyOutcomes adds verification counts per key and outcome to each
	// key's count for the hour that contains at. Unknown ids are ignored,
	// and so are the counts of a key whose last use (lastUsed, when it has
	// one there) is before the key's creation, as AddKeyUsage does.
	AddKeyOutcomes(ctx context.Context, at time.Time, counts map[KeyOutcome]int64, lastUsed map[KeyRef]time.Time) error
	// KeyOutcomes returns the hourly outcome counts of the tenant's keys
	// keyIDs from since on, ordered by key, hour and outcome.
	KeyOutcomes(ctx context.Context, tenantID string, keyIDs []string, since time.Time) ([]OutcomeCount, error)
	// DeleteKeyUsage removes the counts (totals and outcomes) of hours
	// before before.
	DeleteKeyUsage(ctx context.Context, before time.Time) (int, error)

	// OAuth2 signing keys.
	// CreateSigningKey stores a key; a key with the same Slot (or ID) is ECONFLICT.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns every key with ExpiresAt after now, newest
	// (highest Slot) first.
	ListSigningKeys(ctx context.Context, now time.Time) ([]*SigningKey, error)
	// DeleteExpiredSigningKeys removes keys with ExpiresAt at or before now.
	DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error)

	// OAuth2 token revocations, by token id (jti).
	// RevokeToken records a revoked token until expiresAt; revoking twice is
	// not an error (the later expiry wins).
	RevokeToken(ctx context.Context, jti, tenantID string, expiresAt time.Time) error
	// ListRevokedTokens returns the ids of revoked tokens with expiresAt
	// after now, with their expiry.
	ListRevokedTokens(ctx context.Context, now time.Time) (map[string]time.Time, error)
	// DeleteExpiredRevocations removes revocations with expiresAt at or before now.
	DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error)

	// Idempotency-Key records, by (TenantID, Principal, Key).
	// ClaimIdempotency stores rec (in flight) and returns nil, unless a
	// record with its scope exists that has not expired (ExpiresAt after
	// now) and is either answered or in flight since after staleBefore: it
	// returns that one and stores nothing. A concurrent claim waits for, or
	// loses to, the first.
	ClaimIdempotency(ctx context.Context, rec *IdempotencyRecord, now, staleBefore time.Time) (*IdempotencyRecord, error)
	// FinishIdempotency stores rec's Status and Response on its record.
	FinishIdempotency(ctx context.Context, rec *IdempotencyRecord) error
	// DeleteIdempotency removes a record (its request failed: a retry runs again).
	DeleteIdempotency(ctx context.Context, tenantID, principal, key string) error
	// DeleteExpiredIdempotency removes records with ExpiresAt at or before now.
	DeleteExpiredIdempotency(ctx context.Context, now time.Time) (int, error)

	// Audit log.
	InsertAudit(ctx context.Context, e *AuditEntry) error
	ListAudit(ctx context.Context, tenantID string, f AuditFilter) (List[*AuditEntry], error)
	// UpdateAuditDetails replaces the details of one entry (the count of a
	// window's failed logins); entries are otherwise never changed.
	UpdateAuditDetails(ctx context.Context, tenantID, id string, details json.RawMessage) error
}

// VerificationRecord is what deciding whether a key works needs of the
// store (Store.KeyForVerification).
type VerificationRecord struct {
	// Key is the key, with Credits and RateLimits; its Permissions carry
	// only their ID (the catalog has the rest). Only what deciding whether
	// it works needs is filled (VerificationKey): not its description,
	// owner's userName, device name, secret hint, times other than
	// ExpiresAt and PrevSecretExpiresAt, creator, version or secret holders.
	Key *APIKey
	// TenantActive and TenantRoot are the state of the key's tenant.
	TenantActive, TenantRoot bool
	// Owner is the key's owner, nil when the key has none or it no longer
	// exists. Only ID, TenantID, Level, IsActive, Permissions (their ID)
	// and RateLimits are filled.
	Owner *User
	// CatalogVersion changes whenever the tenant's permission catalog
	// changes (a permission created, renamed, deleted, or its members
	// changed): two reads with the same version saw the same catalog.
	CatalogVersion string
}

// VerificationKey is k with only the fields VerificationRecord.Key holds.
func VerificationKey(k *APIKey) *APIKey {
	return &APIKey{ID: k.ID, TenantID: k.TenantID, ClientID: k.ClientID, Name: k.Name, OwnerID: k.OwnerID,
		Permissions: k.Permissions, Level: k.Level, IsActive: k.IsActive, ExpiresAt: k.ExpiresAt,
		TokenLifespanSeconds: k.TokenLifespanSeconds, HMACEnabled: k.HMACEnabled, RateLimit: k.RateLimit,
		Credits: k.Credits, RateLimits: k.RateLimits, Meta: k.Meta, ActsAsOwner: k.ActsAsOwner, Audiences: k.Audiences,
		SecretRevoked: k.SecretRevoked, AllowedCIDRs: k.AllowedCIDRs, SecretGeneration: k.SecretGeneration,
		SecretHash: k.SecretHash, SecretCiphertext: k.SecretCiphertext, PrevSecretHash: k.PrevSecretHash,
		PrevSecretCiphertext: k.PrevSecretCiphertext, PrevSecretExpiresAt: k.PrevSecretExpiresAt}
}
