package keyward

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Credit leases: a replica spends a key's credits from a lease it took
// from the database with one conditional update (ReserveCredits), so that
// a verification with credits costs an atomic decrement in memory instead
// of a database write. The lease starts at one credit (a key used rarely
// spends exactly as without leases), grows with the rate the key is used
// at (about the uses of leaseWindow, at most doubling each time, at most
// maxLease), and never takes more than an eighth of what the database has
// left, so that near exhaustion the replicas take one credit at a time and
// their total stays exact. The next lease is taken in the background once
// the current one falls below half, so that a request only waits for the
// database when its lease is empty.
//
// Never over-spent: a credit is answered VALID only from a lease the
// database gave. Leases go back to the database (an increment) on Close,
// when idle for leaseIdle, and when the key changes (the change feed); a
// return only counts while the credits' generation and refill period are
// still those the lease was taken from, since a new setting or a refill
// is absolute. A crash forfeits the outstanding leases: at most one lease
// per key per replica is never spent.
const (
	maxLease    = 100_000
	leaseWindow = 100 * time.Millisecond
	leaseIdle   = time.Second
	leaseSweep  = leaseIdle / 4
	// leaseReturnTimeout bounds a lease's return to the database.
	leaseReturnTimeout = 5 * time.Second
)

// creditLeases are this replica's leases, by key (KeyRef.String()).
type creditLeases struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time

	m       sync.Map
	stop    chan struct{}
	done    chan struct{}
	returns sync.WaitGroup // returns started by invalidations
	// stopped is set by Close: spends then go to the database.
	stopped atomic.Bool
	retMu   sync.Mutex // orders returns.Add before Close's Wait
	// waits and prefetches count reservations made by a request that
	// waited for them, and in the background.
	waits, prefetches atomic.Int64
	// onWait, when set (tests), is called by a spend about to wait for
	// another's use of a lease (a reservation or a return).
	onWait func()
}

// creditLease is one key's lease on this replica.
type creditLease struct {
	ref string
	// avail is what the lease holds; -1 once closed. Spending is a
	// compare-and-swap on it, on a cache line of its own: the fields read
	// on every spend and rarely written stay shared by every core.
	avail atomic.Int64
	_     [56]byte
	// term says which credits avail belongs to (nil before the first
	// reservation).
	term atomic.Pointer[leaseTerm]
	// left is what the database had left after the last reservation.
	left atomic.Int64
	// size is the next lease's size.
	size        atomic.Int64
	prefetching atomic.Bool

	// mu makes reservations one at a time; it guards closed, lastAt,
	// lastAvail, and every change of term.
	mu        sync.Mutex
	closed    bool
	lastAt    time.Time // when the last reservation ended
	lastAvail int64     // avail right after it

	// seen and quiet are the idle sweep's (its goroutine only).
	seen  int64
	quiet int
}

// leaseTerm is what a lease's credits were taken from: the credits'
// generation and refill period, and when that period ends (unix seconds;
// MaxInt64 without a refill).
type leaseTerm struct {
	gen, period, end int64
	refillsAt        *time.Time
}

func (l *creditLease) isClosed() bool { return l.avail.Load() < 0 }

// newCreditLeases starts the sweep that returns idle leases.
func newCreditLeases(store Store, logger *slog.Logger, now func() time.Time) *creditLeases {
	c := &creditLeases{store: store, logger: logger, now: now, stop: make(chan struct{}), done: make(chan struct{})}
	go c.sweepLeases()
	return c
}

// closeLeases stops the sweep and returns every lease (Close).
func (c *creditLeases) closeLeases() {
	if c == nil {
		return
	}
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	c.retMu.Lock()
	c.stopped.Store(true)
	c.retMu.Unlock()
	c.dropLeases(nil, false)
	c.returns.Wait()
}

