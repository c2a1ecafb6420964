package sqlstore_test

import (
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// millionKeys is the size of the tenant of BenchmarkListAPIKeysMillion.
const millionKeys = 1_000_000

// BenchmarkListAPIKeysMillion lists pages of 20 keys of a 1,000,000-key
// tenant, filtered and sorted every way the console and GET /v1/apikeys
// can, on SQLite and (with KEYWARD_TEST_POSTGRES_URL) PostgreSQL; issue 13
// wants every page under 50 ms p99, reported as p99-ms. The keys are
// seeded by a bulk load in SQL (indexes built after the rows; 1m43s on
// PostgreSQL, 2-4 minutes on SQLite on a loaded 2-core machine), so it
// does not run with -short; CI runs it once with KEYWARD_CI_MILLION=1
// (.ci/run). Run it with
//
//	go test -run '^$' -bench ListAPIKeysMillion -benchtime 20x ./internal/sqlstore
//
// KEYWARD_BENCH_SQLITE (a file path) and KEYWARD_BENCH_PG_SCHEMA (a schema
// name) keep the seeded database between runs: seeded when missing, reused
// (and migrated) when present.
func BenchmarkListAPIKeysMillion(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds a million keys: not in -short mode")
	}
	b.Run("sqlite", func(b *testing.B) {
		path := os.Getenv("KEYWARD_BENCH_SQLITE")
		if path == "" {
			path = sqltest.SQLiteDSN(b)
		}
		_, statErr := os.Stat(path)
		db := sqltest.Open(b, path, true)
		if statErr != nil {
			seedMillion(b, db, "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=synchronous(OFF)")
		}
		listMillion(b, db)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := sqltest.PostgresDSN(b) // skips without KEYWARD_TEST_POSTGRES_URL
		seed := true
		if schema := os.Getenv("KEYWARD_BENCH_PG_SCHEMA"); schema != "" {
			dsn, seed = keptSchema(b, schema)
		}
		db := sqltest.Open(b, dsn, true)
		if seed {
			seedMillion(b, db, "pgx", dsn)
		}
		listMillion(b, db)
	})
}

// keptSchema returns the DSN of schema in the test database, and whether
// it was just created (and so needs seeding).
func keptSchema(b *testing.B, schema string) (string, bool) {
	base := sqltest.PostgresURL(b)
	raw, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	var exists bool
	if err := raw.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if !exists {
		if _, err := raw.Exec(`CREATE SCHEMA ` + schema); err != nil {
			b.Fatal(err)
		}
	}
	return base + "&search_path=" + schema, !exists
}

// The seeded tenant: its id, two users (bu00 owns a quarter of the keys,
// bu01 … bu99 share another quarter) and two permissions (orders_read held
// by half the keys, orders_write by one in a thousand).
const (
	benchTenantID = "benchtenant"
	heavyOwner    = "bu00"
	smallOwner    = "bu42"
)

