package sqlstore_test

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// checkByUse lists the keys of tenantID sorted by last use, each way, by
// cursor and by page, counting the matches exactly and walking the order
// (listCountCap 3), and wants them in the order of the last uses their
// GETs return (api_keys.last_used_at: on PostgreSQL the lists read the
// copy in key_last_used, 00025), NULLs last, ties by id.
func checkByUse(t *testing.T, db *sqlstore.DB, tenantID string, ids []string) {
	t.Helper()
	ctx := t.Context()
	type used struct {
		id, name string
		at       *time.Time
	}
	var keys []used
	for _, id := range ids {
		k, err := db.GetAPIKey(ctx, tenantID, id)
		must(t, err)
		keys = append(keys, used{id, strings.ToLower(k.Name), k.LastUsedAt})
	}
	for _, sort := range []string{"lastUsedAt", "-lastUsedAt", "-lastUsedAt,name"} {
		desc, byName := strings.HasPrefix(sort, "-"), strings.HasSuffix(sort, ",name")
		want := slices.Clone(keys)
		slices.SortFunc(want, func(a, b used) int {
			c := cmp.Compare(btoi(a.at == nil), btoi(b.at == nil))
			if c == 0 && a.at != nil {
				c = a.at.Compare(*b.at)
				if desc {
					c = -c
				}
			}
			if c == 0 && byName {
				c = strings.Compare(a.name, b.name)
			}
			return cmp.Or(c, strings.Compare(a.id, b.id))
		})
		var wantIDs []string
		for _, k := range want {
			wantIDs = append(wantIDs, k.id)
		}
		for _, countCap := range []int{1000, 3} {
			restore := sqlstore.SetListCountCap(countCap)
			var byCursor, byPage []string
			cursor := ""
			for page := 1; ; page++ {
				l, err := db.ListAPIKeys(ctx, tenantID, keyward.APIKeyFilter{Sort: sort, Cursor: cursor, Page: keyward.Page{Number: 1, Size: 4}, Now: time.Now()})
				must(t, err)
				for _, k := range l.Items {
					byCursor = append(byCursor, k.ID)
				}
				p, err := db.ListAPIKeys(ctx, tenantID, keyward.APIKeyFilter{Sort: sort, Page: keyward.Page{Number: page, Size: 4}, Now: time.Now()})
				must(t, err)
				for _, k := range p.Items {
					byPage = append(byPage, k.ID)
				}
				if cursor = l.NextCursor; cursor == "" || page > len(ids) {
					break
				}
			}
			restore()
			if !slices.Equal(byCursor, wantIDs) {
				t.Errorf("sort %s (count cap %d), by cursor: got %v, want %v", sort, countCap, byCursor, wantIDs)
			}
			if !slices.Equal(byPage, wantIDs) {
				t.Errorf("sort %s (count cap %d), by page: got %v, want %v", sort, countCap, byPage, wantIDs)
			}
		}
	}
	if db.Dialect() != sqlstore.DialectSQLite {
		// One copy a key, none of a deleted one.
		got, err := db.QueryStrings(ctx, `SELECT count(*) FROM key_last_used WHERE tenant_id = $1`, tenantID)
		must(t, err)
		if want := []string{strconv.Itoa(len(ids))}; !slices.Equal(got, want) {
			t.Errorf("rows of key_last_used: got %v, want %v", got, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestListByLastUseFollowsItsWriters: a list sorted by last use keeps the
// order of the keys' last uses through every write of one: keys created
// with and without one, imported, flushed (used for the first time, used
// again later, used earlier than recorded), updated (a last use set and
// one cleared), deleted, given another id, and deleted with their owner.
func TestListByLastUseFollowsItsWriters(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "last uses", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		var keys []*keyward.APIKey
		var ids []string
		for i := range 10 {
			k := benchKey(tn.ID, nil, now)
			k.Name = []string{"b", "a"}[i%2]
			if i%3 == 0 {
				k.LastUsedAt = ptrTo(now.Add(time.Duration(i%4) * time.Second)) // ties too
			}
			must(t, db.CreateAPIKey(ctx, k))
			keys, ids = append(keys, k), append(ids, k.ID)
		}
		var imported []*keyward.APIKey
		for i := range 4 {
			k := benchKey(tn.ID, nil, now)
			if i%2 == 0 {
				k.LastUsedAt = ptrTo(now.Add(time.Duration(i) * time.Minute))
			}
			imported = append(imported, k)
		}
		errs, err := db.CreateAPIKeys(ctx, imported)
		must(t, err)
		must(t, errors.Join(errs...))
		for _, k := range imported {
			keys, ids = append(keys, k), append(ids, k.ID)
		}
		t.Run("created and imported", func(t *testing.T) { checkByUse(t, db, tn.ID, ids) })

		st := sqlstore.Guard(db, sqlstore.Limits{})
		ref := func(k *keyward.APIKey) keyward.KeyRef { return keyward.KeyRef{TenantID: tn.ID, ID: k.ID} }
		must(t, st.TouchAPIKeys(ctx, map[keyward.KeyRef]time.Time{
			ref(keys[1]):  now.Add(time.Hour),        // first use
			ref(keys[2]):  now.Add(2 * time.Second),  // first use, ties with keys[6]
			ref(keys[3]):  now.Add(time.Hour),        // used again, later
			ref(keys[9]):  now.Add(-time.Hour),       // earlier than recorded: kept
			ref(keys[11]): now.Add(30 * time.Second), // imported without one
		}))
		t.Run("flushed", func(t *testing.T) { checkByUse(t, db, tn.ID, ids) })

		for i, at := range []*time.Time{ptrTo(now.Add(-time.Minute)), nil} {
			k, err := db.GetAPIKey(ctx, tn.ID, keys[3+i].ID)
			must(t, err)
			k.LastUsedAt, k.Version = at, k.Version+1
			must(t, db.UpdateAPIKey(ctx, k, k.Version-1))
			got, err := db.GetAPIKey(ctx, tn.ID, k.ID)
			must(t, err)
			if (got.LastUsedAt == nil) != (at == nil) || at != nil && !got.LastUsedAt.Equal(*at) {
				t.Errorf("updated key %s: last use got %v, want %v", k.ID, got.LastUsedAt, at)
			}
		}
		t.Run("updated", func(t *testing.T) { checkByUse(t, db, tn.ID, ids) })

		k, err := db.GetAPIKey(ctx, tn.ID, keys[1].ID)
		must(t, err)
		must(t, db.DeleteAPIKey(ctx, tn.ID, k.ID, k.Version))
		ids = slices.DeleteFunc(ids, func(id string) bool { return id == k.ID })
		t.Run("deleted", func(t *testing.T) { checkByUse(t, db, tn.ID, ids) })

		// A key's id changed by hand (no write of the store does): its last
		// use moves with it.
		moved := secret.NewID()
		must(t, db.ExecRaw(ctx, `UPDATE api_keys SET id = $1 WHERE tenant_id = $2 AND id = $3`, moved, tn.ID, keys[0].ID))
		ids = slices.DeleteFunc(ids, func(id string) bool { return id == keys[0].ID })
		ids = append(ids, moved)
		t.Run("id changed", func(t *testing.T) { checkByUse(t, db, tn.ID, ids) })

		// An owner's delete deletes its keys (a foreign key's cascade).
		owner := &keyward.User{ID: secret.NewID(), TenantID: tn.ID, UserName: "owner", Level: 1, IsActive: true,
			CreatedAt: now, UpdatedAt: now, Version: 1, Permissions: []keyward.Permission{}}
		must(t, db.CreateUser(ctx, owner))
		owned := benchKey(tn.ID, nil, now)
		owned.OwnerID, owned.LastUsedAt = owner.ID, ptrTo(now)
		must(t, db.CreateAPIKey(ctx, owned))
		t.Run("owned", func(t *testing.T) { checkByUse(t, db, tn.ID, append(slices.Clone(ids), owned.ID)) })
		must(t, db.DeleteUser(ctx, tn.ID, owner.ID))
		t.Run("owner deleted", func(t *testing.T) { checkByUse(t, db, tn.ID, ids) })
	})
}

// TestFlushLeavesKeysAlone: on PostgreSQL a flush of last uses writes
// key_last_used (00025), not the keys' rows: a new version of a key's row
// is an entry in each of api_keys' indexes (their UPDATE is not HOT: no
// index of api_keys holds last_used_at any more, but the pages of a
// flush's keys would have no room for all of their rows' versions).
func TestFlushLeavesKeysAlone(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Dialect() == sqlstore.DialectSQLite {
			t.Skip("SQLite updates a row in place, and only the indexes holding a changed column")
		}
		ctx := t.Context()
		f := newFlushFixture(t, db, 5)
		versions := `SELECT id || ' ' || xmin::text FROM api_keys WHERE tenant_id = $1 ORDER BY id`
		before, err := db.QueryStrings(ctx, versions, f.tn.ID)
		must(t, err)
		must(t, db.TouchAPIKeys(ctx, f.used))
		after, err := db.QueryStrings(ctx, versions, f.tn.ID)
		must(t, err)
		if !slices.Equal(after, before) {
			t.Errorf("row versions (id xmin) of the keys: got %v after the flush, want %v (unchanged)", after, before)
		}
		for r, at := range f.used {
			k, err := db.GetAPIKey(ctx, r.TenantID, r.ID)
			must(t, err)
			if k.LastUsedAt == nil || !k.LastUsedAt.Equal(at) {
				t.Errorf("key %s: last use got %v, want %v", r.ID, k.LastUsedAt, at)
			}
		}
		got, err := db.QueryStrings(ctx, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = 'api_keys'::regclass AND (pg_get_indexdef(i.indexrelid) LIKE '%last_used_at%'
				OR pg_get_expr(i.indpred, i.indrelid) LIKE '%last_used_at%') ORDER BY 1`)
		must(t, err)
		if len(got) != 0 {
			t.Errorf("indexes of api_keys holding last_used_at: got %v, want none", got)
		}
		got, err = db.QueryStrings(ctx, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = 'key_last_used'::regclass ORDER BY 1`)
		must(t, err)
		if want := []string{"key_last_used_asc", "key_last_used_nulls", "key_last_used_pkey"}; !slices.Equal(got, want) {
			t.Errorf("indexes of key_last_used: got %v, want %v", got, want)
		}
	})
}