func (c *creditLeases) sweepLeases() {
	defer close(c.done)
	t := time.NewTicker(leaseSweep)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.m.Range(func(_, v any) bool {
			l := v.(*creditLease)
			if a := l.avail.Load(); a != l.seen {
				l.seen, l.quiet = a, 0
				return true
			}
			if l.quiet++; l.quiet >= int(leaseIdle/leaseSweep) {
				c.closeLease(l)
			}
			return true
		})
	}
}

// dropLeases closes the leases of keys (nil: all) and returns what they
// hold, in the background when async: the keys changed, and a return only
// counts if their credits did not (see creditLease).
func (c *creditLeases) dropLeases(keys []string, async bool) {
	if c == nil {
		return
	}
	var ls []*creditLease
	if keys == nil {
		c.m.Range(func(_, v any) bool {
			ls = append(ls, v.(*creditLease))
			return true
		})
	}
	for _, k := range keys {
		if v, ok := c.m.Load(k); ok {
			ls = append(ls, v.(*creditLease))
		}
	}
	if len(ls) == 0 {
		return
	}
	c.retMu.Lock()
	if !async || c.stopped.Load() {
		c.retMu.Unlock()
		for _, l := range ls {
			c.closeLease(l)
		}
		return
	}
	c.returns.Add(1)
	c.retMu.Unlock()
	go func() {
		defer c.returns.Done()
		for _, l := range ls {
			c.closeLease(l)
		}
	}()
}

// closeLease closes l and gives back what it holds, unless the credits it
// was taken from changed since. The return is made under l.mu and before l
// leaves the map: a spend meanwhile finds l closed, waits for l.mu, then
// takes a new lease from a database that has the credits back; were l gone
// first, that spend would reserve from the database without them and be
// refused while they are on their way back (a key's last credits, after a
// second idle or a change of the key).
func (c *creditLeases) closeLease(l *creditLease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	a := l.avail.Swap(-1)
	if t := l.term.Load(); a > 0 && t != nil {
		c.returnCredits(context.Background(), l.ref, a, t)
	}
	c.m.CompareAndDelete(l.ref, l)
}

// returnCredits gives n credits of the key named ref back to the store,
// within leaseReturnTimeout: spends of the key wait for it (closeLease),
// and a return that fails forfeits n (under-spent, never over-spent).
func (c *creditLeases) returnCredits(ctx context.Context, ref string, n int64, t *leaseTerm) {
	ctx, cancel := context.WithTimeout(ctx, leaseReturnTimeout)
	defer cancel()
	tenant, id := splitKeyRef(ref)
	sp := CreditSpend{TenantID: tenant, KeyID: id, Cost: n, Period: t.period, Generation: t.gen}
	if err := c.store.RefundCredits(ctx, sp); err != nil {
		c.logger.Warn("credits: returning a lease", slog.String("key", ref), slog.Any("error", err))
	}
}

func splitKeyRef(ref string) (tenant, id string) {
	for i := 0; i < len(ref); i++ {
		if ref[i] == '/' {
			return ref[:i], ref[i+1:]
		}
	}
	return "", ref
}

// lease returns the open lease of snap's key, made if needed.
func (c *creditLeases) lease(snap *keySnapshot) *creditLease {
	if l := snap.lease.Load(); l != nil && !l.isClosed() {
		return l
	}
	ref := snap.ref().String()
	v, ok := c.m.Load(ref)
	if !ok {
		l := &creditLease{ref: ref}
		l.size.Store(1)
		v, _ = c.m.LoadOrStore(ref, l)
	}
	l := v.(*creditLease)
	snap.lease.Store(l)
	return l
}

// spendLeased is spendCredits from this replica's lease. The clock is
// only read for a key with a refill, or to take a lease.
func (c *creditLeases) spendLeased(ctx context.Context, snap *keySnapshot, cost int64) (*CreditStatus, error) {
	var now time.Time
	if snap.refill != nil {
		now = c.now()
	}
	for {
		l := c.lease(snap)
		if st := c.trySpend(l, snap, cost, now); st != nil {
			return st, nil
		}
		st, retry, err := c.reserve(ctx, l, snap, cost, now)
		if !retry {
			return st, err
		}
	}
}

