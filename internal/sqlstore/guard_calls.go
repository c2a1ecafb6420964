// Guarded calls, one per method of keyward.StoreTx (written from its
// interface). A method added to StoreTx passes through unguarded until it is
// added here. KeyForVerification, every key-cache miss's read, runs
// in line (callRead).

package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/keyward/keyward"
)

func (g *guardTx) CreateTenant(ctx context.Context, t *keyward.Tenant) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.CreateTenant(ctx, t) })
}

func (g *guardTx) UpdateTenant(ctx context.Context, t *keyward.Tenant, expectVersion int) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.UpdateTenant(ctx, t, expectVersion) })
}

func (g *guardTx) GetTenant(ctx context.Context, id string) (*keyward.Tenant, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.Tenant, error) { return g.StoreTx.GetTenant(ctx, id) })
}

func (g *guardTx) GetTenantByName(ctx context.Context, name string) (*keyward.Tenant, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.Tenant, error) { return g.StoreTx.GetTenantByName(ctx, name) })
}

func (g *guardTx) ListTenants(ctx context.Context, page keyward.Page) (keyward.List[*keyward.Tenant], error) {
	return call(g, ctx, func(ctx context.Context) (keyward.List[*keyward.Tenant], error) {
		return g.StoreTx.ListTenants(ctx, page)
	})
}

func (g *guardTx) CountTenants(ctx context.Context) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.StoreTx.CountTenants(ctx) })
}

func (g *guardTx) CreatePermission(ctx context.Context, p *keyward.Permission) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.CreatePermission(ctx, p) })
}

func (g *guardTx) UpdatePermission(ctx context.Context, p *keyward.Permission) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.UpdatePermission(ctx, p) })
}

func (g *guardTx) DeletePermission(ctx context.Context, tenantID, id string) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.DeletePermission(ctx, tenantID, id) })
}

func (g *guardTx) GetPermission(ctx context.Context, tenantID, id string) (*keyward.Permission, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.Permission, error) {
		return g.StoreTx.GetPermission(ctx, tenantID, id)
	})
}

func (g *guardTx) ListPermissions(ctx context.Context, tenantID string) ([]*keyward.Permission, error) {
	return call(g, ctx, func(ctx context.Context) ([]*keyward.Permission, error) {
		return g.StoreTx.ListPermissions(ctx, tenantID)
	})
}

func (g *guardTx) PermissionInUse(ctx context.Context, tenantID, id string) (bool, error) {
	return call(g, ctx, func(ctx context.Context) (bool, error) { return g.StoreTx.PermissionInUse(ctx, tenantID, id) })
}

func (g *guardTx) CreateUser(ctx context.Context, u *keyward.User) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.CreateUser(ctx, u) })
}

func (g *guardTx) UpdateUser(ctx context.Context, u *keyward.User, expectVersion int) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.UpdateUser(ctx, u, expectVersion) })
}

func (g *guardTx) DeleteUser(ctx context.Context, tenantID, id string) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.DeleteUser(ctx, tenantID, id) })
}

func (g *guardTx) GetUser(ctx context.Context, tenantID, id string) (*keyward.User, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.User, error) { return g.StoreTx.GetUser(ctx, tenantID, id) })
}

func (g *guardTx) GetUserByName(ctx context.Context, tenantID, userName string) (*keyward.User, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.User, error) {
		return g.StoreTx.GetUserByName(ctx, tenantID, userName)
	})
}

func (g *guardTx) ListUsers(ctx context.Context, tenantID string, f keyward.UserFilter) (keyward.List[*keyward.User], error) {
	return call(g, ctx, func(ctx context.Context) (keyward.List[*keyward.User], error) {
		return g.StoreTx.ListUsers(ctx, tenantID, f)
	})
}

func (g *guardTx) CreateAPIKey(ctx context.Context, k *keyward.APIKey) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.CreateAPIKey(ctx, k) })
}

func (g *guardTx) CreateAPIKeys(ctx context.Context, keys []*keyward.APIKey) ([]error, error) {
	return call(g, ctx, func(ctx context.Context) ([]error, error) { return g.StoreTx.CreateAPIKeys(ctx, keys) })
}

func (g *guardTx) UpdateAPIKey(ctx context.Context, k *keyward.APIKey, expectVersion int) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.UpdateAPIKey(ctx, k, expectVersion) })
}

