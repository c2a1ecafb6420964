package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// The usage flush (Service.FlushLastUsed, every second) writes the last
// uses, request counts and verification outcomes of every key used since
// the previous one: under cold traffic (every request a key not seen
// before) thousands of keys. Each of its calls is one statement per chunk
// of flushChunk keys (issue 13), not one per key: the keys travel as
// arrays (PostgreSQL: unnest) or as a JSON array (SQLite: json_each),
// joined with api_keys (PostgreSQL's last uses: with key_last_used, 00025)
// so that a key deleted meanwhile is skipped rather than failing the
// flush. A use recorded before the key's created_at is skipped too: it was
// a use of a deleted key with the same id (re-created at once, maybe on
// another replica), not of this one. Chunks go in (tenant, id) order, and
// on PostgreSQL each statement locks its keys (or their key_last_used
// rows) in that order, so that flushes of two replicas cannot deadlock.

// flushChunk bounds the keys one statement of a flush carries.
const flushChunk = 10_000

// TouchAPIKeys sets each key's last-use time to the given one unless the
// stored time is already the same or later, in one transaction, without
// changing versions. Unknown (or concurrently deleted) keys are ignored,
// and so is a time before the key's created_at.
// The tenants whose keys' last uses changed get their keys_used_version
// bumped once, after the keys (00023), in tenant order.
func (s *store) TouchAPIKeys(ctx context.Context, lastUsed map[keyward.KeyRef]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	refs := sortedRefs(lastUsed)
	return s.atomic(ctx, func(q querier) error {
		if err := s.flushPlans(ctx, q); err != nil {
			return fmt.Errorf("recording the last use of api keys: %w", err)
		}
		var tenants []string
		for chunk := range slices.Chunk(refs, flushChunk) {
			changed, err := s.touchChunk(ctx, q, chunk, lastUsed)
			if err != nil {
				return fmt.Errorf("recording the last use of api keys: %w", err)
			}
			tenants = append(tenants, changed...)
		}
		if len(tenants) == 0 {
			return nil
		}
		slices.Sort(tenants)
		tenants = slices.Compact(tenants)
		var err error
		if s.pg {
			_, err = q.ExecContext(ctx, `UPDATE tenants SET keys_used_version = keys_used_version + 1
				WHERE id = ANY($1::text[])`, tenants)
		} else {
			_, err = q.ExecContext(ctx, `UPDATE tenants SET keys_used_version = keys_used_version + 1
				WHERE id IN (SELECT value FROM json_each($1))`, jsonArray(tenants))
		}
		if err != nil {
			return fmt.Errorf("recording the last use of api keys: %w", err)
		}
		return nil
	})
}

// flushPlans makes PostgreSQL run the rest of the flush transaction's
// statements as nested loops over the keys' primary keys (issue 13): a
// flush touches at most flushChunk keys a statement, a few lookups each,
// but with the statistics of the tables it joins stale or missing
// (autovacuum late or off) the planner chose hash joins over all of
// api_keys (a sequential scan of 400,000 rows, hashed in 8 batches: 987 ms
// for 8,000 keys, against 650 ms in nested loops). Inside a DB.Tx the
// settings last until that transaction ends.
func (s *store) flushPlans(ctx context.Context, q querier) error {
	if !s.pg {
		return nil
	}
	_, err := q.ExecContext(ctx, `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`)
	return err
}

// pgTouchLastUsed is touchChunk's statement on PostgreSQL: $1, $2, $3 the
// keys' tenants, ids and last uses.
const pgTouchLastUsed = `WITH v AS (
			SELECT l.tenant_id, l.key_id, v.t
			FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS v (tenant_id, id, t)
			JOIN key_last_used l ON l.tenant_id = v.tenant_id COLLATE "C" AND l.key_id = v.id COLLATE "C"
			JOIN api_keys k ON k.id = l.key_id AND k.tenant_id = l.tenant_id AND k.created_at <= v.t
			WHERE l.last_used_at IS NULL OR l.last_used_at < v.t
			ORDER BY l.tenant_id, l.key_id FOR NO KEY UPDATE OF l
		), u AS (
			UPDATE key_last_used l SET last_used_at = v.t FROM v
			WHERE l.tenant_id = v.tenant_id AND l.key_id = v.key_id AND (l.last_used_at IS NULL OR l.last_used_at < v.t)
			RETURNING l.tenant_id
		)
		SELECT DISTINCT tenant_id FROM u`

