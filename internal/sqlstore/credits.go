package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/keyward/keyward"
)

// SetKeyCredits replaces the credits of a key (nil: removes them), under
// a new random generation: credits leased from the old setting are never
// given back to the new one.
func (s *store) SetKeyCredits(ctx context.Context, tenantID, keyID string, c *keyward.Credits) error {
	return s.atomic(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM api_key_credits WHERE tenant_id = $1 AND key_id = $2`, tenantID, keyID); err != nil {
			return fmt.Errorf("removing the credits of an api key: %w", err)
		}
		if c == nil {
			return nil
		}
		var amount sql.NullInt64
		var interval sql.NullString
		day := 0
		if r := c.Refill; r != nil {
			amount = sql.NullInt64{Int64: r.Amount, Valid: true}
			interval = sql.NullString{String: r.Interval, Valid: true}
			day = r.DayOfMonth
		}
		_, err := q.ExecContext(ctx, `INSERT INTO api_key_credits (tenant_id, key_id, remaining, refill_amount,
			refill_interval, refill_day, refill_period, generation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			tenantID, keyID, c.Remaining, amount, interval, day, c.Period, rand.Int64N(math.MaxInt64)+1)
		if err != nil {
			return fmt.Errorf("setting the credits of an api key: %w", err)
		}
		return nil
	})
}

// creditArgs are the arguments $4, $5 and $6 of dueCredits: the caller's
// refill.
func creditArgs(r *keyward.Refill) (amount sql.NullInt64, interval sql.NullString, day int) {
	if r != nil {
		amount = sql.NullInt64{Int64: r.Amount, Valid: true}
		interval = sql.NullString{String: r.Interval, Valid: true}
		day = r.DayOfMonth
	}
	return amount, interval, day
}

// dueCredits: the stored refill is the caller's ($4, $5, $6) and its
// period has begun ($3 is the caller's period).
const dueCredits = `(refill_amount IS NOT NULL AND refill_amount = $4 AND refill_interval = $5 AND refill_day = $6
	AND refill_period < $3)`

// currentCredits is the remaining count, refilled when due.
const currentCredits = `(CASE WHEN ` + dueCredits + ` THEN refill_amount ELSE remaining END)`

