package main

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// BenchmarkStartMillion measures "keyward serve" from run to its first
// /healthz answer (opening the database, the schema check, the Service, the
// handler and the listener) and its shutdown, on a database holding
// 1,000,000 keys: issue 13 wants start-up under 2 s, which nothing
// proportional to the number of keys may threaten. The keys are seeded by
// SQL (a minute or two per database), so it does not run with -short; run
//
//	go test -run '^$' -bench StartMillion -benchtime 5x ./cmd/keyward
//
// start-ms is from run to the first /healthz answer.
func BenchmarkStartMillion(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds a million keys: not in -short mode")
	}
	const master = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	// Seeded once here: a sub-benchmark's function runs once per b.N tried.
	dir := b.TempDir()
	lite := map[string]string{"KEYWARD_DATA_DIR": dir, "KEYWARD_MASTER_KEY": master, "KEYWARD_ADMIN_PASSWORD": "bench-password"}
	startStop(b, lite) // creates and bootstraps the database
	seedStartKeys(b, "sqlite", "file:"+filepath.Join(dir, "keyward.db")+"?_pragma=busy_timeout(5000)&_pragma=synchronous(OFF)")
	b.Run("sqlite", func(b *testing.B) { benchStart(b, lite) })
	if os.Getenv(sqltest.PostgresEnv) == "" {
		b.Log(sqltest.PostgresEnv + " not set: skipping PostgreSQL")
		return
	}
	dsn := sqltest.PostgresDSN(b)
	pg := map[string]string{"KEYWARD_DATABASE_URL": dsn, "KEYWARD_DATA_DIR": b.TempDir(), "KEYWARD_MASTER_KEY": master,
		"KEYWARD_ADMIN_PASSWORD": "bench-password"}
	startStop(b, pg)
	seedStartKeys(b, "pgx", dsn)
	b.Run("postgres", func(b *testing.B) { benchStart(b, pg) })
}

func benchStart(b *testing.B, env map[string]string) {
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		total += startStop(b, env)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "start-ms")
}

// startStop runs "keyward serve" with env until /healthz answers 200, then
// stops it, and returns how long the start took.
func startStop(b *testing.B, env map[string]string) time.Duration {
	b.Helper()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr lockedBuffer
	go func() {
		code := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "error"}, func(k string) string { return env[k] },
			strings.NewReader(""), pw, &stderr)
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	url := ""
	for url == "" && sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "keyward listening on "); ok {
			url = u
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		b.Fatalf("server did not start (code %d): %s", <-done, stderr.String())
	}
	res, err := http.Get(url + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("GET /healthz: %v %v", res, err)
	}
	res.Body.Close()
	took := time.Since(start)
	cancel()
	if code := <-done; code != 0 {
		b.Fatalf("serve exited with %d: %s", code, stderr.String())
	}
	return took
}

// seedStartKeys adds 1,000,000 keys to the root tenant of the stopped
// server's database, by SQL (as internal/sqlstore's seedMillion does).
func seedStartKeys(b *testing.B, driver, dsn string) {
	ctx := b.Context()
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	var tenant string
	if err := raw.QueryRowContext(ctx, `SELECT id FROM tenants ORDER BY created_at LIMIT 1`).Scan(&tenant); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	stmt, args := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000000)
		INSERT INTO api_keys (id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
			expires_at, token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at, last_used_at,
			created_by, version, secret_hash)
		SELECT printf('k%07d', i), $1, printf('kw_id_%07d', i), printf('service %d', i), '', NULL, '', 1, (i % 5) <> 0,
			NULL, 3600, 0, '{}', 'abcd', $2 + i, $2 + i, NULL, 'bench', 1, randomblob(32) FROM n`, []any{tenant, now.UnixMicro() - 1_000_000}
	if driver == "pgx" {
		stmt, args = `INSERT INTO api_keys (id, tenant_id, client_id, name, description, owner_id, device_name, level, is_active,
			expires_at, token_lifespan_seconds, hmac_enabled, meta, secret_hint, created_at, updated_at, last_used_at,
			created_by, version, secret_hash)
		SELECT 'k' || lpad(i::text, 7, '0'), $1, 'kw_id_' || lpad(i::text, 7, '0'), 'service ' || i, '', NULL, '', 1, (i % 5) <> 0,
			NULL, 3600, false, '{}', 'abcd', $2::timestamptz + i * interval '1 microsecond', $2::timestamptz + i * interval '1 microsecond',
			NULL, 'bench', 1, sha256(i::text::bytea) FROM generate_series(1, 1000000) AS n(i)`, []any{tenant, now.Add(-time.Second)}
	}
	start := time.Now()
	if _, err := raw.ExecContext(ctx, stmt, args...); err != nil {
		b.Fatalf("seeding: %v", err)
	}
	b.Logf("seeded 1,000,000 keys in %v", time.Since(start).Round(time.Second))
}