// touchChunk updates the last uses of refs and returns the tenants of the
// keys it changed (unsorted, maybe repeated).
func (s *store) touchChunk(ctx context.Context, q querier, refs []keyward.KeyRef, lastUsed map[keyward.KeyRef]time.Time) ([]string, error) {
	var (
		query string
		args  []any
	)
	if s.pg {
		tenantIDs, ids, times := make([]string, len(refs)), make([]string, len(refs)), make([]time.Time, len(refs))
		for i, r := range refs {
			tenantIDs[i], ids[i], times[i] = r.TenantID, r.ID, lastUsed[r].UTC()
		}
		// On PostgreSQL a key's last use is its row of key_last_used
		// (00025), not of api_keys: that narrow row and its three index
		// entries are all a flush writes, not a new version of the key's
		// row with an entry in each of api_keys' indexes. v locks the rows
		// to change in order (a row deleted meanwhile, with its key, is
		// skipped); u changes them. The key's row is read (by primary key,
		// not locked, not written) for its created_at.
		query = pgTouchLastUsed
		args = []any{tenantIDs, ids, times}
	} else {
		rows := make([][]any, len(refs))
		for i, r := range refs {
			rows[i] = []any{r.TenantID, r.ID, lastUsed[r].UnixMicro()}
		}
		query = `UPDATE api_keys SET last_used_at = j.t
			FROM (SELECT value->>0 AS tenant_id, value->>1 AS id, value->>2 AS t FROM json_each($1)) AS j
			WHERE api_keys.tenant_id = j.tenant_id AND api_keys.id = j.id AND api_keys.created_at <= j.t
				AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < j.t)
			RETURNING tenant_id`
		args = []any{jsonArray(rows)}
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tenants []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if len(tenants) == 0 || tenants[len(tenants)-1] != id {
			tenants = append(tenants, id)
		}
	}
	return tenants, rows.Err()
}

// AddKeyUsage adds counts to each key's row for the hour of at, in one
// transaction, in (tenant, id) order (no deadlocks between replicas). A
// key missing, or deleted while the flush runs, is skipped, and so is a
// count whose last use (lastUsed; a key not in it is not checked) is
// before the key's created_at.
func (s *store) AddKeyUsage(ctx context.Context, at time.Time, counts map[keyward.KeyRef]int64, lastUsed map[keyward.KeyRef]time.Time) error {
	rows := make([]usageRow, 0, len(counts))
	for r, n := range counts {
		if n > 0 {
			rows = append(rows, usageRow{key: r, n: n, used: usedBy(lastUsed, r)})
		}
	}
	return s.addUsage(ctx, at, rows, false)
}

// usedBy returns r's last use in lastUsed, or a time after every key's
// creation (no check) when it has none there.
func usedBy(lastUsed map[keyward.KeyRef]time.Time, r keyward.KeyRef) time.Time {
	if used, ok := lastUsed[r]; ok {
		return used
	}
	return time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
}

// AddKeyOutcomes adds counts to each key's row for the hour of at and the
// outcome, in one transaction, in key and outcome order (no deadlocks
// between replicas). A key missing, or deleted while the flush runs, is
// skipped, and so is one last used (lastUsed) before it was created: a
// deleted key's counts, re-created meanwhile with its id.
func (s *store) AddKeyOutcomes(ctx context.Context, at time.Time, counts map[keyward.KeyOutcome]int64, lastUsed map[keyward.KeyRef]time.Time) error {
	rows := make([]usageRow, 0, len(counts))
	for k, n := range counts {
		if n > 0 {
			rows = append(rows, usageRow{key: k.Key, outcome: k.Outcome, n: n, used: usedBy(lastUsed, k.Key)})
		}
	}
	return s.addUsage(ctx, at, rows, true)
}

