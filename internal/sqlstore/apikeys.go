package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// keyColumns selects a key k with its owner's userName (u, left-joined).
const keyColumns = `k.id, k.tenant_id, k.client_id, k.name, k.description, k.owner_id, COALESCE(u.user_name, ''),
	k.device_name, k.level, k.is_active, k.expires_at, k.token_lifespan_seconds, k.hmac_enabled, k.meta,
	k.secret_hint, k.created_at, k.updated_at, k.last_used_at, k.created_by, k.version,
	k.secret_hash, k.secret_ciphertext, k.prev_secret_hash, k.prev_secret_ciphertext, k.prev_secret_expires_at,
	k.secret_generation, k.rate_limit, k.rate_window_seconds, k.acts_as_owner, k.secret_holder_id, k.secret_revoked, k.prev_secret_holder_id,
	k.secret_holder_tenant_id, k.prev_secret_holder_tenant_id, k.audiences, k.allowed_cidrs`

// keyColumnsPG is keyColumns on PostgreSQL, where a key's last use is
// its row's in key_last_used (00025): the usage flush writes that narrow
// row, not the key's.
var keyColumnsPG = strings.Replace(keyColumns, "k.last_used_at",
	"(SELECT lu.last_used_at FROM key_last_used lu WHERE lu.tenant_id = k.tenant_id AND lu.key_id = k.id)", 1)

// keyCols returns keyColumns in the store's dialect.
func (s *store) keyCols() string {
	if s.pg {
		return keyColumnsPG
	}
	return keyColumns
}

const keyFrom = ` FROM api_keys k LEFT JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.owner_id `

func scanKey(row interface{ Scan(...any) error }) (*keyward.APIKey, error) {
	var k keyward.APIKey
	var owner, holder, prevHolder, holderTenant, prevHolderTenant sql.NullString
	var rateLimit, rateWindow sql.NullInt64
	err := row.Scan(&k.ID, &k.TenantID, &k.ClientID, &k.Name, &k.Description, &owner, &k.UserName,
		&k.DeviceName, &k.Level, &k.IsActive, nullTimeCol{&k.ExpiresAt}, &k.TokenLifespanSeconds, &k.HMACEnabled,
		rawJSONCol{&k.Meta}, &k.SecretHint, timeCol{&k.CreatedAt}, timeCol{&k.UpdatedAt},
		nullTimeCol{&k.LastUsedAt}, &k.CreatedBy, &k.Version,
		&k.SecretHash, &k.SecretCiphertext, &k.PrevSecretHash, &k.PrevSecretCiphertext,
		nullTimeCol{&k.PrevSecretExpiresAt}, &k.SecretGeneration, &rateLimit, &rateWindow, &k.ActsAsOwner, &holder,
		&k.SecretRevoked, &prevHolder, &holderTenant, &prevHolderTenant, audiencesCol{&k.Audiences},
		cidrsCol{&k.AllowedCIDRs})
	if err != nil {
		return nil, err
	}
	k.OwnerID, k.SecretHolderID, k.PrevSecretHolderID = owner.String, holder.String, prevHolder.String
	k.SecretHolderTenantID, k.PrevSecretHolderTenantID = holderTenant.String, prevHolderTenant.String
	if rateLimit.Valid && rateWindow.Valid {
		k.RateLimit = &keyward.RateLimit{Limit: int(rateLimit.Int64), WindowSeconds: int(rateWindow.Int64)}
	}
	return &k, nil
}

const keyConflict = "an api key with this id, clientId or secret already exists"

// CreateAPIKey stores a new key and the ids of its explicit permissions
// (permissions of the same tenant). OwnerID "" is no owner; Meta nil is
// stored as NULL and any other Meta byte for byte; empty secret material is
// stored as NULL and read back as nil. A duplicate id, clientId or secret
// hash is ECONFLICT.
func (s *store) CreateAPIKey(ctx context.Context, k *keyward.APIKey) error {
	return s.atomic(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO api_keys (`+keyInsertColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
				$22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35)`, s.keyInsertArgs(k)...)
		if err != nil {
			return writeError(err, "creating an api key", keyConflict)
		}
		return insertGrants(ctx, q, "api_key_permissions", "key_id", k.TenantID, k.ID, k.Permissions)
	})
}

