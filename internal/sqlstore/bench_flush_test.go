package sqlstore_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// BenchmarkFlushUsage is Service.FlushLastUsed under cold traffic: the last
// uses, request counts and outcomes of 5,000 keys of one tenant, each used
// once since the previous flush (a later time every flush). It reports the
// CPU per key flushed, of the process and (PostgreSQL) of its backends,
// which the wall time on a shared machine does not show:
//
//	go test -run '^$' -bench FlushUsage ./internal/sqlstore
//
// KEYWARD_BENCH_FLUSH_OTHER_KEYS=n adds n keys of another tenant first.
func BenchmarkFlushUsage(b *testing.B) {
	const n = 5_000
	for _, backend := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", sqltest.SQLiteDSN}, {"postgres", sqltest.PostgresDSN}} {
		b.Run(backend.name, func(b *testing.B) {
			ctx := b.Context()
			dsn := backend.dsn(b)
			app := ""
			if backend.name == "postgres" {
				app = fmt.Sprintf("flushbench%d", os.Getpid())
				dsn += "&application_name=" + app
			}
			db := sqltest.Open(b, dsn, true)
			tn, _ := benchTenant(b, db)
			now := time.Now().UTC().Truncate(time.Microsecond)
			var keys []*keyward.APIKey
			for range n {
				keys = append(keys, benchKey(tn.ID, nil, now))
			}
			if _, err := db.CreateAPIKeys(ctx, keys); err != nil {
				b.Fatal(err)
			}
			// KEYWARD_BENCH_FLUSH_OTHER_KEYS: keys of another tenant, never
			// flushed, in the tables the flush joins (issue 13: at 400,000
			// keys PostgreSQL's planner chose hash joins over whole tables).
			if others, _ := strconv.Atoi(os.Getenv("KEYWARD_BENCH_FLUSH_OTHER_KEYS")); others > 0 {
				other := &keyward.Tenant{ID: secret.NewID(), Name: "other", Prefix: "ot", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
				if err := db.CreateTenant(ctx, other); err != nil {
					b.Fatal(err)
				}
				for done := 0; done < others; done += 10_000 {
					var batch []*keyward.APIKey
					for range min(10_000, others-done) {
						batch = append(batch, benchKey(other.ID, nil, now))
					}
					if _, err := db.CreateAPIKeys(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
			}
			st := sqlstore.Guard(db, sqlstore.Limits{Timeout: time.Minute})
			backends := func() time.Duration {
				if app == "" {
					return 0
				}
				pids, err := db.QueryStrings(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
				if err != nil {
					b.Fatal(err)
				}
				var total time.Duration
				for _, pid := range pids {
					stat, err := os.ReadFile("/proc/" + pid + "/stat")
					if err != nil {
						continue
					}
					f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
					ut, _ := strconv.ParseInt(f[11], 10, 64)
					sys, _ := strconv.ParseInt(f[12], 10, 64)
					total += time.Duration(ut+sys) * 10 * time.Millisecond // USER_HZ 100
				}
				return total
			}
			i := 0
			flush := func() {
				i++
				at := now.Add(time.Duration(i) * time.Second)
				used, counts, outcomes := map[keyward.KeyRef]time.Time{}, map[keyward.KeyRef]int64{}, map[keyward.KeyOutcome]int64{}
				for _, k := range keys {
					r := keyward.KeyRef{TenantID: tn.ID, ID: k.ID}
					used[r], counts[r] = at, 1
					outcomes[keyward.KeyOutcome{Key: r, Outcome: keyward.CodeValid}] = 1
				}
				for _, err := range []error{st.TouchAPIKeys(ctx, used), st.AddKeyUsage(ctx, at, counts, used), st.AddKeyOutcomes(ctx, at, outcomes, used)} {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			flush() // the pool's connections open, the rows exist
			cpu, pg := sqltest.ProcessCPU(), backends()
			for b.Loop() {
				flush()
			}
			b.StopTimer()
			keysFlushed := float64(b.N * n)
			b.ReportMetric(float64(sqltest.ProcessCPU()-cpu)/keysFlushed, "cpu-ns/key")
			if app != "" {
				b.ReportMetric(float64(backends()-pg)/keysFlushed, "pg-cpu-ns/key")
			}
			b.ReportMetric(float64(b.Elapsed())/keysFlushed, "ns/key")
		})
	}
}
