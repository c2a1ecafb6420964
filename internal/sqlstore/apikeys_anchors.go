package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

// Page anchors (issue 13): a page by number deep in a list of many keys
// (page 25,000 of 20 keys) would skip half a million index entries on each
// request. Instead the list remembers, per tenant and filter, the sort
// values of every anchorStride-th key, found by the first deep request,
// and a later one seeks to the nearest anchor at or before its offset
// (keyset, as a cursor does) and skips fewer than anchorStride keys from
// there. The anchors are positions of one state of the tenant's keys: they
// hold while the tenant's counters (00022: keys_version, keys_used_version
// for lists sorted by last use, catalog_version for names of permissions)
// are those they were found with, and, for the statuses that depend on the
// time, while no key expired or came to expire in between. The counters are
// read in the same snapshot as the page (a read-only repeatable-read
// transaction), so the page is exactly the one OFFSET paging finds.

// anchorStride is the number of keys between two anchors: the most a page
// skips once its anchors are known. A filter the walked index does not
// hold (status active tests each key's expiry in its row) pays a row read
// per key skipped: 10,000 cost 30 ms at a million keys, 2,000 a fifth.
var anchorStride = 2_000

// anchorSetsMax bounds the lists whose anchors are kept (a list of a
// million keys holds 500 anchors, about 50 KB); past it, a random one is
// forgotten.
const anchorSetsMax = 256

// anchorCache holds the anchors of the lists of one DB, shared by every
// request (of any page size: anchors are positions of keys).
type anchorCache struct {
	mu   sync.Mutex
	sets map[anchorKey]*anchorSet
}

// anchorKey is a list: its tenant and filters, sort included.
type anchorKey struct{ tenantID, filter string }

// anchorVersion is what a tenant's counters were when anchors were found,
// and when the tenant was created: a tenant deleted and created again
// under its id starts its counters again from 0.
type anchorVersion struct {
	keys, used, catalog int64
	created             string
}

// anchorSet is the anchors of one list: vals[i] are the sort values of the
// key at (0-based) position (i+1)*anchorStride-1, the one before the key
// at offset (i+1)*anchorStride. For a status that depends on the time,
// they hold only for a Now in [from, until) (until zero: no bound), the
// times between which no key expires.
type anchorSet struct {
	version     anchorVersion
	timed       bool
	from, until time.Time
	vals        [][]any
}

// anchorFilter returns the part of a list's identity that its anchors
// depend on: every filter and the sort, the permission by its id (a
// name's permission may change).
func anchorFilter(f keyward.APIKeyFilter, permissionID string) string {
	return fmt.Sprintf("%q %q %q %q %q %#v", f.Status, f.Query, permissionID, f.OwnerID, f.Sort, f.Conditions)
}

// get returns the anchors of key, if any hold at version and now. The
// slice is never changed in place: the caller may read it unlocked.
func (c *anchorCache) get(key anchorKey, v anchorVersion, now time.Time) (*anchorSet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, ok := c.sets[key]
	if !ok || set.version != v || set.timed && (now.Before(set.from) || !set.until.IsZero() && !now.Before(set.until)) {
		return nil, false
	}
	return set, true
}

// put records set as the anchors of key.
func (c *anchorCache) put(key anchorKey, set *anchorSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = map[anchorKey]*anchorSet{}
	}
	if _, ok := c.sets[key]; !ok && len(c.sets) >= anchorSetsMax {
		n := rand.IntN(len(c.sets))
		for k := range c.sets {
			if n == 0 {
				delete(c.sets, k)
				break
			}
			n--
		}
	}
	c.sets[key] = set
}

// listFetch returns size keys of a list from offset keys after the key
// whose sort values are after (nil: from the start), with their sort
// values, read by st; with valsOnly, the sort values only.
type listFetch func(st *store, after []any, offset, size int, valsOnly bool) ([]*keyward.APIKey, [][]any, error)

