package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward"
)

// NonceStore returns the database as the replay guard of signed requests:
// replicas sharing it refuse a nonce any of them has seen. Expired entries
// are deleted as it goes.
func (db *DB) NonceStore(now func() time.Time) keyward.NonceStore {
	if now == nil {
		now = time.Now
	}
	return &nonceStore{db: db, now: now}
}

type nonceStore struct {
	db    *DB
	now   func() time.Time
	calls atomic.Uint64
}

// Remember inserts the nonce, or takes over an expired entry of the same
// key; an unexpired one is a replay.
func (n *nonceStore) Remember(ctx context.Context, key string, until time.Time) (bool, error) {
	s := n.db.store
	now := n.now()
	sum := sha256.Sum256([]byte(key))
	res, err := s.pool.ExecContext(ctx, `INSERT INTO nonces (key, expires_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= $3`,
		hex.EncodeToString(sum[:]), s.ts(until.UTC()), s.ts(now.UTC()))
	if err != nil {
		return false, fmt.Errorf("recording a nonce: %w", err)
	}
	affected, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recording a nonce: %w", err)
	}
	if n.calls.Add(1)%1000 == 0 {
		if _, err := s.pool.ExecContext(ctx, `DELETE FROM nonces WHERE expires_at <= $1`, s.ts(now.UTC())); err != nil {
			return false, fmt.Errorf("deleting expired nonces: %w", err)
		}
	}
	return affected == 1, nil
}
