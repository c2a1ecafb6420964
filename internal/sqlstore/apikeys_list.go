package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// keySortColumns maps APIKeyFilter.Sort fields to the expressions they sort
// by, and whether those can be NULL.
var keySortColumns = map[string]struct {
	expr     string
	nullable bool
}{
	"name":        {"lower(k.name)", false},
	"createdAt":   {"k.created_at", false},
	"lastUsedAt":  {"k.last_used_at", true},
	"expiresAt":   {"k.expires_at", true},
	"id":          {"k.id", false},
	"isActive":    {"k.is_active", false},
	"clientId":    {"lower(k.client_id)", false},
	"description": {"lower(k.description)", false},
	"deviceName":  {"lower(k.device_name)", false},
	"userName":    {"lower(COALESCE(u.user_name, ''))", false},
	"version":     {"k.version", false},
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

// keyOrderBy returns the ORDER BY clause of a key list sorted by sort: a
// comma-separated list of fields of keySortColumns, each optionally
// prefixed with "-" for descending; "" is "-createdAt". NULLs sort last in
// both directions, and ties are broken by id, ascending, so that pages
// never overlap.
func keyOrderBy(sort string) (string, error) {
	if sort == "" {
		sort = "-createdAt"
	}
	var terms []string
	for _, field := range strings.Split(sort, ",") {
		dir := "ASC"
		if f, ok := strings.CutPrefix(field, "-"); ok {
			field, dir = f, "DESC"
		}
		col, ok := keySortColumns[field]
		if !ok {
			return "", keyward.Errorf(keyward.EINVALID, "cannot sort api keys by %q", field)
		}
		nulls := ""
		if col.nullable {
			nulls = " NULLS LAST"
		}
		terms = append(terms, col.expr+" "+dir+nulls)
	}
	return " ORDER BY " + strings.Join(terms, ", ") + ", k.id ASC", nil
}

// ListAPIKeys returns one page of the keys of tenantID that match f, with
// the number of all matches:
//
//   - Query: the name contains it, ignoring ASCII case; %, _ and \ match
//     themselves.
//   - Status: "" or "all" any key; "active" active and not expired at
//     f.Now; "inactive" not active; "expired" expiresAt at or before f.Now.
//   - Permission: the key holds the permission of that name explicitly
//     (not through a composite).
//   - OwnerID: the key is owned by that user.
//   - Sort: see keyOrderBy; "name" ignores ASCII case.
//
// An unknown Status or Sort is EINVALID.
func (s *store) ListAPIKeys(ctx context.Context, tenantID string, f keyward.APIKeyFilter) (keyward.List[*keyward.APIKey], error) {
	list := keyward.List[*keyward.APIKey]{Items: []*keyward.APIKey{}, Page: f.Page}
	orderBy, err := keyOrderBy(f.Sort)
	if err != nil {
		return list, err
	}
	var w whereClause
	w.add("k.tenant_id = ?", tenantID)
	switch f.Status {
	case "", keyward.StatusAll:
	case keyward.StatusActive:
		w.add("k.is_active AND (k.expires_at IS NULL OR k.expires_at > ?)", s.ts(f.Now))
	case keyward.StatusInactive:
		w.conds = append(w.conds, "NOT k.is_active")
	case keyward.StatusExpired:
		w.add("k.expires_at <= ?", s.ts(f.Now))
	default:
		return list, keyward.Errorf(keyward.EINVALID, "unknown api key status %q", f.Status)
	}
	if f.Query != "" {
		w.add(`lower(k.name) LIKE ? ESCAPE '\'`, containsPattern(f.Query))
	}
	if f.Permission != "" {
		w.add(`EXISTS (SELECT 1 FROM api_key_permissions kp JOIN permissions p ON p.id = kp.permission_id
			WHERE kp.tenant_id = k.tenant_id AND kp.key_id = k.id AND p.name = ?)`, f.Permission)
	}
	if f.OwnerID != "" {
		w.add("k.owner_id = ?", f.OwnerID)
	}
	for _, c := range f.Conditions {
		if err := s.addCondition(&w, c); err != nil {
			return list, err
		}
	}

	err = s.read.QueryRowContext(ctx, `SELECT count(*) FROM api_keys k`+w.String(), w.args...).Scan(&list.TotalCount)
	if err != nil {
		return list, fmt.Errorf("counting api keys: %w", err)
	}
	if list.TotalCount <= f.Page.Offset() {
		return list, nil
	}
	n := len(w.args)
	args := append(w.args, f.Page.Size, f.Page.Offset())
	query := `SELECT ` + keyColumns + keyFrom + w.String() + orderBy +
		fmt.Sprintf(" LIMIT $%d OFFSET $%d", n+1, n+2)
	keys, err := s.queryKeys(ctx, query, args...)
	if err != nil {
		return list, fmt.Errorf("listing api keys: %w", err)
	}
	list.Items = keys
	return list, nil
}