// UpdateAPIKey stores every field of k but ID, TenantID, CreatedAt and
// CreatedBy, including the new Version, and replaces its permissions, if
// the stored version is expectVersion. A key missing from k.TenantID is
// ENOTFOUND, another stored version EVERSIONCONFLICT, a duplicate clientId
// or secret hash ECONFLICT.
func (s *store) UpdateAPIKey(ctx context.Context, k *keyward.APIKey, expectVersion int) error {
	return s.atomic(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `
			UPDATE api_keys SET client_id = $1, name = $2, description = $3, owner_id = $4, device_name = $5,
				level = $6, is_active = $7, expires_at = $8, token_lifespan_seconds = $9, hmac_enabled = $10,
				meta = $11, secret_hint = $12, updated_at = $13, last_used_at = $14, version = $15,
				secret_hash = $16, secret_ciphertext = $17, prev_secret_hash = $18, prev_secret_ciphertext = $19,
				prev_secret_expires_at = $20, secret_generation = $24, rate_limit = $25, rate_window_seconds = $26,
				acts_as_owner = $27, secret_holder_id = $28, secret_revoked = $29, prev_secret_holder_id = $30,
				secret_holder_tenant_id = $31, prev_secret_holder_tenant_id = $32, audiences = $33,
				allowed_cidrs = $34
			WHERE id = $21 AND tenant_id = $22 AND version = $23`,
			k.ClientID, k.Name, k.Description, nullString(k.OwnerID), k.DeviceName, k.Level, k.IsActive,
			s.tsPtr(k.ExpiresAt), k.TokenLifespanSeconds, k.HMACEnabled, rawJSON(k.Meta), k.SecretHint,
			s.ts(k.UpdatedAt), s.tsPtr(k.LastUsedAt), k.Version, nullBytes(k.SecretHash),
			nullBytes(k.SecretCiphertext), nullBytes(k.PrevSecretHash), nullBytes(k.PrevSecretCiphertext),
			s.tsPtr(k.PrevSecretExpiresAt), k.ID, k.TenantID, expectVersion, k.SecretGeneration,
			rateLimitCol(k.RateLimit, false), rateLimitCol(k.RateLimit, true), k.ActsAsOwner,
			nullString(k.SecretHolderID), k.SecretRevoked, nullString(k.PrevSecretHolderID),
			nullString(k.SecretHolderTenantID), nullString(k.PrevSecretHolderTenantID), audiencesArg(k.Audiences),
			cidrsArg(k.AllowedCIDRs))
		if err != nil {
			return writeError(err, "updating an api key", keyConflict)
		}
		err = s.checkUpdated(ctx, q, res, "api key", `SELECT version FROM api_keys WHERE id = $1 AND tenant_id = $2`,
			[]any{k.ID, k.TenantID}, expectVersion)
		if err != nil {
			return err
		}
		if s.pg { // its last use is key_last_used's (00025)
			_, err = q.ExecContext(ctx, `UPDATE key_last_used SET last_used_at = $3
				WHERE tenant_id = $1 AND key_id = $2 AND last_used_at IS DISTINCT FROM $3::timestamptz`,
				k.TenantID, k.ID, s.tsPtr(k.LastUsedAt))
			if err != nil {
				return fmt.Errorf("updating the last use of an api key: %w", err)
			}
		}
		_, err = q.ExecContext(ctx, `DELETE FROM api_key_permissions WHERE tenant_id = $1 AND key_id = $2`, k.TenantID, k.ID)
		if err != nil {
			return fmt.Errorf("updating the permissions of an api key: %w", err)
		}
		return insertGrants(ctx, q, "api_key_permissions", "key_id", k.TenantID, k.ID, k.Permissions)
	})
}

// DeleteAPIKey deletes a key and its permissions if the stored version is
// expectVersion. A key missing from tenantID is ENOTFOUND, another stored
// version EVERSIONCONFLICT.
func (s *store) DeleteAPIKey(ctx context.Context, tenantID, id string, expectVersion int) error {
	return s.atomic(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM api_keys WHERE id = $1 AND tenant_id = $2 AND version = $3`,
			id, tenantID, expectVersion)
		if err != nil {
			return fmt.Errorf("deleting an api key: %w", err)
		}
		return s.checkUpdated(ctx, q, res, "api key", `SELECT version FROM api_keys WHERE id = $1 AND tenant_id = $2`,
			[]any{id, tenantID}, expectVersion)
	})
}

// GetAPIKey returns the key id of tenantID, or ENOTFOUND.
func (s *store) GetAPIKey(ctx context.Context, tenantID, id string) (*keyward.APIKey, error) {
	return s.getKey(ctx, `WHERE k.id = $1 AND k.tenant_id = $2`, id, tenantID)
}

// GetAPIKeyByClientID returns the key with clientID in any tenant, or
// ENOTFOUND.
func (s *store) GetAPIKeyByClientID(ctx context.Context, clientID string) (*keyward.APIKey, error) {
	return s.getKey(ctx, `WHERE k.client_id = $1`, clientID)
}

// GetAPIKeyBySecretHash returns the key, in any tenant, whose current or
// previous secret hash is hash (a current match wins), or ENOTFOUND. It does
// not look at PrevSecretExpiresAt: the Service decides whether a previous
// secret still works.
func (s *store) GetAPIKeyBySecretHash(ctx context.Context, hash []byte) (*keyward.APIKey, error) {
	if len(hash) == 0 {
		return nil, notFound("api key")
	}
	return s.getKey(ctx, `WHERE k.secret_hash = $1 OR k.prev_secret_hash = $1
		ORDER BY k.secret_hash = $1 DESC LIMIT 1`, hash)
}

// GetAPIKeysBySecretHashes returns the keys, in any tenant, whose current
// or previous secret hash is one of hashes, each once, in one query (and
// one more for their permissions). Empty hashes match nothing.
func (s *store) GetAPIKeysBySecretHashes(ctx context.Context, hashes [][]byte) ([]*keyward.APIKey, error) {
	var args []any
	var marks []string
	for _, h := range hashes {
		if len(h) > 0 {
			args = append(args, h)
			marks = append(marks, fmt.Sprintf("$%d", len(args)))
		}
	}
	if len(args) == 0 {
		return []*keyward.APIKey{}, nil
	}
	in := strings.Join(marks, ", ")
	keys, err := s.queryKeys(ctx, `SELECT `+s.keyCols()+keyFrom+`WHERE k.secret_hash IN (`+in+`) OR k.prev_secret_hash IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading api keys: %w", err)
	}
	return keys, nil
}

