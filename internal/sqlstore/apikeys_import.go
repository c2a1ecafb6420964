package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
)

// keyInsertColumns are the columns a new key is stored in, in the order of
// keyInsertArgs.
const keyInsertColumns = `id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
	expires_at, token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at,
	last_used_at, created_by, version, secret_hash, secret_ciphertext, prev_secret_hash,
	prev_secret_ciphertext, prev_secret_expires_at, secret_generation, rate_limit, rate_window_seconds,
	acts_as_owner, secret_holder_id, secret_revoked, prev_secret_holder_id, secret_holder_tenant_id,
	prev_secret_holder_tenant_id, audiences, allowed_cidrs`

// keyInsertWidth is the number of keyInsertColumns.
const keyInsertWidth = 35

// keyInsertArgs are the values of keyInsertColumns for k.
func (s *store) keyInsertArgs(k *keyward.APIKey) []any {
	return []any{k.ID, k.TenantID, k.ClientID, k.Name, k.Description, nullString(k.OwnerID), k.DeviceName, k.Level,
		k.IsActive, s.tsPtr(k.ExpiresAt), k.TokenLifespanSeconds, k.HMACEnabled, rawJSON(k.Meta), k.SecretHint,
		s.ts(k.CreatedAt), s.ts(k.UpdatedAt), s.tsPtr(k.LastUsedAt), k.CreatedBy, k.Version,
		nullBytes(k.SecretHash), nullBytes(k.SecretCiphertext), nullBytes(k.PrevSecretHash),
		nullBytes(k.PrevSecretCiphertext), s.tsPtr(k.PrevSecretExpiresAt), k.SecretGeneration,
		rateLimitCol(k.RateLimit, false), rateLimitCol(k.RateLimit, true), k.ActsAsOwner,
		nullString(k.SecretHolderID), k.SecretRevoked, nullString(k.PrevSecretHolderID),
		nullString(k.SecretHolderTenantID), nullString(k.PrevSecretHolderTenantID), audiencesArg(k.Audiences),
		cidrsArg(k.AllowedCIDRs)}
}

// importAttempts bounds the tries of CreateAPIKeys when concurrent
// writers take its values between its check and its insert: each retry
// sees what the writers before it committed.
const importAttempts = 5

// Batch sizes of CreateAPIKeys, well under PostgreSQL's 65,535 and
// SQLite's 32,766 parameters a statement.
const (
	importKeyRows       = 400  // × keyInsertWidth parameters
	importGrantRows     = 5000 // × 3
	importKeyRowsLite   = 200
	importGrantRowsLite = 2000
	importLookups       = 2000 // values looked up in one IN list
	importLookupsLite   = 1000
)

