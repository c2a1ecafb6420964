// Package redisstore backs keyward's rate limits and the replay guard of
// signed requests with Redis, so that every replica counts and remembers
// together. Any Redis error is returned, and keyward then refuses the
// request (fails closed); it recovers by itself when Redis answers again.
package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward"
)

// Store is a Redis connection serving as keyward.Limiter and
// keyward.NonceStore.
type Store struct {
	rdb     *redis.Client
	prefix  string
	now     func() time.Time
	timeout time.Duration // each call, waiting for a pooled connection included
}

// DefaultTimeout bounds each call unless WithTimeout says otherwise.
const DefaultTimeout = 5 * time.Second

// Open connects to the Redis at url (redis://[user:password@]host:port/db
// or rediss:// for TLS) and checks that it answers.
func Open(ctx context.Context, url string) (*Store, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	// Short timeouts: a request waits at most this long before it is refused.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, time.Second, time.Second
	opt.MaxRetries, opt.DialerRetries = 1, 1
	// The caller's deadline (see WithTimeout) bounds dialing, waiting for a
	// pooled connection and each command, whichever ends first.
	opt.ContextTimeoutEnabled = true
	s := &Store{rdb: redis.NewClient(opt), prefix: "keyward:", now: time.Now, timeout: DefaultTimeout}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.rdb.Ping(pctx).Err(); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("redis at %s does not answer: %w", opt.Addr, err)
	}
	return s, nil
}

// WithPrefix returns a Store whose keys start with prefix (tests use one per
// test so that they do not see each other's counters).
func (s *Store) WithPrefix(prefix string) *Store {
	c := *s
	c.prefix = prefix
	return &c
}

// WithTimeout returns a Store whose calls each give up after d (keyward
// serve passes --db-timeout), so that a Redis that hangs costs a request at
// most d before it is refused.
func (s *Store) WithTimeout(d time.Duration) *Store {
	c := *s
	if d > 0 {
		c.timeout = d
	}
	return &c
}

func (s *Store) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// SilenceLibraryLogs drops the Redis client library's own log lines (a
// failed dial, a pool retry), which it writes to standard error in a format
// of its own: keyward logs the failures it acts on. The library has one
// logger for the whole process (redis.SetLogger, no per-client option), so
// a Store does not touch it: the program calls this, once (wire.Open does
// when it opens Redis).
func SilenceLibraryLogs() { quiet.Do(func() { redis.SetLogger(discard{}) }) }

var quiet sync.Once

// discard drops the Redis client's own log lines.
type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}

// Close closes the connection.
func (s *Store) Close() error { return s.rdb.Close() }

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	return s.rdb.Ping(ctx).Err()
}

// incr counts one request in a window and sets the counter to expire with
// the window, atomically.
var incr = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Allow counts one request under key in the current window of l, shared by
// every replica using this Redis. Windows are aligned to the Unix epoch.
func (s *Store) Allow(ctx context.Context, key string, l keyward.RateLimit) (bool, keyward.RateStatus, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	wk, reset := keyward.WindowKey(key, l, s.now())
	n, err := incr.Run(ctx, s.rdb, []string{s.prefix + "rl:" + wk}, (reset + time.Second).Milliseconds()).Int64()
	if err != nil {
		return false, keyward.RateStatus{}, fmt.Errorf("redis rate limit: %w", err)
	}
	return n <= int64(l.Limit), keyward.NewRateStatus(l, n, reset), nil
}

// decr gives one request back, if the window's counter still exists.
var decr = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0`)

// Refund gives back one request counted by Allow in the current window.
func (s *Store) Refund(ctx context.Context, key string, l keyward.RateLimit) error {
	wk, _ := keyward.WindowKey(key, l, s.now())
	if err := decr.Run(ctx, s.rdb, []string{s.prefix + "rl:" + wk}).Err(); err != nil {
		return fmt.Errorf("redis rate limit refund: %w", err)
	}
	return nil
}

// Remember records a signed request's (key, nonce) until it expires; false
// means another request, on any replica, already used it.
func (s *Store) Remember(ctx context.Context, key string, until time.Time) (bool, error) {
	ttl := until.Sub(s.now())
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	sum := sha256.Sum256([]byte(key))
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	ok, err := s.rdb.SetNX(ctx, s.prefix+"nonce:"+hex.EncodeToString(sum[:]), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redis nonce: %w", err)
	}
	return ok, nil
}
