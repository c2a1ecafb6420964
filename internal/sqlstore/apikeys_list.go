package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward"
)

// keySortColumns maps APIKeyFilter.Sort fields to the expressions they sort
// by, and whether those can be NULL.
var keySortColumns = map[string]struct {
	expr     string
	kind     string // of a cursor's value: see keyOrderTerm
	nullable bool
}{
	"name":        {"lower(k.name)", "text", false},
	"createdAt":   {"k.created_at", "time", false},
	"lastUsedAt":  {lastUsedColumn, "time", true},
	"expiresAt":   {"k.expires_at", "time", true},
	"id":          {"k.id", "text", false},
	"isActive":    {"k.is_active", "bool", false},
	"clientId":    {"lower(k.client_id)", "text", false},
	"description": {"lower(k.description)", "text", false},
	"deviceName":  {"lower(k.device_name)", "text", false},
	"userName":    {"lower(COALESCE(u.user_name, ''))", "text", false},
	"version":     {"k.version", "int", false},
}

// lastUsedColumn is the expression of a key's last use.
const lastUsedColumn = "k.last_used_at"

// keyConditionColumns maps Condition fields to the expressions they test.
// userName is the owner's, read by a subquery so that the count needs no
// join. "permissions" is not here: it tests membership (see addCondition).
var keyConditionColumns = map[string]string{
	"id": "k.id", "isActive": "k.is_active", "name": "k.name", "createdAt": "k.created_at",
	"clientId": "k.client_id", "description": "k.description", "deviceName": "k.device_name",
	"userName": "COALESCE((SELECT uc.user_name FROM users uc WHERE uc.tenant_id = k.tenant_id AND uc.id = k.owner_id), '')",
	"version":  "k.version",
}

// keyPermissionExists tests, for the condition "permissions", whether the
// key holds explicitly a permission whose name satisfies the test that %s
// stands for.
const keyPermissionExists = `EXISTS (SELECT 1 FROM api_key_permissions kpc JOIN permissions pc ON pc.id = kpc.permission_id
	WHERE kpc.tenant_id = k.tenant_id AND kpc.key_id = k.id AND %s)`

