package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward"
)

// A name search with other filters over many keys walks the order's index
// (narrowed to the owner, say), testing each key's name. When the names
// that match lie far down that order (a name given to a series of keys
// created long ago, searched among one owner's keys), the walk reads the
// keys before them all: 200,000 at a million keys, 91 ms on PostgreSQL
// (issue 13, name-correlated). There the keys the trigram index finds,
// filtered and sorted, are the cheaper source (a bitmap of 111,111 names,
// 28,000 kept, sorted: a fifth of that).
//
// So on PostgreSQL the walk is first bounded: a horizon, the first sort
// value of the boundedWalkKeys-th key of the tenant in the order (read
// from the order's index alone), then the walk with every filter up to
// that value. When that fills the page it is the page the whole walk
// finds, since those keys are the first of the order. Otherwise the
// matches are sparse early in the order, and the list is found from the
// filters' own indexes (the name's trigrams) and sorted, as for few
// matches, when the planner expects no more than nameSetMax names to hold
// the query; else the whole walk goes on.

// boundedWalkKeys is the keys of the tenant before the horizon: the
// bounded walk reads at most that many (about 5 ms on PostgreSQL), fewer
// when another filter narrows the walked index (an owner's).
var boundedWalkKeys = 10_000

// nameSetMax bounds the names matching a query (as PostgreSQL estimates
// them) that are read and sorted when the bounded walk did not fill the
// page.
const nameSetMax = 150_000

// boundedSorts are the first terms of the orders that a bound on their
// value narrows to the keys before the horizon: unique or nearly (not a
// flag, a version or a description most keys leave empty).
var boundedSorts = []string{"k.created_at", "lower(k.name)", "k.id", "lower(k.client_id)"}

// nameWalk is what a list needs to try the bounded walk.
type nameWalk struct {
	terms     []keyOrderTerm
	w         whereClause // every filter
	nameConds []int       // the indexes in w.conds of the name's tests
	patterns  []any       // the LIKE patterns of the name index's search
	tenantID  string
}

// boundedNameWalk returns, on PostgreSQL, size keys from offset after the
// key whose sort values are after (nil: from the first), with their sort
// values, and true; or false when the list is better walked whole.
func (s *store) boundedNameWalk(ctx context.Context, nw nameWalk, after []any, offset, size int) ([]*keyward.APIKey, [][]any, bool, error) {
	if offset+size > boundedWalkKeys/2 || !slices.Contains(boundedSorts, nw.terms[0].expr) {
		return nil, nil, false, nil
	}
	extra := columns(nw.terms)
	// The horizon: the first sort value of the boundedWalkKeys-th key of
	// the tenant in the order (after the cursor's key), read from the
	// order's index alone.
	hw := whereClause{conds: nw.w.conds[:1:1], args: []any{nw.tenantID}} // k.tenant_id = $1
	if after != nil {
		hw.addAfter(nw.terms, after)
	}
	hargs := append(hw.args, boundedWalkKeys-1)
	var horizon any
	err := s.read.QueryRowContext(ctx, `SELECT `+extra[0]+` FROM api_keys k`+hw.String()+orderByOf(nw.terms)+
		fmt.Sprintf(` LIMIT 1 OFFSET $%d`, len(hargs)), s.planned(hargs)...).Scan(&horizon)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, false, nil // fewer keys: the walk is short
	}
	if err != nil {
		return nil, nil, false, err
	}
	// The walk up to the horizon: the keys before it in the order, each
	// filtered, the same plan as the whole walk's with a bound.
	bw := whereClause{conds: slices.Clone(nw.w.conds), args: slices.Clone(nw.w.args)}
	for _, i := range nw.nameConds {
		// Tested on each key, not searched in the trigram index: with the
		// horizon's bound the planner would rather AND the two indexes'
		// bitmaps (270 ms for "alpha" among inactive keys, where walking
		// finds the page in 0.1 ms).
		if c := bw.conds[i]; !strings.HasSuffix(c, " IS TRUE") {
			bw.conds[i] = "(" + c + ") IS TRUE"
		}
	}
	if after != nil {
		bw.addAfter(nw.terms, after)
	}
	op := " <= ?"
	if nw.terms[0].desc {
		op = " >= ?"
	}
	bw.add(nw.terms[0].expr+op, horizon)
	args := append(bw.args, size, offset)
	query := `SELECT /* bounded walk */ ` + s.keyCols() + ", " + strings.Join(extra, ", ") +
		` FROM api_keys k LEFT JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.owner_id` + bw.String() +
		orderByOf(nw.terms) + fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)-1, len(args))
	if listQueryHook != nil {
		listQueryHook(query, args)
	}
	keys, vals, err := s.queryKeysWith(ctx, len(nw.terms), query, s.planned(args)...)
	if err != nil || len(keys) == size {
		return keys, vals, err == nil, err
	}
	// The page is not among the first keys: how many names match?
	var names whereClause
	names.add("k.tenant_id = ?", nw.tenantID)
	for _, p := range nw.patterns {
		names.add(`lower(k.name) LIKE ? ESCAPE '\'`, p)
	}
	if s.estimateKeys(ctx, names) > nameSetMax {
		return nil, nil, false, nil
	}
	// The matches found by the filters' own indexes (the subquery, not
	// flattened, keeps the planner from walking the order), then sorted.
	pw := whereClause{conds: slices.Clone(nw.w.conds), args: slices.Clone(nw.w.args)}
	if after != nil {
		pw.addAfter(nw.terms, after)
	}
	var order []string
	for i, t := range nw.terms {
		dir := " ASC"
		if t.desc {
			dir = " DESC"
		}
		order = append(order, fmt.Sprintf("s%d", i)+dir)
		extra[i] += fmt.Sprintf(" AS s%d", i)
	}
	// The ids (and sort values) of the matches only, then the page's keys:
	// each key's columns (its last use, its owner's name) are read for
	// the page, not for every match (a sort of 28,000 keys' whole rows
	// cost three times as much).
	args = append(pw.args, size, offset)
	query = `SELECT /* name set */ ` + s.keyCols() + ", " + strings.Join(columns(nw.terms), ", ") +
		` FROM api_keys k LEFT JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.owner_id WHERE (k.tenant_id, k.id) IN (` +
		`SELECT tenant_id, id FROM (SELECT k.tenant_id, k.id, ` + strings.Join(extra, ", ") + ` FROM api_keys k` + pw.String() +
		` OFFSET 0) q ORDER BY ` + strings.Join(order, ", ") + fmt.Sprintf(` LIMIT $%d OFFSET $%d)`, len(args)-1, len(args)) +
		orderByOf(nw.terms)
	if listQueryHook != nil {
		listQueryHook(query, args)
	}
	keys, vals, err = s.queryKeysWith(ctx, len(nw.terms), query, s.planned(args)...)
	return keys, vals, err == nil, err
}

// columns returns the expressions of terms.
func columns(terms []keyOrderTerm) []string {
	var out []string
	for _, t := range terms {
		out = append(out, t.expr)
	}
	return out
}
