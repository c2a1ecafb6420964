package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyward/keyward"
)

// keySortColumns maps APIKeyFilter.Sort fields to the expressions they sort
// by, and whether those can be NULL.
var keySortColumns = map[string]struct {
	expr     string
	nullable bool
}{
	"name":       {"lower(k.name)", false},
	"createdAt":  {"k.created_at", false},
	"lastUsedAt": {"k.last_used_at", true},
	"expiresAt":  {"k.expires_at", true},
}

// keyOrderBy returns the ORDER BY clause of a key list sorted by sort: a
// field of keySortColumns, optionally prefixed with "-" for descending; ""
// is "-createdAt". NULLs sort last in both directions, and ties are broken
// by id, ascending, so that pages never overlap.
func keyOrderBy(sort string) (string, error) {
	if sort == "" {
		sort = "-createdAt"
	}
	dir := "ASC"
	if field, ok := strings.CutPrefix(sort, "-"); ok {
		sort, dir = field, "DESC"
	}
	col, ok := keySortColumns[sort]
	if !ok {
		return "", keyward.Errorf(keyward.EINVALID, "cannot sort api keys by %q", sort)
	}
	nulls := ""
	if col.nullable {
		nulls = " NULLS LAST"
	}
	return " ORDER BY " + col.expr + " " + dir + nulls + ", k.id ASC", nil
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
			WHERE kp.key_id = k.id AND p.name = ?)`, f.Permission)
	}
	if f.OwnerID != "" {
		w.add("k.owner_id = ?", f.OwnerID)
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
