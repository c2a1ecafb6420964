package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

// Limiter is the in-memory keyward.Limiter. Counters of past windows are
// dropped as new windows begin, so memory holds only the current ones.
type Limiter struct {
	now   func() time.Time
	mu    sync.Mutex
	count map[windowID]*windowCount
	sweep time.Time
}

// windowID names one counter: a key in one window of a limit.
type windowID struct {
	key   string
	secs  int
	index int64
}

type windowCount struct {
	n   int64
	end time.Time
}

// NewLimiter returns a Limiter that counts in this process on the clock now
// (time.Now when nil).
func NewLimiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, count: map[windowID]*windowCount{}}
}

// Allow counts one request of key against l in the current window.
func (m *Limiter) Allow(_ context.Context, key string, l keyward.RateLimit) (bool, keyward.RateStatus, error) {
	now := m.now()
	index, reset := keyward.WindowOf(now, l)
	id := windowID{key, l.WindowSeconds, index}
	m.mu.Lock()
	if now.After(m.sweep) {
		for k, c := range m.count {
			if !now.Before(c.end) {
				delete(m.count, k)
			}
		}
		m.sweep = now.Add(time.Second)
	}
	c := m.count[id]
	if c == nil {
		c = &windowCount{end: now.Add(reset)}
		m.count[id] = c
	}
	c.n++
	n := c.n
	m.mu.Unlock()
	return n <= int64(l.Limit), keyward.NewRateStatus(l, n, reset), nil
}

// Refund gives back one request of key counted in the current window.
func (m *Limiter) Refund(_ context.Context, key string, l keyward.RateLimit) error {
	index, _ := keyward.WindowOf(m.now(), l)
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.count[windowID{key, l.WindowSeconds, index}]; c != nil && c.n > 0 {
		c.n--
	}
	return nil
}