func (s *store) getKey(ctx context.Context, where string, args ...any) (*keyward.APIKey, error) {
	keys, err := s.queryKeys(ctx, `SELECT `+s.keyCols()+keyFrom+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading an api key: %w", err)
	} else if len(keys) == 0 {
		return nil, notFound("api key")
	}
	return keys[0], nil
}

// queryKeys runs a query selecting keyColumns and loads the keys'
// permissions in one more query.
func (s *store) queryKeys(ctx context.Context, query string, args ...any) ([]*keyward.APIKey, error) {
	keys, _, err := s.queryKeysWith(ctx, 0, query, args...)
	return keys, err
}

// extraScan scans a row of keyColumns followed by more columns into extra.
type extraScan struct {
	rows  *sql.Rows
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.rows.Scan(append(dest, e.extra...)...) }

// queryKeysWith is queryKeys of a query whose rows have n more columns
// after keyColumns: it returns their values too, row by row.
func (s *store) queryKeysWith(ctx context.Context, n int, query string, args ...any) ([]*keyward.APIKey, [][]any, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	keys := []*keyward.APIKey{}
	var refs []keyward.KeyRef
	var more [][]any
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		k, err := scanKey(extraScan{rows, ptrs})
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		more = append(more, vals)
		refs = append(refs, keyward.KeyRef{TenantID: k.TenantID, ID: k.ID})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows.Close() // a PostgreSQL connection runs one query at a time
	perms, err := s.loadPermissions(ctx, s.read, "api_key_permissions", "key_id", refs)
	if err != nil {
		return nil, nil, err
	}
	credits, err := s.loadCredits(ctx, s.read, refs)
	if err != nil {
		return nil, nil, err
	}
	limits, err := s.loadNamedLimits(ctx, s.read, "api_key_rate_limits", "key_id", refs)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		r := keyward.KeyRef{TenantID: k.TenantID, ID: k.ID}
		k.Permissions, k.Credits, k.RateLimits = perms[r], credits[r], limits[r]
	}
	return keys, more, nil
}

