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
// permissions and their named limits, and the tenant's catalog_version (a
// counter its permission writes bump: migration 00017).
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
// (VerificationRecord.Key): fewer than keyColumns.
//
// Every column costs on every cache miss whatever it holds: SQLite's
// driver asks for each column's name and declared type when the statement
// runs and for its type and value when it reads the row, each call behind
// the connection's mutex (about 1,200 instructions a column before the row
// is read). So the numbers and flags travel as one text column
// (verificationNumbers) and the four lists as another (verificationLists),
// each built by one format() call: 17 columns rather than 39, about 8 %
// fewer instructions per read (cachegrind, BenchmarkKeyForVerification).
// Concatenating with || instead costs an allocation per operand in SQLite
// and saved nothing.
var verificationColumns = []string{
	"k.id", "k.tenant_id", "k.client_id", "k.name", "k.owner_id", "k.expires_at", "k.meta", "k.secret_hash",
	"k.secret_ciphertext", "k.prev_secret_hash", "k.prev_secret_ciphertext", "k.prev_secret_expires_at",
	"k.audiences", "k.allowed_cidrs", "c.refill_interval",
	textList(" ", verificationNumbers),
	textList(";", verificationLists),
}

// verificationNumbers are the integer and boolean columns verificationQuery
// reads, space-separated in one text column (an empty field is NULL; a
// boolean is 0 or 1 on SQLite, f or t on PostgreSQL), in
// scanVerificationNumbers' order.
var verificationNumbers = []string{
	"k.level", "k.is_active", "k.token_lifespan_seconds", "k.hmac_enabled", "k.secret_generation", "k.acts_as_owner",
	"k.secret_revoked", "k.rate_limit", "k.rate_window_seconds",
	"t.is_active", "t.is_root", "t.catalog_version",
	"u.id IS NOT NULL", "u.level", "u.is_active",
	"c.remaining", "c.refill_amount", "c.refill_day", "c.refill_period", "c.generation",
}

// verificationLists are the key's and its owner's explicit permission ids
// and named limits ("name limit window"), each comma-separated (neither ids
// nor limit names hold commas, spaces or semicolons; in no particular
// order, which the caller sorts), joined by semicolons in one text column.
var verificationLists = []string{
	`(SELECT string_agg(kp.permission_id, ',') FROM api_key_permissions kp
		WHERE kp.tenant_id = k.tenant_id AND kp.key_id = k.id)`,
	`(SELECT string_agg(l.name || ' ' || l.lim || ' ' || l.window_seconds, ',') FROM api_key_rate_limits l
		WHERE l.tenant_id = k.tenant_id AND l.key_id = k.id)`,
	`(SELECT string_agg(up.permission_id, ',') FROM user_permissions up WHERE up.tenant_id = u.tenant_id AND up.user_id = u.id)`,
	`(SELECT string_agg(l.name || ' ' || l.lim || ' ' || l.window_seconds, ',') FROM user_rate_limits l
		WHERE l.tenant_id = u.tenant_id AND l.user_id = u.id)`,
}

// textList is one SQL expression joining exprs as text with sep, a NULL
// as an empty field: format() with %s means that in SQLite and PostgreSQL
// alike.
func textList(sep string, exprs []string) string {
	return "format('" + strings.Repeat("%s"+sep, len(exprs)-1) + "%s', " + strings.Join(exprs, ", ") + ")"
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
		// The scan targets outside k in one struct, so that they escape (to
		// Scan's interfaces) as one allocation rather than one each.
		v struct {
			keyOwner, interval sql.NullString
			numbers, lists     string
		}
	)
	err := row.Scan(&k.ID, &k.TenantID, &k.ClientID, &k.Name, &v.keyOwner, nullTimeCol{&k.ExpiresAt}, rawJSONCol{&k.Meta},
		&k.SecretHash, &k.SecretCiphertext, &k.PrevSecretHash, &k.PrevSecretCiphertext, nullTimeCol{&k.PrevSecretExpiresAt},
		audiencesCol{&k.Audiences}, cidrsCol{&k.AllowedCIDRs}, &v.interval, &v.numbers, &v.lists)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("api key")
	} else if err != nil {
		return nil, fmt.Errorf("reading an api key for verification: %w", err)
	}
	k.OwnerID, rec.Key = v.keyOwner.String, &k
	if err := scanVerificationNumbers(v.numbers, &k, &rec, v.interval); err != nil {
		return nil, fmt.Errorf("reading an api key for verification: %w", err)
	}
	keyPerms, rest, _ := strings.Cut(v.lists, ";")
	keyLimits, rest, _ := strings.Cut(rest, ";")
	userPerms, userLimits, _ := strings.Cut(rest, ";")
	k.Permissions = permissionIDs(keyPerms)
	if k.RateLimits, err = namedLimits(keyLimits); err != nil {
		return nil, err
	}
	if rec.Owner != nil {
		rec.Owner.Permissions = permissionIDs(userPerms)
		if rec.Owner.RateLimits, err = namedLimits(userLimits); err != nil {
			return nil, err
		}
	}
	return &rec, nil
}

