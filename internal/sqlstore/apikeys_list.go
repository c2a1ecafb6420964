package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	"lastUsedAt":  {"k.last_used_at", "time", true},
	"expiresAt":   {"k.expires_at", "time", true},
	"id":          {"k.id", "text", false},
	"isActive":    {"k.is_active", "bool", false},
	"clientId":    {"lower(k.client_id)", "text", false},
	"description": {"lower(k.description)", "text", false},
	"deviceName":  {"lower(k.device_name)", "text", false},
	"userName":    {"lower(COALESCE(u.user_name, ''))", "text", false},
	"version":     {"k.version", "int", false},
}

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
// the count is an estimate (List.TotalEstimated), and the list walks its
// order's index testing the filters instead of first collecting every
// match (at that density a page is found after a few thousand rows).
const listCountCap = 10_000

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
func (s *store) ListAPIKeys(ctx context.Context, tenantID string, f keyward.APIKeyFilter) (keyward.List[*keyward.APIKey], error) {
	list := keyward.List[*keyward.APIKey]{Items: []*keyward.APIKey{}, Page: f.Page}
	terms, err := keyOrder(f.Sort)
	if err != nil {
		return list, err
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
		w.add("k.expires_at <= ?", s.ts(f.Now))
	default:
		return list, keyward.Errorf(keyward.EINVALID, "unknown api key status %q", f.Status)
	}
	if f.Query != "" {
		if err := s.addNameQuery(ctx, &w, tenantID, f.Query); err != nil {
			return list, err
		}
	}
	if f.Permission != "" {
		if err := s.addPermission(ctx, &w, tenantID, f.Permission); err != nil {
			return list, err
		}
	}
	if f.OwnerID != "" {
		w.add("k.owner_id = ?", f.OwnerID)
	}
	for _, c := range f.Conditions {
		if err := s.addCondition(&w, c); err != nil {
			return list, err
		}
	}

	n, err := s.countCapped(ctx, `SELECT 1 FROM api_keys k`+w.String(), w.args...)
	if err != nil {
		return list, fmt.Errorf("counting api keys: %w", err)
	}
	list.TotalCount = n
	if n > listCountCap {
		list.TotalEstimated = true
		if est := s.estimateKeys(ctx, w); est > n {
			list.TotalCount = est
		}
	} else if f.Cursor == "" && n <= f.Page.Offset() {
		return list, nil
	}

	pw := whereClause{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	if after != nil {
		pw.addAfter(terms, after)
	}
	args := append(pw.args, f.Page.Size+1)
	limit := fmt.Sprintf(" LIMIT $%d", len(args))
	if f.Cursor == "" {
		args = append(args, f.Page.Offset())
		limit += fmt.Sprintf(" OFFSET $%d", len(args))
	}
	var extra []string
	for _, t := range terms {
		extra = append(extra, t.expr)
	}
	query := `SELECT ` + keyColumns + ", " + strings.Join(extra, ", ") + keyFrom + pw.String() + orderByOf(terms) + limit
	keys, vals, err := s.queryKeysWith(ctx, len(terms), query, args...)
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

// countCapped returns the number of rows of query, counting no further
// than listCountCap+1.
func (s *store) countCapped(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (`+query+fmt.Sprintf(` LIMIT %d) c`, listCountCap+1), args...).Scan(&n)
	return n, err
}

// addNameQuery adds the name-contains test of q to w. The test is always
// lower(name) LIKE; on SQLite, when q has three characters or more and the
// trigram index finds at most listCountCap names of the tenant holding it,
// the candidates are first taken from that index (else the list walks its
// order, where common names are found soon). PostgreSQL's planner uses its
// trigram index for the LIKE itself.
func (s *store) addNameQuery(ctx context.Context, w *whereClause, tenantID, q string) error {
	if !s.pg && utf8.RuneCountInString(q) >= 3 {
		phrase := `"` + strings.ReplaceAll(q, `"`, `""`) + `"`
		const names = `SELECT n.key_id FROM api_key_names_fts f JOIN api_key_names n ON n.id = f.rowid
			WHERE api_key_names_fts MATCH ? AND n.tenant_id = ?`
		n, err := s.countCapped(ctx, strings.Replace(strings.Replace(names, "?", "$1", 1), "?", "$2", 1), phrase, tenantID)
		if err != nil {
			return fmt.Errorf("searching key names: %w", err)
		}
		if n <= listCountCap {
			w.addArgs("k.id IN ("+names+")", phrase, tenantID)
		}
	}
	w.add(`lower(k.name) LIKE ? ESCAPE '\'`, containsPattern(q))
	return nil
}

// addPermission adds to w that a key holds the permission named name
// explicitly: as a list of the permission's keys when it has at most
// listCountCap of them, else as a test of each key.
func (s *store) addPermission(ctx context.Context, w *whereClause, tenantID, name string) error {
	const held = `SELECT kp.key_id FROM api_key_permissions kp
		WHERE kp.permission_id = (SELECT p.id FROM permissions p WHERE p.tenant_id = ? AND p.name = ?) AND kp.tenant_id = ?`
	q := strings.Replace(strings.Replace(strings.Replace(held, "?", "$1", 1), "?", "$2", 1), "?", "$3", 1)
	n, err := s.countCapped(ctx, q, tenantID, name, tenantID)
	if err != nil {
		return fmt.Errorf("counting the keys of a permission: %w", err)
	}
	if n <= listCountCap {
		w.addArgs("k.id IN ("+held+")", tenantID, name, tenantID)
		return nil
	}
	w.add(`EXISTS (SELECT 1 FROM api_key_permissions kp JOIN permissions p ON p.id = kp.permission_id
			WHERE kp.tenant_id = k.tenant_id AND kp.key_id = k.id AND p.name = ?)`, name)
	return nil
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