// anchoredPage returns the page at offset (with one key more, when there is
// one) of a list of many keys, and the sort values of its keys, seeking
// from the nearest anchor and finding the anchors it lacks on the way.
//
// chain, when not nil, finds the anchors at once, when none are known.
func (s *store) anchoredPage(ctx context.Context, tenantID string, f keyward.APIKeyFilter, permissionID string,
	terms []keyOrderTerm, offset int, fetch listFetch, chain anchorFinder) ([]*keyward.APIKey, [][]any, error) {
	// One snapshot: the counters and every read of the page.
	tx, err := s.readPool.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to keep; after Commit, a no-op
	st := *s
	st.read = tx
	var v anchorVersion
	var created any
	counter := "keys_version"
	if !s.pg { // plus what inserts and deletes bump (00022)
		counter += " + COALESCE((SELECT c.version FROM api_key_counts c WHERE c.tenant_id = t.id), 0)"
	}
	err = tx.QueryRowContext(ctx, `SELECT `+counter+`, keys_used_version, catalog_version, created_at FROM tenants t WHERE id = $1`,
		tenantID).Scan(&v.keys, &v.used, &v.catalog, &created)
	v.created = fmt.Sprint(created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil // no such tenant: no keys
	}
	if err != nil {
		return nil, nil, err
	}
	byUse := false
	for _, t := range terms {
		byUse = byUse || strings.Contains(t.expr, "last_used_at") // k.'s or, on PostgreSQL, l.'s
	}
	if !byUse {
		v.used = 0 // last uses do not move this list's keys
	}
	key := anchorKey{tenantID, anchorFilter(f, permissionID)}
	set, ok := s.anchors.get(key, v, f.Now)
	if !ok {
		set = &anchorSet{version: v}
		if f.Status == keyward.StatusActive || f.Status == keyward.StatusExpired {
			set.timed = true
			if set.from, set.until, err = st.expiryWindow(ctx, tenantID, f.Now); err != nil {
				return nil, nil, err
			}
		}
	}
	vals := set.vals
	want := offset / anchorStride
	if chain != nil && len(vals) == 0 && want > 0 {
		if vals, err = chain(&st, want); err != nil {
			return nil, nil, err
		}
		if len(vals) < want {
			want = len(vals) // the list ends before: no more to find
		}
	}
	for len(vals) < want {
		// The next anchor: anchorStride keys after the last.
		var after []any
		if len(vals) > 0 {
			after = vals[len(vals)-1]
		}
		_, next, err := fetch(&st, after, anchorStride-1, 1, true)
		if err != nil {
			return nil, nil, err
		}
		if len(next) == 0 {
			break // the list ends before
		}
		vals = append(vals[:len(vals):len(vals)], next[0])
	}
	if len(vals) > len(set.vals) {
		s.anchors.put(key, &anchorSet{version: v, timed: set.timed, from: set.from, until: set.until, vals: vals})
	}
	var after []any
	skip := offset
	if n := min(len(vals), want); n > 0 {
		after, skip = vals[n-1], offset-n*anchorStride
	}
	keys, kv, err := fetch(&st, after, skip, f.Page.Size+1, false)
	if err != nil {
		return nil, nil, err
	}
	return keys, kv, tx.Commit()
}

// expiryWindow returns the times around now between which no key of
// tenantID expires: the latest expiry at or before now (zero: none) and
// the first after it (zero: none). The statuses active and expired list
// the same keys at any time in [from, until).
func (s *store) expiryWindow(ctx context.Context, tenantID string, now time.Time) (from, until time.Time, err error) {
	// (expires_at IS NULL) = 0 makes the range one of an index's on SQLite
	// (00016), as in the "expired" filter.
	notNull := "(expires_at IS NULL) = 0"
	if s.pg {
		notNull = "expires_at IS NOT NULL"
	}
	read := func(query string) (time.Time, error) {
		var t time.Time
		var err error
		if s.pg {
			var nt sql.NullTime
			err = s.read.QueryRowContext(ctx, query, tenantID, s.ts(now)).Scan(&nt)
			t = nt.Time
		} else {
			var n sql.NullInt64
			err = s.read.QueryRowContext(ctx, query, tenantID, s.ts(now)).Scan(&n)
			if n.Valid {
				t = time.UnixMicro(n.Int64)
			}
		}
		if errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, nil
		}
		return t, err
	}
	if from, err = read(`SELECT expires_at FROM api_keys WHERE tenant_id = $1 AND ` + notNull +
		` AND expires_at <= $2 ORDER BY expires_at DESC LIMIT 1`); err != nil {
		return from, until, fmt.Errorf("reading the keys' expiries: %w", err)
	}
	if until, err = read(`SELECT expires_at FROM api_keys WHERE tenant_id = $1 AND ` + notNull +
		` AND expires_at > $2 ORDER BY expires_at LIMIT 1`); err != nil {
		return from, until, fmt.Errorf("reading the keys' expiries: %w", err)
	}
	return from, until, nil
}

