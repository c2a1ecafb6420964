package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyward/keyward"
)

// Limits bound the work a store takes on, so that a database that hangs or
// drops connections costs callers a bounded wait and the process a bounded
// number of goroutines, never an unbounded queue.
type Limits struct {
	// Timeout bounds each store call, and each transaction as a whole
	// (default 5 s), and all the calls made with one context marked by
	// keyward.WithStoreBudget together. Past it the call fails with
	// EDBUNAVAILABLE.
	Timeout time.Duration
	// MaxInFlight bounds the store calls and transactions running or waiting
	// for a connection at once (default 256); one more fails at once with
	// EDBUNAVAILABLE instead of queueing.
	MaxInFlight int
	// Retries is how many times a transaction that failed on a concurrent
	// change (EVERSIONCONFLICT, a serialization failure or a deadlock) is run
	// again from the start (default 10; -1 for none).
	Retries int
}

// Default limits.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxInFlight = 256
	DefaultRetries     = 10
)

// Guard wraps store with Limits: every call and transaction gets a
// deadline, at most MaxInFlight run at once, and failures that mean the
// database is unreachable become EDBUNAVAILABLE (503 with Retry-After). After
// such a failure only a few calls at a time (MaxInFlight/16, at least one)
// probe the database; the others fail at once until one succeeds, so a hung
// database costs most callers no wait, and is recovered from by itself.
//
// Transactions that lose a race on a version they read themselves are run
// again (a version the caller gave is re-checked on the fresh read, so a
// stale one still ends in EPRECONDITION or EVERSIONCONFLICT). Their
// callbacks must therefore have no effect outside the transaction other than
// assigning results.
func Guard(store keyward.Store, l Limits) keyward.Store {
	g := newGuard(l)
	return &guardedStore{guardTx: &guardTx{StoreTx: store, g: g}, inner: store}
}

// guard is the shared state of a guarded store.
type guard struct {
	timeout time.Duration
	retries int
	slots   chan struct{}
	down    atomic.Bool  // the last call found the database unreachable
	probing atomic.Int32 // calls checking whether it is back (at most probes)
	probes  int32
}

func newGuard(l Limits) *guard {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = DefaultMaxInFlight
	}
	if l.Retries == 0 {
		l.Retries = DefaultRetries
	} else if l.Retries < 0 {
		l.Retries = 0
	}
	return &guard{timeout: l.Timeout, retries: l.Retries, slots: make(chan struct{}, l.MaxInFlight),
		probes: int32(max(1, l.MaxInFlight/16))}
}

var (
	errSaturated = keyward.Errorf(keyward.EDBUNAVAILABLE, "the database is busy; try again shortly")
	errDown      = keyward.Errorf(keyward.EDBUNAVAILABLE, "the database is unavailable; try again shortly")
)

// acquire takes a slot, or fails at once when none is free or when the
// database is down and another call is already probing it.
func (g *guard) acquire() (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
	default:
		return nil, errSaturated
	}
	probe := false
	if g.down.Load() {
		if g.probing.Add(1) > g.probes {
			g.probing.Add(-1)
			<-g.slots
			return nil, errDown
		}
		probe = true
	}
	return func() {
		if probe {
			g.probing.Add(-1)
		}
		<-g.slots
	}, nil
}

// deadline is when a call made now with ctx must end: the timeout, or the
// request's store budget when that ends first.
func (g *guard) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(g.timeout)
	if b, ok := keyward.StoreBudget(ctx); ok && b.Before(d) {
		d = b
	}
	return d
}

// outcome is what a call returned.
type outcome[T any] struct {
	v   T
	err error
}

// run runs f with a slot and the deadline, classifying its error. A driver
// that does not give up at the deadline (SQLite waiting for a lock another
// process holds) does not hold the caller: the call is answered at the
// deadline and finishes in the background, keeping its slot until then, so
// that work in flight stays bounded.
func run[T any](g *guard, ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	release, err := g.acquire()
	if err != nil {
		return zero, err
	}
	cctx, cancel := context.WithDeadline(ctx, g.deadline(ctx))
	done := make(chan outcome[T], 1)
	go func() {
		defer release()
		defer cancel()
		v, err := f(cctx)
		done <- outcome[T]{v, err}
	}()
	var o outcome[T]
	select {
	case o = <-done:
	case <-cctx.Done():
		select {
		case o = <-done:
		default:
			o.err = cctx.Err()
		}
	}
	o.err = g.classify(ctx, cctx, o.err)
	g.record(o.err)
	if o.err != nil {
		return zero, o.err
	}
	return o.v, nil
}