// TestMigration00025: keys made before 00025 keep their last uses and
// their order by last use after it (key_last_used is filled from
// api_keys), and a last use flushed after it survives its Down (copied
// back into api_keys, whose indexes of last uses come back) and Up again.
func TestMigration00025(t *testing.T) {
	sqltest.BackendDSNs(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := sqltest.Open(t, dsn, false)
		must(t, db.MigrateUpTo(ctx, 24))
		now := time.Now().UTC().Truncate(time.Microsecond)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "old", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		var ids []string
		for i := range 7 {
			k := benchKey(tn.ID, nil, now)
			if i%3 != 0 {
				k.LastUsedAt = ptrTo(now.Add(time.Duration(i%5) * time.Second))
			}
			must(t, db.CreateAPIKey(ctx, k))
			ids = append(ids, k.ID)
		}
		must(t, db.Migrate(ctx))
		t.Run("up", func(t *testing.T) { checkByUse(t, db, tn.ID, ids) })
		used := map[keyward.KeyRef]time.Time{{TenantID: tn.ID, ID: ids[0]}: now.Add(time.Hour)}
		must(t, db.TouchAPIKeys(ctx, used))
		must(t, db.MigrateDownTo(ctx, 24))
		if db.Dialect() != sqlstore.DialectSQLite {
			got, err := db.QueryStrings(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = 'api_keys'
				AND schemaname = current_schema() AND indexname LIKE 'api_keys_tenant_last_used_%'`)
			must(t, err)
			if !slices.Equal(got, []string{"2"}) {
				t.Errorf("down: api_keys' indexes of last uses: got %v, want 2", got)
			}
		}
		must(t, db.Migrate(ctx))
		k, err := db.GetAPIKey(ctx, tn.ID, ids[0])
		must(t, err)
		if want := now.Add(time.Hour); k.LastUsedAt == nil || !k.LastUsedAt.Equal(want) {
			t.Errorf("down and up: the last use flushed before got %v, want %v", k.LastUsedAt, want)
		}
		t.Run("down and up", func(t *testing.T) { checkByUse(t, db, tn.ID, ids) })
	})
}