// SpendCredits is one UPDATE … WHERE … RETURNING: the database serializes
// concurrent spends of a key's row, so that they never take more than it
// holds, on one replica or many. The refill, when its period has begun and
// the caller's refill is the stored one, happens in the same statement:
// the first spend of a period refills, and the period it records makes
// every later spend (on any replica) see the refill as done.
func (s *store) SpendCredits(ctx context.Context, sp keyward.CreditSpend) (keyward.CreditResult, error) {
	amount, interval, day := creditArgs(sp.Refill)
	var res keyward.CreditResult
	err := s.writeOne(ctx, func(q querier) error {
		err := q.QueryRowContext(ctx, `UPDATE api_key_credits
			SET remaining = `+currentCredits+` - $7, refill_period = CASE WHEN `+dueCredits+` THEN $3 ELSE refill_period END
			WHERE tenant_id = $1 AND key_id = $2 AND `+currentCredits+` >= $7 AND `+currentCredits+` > 0
			RETURNING remaining, generation, refill_period`,
			sp.TenantID, sp.KeyID, sp.Period, amount, interval, day, sp.Cost).Scan(&res.Remaining, &res.Generation, &res.Period)
		switch {
		case err == nil:
			res.Found, res.Spent, res.Taken = true, true, sp.Cost
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		return s.creditsLeft(ctx, q, sp, &res)
	})
	if err != nil {
		return keyward.CreditResult{}, fmt.Errorf("spending the credits of an api key: %w", err)
	}
	return res, nil
}

// creditsLeft reads what a key has left (with the refill, when due) into
// res, when its credits could not be spent; Found is false without them.
func (s *store) creditsLeft(ctx context.Context, q querier, sp keyward.CreditSpend, res *keyward.CreditResult) error {
	amount, interval, day := creditArgs(sp.Refill)
	err := q.QueryRowContext(ctx, `SELECT `+currentCredits+`, generation,
		CASE WHEN `+dueCredits+` THEN $3 ELSE refill_period END FROM api_key_credits WHERE tenant_id = $1 AND key_id = $2`,
		sp.TenantID, sp.KeyID, sp.Period, amount, interval, day).Scan(&res.Remaining, &res.Generation, &res.Period)
	switch {
	case err == nil:
		res.Found = true
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return nil
	}
	return err
}

// ReserveCredits is SpendCredits taking a lease: one UPDATE that takes
// min(current, max(need, min(want, max(current/8, 1)))) when current is at
// least need = max(cost, 1), and records what it took in reserved, which
// RETURNING reads back.
func (s *store) ReserveCredits(ctx context.Context, sp keyward.CreditSpend) (keyward.CreditResult, error) {
	amount, interval, day := creditArgs(sp.Refill)
	const cur = currentCredits
	const capped = `(CASE WHEN ` + cur + `/8 > 1 THEN ` + cur + `/8 ELSE 1 END)`
	const wanted = `(CASE WHEN $8 < ` + capped + ` THEN $8 ELSE ` + capped + ` END)`
	const atLeast = `(CASE WHEN $7 > ` + wanted + ` THEN $7 ELSE ` + wanted + ` END)`
	const take = `(CASE WHEN ` + cur + ` < ` + atLeast + ` THEN ` + cur + ` ELSE ` + atLeast + ` END)`
	need := max(sp.Cost, 1)
	var res keyward.CreditResult
	err := s.writeOne(ctx, func(q querier) error {
		err := q.QueryRowContext(ctx, `UPDATE api_key_credits
			SET remaining = `+cur+` - `+take+`, reserved = `+take+`,
				refill_period = CASE WHEN `+dueCredits+` THEN $3 ELSE refill_period END
			WHERE tenant_id = $1 AND key_id = $2 AND `+cur+` >= $7
			RETURNING remaining, reserved, generation, refill_period`,
			sp.TenantID, sp.KeyID, sp.Period, amount, interval, day, need, max(sp.Want, need)).Scan(
			&res.Remaining, &res.Taken, &res.Generation, &res.Period)
		switch {
		case err == nil:
			res.Found, res.Spent = true, true
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		return s.creditsLeft(ctx, q, sp, &res)
	})
	if err != nil {
		return keyward.CreditResult{}, fmt.Errorf("reserving the credits of an api key: %w", err)
	}
	return res, nil
}

// RefundCredits adds sp.Cost back while the period is still sp.Period and
// the generation sp.Generation.
func (s *store) RefundCredits(ctx context.Context, sp keyward.CreditSpend) error {
	return s.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `UPDATE api_key_credits SET remaining = remaining + $3
			WHERE tenant_id = $1 AND key_id = $2 AND refill_period = $4 AND generation = $5`,
			sp.TenantID, sp.KeyID, sp.Cost, sp.Period, sp.Generation)
		if err != nil {
			return fmt.Errorf("refunding the credits of an api key: %w", err)
		}
		return nil
	})
}

