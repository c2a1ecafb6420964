package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
)

// verificationQuery reads a key by secret hash with its owner's and
// tenant's state, its credits, the ids of its and its owner's explicit
// permissions and their named limits ("name limit window", comma-separated:
// neither ids nor limit names hold commas or spaces; in no particular order,
// which the caller sorts), and the tenant's catalog_version (a counter its
// permission writes bump: migration 00017).
// One statement: the verify path's only store read on a cache miss. It sorts
// nothing: a current secret hash (unique) matches at most one key, and a
// previous one is only looked for when no current one matches.
var verificationQuery = `SELECT ` + oneLetterNames(verificationColumns) + `
	FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
	LEFT JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.owner_id
	LEFT JOIN api_key_credits c ON c.tenant_id = k.tenant_id AND c.key_id = k.id
	WHERE k.secret_hash = $1
		OR (k.prev_secret_hash = $1 AND NOT EXISTS (SELECT 1 FROM api_keys cur WHERE cur.secret_hash = $1))
	LIMIT 1`

// verificationColumns are what verificationQuery selects, in Scan's order.
// The key's columns are those deciding whether it works needs
// (VerificationRecord.Key): fewer than keyColumns, since every column costs
// on every cache miss (the driver names and converts each).
var verificationColumns = []string{
	"k.id", "k.tenant_id", "k.client_id", "k.name", "k.owner_id", "k.level", "k.is_active", "k.expires_at",
	"k.token_lifespan_seconds", "k.hmac_enabled", "k.meta", "k.secret_hash", "k.secret_ciphertext", "k.prev_secret_hash",
	"k.prev_secret_ciphertext", "k.prev_secret_expires_at", "k.secret_generation", "k.rate_limit", "k.rate_window_seconds",
	"k.acts_as_owner", "k.secret_revoked", "k.audiences", "k.allowed_cidrs",
	"u.id", "u.level", "u.is_active", "t.is_active", "t.is_root",
	"c.remaining", "c.refill_amount", "c.refill_interval", "c.refill_day", "c.refill_period", "c.generation",
	`(SELECT string_agg(kp.permission_id, ',') FROM api_key_permissions kp
		WHERE kp.tenant_id = k.tenant_id AND kp.key_id = k.id)`,
	`(SELECT string_agg(l.name || ' ' || l.lim || ' ' || l.window_seconds, ',') FROM api_key_rate_limits l
		WHERE l.tenant_id = k.tenant_id AND l.key_id = k.id)`,
	`(SELECT string_agg(up.permission_id, ',') FROM user_permissions up WHERE up.tenant_id = u.tenant_id AND up.user_id = u.id)`,
	`(SELECT string_agg(l.name || ' ' || l.lim || ' ' || l.window_seconds, ',') FROM user_rate_limits l
		WHERE l.tenant_id = u.tenant_id AND l.user_id = u.id)`,
	"t.catalog_version",
}

// oneLetterNames joins columns into a select list naming each with one
// letter: SQLite's driver reads every column's name on every query, and a
// one-byte Go string costs no allocation where "refill_interval" costs one.
// Scan goes by position, so the names mean nothing else (they repeat past
// 52 columns, which both databases allow).
func oneLetterNames(columns []string) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b strings.Builder
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " AS " + string(letters[i%len(letters)]))
	}
	return b.String()
}