// queryValues returns the rows of query, n values each.
func (s *store) queryValues(ctx context.Context, n int, query string, args ...any) ([][]any, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// anchorFinder returns the sort values of the first n anchors of a list
// (fewer where the list ends before) at once, read by st.
type anchorFinder func(st *store, n int) ([][]any, error)

// anchorChain returns, on PostgreSQL, the sort values of the first n
// anchors of a list of the keys matching w (every anchorStride-th key of
// the order of terms) in one statement: a recursive query whose each step
// seeks after the last anchor and skips anchorStride-1 keys, as the
// anchors' own queries do one at a time. One round trip and one plan, not
// one each: the first deep page of a million keys found its 250 anchors
// in 122-190 ms, mostly in planning and round trips. For an order without
// a nullable term (nullableAnchorChain) nor the owner's name
// (listByOwnerName), on the keys alone (no join).
func (s *store) anchorChain(ctx context.Context, w whereClause, terms []keyOrderTerm, n int) ([][]any, error) {
	step, err := chainStep(w, len(terms), func(step *whereClause, markers []any) { step.addAfter(terms, markers) })
	if err != nil {
		return nil, err
	}
	skip := strconv.Itoa(anchorStride - 1)
	return s.runChain(ctx, chainQuery(pickKey("api_keys k", w, terms, terms, skip), pickKey("api_keys k", step, terms, terms, skip), terms, n), terms, w.args)
}

// nullableAnchorChain returns, on PostgreSQL, the sort values of the first
// n anchors of a list sorted by one nullable field (terms [value IS NULL,
// value, id]) of the rows of from matching w, in at most three statements
// whatever n, as anchorChain does for other orders, each read by the
// conditions of the parts that the loop of anchoredPage reads (addPart;
// joinID as there): the anchors among the keys with a value (a recursive
// chain, whose each step picks the anchor among the ties after the last
// anchor or, if fewer than anchorStride, counts them and picks it among
// the values after, as the loop does: a tie of 100,000 keys is read from
// the id on, not from its first key); if the list holds fewer, the count of the values
// after the last (fewer than anchorStride); then the anchors among the
// NULLs (a chain by id, the first that many keys nearer their start).
func (s *store) nullableAnchorChain(ctx context.Context, from string, w whereClause, terms []keyOrderTerm, joinID string, n int) ([][]any, error) {
	stride, skip := strconv.Itoa(anchorStride), strconv.Itoa(anchorStride-1)
	isNull := terms[0].expr
	part := func(p nullablePart) func(step *whereClause, markers []any) {
		return func(step *whereClause, markers []any) { step.addPart(p, terms, markers, true, joinID) }
	}
	// The keys with a value.
	values := whereClause{conds: append(slices.Clone(w.conds), isNull+" IS FALSE"), args: slices.Clone(w.args)}
	ties, err := chainStep(w, len(terms), part(partTies))
	if err != nil {
		return nil, err
	}
	after, err := chainStep(w, len(terms), part(partValues))
	if err != nil {
		return nil, err
	}
	after.conds = append(after.conds, "c.t < "+stride)
	// At most one of the two finds a row (the values only if fewer than
	// anchorStride keys tie): the LIMIT stops before counting the ties
	// when the first does.
	step := `SELECT * FROM ((` + pickKey(from, ties, terms, terms, skip) + `) UNION ALL (SELECT y.* FROM (SELECT count(*) AS t FROM (SELECT 1 FROM ` +
		from + ties.String() + ` LIMIT ` + stride + `) c) c CROSS JOIN LATERAL (` +
		pickKey(from, after, terms, terms, "GREATEST("+skip+" - c.t, 0)") + `) y)) x LIMIT 1`
	vals, err := s.runChain(ctx, chainQuery(pickKey(from, values, terms, terms, skip), step, terms, n), terms, w.args)
	if err != nil || len(vals) >= n {
		return vals, err
	}
	// The values after the last anchor (all, if none) precede the NULLs'
	// first anchor: the ties after it, then the values after those.
	r := 0
	for _, p := range []nullablePart{partTies, partValues} {
		rest := whereClause{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
		switch {
		case len(vals) > 0:
			rest.addPart(p, terms, vals[len(vals)-1], true, joinID)
		case p == partValues:
			continue
		default: // all of them
			rest = values
		}
		var c int
		count := `SELECT count(*) FROM (SELECT 1 FROM ` + from + rest.String() + ` LIMIT ` + stride + `) c`
		if listQueryHook != nil {
			listQueryHook(count, rest.args)
		}
		if err := s.read.QueryRowContext(ctx, count, s.planned(rest.args)...).Scan(&c); err != nil {
			return nil, err
		}
		r += c
	}
	if r >= anchorStride {
		return nil, fmt.Errorf("finding anchors: %d keys with a value after the last anchor", r)
	}
	// The NULLs, by id.
	nulls := whereClause{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	nulls.addPart(partNulls, terms, nil, true, joinID)
	step2, err := chainStep(w, len(terms), part(partNulls))
	if err != nil {
		return nil, err
	}
	more, err := s.runChain(ctx, chainQuery(pickKey(from, nulls, terms, terms[2:], strconv.Itoa(anchorStride-1-r)),
		pickKey(from, step2, terms, terms[2:], skip), terms, n-len(vals)), terms, w.args)
	return append(vals, more...), err
}

// chainStep returns w and the condition seek adds to it after an anchor,
// given the anchor's values as markers that it binds as arguments: those
// arguments become the columns of the chain's last anchor (a.v0 …).
func chainStep(w whereClause, nTerms int, seek func(step *whereClause, markers []any)) (whereClause, error) {
	markers := make([]any, nTerms)
	for i := range markers {
		markers[i] = fmt.Sprintf("\x00anchor %d", i)
	}
	step := whereClause{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	base, baseConds := len(step.args), len(step.conds)
	seek(&step, markers)
	var bad error
	for i := baseConds; i < len(step.conds); i++ {
		step.conds[i] = placeholder.ReplaceAllStringFunc(step.conds[i], func(p string) string {
			k, _ := strconv.Atoi(p[1:])
			var t int
			if m, ok := step.args[k-1].(string); !ok || k <= base || !strings.HasPrefix(m, "\x00anchor ") {
				bad = fmt.Errorf("finding anchors: the seek refers to %s", p)
			} else if _, err := fmt.Sscanf(m, "\x00anchor %d", &t); err != nil {
				bad = fmt.Errorf("finding anchors: %w", err)
			}
			return fmt.Sprintf("a.v%d", t)
		})
	}
	step.args = step.args[:base]
	return step, bad
}

// pickKey returns the query of the sort values (terms) of the row of from
// matching w that is offset rows into the order of order.
func pickKey(from string, w whereClause, terms, order []keyOrderTerm, offset string) string {
	var cols []string
	for i, t := range terms {
		cols = append(cols, fmt.Sprintf("%s AS v%d", t.expr, i))
	}
	return `SELECT ` + strings.Join(cols, ", ") + ` FROM ` + from + w.String() + orderByOf(order) + ` LIMIT 1 OFFSET ` + offset
}

// chainQuery returns the recursive statement of at most n anchors: the row
// of seed, then, from each anchor (a, whose values step refers to as a.v0
// …), the row of step; both of the values of terms.
func chainQuery(seed, step string, terms []keyOrderTerm, n int) string {
	var refs []string
	for i := range terms {
		refs = append(refs, fmt.Sprintf("v%d", i))
	}
	return `WITH RECURSIVE a AS ((SELECT 1 AS n, s.* FROM (` + seed + `) s) UNION ALL SELECT a.n + 1, x.* FROM a CROSS JOIN LATERAL (` +
		step + fmt.Sprintf(`) x WHERE a.n < %d) SELECT `, n) + strings.Join(refs, ", ") + ` FROM a ORDER BY n`
}

// runChain runs a statement of chainQuery of terms.
func (s *store) runChain(ctx context.Context, query string, terms []keyOrderTerm, args []any) ([][]any, error) {
	if listQueryHook != nil {
		listQueryHook(query, args)
	}
	return s.queryValues(ctx, len(terms), query, s.planned(args)...)
}

// placeholder matches a query's placeholders ($1).
var placeholder = regexp.MustCompile(`\$[0-9]+`)

// ownerNameAnchorChain returns, on PostgreSQL, the sort values (the
// lowercased owner's name, "" for none, and the id) of the first n anchors
// of a list sorted by the owner's name (desc: -userName) of the keys of
// tenantID matching w, in at most three statements whatever n, reading
// each of the two sources of listByOwnerName (whose queries these mirror)
// as its loop of anchoredPage does: a chain over the first source (the
// keys without an owner ascending, by id; the owners descending, in name
// order with each one's keys by id); if the list holds fewer anchors, the
// count of that source's keys after the last (fewer than anchorStride);
// then a chain over the second source, the first anchor that many keys
// nearer its start. A step among the owners, as nullableAnchorChain's
// among values, picks the anchor among the keys of the last anchor's
// owner after it (its index sought at the id) or, if fewer than
// anchorStride, counts them and picks it among the owners named after: one
// order of two terms would read the owner's keys from its first (-userName
// at a million keys: 250 anchors in 254 s through the loop, 0.34 s here).
func (s *store) ownerNameAnchorChain(ctx context.Context, tenantID string, w whereClause, desc bool, n int) ([][]any, error) {
	dir, op := " ASC", " > "
	if desc {
		dir, op = " DESC", " < "
	}
	terms := []keyOrderTerm{{expr: "s0"}, {expr: "s1"}}
	// unowned returns the keys without an owner after the anchor a (none:
	// from the first), by id, as listByOwnerName's source.
	unowned := func(a bool) (string, []any) {
		q := whereClause{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
		q.conds = append(q.conds, "k.owner_id IS NULL")
		if a {
			q.conds = append(q.conds, "k.id > a.v1")
		}
		// By id, as ordered by the columns of api_keys_tenant_owner_id
		// (the tenant and owner are the same in every row): not knowing
		// the anchor, PostgreSQL would walk the primary key instead,
		// reading each key's row for its owner (900 ms, not 300, for 250
		// anchors).
		return `SELECT '' AS s0, k.id AS s1 FROM api_keys k` + q.String() + ` ORDER BY k.tenant_id, k.owner_id, k.id`, q.args
	}
	// owned returns the owned keys of the owners named after the anchor a
	// (strictly; none: from the first), in the owners' name order, each
	// one's keys by id, at most limit of each owner's (as listByOwnerName's
	// source: the lateral bounds what PostgreSQL sorts).
	tenant := "$" + strconv.Itoa(len(w.args)+1)
	ownedArgs := append(slices.Clone(w.args), tenantID)
	owned := func(a bool, limit string) string {
		name := "lower(u.user_name)"
		conds := []string{"u.tenant_id = " + tenant}
		if a {
			conds = append(conds, name+op+"a.v0")
		}
		inner := whereClause{conds: append(slices.Clone(w.conds), "k.owner_id = u.id")}
		return `SELECT ` + name + ` AS s0, k.id AS s1 FROM users u CROSS JOIN LATERAL (SELECT k.id FROM api_keys k` +
			inner.String() + ` ORDER BY k.id LIMIT ` + limit + `) k WHERE ` + strings.Join(conds, " AND ") +
			` ORDER BY ` + name + dir + `, k.id ASC`
	}
	// ties returns the keys of the anchor a's owner (one user a name) after
	// it, by id: its owner's index sought at the anchor, where the owned
	// keys after the anchor, read as one order, would be read from the
	// owner's first key (the cursor is two terms).
	ties := func() string {
		q := whereClause{conds: append(slices.Clone(w.conds), "k.owner_id = (SELECT u.id FROM users u WHERE u.tenant_id = "+tenant+
			" AND lower(u.user_name) = a.v0)", "k.id > a.v1")}
		return `SELECT a.v0 AS s0, k.id AS s1 FROM api_keys k` + q.String() + ` ORDER BY k.id`
	}
	// pick returns the query of the key offset keys into a source's query.
	pick := func(query, offset string) string {
		return `SELECT s.s0 AS v0, s.s1 AS v1 FROM (` + query + `) s LIMIT 1 OFFSET ` + offset
	}
	type source func(a bool, offset int) (string, []any)
	uns := func(a bool, offset int) (string, []any) {
		q, args := unowned(a)
		return pick(q, strconv.Itoa(offset)), args
	}
	ows := func(a bool, offset int) (string, []any) {
		off, lim := strconv.Itoa(offset), strconv.Itoa(offset+1)
		if !a {
			return pick(owned(false, lim), off), ownedArgs
		}
		// The ties after the anchor or, if fewer than offset+1, the keys
		// of the owners after: at most one finds a row, and the LIMIT
		// stops before counting the ties when the first does.
		return `SELECT * FROM ((` + pick(ties(), off) + `) UNION ALL (SELECT y.* FROM (SELECT count(*) AS t FROM (` + ties() +
			` LIMIT ` + lim + `) c) c CROSS JOIN LATERAL (` + pick(owned(true, lim), "GREATEST("+off+" - c.t, 0)") +
			`) y WHERE c.t < ` + lim + `)) x LIMIT 1`, ownedArgs
	}
	sources := []source{uns, ows}
	if desc {
		sources = []source{ows, uns}
	}
	// count returns the number of keys of a source after the anchor after
	// (nil: all), counting no further than anchorStride.
	count := func(after []any) (int, error) {
		var q string
		var args []any
		switch {
		case !desc:
			q, args = unowned(after != nil)
		case after != nil:
			q, args = `SELECT s1 FROM (`+ties()+`) t UNION ALL SELECT s1 FROM (`+owned(true, strconv.Itoa(anchorStride))+`) o`, ownedArgs
		default:
			q, args = owned(false, strconv.Itoa(anchorStride)), ownedArgs
		}
		query := `SELECT count(*) FROM (` + q + ` LIMIT ` + strconv.Itoa(anchorStride) + `) c`
		if after != nil {
			query = `SELECT count(*) FROM (SELECT $` + strconv.Itoa(len(args)+1) + `::text AS v0, $` + strconv.Itoa(len(args)+2) +
				`::text AS v1) a CROSS JOIN LATERAL (` + q + ` LIMIT ` + strconv.Itoa(anchorStride) + `) c`
			args = append(slices.Clone(args), after[0], after[1])
		}
		if listQueryHook != nil {
			listQueryHook(query, args)
		}
		var c int
		err := s.read.QueryRowContext(ctx, query, s.planned(args)...).Scan(&c)
		return c, err
	}
	seed, args := sources[0](false, anchorStride-1)
	step, _ := sources[0](true, anchorStride-1)
	vals, err := s.runChain(ctx, chainQuery(seed, step, terms, n), terms, args)
	if err != nil || len(vals) >= n {
		return vals, err
	}
	var last []any
	if len(vals) > 0 {
		last = vals[len(vals)-1]
	}
	r, err := count(last)
	if err != nil {
		return nil, err
	}
	if r >= anchorStride {
		return nil, fmt.Errorf("finding anchors: %d keys after the last anchor", r)
	}
	seed, args = sources[1](false, anchorStride-1-r)
	step, _ = sources[1](true, anchorStride-1)
	more, err := s.runChain(ctx, chainQuery(seed, step, terms, n-len(vals)), terms, args)
	return append(vals, more...), err
}