// CreateAPIKeys stores new keys, as CreateAPIKey each, in a few
// statements. A key whose id (in its tenant), clientId or secret hash
// (current or previous, of any key, stored or earlier in keys) is taken is
// left out, its error ECONFLICT, and so is a key whose ImportedHash is the
// current or previous secret hash of a key of its own tenant (stored or
// anywhere in keys; another tenant's keys are not looked at); the others
// are stored together or not at all. A value a concurrent writer commits
// after the check makes the insert fail on a unique index (or, two
// imports waiting for each other's values, deadlock): the insert is undone
// and the whole call made again, its check now seeing that value, so that
// only the keys that hold it fail (at most importAttempts times: then the
// call fails with ECONFLICT).
func (s *store) CreateAPIKeys(ctx context.Context, keys []*keyward.APIKey) ([]error, error) {
	errs := make([]error, len(keys))
	var err error
	for attempt := 1; ; attempt++ {
		err = s.atomic(ctx, func(q querier) error {
			clear(errs)
			taken, err := s.takenKeyValues(ctx, q, keys)
			if err != nil {
				return err
			}
			var ok []*keyward.APIKey
			for i, k := range keys {
				if msg := taken.claim(k); msg != "" {
					errs[i] = keyward.Errorf(keyward.ECONFLICT, "%s", msg)
					continue
				}
				ok = append(ok, k)
			}
			return s.insertKeys(ctx, q, ok)
		})
		taken := keyward.ErrorCode(err) == keyward.ECONFLICT && keyward.ErrorMessage(err) == keyConflict
		if attempt == importAttempts || !taken && !deadlocked(err) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if created := len(keys) - len(slices.DeleteFunc(slices.Clone(errs), func(err error) bool { return err == nil })); s.pg && created > 0 {
		s.afterCommit(ctx, func(ctx context.Context) { s.analyzeAfterImport(ctx, created) })
	}
	return errs, nil
}

// analyzeAfterImport refreshes PostgreSQL's statistics of the keys, their
// grants and their last uses (key_last_used, one row a key: the lists by
// lastUsedAt and the usage flush read it; issue 13) when the table grew by a tenth since its last ANALYZE, and
// by at least 50 rows: autovacuum's own threshold, but now instead of
// within its next round (a minute or more), during which a tenant
// imported from nothing still looks empty to the planner and its lists
// take the plans of an empty tenant (about 700 ms a page at a million
// keys). A single import of 10,000 keys into a table of a million is 1 %:
// it waits for the imports after it, and the statistics never lag the
// table by more than a tenth. The growth is the planner's own estimate
// (the rows of the last ANALYZE scaled by the pages since), or n, the keys
// just imported, if more: pg_stat_user_tables' count of changed rows
// lags, each session reporting its changes at most once a second.
// Failures are ignored: the import is committed, and autovacuum still
// comes.
func (s *store) analyzeAfterImport(ctx context.Context, n int) {
	var rows, pages, pagesNow float64
	err := s.pool.QueryRowContext(ctx, `SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::float8
		FROM pg_class WHERE oid = 'api_keys'::regclass`).Scan(&rows, &pages, &pagesNow)
	grown := float64(n)
	if rows >= 0 && pages > 0 {
		grown = max(grown, rows*pagesNow/pages-rows)
	}
	if err != nil || grown < max(50, rows/10) {
		return
	}
	_, _ = s.pool.ExecContext(ctx, `ANALYZE api_keys, api_key_permissions, key_last_used`)
}

// keyValues are the unique values of keys: ids by tenant, client ids and
// secret hashes; tenantHashes are the secret hashes by tenant
// (tenant/hash), which ImportedHash must not be.
type keyValues struct {
	ids, clientIDs, hashes, tenantHashes map[string]bool
}

// claim records k's values and returns "", or says which one is taken.
func (v keyValues) claim(k *keyward.APIKey) string {
	hashes := []string{string(k.SecretHash)}
	if len(k.PrevSecretHash) > 0 {
		hashes = append(hashes, string(k.PrevSecretHash))
	}
	switch {
	case v.ids[k.TenantID+"/"+k.ID]:
		return "an api key with this id already exists"
	case v.clientIDs[k.ClientID]:
		return "clientId " + k.ClientID + " is already taken"
	case v.hashes[hashes[0]] || len(hashes) > 1 && (v.hashes[hashes[1]] || hashes[0] == hashes[1]):
		return "another key has this secret"
	case len(k.ImportedHash) > 0 && v.tenantHashes[k.TenantID+"/"+string(k.ImportedHash)]:
		return "another key of this tenant has this secret: imported by its secretHash, this key would never verify (the secret finds the other)"
	}
	v.ids[k.TenantID+"/"+k.ID], v.clientIDs[k.ClientID] = true, true
	for _, h := range hashes {
		v.hashes[h] = true
	}
	return ""
}

// takenKeyValues reads which of keys' unique values stored keys hold.
func (s *store) takenKeyValues(ctx context.Context, q querier, keys []*keyward.APIKey) (keyValues, error) {
	v := keyValues{ids: map[string]bool{}, clientIDs: map[string]bool{}, hashes: map[string]bool{}, tenantHashes: map[string]bool{}}
	var hashes, clientIDs []any
	idsByTenant := map[string][]any{}
	for _, k := range keys {
		hashes = append(hashes, k.SecretHash)
		v.tenantHashes[k.TenantID+"/"+string(k.SecretHash)] = true
		if len(k.PrevSecretHash) > 0 {
			hashes = append(hashes, k.PrevSecretHash)
			v.tenantHashes[k.TenantID+"/"+string(k.PrevSecretHash)] = true
		}
		if len(k.ImportedHash) > 0 {
			hashes = append(hashes, k.ImportedHash)
		}
		clientIDs = append(clientIDs, k.ClientID)
		idsByTenant[k.TenantID] = append(idsByTenant[k.TenantID], k.ID)
	}
	batch := importLookups
	if !s.pg {
		batch = importLookupsLite
	}
	// The keys found by an ImportedHash of another tenant only join hashes,
	// which no imported hash (scoped) can be: nothing of them shows.
	err := s.lookupIn(ctx, q, batch, hashes, nil, `SELECT tenant_id, secret_hash, prev_secret_hash FROM api_keys WHERE secret_hash IN (%[1]s) OR prev_secret_hash IN (%[1]s)`,
		func(scan func(...any) error) error {
			var tenant string
			var h, prev []byte
			if err := scan(&tenant, &h, &prev); err != nil {
				return err
			}
			v.hashes[string(h)] = true
			v.tenantHashes[tenant+"/"+string(h)] = true
			if len(prev) > 0 {
				v.hashes[string(prev)] = true
				v.tenantHashes[tenant+"/"+string(prev)] = true
			}
			return nil
		})
	if err != nil {
		return v, err
	}
	err = s.lookupIn(ctx, q, batch, clientIDs, nil, `SELECT client_id FROM api_keys WHERE client_id IN (%[1]s)`,
		func(scan func(...any) error) error {
			var id string
			err := scan(&id)
			v.clientIDs[id] = true
			return err
		})
	if err != nil {
		return v, err
	}
	for tenant, ids := range idsByTenant {
		err = s.lookupIn(ctx, q, batch, ids, []any{tenant}, `SELECT id FROM api_keys WHERE tenant_id = %[2]s AND id IN (%[1]s)`,
			func(scan func(...any) error) error {
				var id string
				err := scan(&id)
				v.ids[tenant+"/"+id] = true
				return err
			})
		if err != nil {
			return v, err
		}
	}
	return v, nil
}

// lookupIn runs query for values in batches of size, calling row for
// each row: its %[1]s (once or more) is an IN list of a batch, its %[2]s
// the one fixed arg, if any. SQLite gets positional parameters (see
// insertKeys), each given as often as it is used, and all the values in
// one batch, as JSON (see insertKeysLite) when they can be.
func (s *store) lookupIn(ctx context.Context, q querier, size int, values, fixed []any, query string, row func(scan func(...any) error) error) error {
	uses := strings.Count(query, "%[1]s")
	if !s.pg {
		// Every value in one statement, read from one JSON array.
		if list, in, ok := jsonList(values); ok {
			args := append([]any{}, fixed...)
			for range uses {
				args = append(args, list)
			}
			return lookupRows(ctx, q, fmt.Sprintf(query, in, "?"), args, row)
		}
	}
	for start := 0; start < len(values); start += size {
		batch := values[start:min(start+size, len(values))]
		args := append([]any{}, fixed...)
		marks := make([]string, len(batch))
		fixedMark := "$1"
		for i := range batch {
			marks[i] = "$" + strconv.Itoa(len(fixed)+i+1)
		}
		if s.pg {
			args = append(args, batch...)
		} else {
			fixedMark = "?"
			for i := range marks {
				marks[i] = "?"
			}
			for range uses {
				args = append(args, batch...)
			}
		}
		if err := lookupRows(ctx, q, fmt.Sprintf(query, strings.Join(marks, ", "), fixedMark), args, row); err != nil {
			return err
		}
	}
	return nil
}

// lookupRows runs query, calling row for each row.
func lookupRows(ctx context.Context, q querier, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("reading api keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return fmt.Errorf("reading api keys: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading api keys: %w", err)
	}
	return nil
}

// importCacheSize is the writer connection's page cache (PRAGMA
// cache_size, in KiB) once it has imported a batch of more than 1,000 keys,
// instead of SQLite's default of 2,000 KiB.
const importCacheSize = -131072

// growImportCache gives the connection of q, SQLite's one writer, a page
// cache of importCacheSize and leaves it so (issue 13). The cache holds
// the pages of every index an import's rows go to, so that SQLite does not
// spill them to the WAL before the commit; kept after the commit (a
// writer's cache survives its own commits), it still holds the next
// import's: the leaves of the indexes of random values (client id, secret
// hash) and the ends of the ordered ones. An import of 40,000 keys into a
// table of 400,000 read 0.77 GB instead of 1.43 GB and spent 10 % less CPU
// than with the cache shrunk back to 2,000 KiB after each request
// (docs/performance.md, Bulk import). A server that never imports keeps
// the default; one that does holds up to 128 MiB more.
func growImportCache(ctx context.Context, q querier) {
	var size int64
	if q.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&size) == nil && size != importCacheSize {
		_, _ = q.ExecContext(ctx, `PRAGMA cache_size = `+strconv.Itoa(importCacheSize))
	}
}