// loadCredits reads the credits of keys (absent: none).
func (s *store) loadCredits(ctx context.Context, q querier, refs []keyward.KeyRef) (map[keyward.KeyRef]*keyward.Credits, error) {
	out := make(map[keyward.KeyRef]*keyward.Credits)
	if len(refs) == 0 {
		return out, nil
	}
	want, ids, tenants := splitRefs(refs)
	rows, err := q.QueryContext(ctx, `SELECT tenant_id, key_id, remaining, refill_amount, refill_interval, refill_day,
		refill_period, generation FROM api_key_credits WHERE key_id IN (`+placeholders(1, len(ids))+`)
		AND tenant_id IN (`+placeholders(len(ids)+1, len(tenants))+`)`, append(ids, tenants...)...)
	if err != nil {
		return nil, fmt.Errorf("reading credits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r keyward.KeyRef
		var c keyward.Credits
		var amount sql.NullInt64
		var interval sql.NullString
		var day int
		if err := rows.Scan(&r.TenantID, &r.ID, &c.Remaining, &amount, &interval, &day, &c.Period, &c.Generation); err != nil {
			return nil, fmt.Errorf("reading credits: %w", err)
		}
		if amount.Valid && interval.Valid {
			c.Refill = &keyward.Refill{Amount: amount.Int64, Interval: interval.String, DayOfMonth: day}
		}
		if want[r] {
			out[r] = &c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading credits: %w", err)
	}
	return out, nil
}

// SetKeyRateLimits replaces the named rate limits of a key.
func (s *store) SetKeyRateLimits(ctx context.Context, tenantID, keyID string, ls []keyward.NamedRateLimit) error {
	return s.setNamedLimits(ctx, "api_key_rate_limits", "key_id", tenantID, keyID, ls)
}

// SetUserRateLimits replaces the named rate limits of a user.
func (s *store) SetUserRateLimits(ctx context.Context, tenantID, userID string, ls []keyward.NamedRateLimit) error {
	return s.setNamedLimits(ctx, "user_rate_limits", "user_id", tenantID, userID, ls)
}

func (s *store) setNamedLimits(ctx context.Context, table, ownerCol, tenantID, ownerID string, ls []keyward.NamedRateLimit) error {
	return s.atomic(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1 AND `+ownerCol+` = $2`, tenantID, ownerID); err != nil {
			return fmt.Errorf("replacing rate limits: %w", err)
		}
		for _, l := range ls {
			_, err := q.ExecContext(ctx, `INSERT INTO `+table+` (tenant_id, `+ownerCol+`, name, lim, window_seconds)
				VALUES ($1, $2, $3, $4, $5)`, tenantID, ownerID, l.Name, l.Limit, l.WindowSeconds)
			if err != nil {
				return fmt.Errorf("replacing rate limits: %w", err)
			}
		}
		return nil
	})
}

// loadNamedLimits reads the named rate limits of keys or users, by name
// (none: no entry).
func (s *store) loadNamedLimits(ctx context.Context, q querier, table, ownerCol string, refs []keyward.KeyRef) (map[keyward.KeyRef][]keyward.NamedRateLimit, error) {
	out := make(map[keyward.KeyRef][]keyward.NamedRateLimit, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	want, ids, tenants := splitRefs(refs)
	rows, err := q.QueryContext(ctx, `SELECT tenant_id, `+ownerCol+`, name, lim, window_seconds FROM `+table+`
		WHERE `+ownerCol+` IN (`+placeholders(1, len(ids))+`) AND tenant_id IN (`+placeholders(len(ids)+1, len(tenants))+`)
		ORDER BY tenant_id, `+ownerCol+`, name`, append(ids, tenants...)...)
	if err != nil {
		return nil, fmt.Errorf("reading rate limits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r keyward.KeyRef
		var l keyward.NamedRateLimit
		if err := rows.Scan(&r.TenantID, &r.ID, &l.Name, &l.Limit, &l.WindowSeconds); err != nil {
			return nil, fmt.Errorf("reading rate limits: %w", err)
		}
		if want[r] {
			out[r] = append(out[r], l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading rate limits: %w", err)
	}
	return out, nil
}

// splitRefs returns refs as a set, and their distinct ids and tenant ids as
// query arguments: the rows asked for are those of ids in tenants, kept when
// want holds their (tenant, id).
func splitRefs(refs []keyward.KeyRef) (want map[keyward.KeyRef]bool, ids, tenants []any) {
	want = make(map[keyward.KeyRef]bool, len(refs))
	ids, tenants = make([]any, 0, len(refs)), make([]any, 0, 1)
	seenID, seenTenant := map[string]bool{}, map[string]bool{}
	for _, r := range refs {
		want[r] = true
		if !seenID[r.ID] {
			seenID[r.ID] = true
			ids = append(ids, r.ID)
		}
		if !seenTenant[r.TenantID] {
			seenTenant[r.TenantID] = true
			tenants = append(tenants, r.TenantID)
		}
	}
	return want, ids, tenants
}
