package keyward

import (
	"context"
	"strconv"
	"time"
)

// Credits are the uses left to a key: every verification of it, and every
// request authenticated by it, spends a cost (1 unless a verification says
// otherwise); once spent, the key is refused (CodeUsageExceeded,
// EUSAGEEXCEEDED) until a refill. The count lives in the database (the
// key cache never holds it). Each replica spends from a lease it took
// there with one conditional update (creditlease.go), or, with
// Config.NoCreditLeases, spends every use there: either way never more
// than granted across replicas. Leases go back on Close, when idle, and
// when the key changes, so a restart loses nothing; the trade is that a
// crash forfeits what the crashed replica held: a key may be under-spent
// by at most one lease per replica, never over-spent.
type Credits struct {
	Remaining int64   `json:"remaining"`
	Refill    *Refill `json:"refill"` // nil: never refilled
	// Period is the start of the refill period the stored Remaining
	// belongs to (unix seconds): a spend in a later period first sets
	// Remaining to the refill's amount, once, whichever replica comes first.
	Period int64 `json:"-"`
	// Generation changes whenever the credits are set (to a new random
	// value): credits leased under one generation are never given back to
	// another (see creditlease.go).
	Generation int64 `json:"-"`
}

// Refill sets a key's remaining credits to Amount at the start of every
// period: each day at 00:00 UTC ("daily"), or each month on DayOfMonth at
// 00:00 UTC ("monthly"; a day past the month's end means its last day).
type Refill struct {
	Amount     int64  `json:"amount"`
	Interval   string `json:"interval"`
	DayOfMonth int    `json:"dayOfMonth,omitempty"` // monthly only; 1 when not given
}

// Bounds of credits.
const (
	MaxCredits    = 1_000_000_000_000 // remaining and refill amount
	MaxCreditCost = 1_000_000         // one verification's cost
)

// Refill intervals.
const (
	RefillDaily   = "daily"
	RefillMonthly = "monthly"
)

// CodeUsageExceeded answers a verification of a key whose credits are spent.
const CodeUsageExceeded = "USAGE_EXCEEDED"

func checkCredits(f *fieldErrors, c *Credits) {
	if c.Remaining < 0 || c.Remaining > MaxCredits {
		f.add("credits.remaining", "must be between 0 and "+strconv.FormatInt(MaxCredits, 10))
	}
	if r := c.Refill; r != nil {
		if r.Amount < 1 || r.Amount > MaxCredits {
			f.add("credits.refill.amount", "must be between 1 and "+strconv.FormatInt(MaxCredits, 10))
		}
		switch r.Interval {
		case RefillDaily:
			if r.DayOfMonth != 0 {
				f.add("credits.refill.dayOfMonth", "applies to a monthly refill only")
			}
		case RefillMonthly:
			if r.DayOfMonth == 0 {
				r.DayOfMonth = 1
			}
			if r.DayOfMonth < 1 || r.DayOfMonth > 31 {
				f.add("credits.refill.dayOfMonth", "must be between 1 and 31")
			}
		default:
			f.add("credits.refill.interval", `must be "daily" or "monthly"`)
		}
	}
}

