package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

// CreateSigningKey stores a token signing key. A duplicate id or slot is
// ECONFLICT: replicas racing to make the key of one period see who won.
func (s *store) CreateSigningKey(ctx context.Context, k *keyward.SigningKey) error {
	return s.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `
			INSERT INTO signing_keys (id, algorithm, public_jwk, private_sealed, slot, created_at, retire_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			k.ID, k.Algorithm, string(k.PublicJWK), k.PrivateSealed, k.Slot, s.ts(k.CreatedAt), s.ts(k.RetireAt),
			s.ts(k.ExpiresAt))
		if err != nil {
			return writeError(err, "creating a signing key", "a signing key for this period already exists")
		}
		return nil
	})
}

// ListSigningKeys returns the keys with ExpiresAt after now, highest slot
// first.
func (s *store) ListSigningKeys(ctx context.Context, now time.Time) ([]*keyward.SigningKey, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, algorithm, public_jwk, private_sealed, slot, created_at, retire_at, expires_at
		FROM signing_keys WHERE expires_at > $1 ORDER BY slot DESC`, s.ts(now))
	if err != nil {
		return nil, fmt.Errorf("listing signing keys: %w", err)
	}
	defer rows.Close()
	keys := []*keyward.SigningKey{}
	for rows.Next() {
		var k keyward.SigningKey
		var jwk string
		if err := rows.Scan(&k.ID, &k.Algorithm, &jwk, &k.PrivateSealed, &k.Slot, timeCol{&k.CreatedAt},
			timeCol{&k.RetireAt}, timeCol{&k.ExpiresAt}); err != nil {
			return nil, fmt.Errorf("listing signing keys: %w", err)
		}
		k.PublicJWK = []byte(jwk)
		keys = append(keys, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing signing keys: %w", err)
	}
	return keys, nil
}

// DeleteExpiredSigningKeys removes keys with ExpiresAt at or before now.
func (s *store) DeleteExpiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	return s.deleteExpired(ctx, "signing_keys", now)
}

// RevokeToken records a revoked token id until expiresAt. Revoking again
// keeps the later expiry.
func (s *store) RevokeToken(ctx context.Context, jti, tenantID string, expiresAt time.Time) error {
	greatest := "max"
	if s.pg {
		greatest = "GREATEST"
	}
	return s.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `
			INSERT INTO revoked_tokens (jti, tenant_id, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (jti) DO UPDATE SET expires_at = `+greatest+`(revoked_tokens.expires_at, excluded.expires_at)`,
			jti, tenantID, s.ts(expiresAt))
		if err != nil {
			return writeError(err, "revoking a token", "conflicting revocation")
		}
		return nil
	})
}

// ListRevokedTokens returns the revoked token ids whose expiry is after now.
func (s *store) ListRevokedTokens(ctx context.Context, now time.Time) (map[string]time.Time, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1`, s.ts(now))
	if err != nil {
		return nil, fmt.Errorf("listing revoked tokens: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var jti string
		var exp time.Time
		if err := rows.Scan(&jti, timeCol{&exp}); err != nil {
			return nil, fmt.Errorf("listing revoked tokens: %w", err)
		}
		out[jti] = exp
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing revoked tokens: %w", err)
	}
	return out, nil
}

// DeleteExpiredRevocations removes revocations with expiresAt at or before now.
func (s *store) DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error) {
	return s.deleteExpired(ctx, "revoked_tokens", now)
}

// deleteExpired deletes the rows of table whose expires_at is at or before now.
func (s *store) deleteExpired(ctx context.Context, table string, now time.Time) (int, error) {
	var n int64
	err := s.writeOne(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at <= $1`, s.ts(now))
		if err != nil {
			return fmt.Errorf("deleting expired rows of %s: %w", table, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