// insertKeys stores keys and their permissions in multi-row statements,
// in the order of their ids, which lead the primary key and the indexes of
// names and permissions: each row then goes next to the one before instead
// of into a random page of a large index. On SQLite, one statement each
// (insertKeysLite) unless a value cannot be carried as JSON; the batches
// there get positional parameters: SQLite finds a $N parameter by a
// linear search, so a statement of n of them costs n². Few statements
// matter there too: full-text indexes flush at each, and each opens a
// statement journal that copies every page it changes.
func (s *store) insertKeys(ctx context.Context, q querier, keys []*keyward.APIKey) error {
	keys = slices.SortedFunc(slices.Values(keys), func(a, b *keyward.APIKey) int { return strings.Compare(a.ID, b.ID) })
	rows, grantRows := importKeyRows, importGrantRows
	mark := func(n int) string { return "$" + strconv.Itoa(n) }
	if !s.pg {
		rows, grantRows = importKeyRowsLite, importGrantRowsLite
		mark = func(int) string { return "?" }
		if len(keys) > 1000 {
			growImportCache(ctx, q)
		}
		if done, err := s.insertKeysLite(ctx, q, keys); done || err != nil {
			return err
		}
	}
	var sb strings.Builder
	for start := 0; start < len(keys); start += rows {
		batch := keys[start:min(start+rows, len(keys))]
		args := make([]any, 0, len(batch)*keyInsertWidth)
		sb.Reset()
		sb.WriteString(`INSERT INTO api_keys (` + keyInsertColumns + `) VALUES `)
		for i, k := range batch {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for c := range keyInsertWidth {
				if c > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(mark(len(args) + c + 1))
			}
			sb.WriteByte(')')
			args = append(args, s.keyInsertArgs(k)...)
		}
		if _, err := q.ExecContext(ctx, sb.String(), args...); err != nil {
			return writeError(err, "importing api keys", keyConflict)
		}
	}
	var grants []any
	for _, k := range keys {
		for _, p := range k.Permissions {
			grants = append(grants, k.TenantID, k.ID, p.ID)
		}
	}
	for start := 0; start < len(grants); start += grantRows * 3 {
		batch := grants[start:min(start+grantRows*3, len(grants))]
		sb.Reset()
		sb.WriteString(`INSERT INTO api_key_permissions (tenant_id, key_id, permission_id) VALUES `)
		for i := 0; i < len(batch); i += 3 {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + mark(i+1) + ", " + mark(i+2) + ", " + mark(i+3) + ")")
		}
		if _, err := q.ExecContext(ctx, sb.String(), batch...); err != nil {
			return writeError(err, "storing permissions", "permissions must be distinct")
		}
	}
	return nil
}