func (g *guardTx) DeleteAPIKey(ctx context.Context, tenantID, id string, expectVersion int) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.DeleteAPIKey(ctx, tenantID, id, expectVersion) })
}

func (g *guardTx) GetAPIKey(ctx context.Context, tenantID, id string) (*keyward.APIKey, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.APIKey, error) { return g.StoreTx.GetAPIKey(ctx, tenantID, id) })
}

func (g *guardTx) GetAPIKeyByClientID(ctx context.Context, clientID string) (*keyward.APIKey, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.APIKey, error) {
		return g.StoreTx.GetAPIKeyByClientID(ctx, clientID)
	})
}

func (g *guardTx) GetAPIKeyBySecretHash(ctx context.Context, hash []byte) (*keyward.APIKey, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.APIKey, error) { return g.StoreTx.GetAPIKeyBySecretHash(ctx, hash) })
}

func (g *guardTx) KeyForVerification(ctx context.Context, hash []byte) (*keyward.VerificationRecord, error) {
	return callRead(g, ctx, func(ctx context.Context) (*keyward.VerificationRecord, error) {
		return g.StoreTx.KeyForVerification(ctx, hash)
	})
}

func (g *guardTx) GetAPIKeysBySecretHashes(ctx context.Context, hashes [][]byte) ([]*keyward.APIKey, error) {
	return call(g, ctx, func(ctx context.Context) ([]*keyward.APIKey, error) {
		return g.StoreTx.GetAPIKeysBySecretHashes(ctx, hashes)
	})
}

func (g *guardTx) ListAPIKeys(ctx context.Context, tenantID string, f keyward.APIKeyFilter) (keyward.List[*keyward.APIKey], error) {
	return call(g, ctx, func(ctx context.Context) (keyward.List[*keyward.APIKey], error) {
		return g.StoreTx.ListAPIKeys(ctx, tenantID, f)
	})
}

func (g *guardTx) ListAPIKeyIDsByOwner(ctx context.Context, tenantID, ownerID string) ([]string, error) {
	return call(g, ctx, func(ctx context.Context) ([]string, error) {
		return g.StoreTx.ListAPIKeyIDsByOwner(ctx, tenantID, ownerID)
	})
}

func (g *guardTx) TouchAPIKeys(ctx context.Context, lastUsed map[keyward.KeyRef]time.Time) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.TouchAPIKeys(ctx, lastUsed) })
}

func (g *guardTx) AddKeyUsage(ctx context.Context, at time.Time, counts map[keyward.KeyRef]int64, lastUsed map[keyward.KeyRef]time.Time) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.AddKeyUsage(ctx, at, counts, lastUsed) })
}

func (g *guardTx) KeyUsage(ctx context.Context, tenantID, keyID string, since time.Time) ([]keyward.UsageCount, error) {
	return call(g, ctx, func(ctx context.Context) ([]keyward.UsageCount, error) {
		return g.StoreTx.KeyUsage(ctx, tenantID, keyID, since)
	})
}

func (g *guardTx) AddKeyOutcomes(ctx context.Context, at time.Time, counts map[keyward.KeyOutcome]int64, lastUsed map[keyward.KeyRef]time.Time) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.AddKeyOutcomes(ctx, at, counts, lastUsed) })
}

func (g *guardTx) KeyOutcomes(ctx context.Context, tenantID string, keyIDs []string, since time.Time) ([]keyward.OutcomeCount, error) {
	return call(g, ctx, func(ctx context.Context) ([]keyward.OutcomeCount, error) {
		return g.StoreTx.KeyOutcomes(ctx, tenantID, keyIDs, since)
	})
}

func (g *guardTx) DeleteKeyUsage(ctx context.Context, before time.Time) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.StoreTx.DeleteKeyUsage(ctx, before) })
}

func (g *guardTx) CreateSigningKey(ctx context.Context, k *keyward.SigningKey) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.CreateSigningKey(ctx, k) })
}

func (g *guardTx) ListSigningKeys(ctx context.Context, now time.Time) ([]*keyward.SigningKey, error) {
	return call(g, ctx, func(ctx context.Context) ([]*keyward.SigningKey, error) { return g.StoreTx.ListSigningKeys(ctx, now) })
}

func (g *guardTx) DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.StoreTx.DeleteExpiredSigningKeys(ctx, now) })
}