// ListAPIKeyIDsByOwner returns the ids of the keys of tenantID that ownerID
// owns, in id order.
func (s *store) ListAPIKeyIDsByOwner(ctx context.Context, tenantID, ownerID string) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id FROM api_keys WHERE tenant_id = $1 AND owner_id = $2 ORDER BY id`,
		tenantID, ownerID)
	if err != nil {
		return nil, fmt.Errorf("listing the keys of an owner: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("listing the keys of an owner: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the keys of an owner: %w", err)
	}
	return ids, nil
}

// ListAPIKeysBySecretHolder returns the keys, in any tenant, whose current
// secret the principal holderID of holderTenantID was shown and that are not yet revoked, or whose previous
// secret (in a grace period) it was shown, in id order. In a transaction on
// PostgreSQL the keys are locked until it ends, so that a concurrent
// rotation waits instead of failing the off-boarding.
func (s *store) ListAPIKeysBySecretHolder(ctx context.Context, holderTenantID, holderID string) ([]*keyward.APIKey, error) {
	lock := ""
	if s.tx != nil && s.pg {
		lock = " FOR UPDATE OF k"
	}
	keys, err := s.queryKeys(ctx, `SELECT `+s.keyCols()+keyFrom+`WHERE
		(k.secret_holder_id = $1 AND k.secret_holder_tenant_id = $2 AND NOT k.secret_revoked)
		OR (k.prev_secret_holder_id = $1 AND k.prev_secret_holder_tenant_id = $2) ORDER BY k.tenant_id, k.id`+lock,
		holderID, holderTenantID)
	if err != nil {
		return nil, fmt.Errorf("listing the keys of a secret holder: %w", err)
	}
	return keys, nil
}

// PrincipalActive reports whether the user or key id of tenantID is
// active, and a key's secret not revoked. In a transaction on PostgreSQL
// the row is locked (shared) until it ends: a concurrent deactivation waits
// for the transaction, and then sees what it made.
func (s *store) PrincipalActive(ctx context.Context, kind, tenantID, id string) (bool, error) {
	lock := ""
	if s.tx != nil && s.pg {
		lock = " FOR SHARE"
	}
	q := `SELECT is_active FROM users WHERE id = $1 AND tenant_id = $2` + lock
	if kind == keyward.KindAPIKey {
		q = `SELECT is_active AND NOT secret_revoked FROM api_keys WHERE id = $1 AND tenant_id = $2` + lock
	}
	var active bool
	err := s.read.QueryRowContext(ctx, q, id, tenantID).Scan(&active)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("reading whether a principal is active: %w", err)
	}
	return active, nil
}

// KeyOutcomes returns the hourly outcome counts of the tenant's keys keyIDs
// since since, by key, hour and outcome.
func (s *store) KeyOutcomes(ctx context.Context, tenantID string, keyIDs []string, since time.Time) ([]keyward.OutcomeCount, error) {
	out := []keyward.OutcomeCount{}
	if len(keyIDs) == 0 {
		return out, nil
	}
	args := []any{tenantID, s.ts(since)}
	marks := make([]string, len(keyIDs))
	for i, id := range keyIDs {
		args = append(args, id)
		marks[i] = "$" + strconv.Itoa(i+3)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT u.key_id, u.hour, u.outcome, u.count
		FROM key_usage_outcomes u
		WHERE u.tenant_id = $1 AND u.hour >= $2 AND u.key_id IN (`+strings.Join(marks, ", ")+`)
		ORDER BY u.key_id, u.hour, u.outcome`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the verification outcomes of api keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c keyward.OutcomeCount
		if err := rows.Scan(&c.KeyID, timeCol{&c.Start}, &c.Outcome, &c.Count); err != nil {
			return nil, fmt.Errorf("reading the verification outcomes of api keys: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// KeyUsage returns the hourly counts of a key of the tenant since since.
func (s *store) KeyUsage(ctx context.Context, tenantID, keyID string, since time.Time) ([]keyward.UsageCount, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT u.hour, u.count FROM key_usage u
		WHERE u.tenant_id = $1 AND u.key_id = $2 AND u.hour >= $3 ORDER BY u.hour`, tenantID, keyID, s.ts(since))
	if err != nil {
		return nil, fmt.Errorf("reading the usage of an api key: %w", err)
	}
	defer rows.Close()
	out := []keyward.UsageCount{}
	for rows.Next() {
		var c keyward.UsageCount
		if err := rows.Scan(timeCol{&c.Start}, &c.Count); err != nil {
			return nil, fmt.Errorf("reading the usage of an api key: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// rateLimitCol is the limit (or, with window, the window) of l as a query
// argument; nil is NULL.
func rateLimitCol(l *keyward.RateLimit, window bool) any {
	switch {
	case l == nil:
		return nil
	case window:
		return int64(l.WindowSeconds)
	}
	return int64(l.Limit)
}

// DeleteKeyUsage removes hourly counts older than before.
func (s *store) DeleteKeyUsage(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.atomic(ctx, func(q querier) error {
		for _, table := range []string{"key_usage", "key_usage_outcomes"} {
			res, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE hour < $1`, s.ts(before.UTC()))
			if err != nil {
				return fmt.Errorf("deleting old usage counts: %w", err)
			}
			m, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += m
		}
		return nil
	})
	return int(n), err
}

// sortedRefs returns the keys of m in (tenant, id) order.
func sortedRefs[V any](m map[keyward.KeyRef]V) []keyward.KeyRef {
	refs := make([]keyward.KeyRef, 0, len(m))
	for r := range m {
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(a, b keyward.KeyRef) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.ID, b.ID))
	})
	return refs
}

// cidrsArg stores a key's allowedCidrs space-separated; none is NULL.
func cidrsArg(cidrs []string) any {
	if len(cidrs) == 0 {
		return nil
	}
	return strings.Join(cidrs, " ")
}

// cidrsCol scans allowed_cidrs into a list, nil for NULL.
type cidrsCol struct{ dst *[]string }

func (c cidrsCol) Scan(v any) error {
	var s sql.NullString
	if err := s.Scan(v); err != nil {
		return err
	}
	*c.dst = nil
	if s.Valid && s.String != "" {
		*c.dst = strings.Fields(s.String)
	}
	return nil
}