// periodStart returns the start of the refill period that holds now.
func (r *Refill) periodStart(now time.Time) time.Time {
	now = now.UTC()
	y, m, d := now.Date()
	if r.Interval == RefillDaily {
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	start := refillDay(y, m, r.DayOfMonth)
	if now.Before(start) {
		start = refillDay(y, m-1, r.DayOfMonth)
	}
	return start
}

// next returns the start of the period after the one that holds now.
func (r *Refill) next(now time.Time) time.Time {
	start := r.periodStart(now)
	if r.Interval == RefillDaily {
		return start.AddDate(0, 0, 1)
	}
	y, m, _ := start.Date()
	return refillDay(y, m+1, r.DayOfMonth)
}

// refillDay is day d of month m of year y at 00:00 UTC, or the month's last
// day when it is shorter (time.Date normalizes m outside 1..12).
func refillDay(y int, m time.Month, d int) time.Time {
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return first.AddDate(0, 0, min(d, last)-1)
}

// CreditStatus is where a key stands against its credits after a
// verification: what it has left and when it is refilled (nil: never).
type CreditStatus struct {
	Remaining int64      `json:"remaining"`
	RefillsAt *time.Time `json:"refillsAt"`
	// gen and period are the credits' generation and refill period the
	// cost was taken from (creditSpend).
	gen, period int64
}

// CreditSpend asks the store to spend Cost credits of a key in the refill
// period that starts at Period (unix seconds) under Refill, the key's refill
// as the caller knows it (nil: none).
type CreditSpend struct {
	TenantID, KeyID string
	Cost            int64
	Refill          *Refill
	Period          int64
	// Generation is the credits' generation the spend took from (a
	// refund is dropped once it changed); ReserveCredits ignores it.
	Generation int64
	// Want is the lease ReserveCredits asks for beyond Cost (see there).
	Want int64
}

// CreditResult is the store's answer to a CreditSpend. Found is false when
// the key has no credits (any more): nothing was spent and nothing limits
// it. Otherwise Spent says whether the cost was taken, and Remaining is
// what is left (after the refill, when one was due).
type CreditResult struct {
	Found     bool
	Spent     bool
	Remaining int64
	// Taken is what ReserveCredits took (0 when not Spent); Generation
	// and Period are the stored credits' generation and refill period
	// (after the refill, when one was due).
	Taken, Generation, Period int64
}

// spendCredits spends cost credits of the key of snap, when it has credits:
// from this replica's lease (creditlease.go), or in the database when
// leases are off. It returns the status to report (nil without credits)
// and, when the credits do not cover the cost, an EUSAGEEXCEEDED error
// that says until when. A key is refused once it has nothing left, even
// for a cost of 0.
func (s *Service) spendCredits(ctx context.Context, snap *keySnapshot, cost int64) (*CreditStatus, error) {
	if !snap.hasCredits {
		return nil, nil
	}
	if s.leases != nil && !s.leases.stopped.Load() {
		return s.leases.spendLeased(ctx, snap, cost)
	}
	now := s.now()
	sp := CreditSpend{TenantID: snap.TenantID, KeyID: snap.ID, Cost: cost, Refill: snap.refill, Period: periodOf(snap, now)}
	var refillsAt *time.Time
	if snap.refill != nil {
		t := snap.refill.next(now)
		refillsAt = &t
	}
	res, err := s.store.SpendCredits(ctx, sp)
	if err != nil {
		return nil, err
	}
	if !res.Found {
		return nil, nil
	}
	st := &CreditStatus{Remaining: res.Remaining, RefillsAt: refillsAt, gen: res.Generation, period: res.Period}
	if res.Spent {
		return st, nil
	}
	return st, usageExceeded(refillsAt, now)
}

// usageExceeded is the error of credits that do not cover a cost, until
// refillsAt (nil: never refilled).
func usageExceeded(refillsAt *time.Time, now time.Time) error {
	e := &Error{Code: EUSAGEEXCEEDED}
	if refillsAt != nil {
		e.Message = "the key's credits are spent until " + refillsAt.Format(time.RFC3339)
		e.RetryAfter = max(int((refillsAt.Sub(now)+time.Second-1)/time.Second), 1)
	} else {
		e.Message = "the key's credits are spent"
	}
	return e
}

// creditSpend is the spend of cost credits of snap's key that st reports,
// to refund it.
func creditSpend(snap *keySnapshot, st *CreditStatus, cost int64) *CreditSpend {
	return &CreditSpend{TenantID: snap.TenantID, KeyID: snap.ID, Cost: cost, Refill: snap.refill, Period: st.period,
		Generation: st.gen}
}

// RefundRequest gives back the credits a request authenticated by p's key
// spent, when the request was then refused as not allowed (403): a refused
// request spends nothing. It goes back to the lease it came from, or to
// the database; a refill or a new setting since the spend makes it a
// no-op.
func (s *Service) RefundRequest(ctx context.Context, p *Principal) {
	if p == nil || p.spent == nil {
		return
	}
	sp := *p.spent
	p.spent = nil
	if s.leases.refundLeased(sp) {
		return
	}
	if err := s.store.RefundCredits(context.WithoutCancel(ctx), sp); err != nil {
		s.logger.Warn("credits: refunding a refused request", "error", err)
	}
}

// sameCredits reports whether a and b are the same setting.
func sameCredits(a, b *Credits) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return a == nil || (a.Remaining == b.Remaining && sameRefill(a.Refill, b.Refill))
}

func sameRefill(a, b *Refill) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// creditsGrant reports whether changing prev into next gives a key more
// uses: more remaining credits, none any more (unlimited), or another
// refill. Such a change needs the caller to cover the key.
func creditsGrant(prev, next *Credits) bool {
	switch {
	case next == nil:
		return prev != nil
	case prev == nil:
		return false // limiting a key gives it nothing
	}
	return next.Remaining > prev.Remaining || !sameRefill(prev.Refill, next.Refill)
}
