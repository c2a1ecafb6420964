package memstore

import (
	"context"
	"sync"
	"time"
)

// NonceStore is the in-memory keyward.NonceStore: entries are dropped once
// they expire, so it never grows past the nonces of one window.
type NonceStore struct {
	mu      sync.Mutex
	entries map[string]time.Time
	now     func() time.Time
	sweep   time.Time
}

// NewNonceStore returns an in-memory NonceStore on the clock now.
func NewNonceStore(now func() time.Time) *NonceStore {
	return &NonceStore{entries: map[string]time.Time{}, now: now}
}

// Remember records key until until; it reports false when key is held
// already.
func (m *NonceStore) Remember(_ context.Context, key string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if now.Sub(m.sweep) > 10*time.Second {
		for k, t := range m.entries {
			if !now.Before(t) {
				delete(m.entries, k)
			}
		}
		m.sweep = now
	}
	if t, ok := m.entries[key]; ok && now.Before(t) {
		return false, nil
	}
	m.entries[key] = until
	return true, nil
}

// Len returns the number of nonces held (for tests).
func (m *NonceStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