// inline is run without the goroutine, for reads that the drivers give up
// at the deadline themselves: database/sql stops waiting for a connection,
// pgx cancels the query, and an SQLite reader (WAL) waits for no lock a
// writer holds and is interrupted at the deadline. What a call costs on
// every key-cache miss (a goroutine, a channel and a select per call) is
// then saved, with the same slot, deadline, classification and down mark.
func inline[T any](g *guard, ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	release, err := g.acquire()
	if err != nil {
		return zero, err
	}
	defer release()
	cctx, cancel := context.WithDeadline(ctx, g.deadline(ctx))
	v, err := f(cctx)
	err = g.classify(ctx, cctx, err) // before cancel, which would end cctx
	cancel()
	g.record(err)
	if err != nil {
		return zero, err
	}
	return v, nil
}

// runErr is run for calls that return only an error.
func (g *guard) runErr(ctx context.Context, f func(ctx context.Context) error) error {
	_, err := run(g, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

// record notes whether the database answered.
func (g *guard) record(err error) {
	switch {
	case err == nil:
		g.down.Store(false)
	case keyward.ErrorCode(err) == keyward.EDBUNAVAILABLE:
		g.down.Store(true)
	default:
		var e *keyward.Error
		if errors.As(err, &e) { // the database answered, with a refusal
			g.down.Store(false)
		}
	}
}

// classify turns a failure that means "the database did not answer" into
// EDBUNAVAILABLE, wrapping the driver's error for the log. parent is the
// caller's context: when it ended first (the client went away), the error
// is the caller's, not the database's. Only cctx's deadline is a timeout:
// run and txOnce cancel cctx as soon as the call returns, often before its
// error is classified, and a statement the database refused (a foreign key
// violated) was labelled "did not answer in time" and marked the database
// down.
func (g *guard) classify(parent, cctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var e *keyward.Error
	if errors.As(err, &e) || parent.Err() != nil || refused(err) {
		return err
	}
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return &unavailable{msg: fmt.Sprintf("the database did not answer in time (%s); try again shortly", g.timeout), cause: err}
	}
	if unreachable(err) {
		return &unavailable{msg: "the database connection failed; try again shortly", cause: err}
	}
	return err
}

// unavailable is EDBUNAVAILABLE carrying the driver's error for the log.
type unavailable struct {
	msg   string
	cause error
}

func (u *unavailable) Error() string { return u.msg + ": " + u.cause.Error() }
func (u *unavailable) Unwrap() []error {
	return []error{&keyward.Error{Code: keyward.EDBUNAVAILABLE, Message: u.msg}, u.cause}
}

// refused reports whether err is PostgreSQL's answer to a statement (a
// constraint violated, a deadlock), rather than its connection failing or
// the statement being canceled at the deadline (57014).
func refused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code != "57014" && !unreachable(err)
}

// unreachable reports whether err means the connection to the database
// failed (rather than the database refusing a statement).
func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P0x: the server is shutting
		// down or starting; 53300: too many connections.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P0") || pe.Code == "53300"
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne), errors.As(err, &ce), pgconn.Timeout(err):
		return true
	}
	// pgconn reports a connection it closed after a failure this way.
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset")
}