// seedMillion fills db with the bench tenant, through a second connection
// (driver, dsn) that needs no durability: names like "service 12345
// gamma" (20 endings), one key in five inactive, one in ten expired and one
// in ten expiring tomorrow, one in three used.
func seedMillion(b *testing.B, db *sqlstore.DB, driver, dsn string) {
	ctx := b.Context()
	start := time.Now()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: benchTenantID, Name: "bench", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"orders_read", "orders_write"} {
		p := keyward.Permission{ID: "bp_" + name, TenantID: tn.ID, Name: name, ContainerID: tn.Name, CreatedAt: now}
		if err := db.CreatePermission(ctx, &p); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		u := &keyward.User{ID: fmt.Sprintf("bu%02d", i), TenantID: tn.ID, UserName: fmt.Sprintf("user-%02d", i), Level: 1,
			IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1, Permissions: []keyward.Permission{}}
		if err := db.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	conn, err := raw.Conn(ctx) // one session: its transaction and settings
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	exec := func(stmt string, args ...any) {
		b.Helper()
		t := time.Now()
		if _, err := conn.ExecContext(ctx, stmt, args...); err != nil {
			b.Fatalf("seeding: %v\n%s", err, stmt)
		}
		if d := time.Since(t); d > 5*time.Second {
			b.Logf("seeding: %v: %.60s", d.Round(time.Second), strings.Join(strings.Fields(stmt), " "))
		}
	}
	// A bulk load: in one transaction, the tables' indexes and triggers
	// are dropped, the rows inserted by one statement each, and the
	// indexes built again once (faster than a million index insertions).
	sqlite := driver == "sqlite"
	saved := `SELECT sql, 'DROP ' || type || ' ' || name FROM sqlite_master
		WHERE type IN ('index', 'trigger') AND tbl_name IN ('api_keys', 'api_key_permissions') AND sql IS NOT NULL`
	if !sqlite {
		exec(`SET maintenance_work_mem = '256MB'`)
		exec(`SET session_replication_role = replica`) // no foreign key triggers: the seed is consistent
		saved = `SELECT indexdef, 'DROP INDEX ' || indexname FROM pg_indexes i
			WHERE schemaname = current_schema() AND tablename IN ('api_keys', 'api_key_permissions')
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(schemaname) || '.' || quote_ident(indexname))::regclass)`
	}
	exec(`BEGIN`)
	rows, err := conn.QueryContext(ctx, saved)
	if err != nil {
		b.Fatal(err)
	}
	var creates, drops []string
	for rows.Next() {
		var c, d string
		if err := rows.Scan(&c, &d); err != nil {
			b.Fatal(err)
		}
		creates, drops = append(creates, c), append(drops, d)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	for _, d := range drops {
		exec(d)
	}
	if sqlite {
		t := now.UnixMicro() - millionKeys
		exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000000)
			INSERT INTO api_keys (id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
				expires_at, token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at, last_used_at,
				created_by, version, secret_hash)
			SELECT printf('k%07d', i), $1, printf('kw_id_%07d', i),
				printf('service %d %s', i, substr('alphabetagammadeltaepsilon', (i % 20) + 1, 5)), '',
				CASE i % 4 WHEN 0 THEN 'bu00' WHEN 1 THEN printf('bu%02d', 1 + (i / 4) % 99) END, '', 1, (i % 5) <> 0,
				CASE i % 10 WHEN 0 THEN $2 - 3600000000 WHEN 1 THEN $2 + 86400000000 END, 3600, 0, '{}', 'abcd',
				$3 + i, $3 + i, CASE WHEN i % 3 = 0 THEN $3 + i + 1000 END, 'bench', 1 + i % 7, randomblob(32) FROM n`,
			tn.ID, now.UnixMicro(), t)
		exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000000)
			INSERT INTO api_key_permissions (tenant_id, key_id, permission_id)
			SELECT $1, printf('k%07d', i), 'bp_orders_read' FROM n WHERE i % 2 = 0
			UNION ALL SELECT $1, printf('k%07d', i), 'bp_orders_write' FROM n WHERE i % 1000 = 0`, tn.ID)
		// What the dropped triggers keep: the names' trigram index and
		// the tenant's count.
		exec(`INSERT INTO api_key_names (tenant_id, key_id, name) SELECT tenant_id, id, name FROM api_keys WHERE tenant_id = $1`, tn.ID)
		exec(`INSERT OR REPLACE INTO api_key_counts (tenant_id, n) SELECT $1, count(*) FROM api_keys WHERE tenant_id = $1`, tn.ID)
	} else {
		exec(`INSERT INTO api_keys (id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
				expires_at, token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at, last_used_at,
				created_by, version, secret_hash)
			SELECT 'k' || lpad(i::text, 7, '0'), $1, 'kw_id_' || lpad(i::text, 7, '0'),
				'service ' || i || ' ' || substr('alphabetagammadeltaepsilon', (i % 20) + 1, 5), '',
				CASE i % 4 WHEN 0 THEN 'bu00' WHEN 1 THEN 'bu' || lpad((1 + (i / 4) % 99)::text, 2, '0') END, '', 1, (i % 5) <> 0,
				CASE i % 10 WHEN 0 THEN $2::timestamptz - interval '1 hour' WHEN 1 THEN $2::timestamptz + interval '1 day' END,
				3600, false, '{}', 'abcd', $3::timestamptz + i * interval '1 microsecond', $3::timestamptz + i * interval '1 microsecond',
				CASE WHEN i % 3 = 0 THEN $3::timestamptz + (i + 1000) * interval '1 microsecond' END, 'bench', 1 + i % 7,
				sha256(i::text::bytea) FROM generate_series(1, 1000000) AS n(i)`,
			tn.ID, now, now.Add(-millionKeys*time.Microsecond))
		exec(`INSERT INTO api_key_permissions (tenant_id, key_id, permission_id)
			SELECT $1, 'k' || lpad(i::text, 7, '0'), 'bp_orders_read' FROM generate_series(2, 1000000, 2) AS n(i)
			UNION ALL SELECT $1, 'k' || lpad(i::text, 7, '0'), 'bp_orders_write' FROM generate_series(1000, 1000000, 1000) AS n(i)`, tn.ID)
	}
	for _, c := range creates {
		exec(c)
	}
	exec(`COMMIT`)
	if !sqlite {
		// What an operator runs after a bulk load (autovacuum would, a
		// while later): statistics for the planner, and the visibility
		// map that lets index-only scans skip the table.
		exec(`VACUUM ANALYZE api_keys`)
		exec(`VACUUM ANALYZE api_key_permissions`)
	} // SQLite: no ANALYZE, keyward does not run it
	b.Logf("seeded %d keys in %v", millionKeys, time.Since(start).Round(time.Second))
}