// usageRow is a count to add to a key's row (and outcome's, for outcomes);
// used is the key's last use the count is up to.
type usageRow struct {
	key     keyward.KeyRef
	outcome string
	n       int64
	used    time.Time
}

// addUsage adds rows to key_usage, or to key_usage_outcomes when outcomes.
func (s *store) addUsage(ctx context.Context, at time.Time, rows []usageRow, outcomes bool) error {
	if len(rows) == 0 {
		return nil
	}
	slices.SortFunc(rows, func(a, b usageRow) int {
		return cmp.Or(strings.Compare(a.key.TenantID, b.key.TenantID), strings.Compare(a.key.ID, b.key.ID),
			strings.Compare(a.outcome, b.outcome))
	})
	hour := s.ts(at.UTC().Truncate(time.Hour))
	table, cols, conflict, what := "key_usage", "tenant_id, key_id, hour, count", "tenant_id, key_id, hour",
		"recording the usage of api keys"
	if outcomes {
		table, cols, conflict, what = "key_usage_outcomes", "tenant_id, key_id, hour, outcome, count",
			"tenant_id, key_id, hour, outcome", "recording the verification outcomes of api keys"
	}
	return s.atomic(ctx, func(q querier) error {
		if err := s.flushPlans(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for chunk := range slices.Chunk(rows, flushChunk) {
			var (
				query string
				args  []any
			)
			if s.pg {
				// FOR KEY SHARE: a key being deleted is waited for, and then
				// skipped; one not yet deleted stays until the flush commits
				// (the foreign key's own check would fail the statement).
				tenantIDs, ids, outs, ns := make([]string, len(chunk)), make([]string, len(chunk)),
					make([]string, len(chunk)), make([]int64, len(chunk))
				for i, r := range chunk {
					tenantIDs[i], ids[i], outs[i], ns[i] = r.key.TenantID, r.key.ID, r.outcome, r.n
				}
				times := make([]time.Time, len(chunk))
				for i, r := range chunk {
					times[i] = r.used.UTC()
				}
				outcome := ""
				if outcomes {
					outcome = "v.outcome, "
				}
				args = []any{tenantIDs, ids, outs, ns, hour, times}
				query = `INSERT INTO ` + table + ` (` + cols + `)
					SELECT k.tenant_id, k.id, $5, ` + outcome + `v.n
					FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $6::timestamptz[]) AS v (tenant_id, id, outcome, n, t)
					JOIN api_keys k ON k.tenant_id = v.tenant_id COLLATE "C" AND k.id = v.id COLLATE "C" AND k.created_at <= v.t
					ORDER BY k.tenant_id, k.id FOR KEY SHARE OF k
					ON CONFLICT (` + conflict + `) DO UPDATE SET count = ` + table + `.count + excluded.count`
			} else {
				vals := make([][]any, len(chunk))
				for i, r := range chunk {
					vals[i] = []any{r.key.TenantID, r.key.ID, r.outcome, r.n, r.used.UnixMicro()}
				}
				outcome := ""
				if outcomes {
					outcome = "j.value->>2, "
				}
				// A WHERE: SQLite's parser would read ON CONFLICT as the
				// join's ON otherwise.
				query = `INSERT INTO ` + table + ` (` + cols + `)
					SELECT k.tenant_id, k.id, $2, ` + outcome + `j.value->>3
					FROM json_each($1) AS j
					JOIN api_keys k ON k.tenant_id = j.value->>0 AND k.id = j.value->>1
					WHERE k.created_at <= j.value->>4
					ON CONFLICT (` + conflict + `) DO UPDATE SET count = ` + table + `.count + excluded.count`
				args = []any{jsonArray(vals), hour}
			}
			if _, err := q.ExecContext(ctx, query, args...); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		return nil
	})
}

// jsonArray encodes v (strings, numbers and arrays of them) as JSON for
// json_each.
func jsonArray(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // strings and numbers always encode
		panic(err)
	}
	return string(b)
}