// trySpend spends cost from l, when l holds at least max(cost, 1) of the
// credits snap knows (same generation, period not over); nil otherwise.
func (c *creditLeases) trySpend(l *creditLease, snap *keySnapshot, cost int64, now time.Time) *CreditStatus {
	t := l.term.Load()
	if t == nil || t.gen != snap.creditGen || (t.end != math.MaxInt64 && now.Unix() >= t.end) {
		return nil
	}
	need := max(cost, 1)
	var a int64
	for {
		a = l.avail.Load()
		if a < need {
			return nil
		}
		if cost == 0 || l.avail.CompareAndSwap(a, a-cost) {
			break
		}
	}
	a -= cost
	left := l.left.Load()
	if size := l.size.Load(); size > 1 && a < size/2 && left > 0 && l.prefetching.CompareAndSwap(false, true) {
		go c.prefetch(l, snap)
	}
	return &CreditStatus{Remaining: a + left, RefillsAt: t.refillsAt, gen: t.gen, period: t.period}
}

// nextSize is the size of the lease to take now, avail being what l
// still holds (l.mu held): about the uses of the last leaseWindow, at
// least 1, at most twice the last size and maxLease.
func (l *creditLease) nextSize(avail int64, req int64) int64 {
	used := max(l.lastAvail-avail, 0) + req
	elapsed := time.Since(l.lastAt)
	want := int64(math.MaxInt64)
	if elapsed > 0 {
		want = int64(float64(used) * float64(leaseWindow) / float64(elapsed))
	}
	size := min(max(want, 1), 2*l.size.Load(), maxLease)
	l.size.Store(size)
	return size
}

// periodOf is the refill period of snap's credits at now (0 without a
// refill).
func periodOf(snap *keySnapshot, now time.Time) int64 {
	if snap.refill == nil {
		return 0
	}
	return snap.refill.periodStart(now).Unix()
}

// install makes res the lease's term (l.mu held); it reports whether the
// credits l held are still those of res (otherwise they are forfeit: the
// credits were set anew or refilled).
func (l *creditLease) install(snap *keySnapshot, res CreditResult) bool {
	old := l.term.Load()
	if old != nil && old.gen == res.Generation && old.period == res.Period {
		return true
	}
	t := &leaseTerm{gen: res.Generation, period: res.Period, end: math.MaxInt64}
	if snap.refill != nil {
		next := snap.refill.next(time.Unix(res.Period, 0))
		t.end, t.refillsAt = next.Unix(), &next
	}
	l.term.Store(t)
	return old == nil
}

// reserve spends cost when l cannot: it takes what l holds and a new
// lease from the store (one at a time per lease). retry says l closed
// meanwhile.
func (c *creditLeases) reserve(ctx context.Context, l *creditLease, snap *keySnapshot, cost int64, now time.Time) (*CreditStatus, bool, error) {
	if !l.mu.TryLock() {
		if c.onWait != nil {
			c.onWait()
		}
		l.mu.Lock()
	}
	defer l.mu.Unlock()
	if l.closed {
		return nil, true, nil
	}
	if now.IsZero() {
		now = c.now()
	}
	if st := c.trySpend(l, snap, cost, now); st != nil {
		return st, false, nil
	}
	need := max(cost, 1)
	held := l.avail.Swap(0)
	if t := l.term.Load(); t != nil && now.Unix() >= t.end {
		held = 0 // the period is over: the refill replaces what is left
	}
	sp := CreditSpend{TenantID: snap.TenantID, KeyID: snap.ID, Cost: max(need-held, 1), Refill: snap.refill,
		Period: periodOf(snap, now)}
	sp.Want = max(l.nextSize(held, cost), sp.Cost)
	c.waits.Add(1)
	res, err := c.store.ReserveCredits(ctx, sp)
	l.lastAt = time.Now()
	if err != nil {
		l.avail.Store(held)
		l.lastAvail = held
		return nil, false, err
	}
	if !res.Found {
		// The key has no credits any more (its cache entry is about to
		// go): nothing limits it.
		l.closed = true
		l.avail.Store(-1)
		c.m.CompareAndDelete(l.ref, l)
		return nil, false, nil
	}
	if !l.install(snap, res) {
		held = 0
	}
	t := l.term.Load()
	total := held
	if res.Spent {
		total += res.Taken
	}
	l.left.Store(res.Remaining)
	if total < need {
		l.avail.Store(total)
		l.lastAvail = total
		return c.exceeded(total+res.Remaining, t.refillsAt, now)
	}
	l.avail.Store(total - cost)
	l.lastAvail = total - cost
	return &CreditStatus{Remaining: total - cost + res.Remaining, RefillsAt: t.refillsAt, gen: t.gen, period: t.period}, false, nil
}

