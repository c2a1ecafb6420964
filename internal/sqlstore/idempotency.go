package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

// ClaimIdempotency stores rec in flight unless a live record with its
// scope exists; see keyward.Store.
func (s *store) ClaimIdempotency(ctx context.Context, rec *keyward.IdempotencyRecord, now, staleBefore time.Time) (*keyward.IdempotencyRecord, error) {
	var existing *keyward.IdempotencyRecord
	err := s.atomic(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND idem_key = $3
			AND (expires_at <= $4 OR (status = 0 AND created_at <= $5))`,
			rec.TenantID, rec.Principal, rec.Key, s.ts(now), s.ts(staleBefore))
		if err != nil {
			return fmt.Errorf("dropping a stale idempotency record: %w", err)
		}
		res, err := q.ExecContext(ctx, `INSERT INTO idempotency_keys (tenant_id, principal, idem_key, fingerprint, status,
				response, created_at, expires_at) VALUES ($1, $2, $3, $4, 0, NULL, $5, $6) ON CONFLICT DO NOTHING`,
			rec.TenantID, rec.Principal, rec.Key, rec.Fingerprint, s.ts(rec.CreatedAt), s.ts(rec.ExpiresAt))
		if err != nil {
			return fmt.Errorf("claiming an idempotency key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return nil
		}
		var e keyward.IdempotencyRecord
		err = q.QueryRowContext(ctx, `SELECT tenant_id, principal, idem_key, fingerprint, status, response, created_at, expires_at
			FROM idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND idem_key = $3`, rec.TenantID, rec.Principal, rec.Key).
			Scan(&e.TenantID, &e.Principal, &e.Key, &e.Fingerprint, &e.Status, &e.Response, timeCol{&e.CreatedAt}, timeCol{&e.ExpiresAt})
		if errors.Is(err, sql.ErrNoRows) {
			return keyward.Errorf(keyward.ECONFLICT, "the idempotency key changed concurrently; retry")
		} else if err != nil {
			return fmt.Errorf("reading an idempotency record: %w", err)
		}
		existing = &e
		return nil
	})
	return existing, err
}

// FinishIdempotency stores the answer of a claimed record.
func (s *store) FinishIdempotency(ctx context.Context, rec *keyward.IdempotencyRecord) error {
	return s.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `UPDATE idempotency_keys SET status = $1, response = $2
			WHERE tenant_id = $3 AND principal = $4 AND idem_key = $5`, rec.Status, rec.Response, rec.TenantID, rec.Principal, rec.Key)
		if err != nil {
			return fmt.Errorf("storing an idempotent answer: %w", err)
		}
		return nil
	})
}

// DeleteIdempotency removes a record.
func (s *store) DeleteIdempotency(ctx context.Context, tenantID, principal, key string) error {
	return s.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND idem_key = $3`,
			tenantID, principal, key)
		if err != nil {
			return fmt.Errorf("deleting an idempotency record: %w", err)
		}
		return nil
	})
}

// DeleteExpiredIdempotency removes records that expired at or before now.
func (s *store) DeleteExpiredIdempotency(ctx context.Context, now time.Time) (int, error) {
	return s.deleteExpired(ctx, "idempotency_keys", now)
}