func (g *guardTx) RevokeToken(ctx context.Context, jti, tenantID string, expiresAt time.Time) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.RevokeToken(ctx, jti, tenantID, expiresAt) })
}

func (g *guardTx) ListRevokedTokens(ctx context.Context, now time.Time) (map[string]time.Time, error) {
	return call(g, ctx, func(ctx context.Context) (map[string]time.Time, error) { return g.StoreTx.ListRevokedTokens(ctx, now) })
}

func (g *guardTx) DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.StoreTx.DeleteExpiredRevocations(ctx, now) })
}

func (g *guardTx) InsertAudit(ctx context.Context, e *keyward.AuditEntry) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.InsertAudit(ctx, e) })
}

func (g *guardTx) ListAudit(ctx context.Context, tenantID string, f keyward.AuditFilter) (keyward.List[*keyward.AuditEntry], error) {
	return call(g, ctx, func(ctx context.Context) (keyward.List[*keyward.AuditEntry], error) {
		return g.StoreTx.ListAudit(ctx, tenantID, f)
	})
}

func (g *guardTx) ListAPIKeysBySecretHolder(ctx context.Context, holderTenantID, holderID string) ([]*keyward.APIKey, error) {
	return call(g, ctx, func(ctx context.Context) ([]*keyward.APIKey, error) {
		return g.StoreTx.ListAPIKeysBySecretHolder(ctx, holderTenantID, holderID)
	})
}

func (g *guardTx) PrincipalActive(ctx context.Context, kind, tenantID, id string) (bool, error) {
	return call(g, ctx, func(ctx context.Context) (bool, error) { return g.StoreTx.PrincipalActive(ctx, kind, tenantID, id) })
}

func (g *guardTx) UpdateAuditDetails(ctx context.Context, tenantID, id string, details json.RawMessage) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.UpdateAuditDetails(ctx, tenantID, id, details) })
}

func (g *guardTx) SetKeyCredits(ctx context.Context, tenantID, keyID string, c *keyward.Credits) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.SetKeyCredits(ctx, tenantID, keyID, c) })
}

func (g *guardTx) SpendCredits(ctx context.Context, sp keyward.CreditSpend) (keyward.CreditResult, error) {
	return call(g, ctx, func(ctx context.Context) (keyward.CreditResult, error) { return g.StoreTx.SpendCredits(ctx, sp) })
}

func (g *guardTx) SetKeyRateLimits(ctx context.Context, tenantID, keyID string, ls []keyward.NamedRateLimit) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.SetKeyRateLimits(ctx, tenantID, keyID, ls) })
}

func (g *guardTx) SetUserRateLimits(ctx context.Context, tenantID, userID string, ls []keyward.NamedRateLimit) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.SetUserRateLimits(ctx, tenantID, userID, ls) })
}

func (g *guardTx) ReserveCredits(ctx context.Context, sp keyward.CreditSpend) (keyward.CreditResult, error) {
	return call(g, ctx, func(ctx context.Context) (keyward.CreditResult, error) { return g.StoreTx.ReserveCredits(ctx, sp) })
}

func (g *guardTx) RefundCredits(ctx context.Context, sp keyward.CreditSpend) error {
	return g.do(ctx, func(ctx context.Context) error { return g.StoreTx.RefundCredits(ctx, sp) })
}

func (g *guardTx) ClaimIdempotency(ctx context.Context, rec *keyward.IdempotencyRecord, now, staleBefore time.Time) (*keyward.IdempotencyRecord, error) {
	return call(g, ctx, func(ctx context.Context) (*keyward.IdempotencyRecord, error) {
		return g.StoreTx.ClaimIdempotency(ctx, rec, now, staleBefore)
	})
}

func (g *guardTx) FinishIdempotency(ctx context.Context, rec *keyward.IdempotencyRecord) error {
	_, err := call(g, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, g.StoreTx.FinishIdempotency(ctx, rec) })
	return err
}

func (g *guardTx) DeleteIdempotency(ctx context.Context, tenantID, principal, key string) error {
	_, err := call(g, ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, g.StoreTx.DeleteIdempotency(ctx, tenantID, principal, key)
	})
	return err
}

func (g *guardTx) DeleteExpiredIdempotency(ctx context.Context, now time.Time) (int, error) {
	return call(g, ctx, func(ctx context.Context) (int, error) { return g.StoreTx.DeleteExpiredIdempotency(ctx, now) })
}
