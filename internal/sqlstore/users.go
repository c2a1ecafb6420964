package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyward/keyward"
)

const userColumns = `u.id, u.tenant_id, u.user_name, u.password_hash, u.level, u.is_active, u.created_at, u.updated_at, u.version, u.session_generation`

func scanUser(row interface{ Scan(...any) error }) (*keyward.User, error) {
	var u keyward.User
	err := row.Scan(&u.ID, &u.TenantID, &u.UserName, &u.PasswordHash, &u.Level, &u.IsActive,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, &u.Version, &u.SessionGeneration)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

const userConflict = "a user with this userName already exists"

// CreateUser stores a new user and the ids of its explicit permissions. A
// duplicate id, or a userName already in the tenant (compared
// case-insensitively), is ECONFLICT.
func (s *store) CreateUser(ctx context.Context, u *keyward.User) error {
	return s.atomic(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `
			INSERT INTO users (id, tenant_id, user_name, password_hash, level, is_active, created_at, updated_at, version,
				session_generation)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			u.ID, u.TenantID, u.UserName, u.PasswordHash, u.Level, u.IsActive, s.ts(u.CreatedAt), s.ts(u.UpdatedAt), u.Version,
			u.SessionGeneration)
		if err != nil {
			return writeError(err, "creating a user", userConflict)
		}
		return insertGrants(ctx, q, "user_permissions", "user_id", u.TenantID, u.ID, u.Permissions)
	})
}

// UpdateUser stores every field of u but ID, TenantID and CreatedAt,
// including the new Version, and replaces its permissions, if the stored
// version is expectVersion. A user missing from u.TenantID is ENOTFOUND,
// another stored version EVERSIONCONFLICT, a duplicate userName ECONFLICT.
func (s *store) UpdateUser(ctx context.Context, u *keyward.User, expectVersion int) error {
	return s.atomic(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `
			UPDATE users SET user_name = $1, password_hash = $2, level = $3, is_active = $4, updated_at = $5, version = $6,
				session_generation = $10
			WHERE id = $7 AND tenant_id = $8 AND version = $9`,
			u.UserName, u.PasswordHash, u.Level, u.IsActive, s.ts(u.UpdatedAt), u.Version, u.ID, u.TenantID, expectVersion,
			u.SessionGeneration)
		if err != nil {
			return writeError(err, "updating a user", userConflict)
		}
		err = s.checkUpdated(ctx, q, res, "user", `SELECT version FROM users WHERE id = $1 AND tenant_id = $2`,
			[]any{u.ID, u.TenantID}, expectVersion)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM user_permissions WHERE user_id = $1`, u.ID); err != nil {
			return fmt.Errorf("updating the permissions of a user: %w", err)
		}
		return insertGrants(ctx, q, "user_permissions", "user_id", u.TenantID, u.ID, u.Permissions)
	})
}

// DeleteUser deletes a user with its permissions and every key it owns. A
// user missing from tenantID is ENOTFOUND.
func (s *store) DeleteUser(ctx context.Context, tenantID, id string) error {
	return s.writeOne(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM users WHERE id = $1 AND tenant_id = $2`, id, tenantID)
		if err != nil {
			return writeError(err, "deleting a user", userConflict)
		}
		return checkDeleted(res, "user")
	})
}

// GetUser returns the user id of tenantID with its permissions, or
// ENOTFOUND.
func (s *store) GetUser(ctx context.Context, tenantID, id string) (*keyward.User, error) {
	return s.getUser(ctx, `WHERE u.id = $1 AND u.tenant_id = $2`, id, tenantID)
}

// GetUserByName returns the user of tenantID whose userName equals userName
// ignoring ASCII case, or ENOTFOUND.
func (s *store) GetUserByName(ctx context.Context, tenantID, userName string) (*keyward.User, error) {
	return s.getUser(ctx, `WHERE lower(u.user_name) = $1 AND u.tenant_id = $2`, foldCase(userName), tenantID)
}

func (s *store) getUser(ctx context.Context, where string, args ...any) (*keyward.User, error) {
	list, err := s.queryUsers(ctx, `SELECT `+userColumns+` FROM users u `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading a user: %w", err)
	} else if len(list) == 0 {
		return nil, notFound("user")
	}
	return list[0], nil
}

// ListUsers returns one page of the users of tenantID whose userName
// contains f.Query (ignoring ASCII case), ordered by lower(userName) then id.
func (s *store) ListUsers(ctx context.Context, tenantID string, f keyward.UserFilter) (keyward.List[*keyward.User], error) {
	list := keyward.List[*keyward.User]{Items: []*keyward.User{}, Page: f.Page}
	where, args := `WHERE u.tenant_id = $1`, []any{tenantID}
	if f.Query != "" {
		where += ` AND lower(u.user_name) LIKE $2 ESCAPE '\'`
		args = append(args, containsPattern(f.Query))
	}
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM users u `+where, args...).Scan(&list.TotalCount); err != nil {
		return list, fmt.Errorf("counting users: %w", err)
	}
	if list.TotalCount <= f.Page.Offset() {
		return list, nil
	}
	n := len(args)
	args = append(args, f.Page.Size, f.Page.Offset())
	users, err := s.queryUsers(ctx, fmt.Sprintf(`SELECT %s FROM users u %s ORDER BY %s LIMIT $%d OFFSET $%d`,
		userColumns, where, userOrder(f.Sort), n+1, n+2), args...)
	if err != nil {
		return list, fmt.Errorf("listing users: %w", err)
	}
	list.Items = users
	return list, nil
}

// userOrder is the ORDER BY of a user list sorted by sort (one of
// keyward.UserSorts; anything else is by userName), ties broken by name
// and id.
func userOrder(sort string) string {
	dir := "ASC"
	if strings.HasPrefix(sort, "-") {
		sort, dir = sort[1:], "DESC"
	}
	col := map[string]string{"level": "u.level", "isActive": "u.is_active", "createdAt": "u.created_at"}[sort]
	if col == "" {
		return "lower(u.user_name) " + dir + ", u.id " + dir
	}
	return col + " " + dir + ", lower(u.user_name), u.id"
}

// queryUsers runs a query selecting userColumns and loads the users'
// permissions.
func (s *store) queryUsers(ctx context.Context, query string, args ...any) ([]*keyward.User, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []*keyward.User{}
	var refs []keyward.KeyRef
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
		refs = append(refs, keyward.KeyRef{TenantID: u.TenantID, ID: u.ID})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	perms, err := s.loadPermissions(ctx, s.read, "user_permissions", "user_id", refs)
	if err != nil {
		return nil, err
	}
	limits, err := s.loadNamedLimits(ctx, s.read, "user_rate_limits", "user_id", refs)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		r := keyward.KeyRef{TenantID: u.TenantID, ID: u.ID}
		u.Permissions, u.RateLimits = perms[r], limits[r]
	}
	return users, nil
}