var conditionOps = map[string]string{"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

// addCondition adds c to w. Values are bound as arguments, never spliced.
func (s *store) addCondition(w *whereClause, c keyward.Condition) error {
	if c.Field == "permissions" && len(c.Values) > 0 {
		// A test on a set: eq, in and contains hold when some permission
		// passes; neq when none equals the value.
		inner := c
		inner.Field = "pc.name"
		negate := c.Op == "neq"
		if negate {
			inner.Op = "eq"
		}
		var sub whereClause
		sub.args = w.args
		if err := s.addConditionOn(&sub, "pc.name", inner); err != nil {
			return err
		}
		w.args = sub.args
		cond := fmt.Sprintf(keyPermissionExists, sub.conds[0])
		if negate {
			cond = "NOT " + cond
		}
		w.conds = append(w.conds, cond)
		return nil
	}
	col, ok := keyConditionColumns[c.Field]
	if !ok || len(c.Values) == 0 {
		return keyward.Errorf(keyward.EINVALID, "cannot filter api keys by %q", c.Field)
	}
	return s.addConditionOn(w, col, c)
}

// addConditionOn adds c, testing the expression col.
func (s *store) addConditionOn(w *whereClause, col string, c keyward.Condition) error {
	if len(c.Values) == 0 {
		return keyward.Errorf(keyward.EINVALID, "cannot filter api keys by %q", c.Field)
	}
	arg := func(v any) any {
		if t, ok := v.(time.Time); ok {
			return s.ts(t)
		}
		return v
	}
	switch c.Op {
	case "in":
		var ph []string
		for _, v := range c.Values {
			w.args = append(w.args, arg(v))
			ph = append(ph, "$"+strconv.Itoa(len(w.args)))
		}
		w.conds = append(w.conds, col+" IN ("+strings.Join(ph, ", ")+")")
	case "contains":
		v, ok := c.Values[0].(string)
		if !ok {
			return keyward.Errorf(keyward.EINVALID, "contains needs a text field")
		}
		w.add("lower("+col+`) LIKE ? ESCAPE '\'`, containsPattern(v))
	default:
		op, ok := conditionOps[c.Op]
		if !ok {
			return keyward.Errorf(keyward.EINVALID, "unknown operator %q", c.Op)
		}
		w.add(col+" "+op+" ?", arg(c.Values[0]))
	}
	return nil
}

// listCountCap bounds the matches a key list counts exactly: beyond it
// the count is an estimate (List.TotalEstimated), and the page is found by
// walking the index of its order, testing the filters on each key (at that
// density a page is found after some thousands of keys at most).
var listCountCap = 1000

// listQueryHook, when set (by tests), is called with each query that reads
// the keys or sort values of a list, and its arguments.
var listQueryHook func(query string, args []any)

// ListAPIKeys returns one page of the keys of tenantID that match f, with
// the number of all matches (exact up to listCountCap, else an estimate):
//
//   - Query: the name contains it, ignoring ASCII case; %, _ and \ match
//     themselves.
//   - Status: "" or "all" any key; "active" active and not expired at
//     f.Now; "inactive" not active; "expired" expiresAt at or before f.Now.
//   - Permission: the key holds the permission of that name explicitly
//     (not through a composite).
//   - OwnerID: the key is owned by that user.
//   - Sort: a comma-separated list of fields of keySortColumns, each
//     optionally prefixed with "-" for descending; "" is "-createdAt".
//     NULLs sort last in both directions, "name" ignores ASCII case, and
//     ties are broken by id, ascending, so that pages never overlap.
//   - Cursor: the page starts after the key of a NextCursor (keyset
//     paging); else at f.Page's offset. NextCursor is set when more keys
//     follow the page.
//
// An unknown Status or Sort, or a cursor of another sort, is EINVALID.
//
// On SQLite the keys are first counted from the most selective source: a
// name's trigram index, a permission's keys, or the table. Up to
// listCountCap matches, the page is sorted from that source too; beyond,
// the list walks its order instead.
func (s *store) ListAPIKeys(ctx context.Context, tenantID string, f keyward.APIKeyFilter) (keyward.List[*keyward.APIKey], error) {
	list := keyward.List[*keyward.APIKey]{Items: []*keyward.APIKey{}, Page: f.Page}
	terms, err := keyOrder(f.Sort)
	if err != nil {
		return list, err
	}
	// On PostgreSQL the last uses sort from key_last_used, which holds
	// them and their indexes (00025): one row a key, joined by the primary
	// key, whose key_id is then the tie-breaker.
	sortJoin := ""
	for i, t := range terms {
		if s.pg && strings.Contains(t.expr, lastUsedColumn) {
			terms[i].expr = strings.ReplaceAll(t.expr, lastUsedColumn, "l.last_used_at")
			sortJoin = ` JOIN key_last_used l ON l.tenant_id = k.tenant_id AND l.key_id = k.id`
		}
	}
	if sortJoin != "" {
		terms[len(terms)-1].expr = "l.key_id"
	}
	var after []any
	if f.Cursor != "" {
		if after, err = s.decodeKeyCursor(f.Cursor, f.Sort, terms); err != nil {
			return list, err
		}
	}
	var w whereClause
	w.add("k.tenant_id = ?", tenantID)
	switch f.Status {
	case "", keyward.StatusAll:
	case keyward.StatusActive:
		w.add("k.is_active = ?", true)
		w.add("(k.expires_at IS NULL OR k.expires_at > ?)", s.ts(f.Now))
	case keyward.StatusInactive:
		w.add("k.is_active = ?", false)
	case keyward.StatusExpired:
		if !s.pg {
			// Equal to the index's second column, the expiry range is a
			// range of api_keys_tenant_expires_nulls or _desc (00016).
			w.conds = append(w.conds, "(k.expires_at IS NULL) = 0")
		}
		w.add("k.expires_at <= ?", s.ts(f.Now))
	default:
		return list, keyward.Errorf(keyward.EINVALID, "unknown api key status %q", f.Status)
	}
	var nameConds []int    // the name's tests in w.conds
	var namePatterns []any // and the patterns its index searches for
	if f.Query != "" {
		nameConds = []int{len(w.conds)}
		namePatterns = []any{containsPattern(f.Query)}
		if seg := s.rarestSegment(ctx, tenantID, f.Query); seg != "" {
			nameConds = append(nameConds, len(w.conds)+1)
			namePatterns = []any{containsPattern(seg)}
			// The trigram index is searched for the rarest word only; the
			// whole query tests each key it finds (IS TRUE keeps it out of
			// the index search, which would read the long lists of the
			// common words' trigrams: 80 ms for "service 12345").
			w.add(`lower(k.name) LIKE ? ESCAPE '\'`, containsPattern(seg))
			w.add(`(lower(k.name) LIKE ? ESCAPE '\') IS TRUE`, containsPattern(f.Query))
		} else {
			w.add(`lower(k.name) LIKE ? ESCAPE '\'`, containsPattern(f.Query))
		}
	}
	permissionID, permCond, permArg := "", -1, 0
	if f.Permission != "" {
		err := s.read.QueryRowContext(ctx, `SELECT id FROM permissions WHERE tenant_id = $1 AND name = $2`,
			tenantID, f.Permission).Scan(&permissionID)
		if errors.Is(err, sql.ErrNoRows) {
			return list, nil // no such permission: no key holds it
		}
		if err != nil {
			return list, fmt.Errorf("reading a permission: %w", err)
		}
		permCond = len(w.conds)
		w.add(`EXISTS (SELECT 1 FROM api_key_permissions kp
			WHERE kp.tenant_id = k.tenant_id AND kp.key_id = k.id AND kp.permission_id = ?)`, permissionID)
		permArg = len(w.args)
	}
	if f.OwnerID != "" {
		w.add("k.owner_id = ?", f.OwnerID)
	}
	for _, c := range f.Conditions {
		if err := s.addCondition(&w, c); err != nil {
			return list, err
		}
	}

	// The source of the keys: on SQLite, the keys whose names hold the
	// query's trigrams, or those holding the permission, joined in this
	// order (CROSS JOIN); the filters above still test every key.
	from := "api_keys k"
	var src whereClause
	src.args = slices.Clone(w.args)
	conds := w.conds
	switch {
	case s.pg && permissionID != "":
		// The keys holding the permission, joined to theirs: the planner
		// reads them from the permission's side when it is rare (its
		// statistics say how rare), which the EXISTS cannot tell it.
		from = `api_key_permissions kps JOIN api_keys k ON k.tenant_id = kps.tenant_id AND k.id = kps.key_id`
		conds = slices.Clone(conds) // the join tests the permission, not the EXISTS
		conds[permCond] = "kps.permission_id = $" + strconv.Itoa(permArg)
	case s.pg:
	case utf8.RuneCountInString(f.Query) >= 3:
		from = `api_key_names_fts CROSS JOIN api_key_names n ON n.id = api_key_names_fts.rowid
			CROSS JOIN api_keys k ON k.tenant_id = n.tenant_id AND k.id = n.key_id`
		src.add("api_key_names_fts MATCH ?", `"`+strings.ReplaceAll(f.Query, `"`, `""`)+`"`)
		src.add("n.tenant_id = ?", tenantID)
	case permissionID != "":
		from = `api_key_permissions kps CROSS JOIN api_keys k ON k.tenant_id = kps.tenant_id AND k.id = kps.key_id`
		src.add("kps.permission_id = ?", permissionID)
	}
	src.conds = append(src.conds, conds...)

	count, countArgs := `SELECT 1 FROM `+from+src.String(), src.args
	if strings.HasPrefix(from, "api_key_names_fts") && f.Status == "" && f.Permission == "" && f.OwnerID == "" && len(f.Conditions) == 0 {
		// A name search alone: the names need not be joined to the keys.
		count = `SELECT 1 FROM api_key_names_fts CROSS JOIN api_key_names n ON n.id = api_key_names_fts.rowid
			WHERE api_key_names_fts MATCH $1 AND n.tenant_id = $2 AND lower(n.name) LIKE $3 ESCAPE '\'`
		countArgs = []any{`"` + strings.ReplaceAll(f.Query, `"`, `""`) + `"`, tenantID, containsPattern(f.Query)}
	}
	if permissionID != "" && f.Status == "" && f.Query == "" && f.OwnerID == "" && len(f.Conditions) == 0 {
		// A permission alone: its keys are counted without reading them.
		count = `SELECT 1 FROM api_key_permissions kps WHERE kps.tenant_id = $1 AND kps.permission_id = $2`
		countArgs = []any{tenantID, permissionID}
	}
	n, err := s.countCapped(ctx, count, countArgs...)
	if err != nil {
		return list, fmt.Errorf("counting api keys: %w", err)
	}
	list.TotalCount = n
	if n > listCountCap {
		// Many matches: walk the order's index.
		list.TotalEstimated = true
		if est := s.estimateKeys(ctx, w); est > n {
			list.TotalCount = est
		}
		if !s.pg && len(w.conds) == 1 { // every key of the tenant: counted by triggers
			if err := s.read.QueryRowContext(ctx, `SELECT n FROM api_key_counts WHERE tenant_id = $1`, tenantID).Scan(&list.TotalCount); err != nil {
				return list, fmt.Errorf("counting api keys: %w", err)
			}
			list.TotalEstimated = false
		}
		if list.TotalEstimated && f.ExactCount {
			if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (`+count+`) c`, s.planned(countArgs)...).Scan(&list.TotalCount); err != nil {
				return list, fmt.Errorf("counting api keys: %w", err)
			}
			list.TotalEstimated = false
		}
		from, src = "api_keys k", w
		idx := walkIndex(f)
		if first, _, _ := strings.Cut(f.Sort, ","); idx == "" && !s.pg && strings.TrimPrefix(first, "-") == "id" {
			// The primary key (tenant_id, id), whose name SQLite makes up.
			if err := s.read.QueryRowContext(ctx, `SELECT name FROM pragma_index_list('api_keys') WHERE origin = 'pk'`).Scan(&idx); err != nil {
				return list, fmt.Errorf("finding the api keys' primary key: %w", err)
			}
		}
		if idx != "" && !s.pg {
			from += " INDEXED BY " + idx
		}
	} else if f.Cursor == "" && n <= f.Page.Offset() {
		return list, nil
	}

	walk := n > listCountCap
	// Sorted by last use alone, with no filter but the tenant, rows are
	// skipped (to an anchor, to a deep page) in key_last_used's index
	// alone, without a key read each: every key has its row there.
	lastUseOnly := walk && sortJoin != "" && len(w.conds) == 1 && w.conds[0] == "k.tenant_id = $1" &&
		!slices.ContainsFunc(terms, func(t keyOrderTerm) bool { return strings.Contains(t.expr, "k.") })
	const users = ` LEFT JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.owner_id`
	// fetchPart reads the keys of part of the list (see nullablePart).
	fetchPart := func(st *store, part nullablePart, after []any, offset, size int, valsOnly bool) ([]*keyward.APIKey, [][]any, error) {
		from := from + sortJoin
		pw := whereClause{conds: slices.Clone(src.conds), args: slices.Clone(src.args)}
		order := terms
		if part == partAll {
			if after != nil {
				pw.addAfter(terms, after)
			}
		} else {
			joinID := ""
			if sortJoin != "" {
				joinID = "k.id" // else a merge join reads the keys from the first
			}
			pw.addPart(part, terms, after, st.pg, joinID)
			switch {
			case part == partNulls:
				order = terms[2:] // by id alone
			case st.pg:
			case part == partTies:
				order = terms[2:]
			default:
				// SQLite sorts by an index's expression it tests for
				// equality (a temporary B-tree of every key after), but
				// not by the columns after it.
				order = terms[1:]
			}
		}
		args := append(pw.args, size)
		limit := fmt.Sprintf(" LIMIT $%d", len(args))
		if after == nil || offset > 0 {
			args = append(args, offset)
			limit += fmt.Sprintf(" OFFSET $%d", len(args))
		}
		var extra []string
		for _, t := range terms {
			extra = append(extra, t.expr)
		}
		inner := from
		if strings.Contains(strings.Join(extra, ""), "u.") { // the owner's name sorts
			inner += users
		}
		skipFrom, skipCols, sw := inner, "k.tenant_id, k.id", pw
		if lastUseOnly {
			sw.conds = slices.Clone(pw.conds)
			sw.conds[0] = "l.tenant_id = $1"
			for i, c := range sw.conds {
				if rest, ok := strings.CutPrefix(c, "k.id > "); ok { // key_last_used alone
					sw.conds[i] = "l.key_id > " + rest
				}
			}
			skipFrom, skipCols = "key_last_used l", "l.tenant_id, l.key_id"
		}
		if valsOnly {
			// An anchor: the sort values of one key, reading the index.
			query := `SELECT ` + strings.Join(extra, ", ") + ` FROM ` + skipFrom + sw.String() + orderByOf(order) + limit
			if listQueryHook != nil {
				listQueryHook(query, args)
			}
			vals, err := st.queryValues(ctx, len(terms), query, st.planned(args)...)
			return nil, vals, err
		}
		query := `SELECT ` + st.keyCols() + ", " + strings.Join(extra, ", ") + ` FROM ` + from + users + pw.String() + orderByOf(order) + limit
		switch {
		case !walk:
			// Few matches: find them all by the filters' own indexes, then
			// sort them. The subquery, not flattened (an OFFSET keeps both
			// databases from merging it), keeps the planner from walking the
			// order's index past every other key for a rare match: SQLite
			// did, for 10 keys of an owner among 1,000,000 (4 s).
			noFlatten := " OFFSET 0"
			if !st.pg {
				noFlatten = " LIMIT -1 OFFSET 0" // SQLite's OFFSET needs a LIMIT
			}
			var order []string
			for i, t := range terms {
				dir := " ASC"
				if t.desc {
					dir = " DESC"
				}
				order = append(order, fmt.Sprintf("s%d", i)+dir)
				extra[i] += fmt.Sprintf(" AS s%d", i)
			}
			query = `SELECT * FROM (SELECT ` + st.keyCols() + ", " + strings.Join(extra, ", ") + ` FROM ` + from + users + pw.String() +
				noFlatten + `) k ORDER BY ` + strings.Join(order, ", ") + limit
		case offset > 0:
			// A deep page by number: skip the rows reading only the index
			// (their ids), then read the page's keys.
			query = `SELECT ` + st.keyCols() + ", " + strings.Join(extra, ", ") + ` FROM api_keys k` + sortJoin + users +
				` WHERE (k.tenant_id, k.id) IN (SELECT ` + skipCols + ` FROM ` + skipFrom + sw.String() + orderByOf(order) + limit +
				`)` + orderByOf(terms)
		}
		if listQueryHook != nil {
			listQueryHook(query, args)
		}
		return st.queryKeysWith(ctx, len(terms), query, st.planned(args)...)
	}
	// Sorted by one nullable field over many keys, a list after a key is
	// read in ranges of the order's index, each sought (see nullablePart).
	nullSplit := walk && len(terms) == 3 && terms[1].nullable
	fetch := func(st *store, after []any, offset, size int, valsOnly bool) ([]*keyward.APIKey, [][]any, error) {
		switch {
		case walk && (f.Sort == "userName" || f.Sort == "-userName"):
			return st.listByOwnerName(ctx, tenantID, w, f.Sort == "-userName", after, offset, size)
		case !nullSplit || after == nil:
			return fetchPart(st, partAll, after, offset, size, valsOnly)
		case after[1] == nil: // among the NULLs
			return fetchPart(st, partNulls, after, offset, size, valsOnly)
		}
		// The ties, the values after, then the NULLs: from each part the
		// keys the others leave; an offset past a part is diminished by
		// its keys.
		var keys []*keyward.APIKey
		var vals [][]any
		for _, part := range []nullablePart{partTies, partValues, partNulls} {
			from := after
			if part == partNulls {
				from = nil
			}
			k, v, err := fetchPart(st, part, from, offset, size-len(vals), valsOnly)
			if err != nil {
				return nil, nil, err
			}
			keys, vals = append(keys, k...), append(vals, v...)
			switch {
			case len(vals) >= size:
				return keys, vals, nil
			case len(v) > 0:
				offset = 0
			case offset > 0 && part != partNulls:
				_, skipped, err := fetchPart(st, part, from, 0, offset, true)
				if err != nil {
					return nil, nil, err
				}
				offset -= len(skipped)
			}
		}
		return keys, vals, nil
	}
	offset := f.Page.Offset()
	if f.Cursor != "" {
		offset = 0
	}
	var keys []*keyward.APIKey
	var vals [][]any
	if walk && after == nil && offset >= anchorStride && s.anchors != nil && s.tx == nil {
		// Deep in many keys: from the nearest page anchor.
		var chain anchorFinder // the anchors found at once
		switch {
		case !s.pg:
		case f.Sort == "userName" || f.Sort == "-userName":
			// As listByOwnerName reads its two sources (ownerNameAnchorChain).
			chain = func(st *store, n int) ([][]any, error) {
				return st.ownerNameAnchorChain(ctx, tenantID, w, f.Sort == "-userName", n)
			}
		case nullSplit:
			// As fetchPart reads the part's anchors (nullableAnchorChain).
			cf, cw, joinID := "api_keys k"+sortJoin, w, ""
			if lastUseOnly {
				cf, cw.conds = "key_last_used l", []string{"l.tenant_id = $1"}
			} else if sortJoin != "" {
				joinID = "k.id"
			}
			chain = func(st *store, n int) ([][]any, error) { return st.nullableAnchorChain(ctx, cf, cw, terms, joinID, n) }
		case sortJoin == "" && !slices.ContainsFunc(terms, func(t keyOrderTerm) bool {
			return t.nullable || strings.Contains(t.expr, "u.")
		}):
			chain = func(st *store, n int) ([][]any, error) { return st.anchorChain(ctx, w, terms, n) }
		}
		keys, vals, err = s.anchoredPage(ctx, tenantID, f, permissionID, terms, offset, fetch, chain)
	} else {
		done := false
		if s.pg && walk && nameConds != nil && sortJoin == "" && !nullSplit && f.Sort != "userName" && f.Sort != "-userName" {
			// A name search: first a bounded walk (apikeys_namewalk.go).
			nw := nameWalk{terms: terms, w: w, nameConds: nameConds, patterns: namePatterns, tenantID: tenantID}
			keys, vals, done, err = s.boundedNameWalk(ctx, nw, after, offset, f.Page.Size+1)
		}
		if err == nil && !done {
			keys, vals, err = fetch(s, after, offset, f.Page.Size+1, false)
		}
	}
	if err != nil {
		return list, fmt.Errorf("listing api keys: %w", err)
	}
	if len(keys) > f.Page.Size {
		keys = keys[:f.Page.Size]
		list.NextCursor = encodeKeyCursor(f.Sort, vals[f.Page.Size-1])
	}
	list.Items = keys
	return list, nil
}

// listByOwnerName returns, for sort=userName (desc: -userName) and many
// matches of w, need keys from skip keys after the cursor values after (if
// any) and their sort values: the order is the owner's lowercased user name, ” for
// a key without one, then the id, ascending. Sorting a join by a column of
// the other table reads every key; instead the list walks two sources in
// turn, each in the order of an index: the keys without an owner (id
// order, api_keys_tenant_owner_id), and the owners in name order
// (users_tenant_user_name, unique: one user a name) with each owner's keys
// in id order. Ascending, the keys without an owner come first; descending,
// last. Names are never empty, so no owner ties with them.
func (s *store) listByOwnerName(ctx context.Context, tenantID string, w whereClause, desc bool, after []any, skip, need int) ([]*keyward.APIKey, [][]any, error) {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	// A cursor's name says which sources lie after it: one of an owned key
	// is past every key without an owner (ascending) or before them all;
	// the cursor's position applies within its own source only.
	afterName, afterID := "", ""
	if after != nil {
		afterName, _ = after[0].(string)
		afterID, _ = after[1].(string)
	}
	const users = ` LEFT JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.owner_id`
	// A source's query: of the keys, or of their sort values only (ids),
	// which reads the index alone when the filters do.
	cols := func(ids bool) string {
		if ids {
			return `SELECT `
		}
		return `SELECT ` + s.keyCols() + `, `
	}
	unowned := func(ids bool, limit, offset int) (string, []any) {
		q := whereClause{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
		q.conds = append(q.conds, "k.owner_id IS NULL")
		if after != nil && afterName == "" {
			q.add("k.id > ?", afterID)
		}
		from := "api_keys k"
		if !s.pg {
			from += " INDEXED BY api_keys_tenant_owner_id"
		}
		args := append(q.args, limit, offset)
		join := users
		if ids {
			join = ""
		}
		return cols(ids) + `'' AS s0, k.id AS s1 FROM ` + from + join + q.String() +
			fmt.Sprintf(` ORDER BY k.id LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args
	}
	owned := func(ids bool, limit, offset int) (string, []any) {
		q := whereClause{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
		name := "lower(u.user_name)"
		q.add("u.tenant_id = ?", tenantID)
		if after != nil && afterName != "" {
			op := " > "
			if desc {
				op = " < "
			}
			q.args = append(q.args, afterName, afterID)
			a, b := "$"+strconv.Itoa(len(q.args)-1), "$"+strconv.Itoa(len(q.args))
			q.conds = append(q.conds, "("+name+op+a+" OR ("+name+" = "+a+" AND k.id > "+b+"))")
		}
		args := append(q.args, limit, offset)
		limits := fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)-1, len(args))
		order := ` ORDER BY ` + name + dir + `, k.id ASC`
		if !s.pg {
			// The owners first (CROSS JOIN), each one's keys in id order.
			// The rowid, after a name that is unique already, tells SQLite
			// each step of the outer loop is one owner, so that the join
			// delivers the order (else it sorts each owner's keys: 3.7 s
			// for -userName at 1M keys).
			order := ` ORDER BY ` + name + dir + `, u.rowid` + dir + `, k.id ASC`
			return cols(ids) + name + ` AS s0, k.id AS s1 FROM users u
				CROSS JOIN api_keys k INDEXED BY api_keys_tenant_owner_id ON k.tenant_id = u.tenant_id AND k.owner_id = u.id` +
				q.String() + order + limits, args
		}
		// PostgreSQL would sort each owner's keys (incremental sort, by
		// groups of one name): taking at most limit+offset of each owner's
		// keys in id order first bounds what it sorts.
		inner := whereClause{conds: slices.Clone(w.conds), args: q.args}
		inner.conds = append(inner.conds, "k.owner_id = u.id")
		inner.conds = append(inner.conds, q.conds[len(w.conds)+1:]...) // the cursor's, in its owner's keys
		innerArgs := append(args[:len(args):len(args)], limit+offset)
		innerCols := "k.*"
		if ids {
			innerCols = "k.id"
		}
		return cols(ids) + name + ` AS s0, k.id AS s1 FROM users u CROSS JOIN LATERAL (SELECT ` + innerCols + ` FROM api_keys k` +
			inner.String() + fmt.Sprintf(` ORDER BY k.id LIMIT $%d) k`, len(innerArgs)) +
			` WHERE ` + strings.Join(q.conds[len(w.conds):], " AND ") + order + limits, innerArgs
	}
	var sources []func(bool, int, int) (string, []any)
	switch {
	case after == nil && desc:
		sources = append(sources, owned, unowned)
	case after == nil:
		sources = append(sources, unowned, owned)
	case afterName == "" && desc: // among the keys without an owner, the last
		sources = append(sources, unowned)
	case afterName == "":
		sources = append(sources, unowned, owned)
	case desc:
		sources = append(sources, owned, unowned)
	default:
		sources = append(sources, owned)
	}
	var keys []*keyward.APIKey
	var vals [][]any
	for i, source := range sources {
		if len(keys) >= need {
			break
		}
		if skip > 0 {
			// A page by number: find the key before it reading the sort
			// values only, then go on from it as from a cursor.
			query, args := source(true, 1, skip-1)
			var name, id string
			err := s.read.QueryRowContext(ctx, query, s.planned(args)...).Scan(&name, &id)
			switch {
			case err == nil:
				after, afterName, afterID, skip = []any{name, id}, name, id, 0
			case !errors.Is(err, sql.ErrNoRows):
				return nil, nil, err
			case i < len(sources)-1:
				// The offset passes this source: by how many keys?
				query, args := source(true, skip, 0)
				var n int
				if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (`+query+`) c`, s.planned(args)...).Scan(&n); err != nil {
					return nil, nil, err
				}
				skip -= n
				continue
			default:
				return keys, vals, nil // past the last key
			}
		}
		query, args := source(false, need-len(keys), 0)
		k, v, err := s.queryKeysWith(ctx, 2, query, s.planned(args)...)
		if err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k...), append(vals, v...)
	}
	return keys, vals, nil
}

// walkIndexes name, on SQLite, the index that walks the keys of a tenant
// in the order of a sort's first term, direction included.
var walkIndexes = map[string]string{
	"createdAt": "api_keys_tenant_created_asc", "-createdAt": "api_keys_tenant_created_id",
	"name": "api_keys_tenant_name_id", "-name": "api_keys_tenant_name_id",
	"isActive": "api_keys_tenant_active_id", "-isActive": "api_keys_tenant_active_desc",
	"lastUsedAt": "api_keys_tenant_last_used_asc", "-lastUsedAt": "api_keys_tenant_last_used_nulls",
	"expiresAt": "api_keys_tenant_expires_nulls", "-expiresAt": "api_keys_tenant_expires_desc",
	// The orders of the Portos dialect (00015); descending ones read the
	// index backwards.
	"clientId": "api_keys_tenant_client_id", "-clientId": "api_keys_tenant_client_id",
	"description": "api_keys_tenant_description_id", "-description": "api_keys_tenant_description_id",
	"deviceName": "api_keys_tenant_device_id", "-deviceName": "api_keys_tenant_device_id",
	"version": "api_keys_tenant_version_id", "-version": "api_keys_tenant_version_id",
}

// walkIndex returns the index a list of many matches of f walks on SQLite
// (whose planner, without statistics, would rather collect every key one
// filter's index finds and sort them): the order's, narrowed to the owner
// or the active flag in the default order. "" leaves the choice to SQLite.
func walkIndex(f keyward.APIKeyFilter) string {
	first, _, _ := strings.Cut(f.Sort, ",")
	if field := strings.TrimPrefix(first, "-"); field == "" || field == "createdAt" {
		switch {
		case f.OwnerID != "":
			return "api_keys_tenant_owner_created"
		case f.Status == keyward.StatusActive || f.Status == keyward.StatusInactive:
			return "api_keys_tenant_active_created"
		}
		return cmp.Or(walkIndexes[first], "api_keys_tenant_created_id")
	}
	return walkIndexes[first]
}

// rarestSegment returns, on PostgreSQL, the word of a name search query
// that the planner expects the fewest names to contain, when the query has
// two words or more of three characters or more (the words of pg_trgm:
// runs of letters and digits); else "".
func (s *store) rarestSegment(ctx context.Context, tenantID, query string) string {
	if !s.pg {
		return ""
	}
	words := strings.FieldsFunc(query, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	words = slices.DeleteFunc(words, func(w string) bool { return utf8.RuneCountInString(w) < 3 })
	if len(words) < 2 || len(words) > 4 {
		return ""
	}
	best, fewest := "", 0
	for _, word := range words {
		var w whereClause
		w.add("k.tenant_id = ?", tenantID)
		w.add(`lower(k.name) LIKE ? ESCAPE '\'`, containsPattern(word))
		if n := s.estimateKeys(ctx, w); best == "" || n < fewest {
			best, fewest = word, n
		}
	}
	return best
}

// planned returns the arguments of a list query. On PostgreSQL they are
// preceded by pgx's "exec" mode: the query is planned for these values
// each time, never by a cached generic plan, which knows neither how rare
// a permission nor how selective a name is (after five runs PostgreSQL
// would reuse a plan that, for a permission held by one key in a
// thousand, merges its keys with every key of the tenant).
func (s *store) planned(args []any) []any {
	if !s.pg {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// countCapped returns the number of rows of query, counting no further
// than listCountCap+1.
func (s *store) countCapped(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (`+query+fmt.Sprintf(` LIMIT %d) c`, listCountCap+1), s.planned(args)...).Scan(&n)
	return n, err
}

// estimateKeys returns the planner's estimate of the keys matching w on
// PostgreSQL, 0 when there is none (SQLite).
func (s *store) estimateKeys(ctx context.Context, w whereClause) int {
	if !s.pg {
		return 0
	}
	var plan []byte
	if err := s.read.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) SELECT 1 FROM api_keys k`+w.String(), w.args...).Scan(&plan); err != nil {
		return 0
	}
	var p []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if json.Unmarshal(plan, &p) != nil || len(p) == 0 {
		return 0
	}
	return int(p[0].Plan.Rows)
}