// permissionIDs splits a comma-separated list of permission ids, in id
// order.
func permissionIDs(s string) []keyward.Permission {
	if s == "" {
		return []keyward.Permission{}
	}
	ids := strings.Split(s, ",")
	slices.Sort(ids)
	out := make([]keyward.Permission, len(ids))
	for i, id := range ids {
		out[i].ID = id
	}
	return out
}

// namedLimits parses "name limit window" items, comma-separated, in name
// order.
func namedLimits(s string) ([]keyward.NamedRateLimit, error) {
	if s == "" {
		return nil, nil
	}
	var out []keyward.NamedRateLimit
	for item := range strings.SplitSeq(s, ",") {
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

// scanVerificationNumbers fills k, rec (its tenant's state, catalog version
// and owner) and k's credits from verificationNumbers' text, with the
// credits' refill interval read as a column of its own.
func scanVerificationNumbers(numbers string, k *keyward.APIKey, rec *keyward.VerificationRecord, interval sql.NullString) error {
	var f [21]string // one more than verificationNumbers: a surplus field is an error
	n := 0
	for field := range strings.SplitSeq(numbers, " ") {
		if n == len(f) {
			break
		}
		f[n] = field
		n++
	}
	if n != len(verificationNumbers) {
		return fmt.Errorf("%d numbers, want %d", n, len(verificationNumbers))
	}
	var p numberParser
	k.Level, k.IsActive, k.TokenLifespanSeconds = p.int(f[0]), p.bool(f[1]), p.int(f[2])
	k.HMACEnabled, k.SecretGeneration, k.ActsAsOwner, k.SecretRevoked = p.bool(f[3]), p.int(f[4]), p.bool(f[5]), p.bool(f[6])
	if f[7] != "" && f[8] != "" {
		k.RateLimit = &keyward.RateLimit{Limit: p.int(f[7]), WindowSeconds: p.int(f[8])}
	}
	rec.TenantActive, rec.TenantRoot = p.bool(f[9]), p.bool(f[10])
	p.int64(f[11]) // the catalog version is a number: say so if it is not
	rec.CatalogVersion = strings.Clone(f[11])
	if p.bool(f[12]) {
		rec.Owner = &keyward.User{ID: k.OwnerID, TenantID: k.TenantID, Level: p.int(f[13]), IsActive: p.bool(f[14])}
	}
	if f[15] != "" {
		c := &keyward.Credits{Remaining: p.int64(f[15]), Period: p.int64(f[18]), Generation: p.int64(f[19])}
		if f[16] != "" && interval.Valid {
			c.Refill = &keyward.Refill{Amount: p.int64(f[16]), Interval: interval.String, DayOfMonth: int(p.int64(f[17]))}
		}
		k.Credits = c
	}
	return p.err
}

// numberParser parses verificationNumbers' fields, keeping the first
// error. An empty field (NULL) is 0 or false.
type numberParser struct{ err error }

func (p *numberParser) int64(s string) int64 {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

func (p *numberParser) int(s string) int { return int(p.int64(s)) }

func (p *numberParser) bool(s string) bool {
	switch s {
	case "1", "true", "t":
		return true
	case "", "0", "false", "f":
		return false
	}
	if p.err == nil {
		p.err = fmt.Errorf("reading a boolean: %q", s)
	}
	return false
}