// exceeded is the answer for credits that do not cover a cost.
func (c *creditLeases) exceeded(remaining int64, refillsAt *time.Time, now time.Time) (*CreditStatus, bool, error) {
	st := &CreditStatus{Remaining: remaining, RefillsAt: refillsAt}
	return st, false, usageExceeded(refillsAt, now)
}

// prefetch takes the next lease of l in the background, once it fell
// below half.
func (c *creditLeases) prefetch(l *creditLease, snap *keySnapshot) {
	defer l.prefetching.Store(false)
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.term.Load()
	now := c.now()
	if l.closed || t == nil || now.Unix() >= t.end {
		return
	}
	size := l.size.Load()
	a := l.avail.Load()
	if a >= size/2 {
		return
	}
	sp := CreditSpend{TenantID: snap.TenantID, KeyID: snap.ID, Cost: 1, Refill: snap.refill, Period: periodOf(snap, now)}
	sp.Want = l.nextSize(a, 0)
	c.prefetches.Add(1)
	res, err := c.store.ReserveCredits(context.Background(), sp)
	l.lastAt = time.Now()
	if err != nil {
		c.logger.Warn("credits: taking a lease", slog.String("key", l.ref), slog.Any("error", err))
		return
	}
	if !res.Found {
		l.closed = true
		l.avail.Store(-1)
		c.m.CompareAndDelete(l.ref, l)
		return
	}
	l.left.Store(res.Remaining)
	taken := int64(0)
	if res.Spent {
		taken = res.Taken
	}
	if l.install(snap, res) {
		l.lastAvail = l.avail.Add(taken)
	} else {
		l.avail.Store(taken) // the credits were set anew or refilled
		l.lastAvail = taken
	}
}

// refundLeased gives sp back to the lease it was spent from, when that
// lease is still open on the same credits; false otherwise.
func (c *creditLeases) refundLeased(sp CreditSpend) bool {
	if c == nil {
		return false
	}
	v, ok := c.m.Load(KeyRef{TenantID: sp.TenantID, ID: sp.KeyID}.String())
	if !ok {
		return false
	}
	l := v.(*creditLease)
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.term.Load()
	if l.closed || t == nil || t.gen != sp.Generation || t.period != sp.Period {
		return false
	}
	l.avail.Add(sp.Cost)
	return true
}

// creditGen is the generation of c (0 without credits).
func creditGen(c *Credits) int64 {
	if c == nil {
		return 0
	}
	return c.Generation
}

// countLeased adds to k's remaining credits what this replica's lease of
// them holds, while it holds credits of the stored generation and period:
// a key read on the replica that spends it is exact (other replicas'
// leases are not counted).
func (c *creditLeases) countLeased(k *APIKey) {
	if c == nil || k.Credits == nil {
		return
	}
	v, ok := c.m.Load(KeyRef{TenantID: k.TenantID, ID: k.ID}.String())
	if !ok {
		return
	}
	l := v.(*creditLease)
	t := l.term.Load()
	if a := l.avail.Load(); a > 0 && t != nil && t.gen == k.Credits.Generation && t.period == k.Credits.Period {
		c := *k.Credits
		c.Remaining += a
		k.Credits = &c
	}
}