// KeyForVerification returns the key, in any tenant, whose current or
// previous secret hash is hash (a current match wins), with its tenant's
// and owner's state and its tenant's catalog version, in one statement
// (prepared once per connection: see stmtcache.go), or ENOTFOUND.
func (s *store) KeyForVerification(ctx context.Context, hash []byte) (*keyward.VerificationRecord, error) {
	if len(hash) == 0 {
		return nil, notFound("api key")
	}
	row := s.read.QueryRowContext(ctx, verificationQuery, hash)
	var (
		k   keyward.APIKey
		rec keyward.VerificationRecord
		// The nullable scan targets in one struct, so that they escape (to
		// Scan's interfaces) as one allocation rather than one each.
		v struct {
			keyOwner, ownerID, interval, keyPerms, keyLimits, userPerms, userLims  sql.NullString
			rateLimit, rateWindow, ownerLevel, remaining, amount, day, period, gen sql.NullInt64
			ownerActive                                                            sql.NullBool
			version                                                                int64
		}
	)
	err := row.Scan(&k.ID, &k.TenantID, &k.ClientID, &k.Name, &v.keyOwner, &k.Level, &k.IsActive, nullTimeCol{&k.ExpiresAt},
		&k.TokenLifespanSeconds, &k.HMACEnabled, rawJSONCol{&k.Meta}, &k.SecretHash, &k.SecretCiphertext, &k.PrevSecretHash,
		&k.PrevSecretCiphertext, nullTimeCol{&k.PrevSecretExpiresAt}, &k.SecretGeneration, &v.rateLimit, &v.rateWindow,
		&k.ActsAsOwner, &k.SecretRevoked, audiencesCol{&k.Audiences}, cidrsCol{&k.AllowedCIDRs},
		&v.ownerID, &v.ownerLevel, &v.ownerActive, &rec.TenantActive, &rec.TenantRoot,
		&v.remaining, &v.amount, &v.interval, &v.day, &v.period, &v.gen, &v.keyPerms, &v.keyLimits, &v.userPerms,
		&v.userLims, &v.version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("api key")
	} else if err != nil {
		return nil, fmt.Errorf("reading an api key for verification: %w", err)
	}
	k.OwnerID = v.keyOwner.String
	if v.rateLimit.Valid && v.rateWindow.Valid {
		k.RateLimit = &keyward.RateLimit{Limit: int(v.rateLimit.Int64), WindowSeconds: int(v.rateWindow.Int64)}
	}
	rec.Key, rec.CatalogVersion = &k, strconv.FormatInt(v.version, 10)
	if v.remaining.Valid {
		c := &keyward.Credits{Remaining: v.remaining.Int64, Period: v.period.Int64, Generation: v.gen.Int64}
		if v.amount.Valid && v.interval.Valid {
			c.Refill = &keyward.Refill{Amount: v.amount.Int64, Interval: v.interval.String, DayOfMonth: int(v.day.Int64)}
		}
		k.Credits = c
	}
	k.Permissions = permissionIDs(v.keyPerms)
	if k.RateLimits, err = namedLimits(v.keyLimits); err != nil {
		return nil, err
	}
	if v.ownerID.Valid {
		u := &keyward.User{ID: v.ownerID.String, TenantID: k.TenantID, Level: int(v.ownerLevel.Int64), IsActive: v.ownerActive.Bool,
			Permissions: permissionIDs(v.userPerms)}
		if u.RateLimits, err = namedLimits(v.userLims); err != nil {
			return nil, err
		}
		rec.Owner = u
	}
	return &rec, nil
}

// permissionIDs splits a comma-separated list of permission ids, in id
// order.
func permissionIDs(s sql.NullString) []keyward.Permission {
	if !s.Valid || s.String == "" {
		return []keyward.Permission{}
	}
	ids := strings.Split(s.String, ",")
	slices.Sort(ids)
	out := make([]keyward.Permission, len(ids))
	for i, id := range ids {
		out[i].ID = id
	}
	return out
}

// namedLimits parses "name limit window" items, comma-separated, in name
// order.
func namedLimits(s sql.NullString) ([]keyward.NamedRateLimit, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var out []keyward.NamedRateLimit
	for item := range strings.SplitSeq(s.String, ",") {
		f := strings.Fields(item)
		if len(f) != 3 {
			return nil, fmt.Errorf("reading named rate limits: malformed %q", item)
		}
		lim, err1 := strconv.Atoi(f[1])
		win, err2 := strconv.Atoi(f[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("reading named rate limits: %w", err)
		}
		out = append(out, keyward.NamedRateLimit{Name: f[0], Limit: lim, WindowSeconds: win})
	}
	slices.SortFunc(out, func(a, b keyward.NamedRateLimit) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