// retryable reports whether a transaction that failed with err may be run
// again: it lost a race with a concurrent change.
func retryable(err error) bool {
	if keyward.ErrorCode(err) == keyward.EVERSIONCONFLICT {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// guardTx guards each call of a StoreTx. Outside a transaction (deadline
// zero) each call takes a slot and the timeout; inside one, calls share the
// transaction's slot and deadline. StoreTx is embedded so that a method
// added to keyward.StoreTx still compiles (unguarded) until guard_calls.go
// lists it.
type guardTx struct {
	keyward.StoreTx
	g        *guard
	deadline time.Time // inside a Tx: the Tx's; zero outside
}

func (t *guardTx) do(ctx context.Context, f func(ctx context.Context) error) error {
	_, err := call(t, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

// call runs one store call: outside a transaction under its own slot and
// deadline; inside one, in line under the transaction's deadline (the
// transaction holds its connection, and its slot).
func call[T any](t *guardTx, ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	if t.deadline.IsZero() {
		return run(t.g, ctx, f)
	}
	cctx, cancel := context.WithDeadline(ctx, t.deadline)
	defer cancel()
	v, err := f(cctx)
	return v, t.g.classify(ctx, cctx, err)
}

// callRead is call for a read the driver gives up at the deadline (see
// inline).
func callRead[T any](t *guardTx, ctx context.Context, f func(ctx context.Context) (T, error)) (T, error) {
	if t.deadline.IsZero() {
		return inline(t.g, ctx, f)
	}
	return call(t, ctx, f)
}

// guardedStore is the keyward.Store that Guard returns.
type guardedStore struct {
	*guardTx
	inner keyward.Store
}

// Tx runs fn in one transaction under one slot and one deadline, and runs
// it again (up to Retries times, after a short random pause) when it lost a
// race with a concurrent change.
func (s *guardedStore) Tx(ctx context.Context, fn func(tx keyward.StoreTx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.txOnce(ctx, fn)
		if err == nil || attempt >= s.g.retries || !retryable(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(1+rand.IntN(5*(attempt+1))) * time.Millisecond)
	}
}

// errAbandoned ends a transaction that began after its caller was answered.
var errAbandoned = errors.New("the transaction began after its deadline")

// txOnce runs fn in one transaction under one slot and deadline. When the
// deadline passes before the transaction began (the connection or, on
// SQLite, the write lock was not to be had), the caller is answered at once
// and fn never runs; once fn runs, its calls end by the deadline and the
// transaction is waited for, so that its outcome is the one reported.
func (s *guardedStore) txOnce(ctx context.Context, fn func(tx keyward.StoreTx) error) error {
	release, err := s.g.acquire()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithDeadline(ctx, s.g.deadline(ctx))
	var mu sync.Mutex
	started, abandoned := false, false
	done := make(chan error, 1)
	go func() {
		defer release()
		defer cancel()
		deadline, _ := cctx.Deadline()
		done <- s.inner.Tx(cctx, func(tx keyward.StoreTx) error {
			mu.Lock()
			if abandoned {
				mu.Unlock()
				return errAbandoned
			}
			started = true
			mu.Unlock()
			return fn(&guardTx{StoreTx: tx, g: s.g, deadline: deadline})
		})
	}()
	select {
	case err = <-done:
	case <-cctx.Done():
		mu.Lock()
		wait := started
		abandoned = !started
		mu.Unlock()
		if wait {
			err = <-done
		} else {
			err = cctx.Err()
		}
	}
	err = s.g.classify(ctx, cctx, err)
	s.g.record(err)
	return err
}

// Ping checks the database under the same limits as any call, so that a
// saturated or hung database makes /readyz say so.
func (s *guardedStore) Ping(ctx context.Context) error {
	return s.g.runErr(ctx, s.inner.Ping)
}

// Close closes the wrapped store.
func (s *guardedStore) Close() error { return s.inner.Close() }

// GuardNonces puts the replay guard of signed requests that the database
// keeps (NonceStore) under the same limits as the store guarded by l.
func GuardNonces(ns keyward.NonceStore, l Limits) keyward.NonceStore {
	return &guardedNonces{ns: ns, g: newGuard(l)}
}

type guardedNonces struct {
	ns keyward.NonceStore
	g  *guard
}

func (n *guardedNonces) Remember(ctx context.Context, key string, until time.Time) (fresh bool, err error) {
	return run(n.g, ctx, func(ctx context.Context) (bool, error) { return n.ns.Remember(ctx, key, until) })
}

// GuardChanges gives each Publish of a change feed the timeout of l.
func GuardChanges(c keyward.ChangeFeed, l Limits) keyward.ChangeFeed {
	if c == nil {
		return nil
	}
	return &guardedChanges{ChangeFeed: c, g: newGuard(l)}
}

type guardedChanges struct {
	keyward.ChangeFeed
	g *guard
}

func (c *guardedChanges) Publish(ctx context.Context, keyIDs []string) error {
	return c.g.runErr(ctx, func(ctx context.Context) error { return c.ChangeFeed.Publish(ctx, keyIDs) })
}