// listMillion runs each list of the bench tenant as a sub-benchmark,
// reporting its p99 and the number of matches it counted.
func listMillion(b *testing.B, db *sqlstore.DB) {
	ctx := b.Context()
	page1 := keyward.Page{Number: 1, Size: 20}
	deep := keyward.Page{Number: 25_000, Size: 20} // keys 499,981 to 500,000
	// The cursor of the key before the deep page, found once.
	before, err := db.ListAPIKeys(ctx, benchTenantID, keyward.APIKeyFilter{Page: keyward.Page{Number: 24_999, Size: 20}, Now: time.Now()})
	if err != nil || before.NextCursor == "" {
		b.Fatalf("finding the deep cursor: %v (%q)", err, before.NextCursor)
	}
	cases := []struct {
		name string
		f    keyward.APIKeyFilter
	}{
		{"page1", keyward.APIKeyFilter{}},
		{"status-active", keyward.APIKeyFilter{Status: keyward.StatusActive}},
		{"status-inactive", keyward.APIKeyFilter{Status: keyward.StatusInactive}},
		{"status-expired", keyward.APIKeyFilter{Status: keyward.StatusExpired}},
		{"name-common", keyward.APIKeyFilter{Query: "gamma"}},
		{"name-rare", keyward.APIKeyFilter{Query: "service 12345"}},
		{"name-none", keyward.APIKeyFilter{Query: "zzz"}},
		{"name-2chars", keyward.APIKeyFilter{Query: "ga"}},
		{"name-inactive", keyward.APIKeyFilter{Query: "alpha", Status: keyward.StatusInactive}},
		{"permission-common", keyward.APIKeyFilter{Permission: "orders_read"}},
		{"permission-rare", keyward.APIKeyFilter{Permission: "orders_write"}},
		{"owner-heavy", keyward.APIKeyFilter{OwnerID: heavyOwner}},
		{"owner-small", keyward.APIKeyFilter{OwnerID: smallOwner}},
		{"all-filters", keyward.APIKeyFilter{Query: "agamm", Status: keyward.StatusActive, Permission: "orders_read", OwnerID: heavyOwner}},
		// A name common in the tenant but rare at the start of the order:
		// the walk reads far (keys are ordered by i, and these names are
		// those of i from 100,000 to 199,999).
		{"name-correlated", keyward.APIKeyFilter{Query: "service 1", OwnerID: heavyOwner}},
		{"page25000", keyward.APIKeyFilter{Page: deep}},
		{"cursor-deep", keyward.APIKeyFilter{Cursor: before.NextCursor}},
	}
	for _, sort := range []string{"name", "-name", "createdAt", "-createdAt", "lastUsedAt", "-lastUsedAt", "expiresAt",
		"-expiresAt", "id", "-id", "isActive", "-isActive", "clientId", "userName", "version", "description", "deviceName"} {
		cases = append(cases, struct {
			name string
			f    keyward.APIKeyFilter
		}{"sort_" + sort, keyward.APIKeyFilter{Sort: sort}})
	}
	for _, c := range cases {
		if c.f.Page == (keyward.Page{}) {
			c.f.Page = page1
		}
		b.Run(c.name, func(b *testing.B) {
			var took []time.Duration
			var l keyward.List[*keyward.APIKey]
			for b.Loop() {
				start := time.Now()
				c.f.Now = start
				var err error
				if l, err = db.ListAPIKeys(ctx, benchTenantID, c.f); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			if len(l.Items) == 0 && c.name != "name-none" {
				b.Fatalf("no keys")
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(l.TotalCount), "total")
		})
	}
}
