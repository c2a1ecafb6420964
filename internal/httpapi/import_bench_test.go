package httpapi_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// BenchmarkImport imports 10,000 keys (secrets in clear, a permission
// each) per request through HTTP into SQLite and reports keys/s of wall
// time, and keys per second of the CPU time the process (server and
// client) used, which a busy machine does not lower.
func BenchmarkImport(b *testing.B) { benchmarkImport(b, sqltest.SQLite(b)) }

// BenchmarkImportPostgres is BenchmarkImport on PostgreSQL
// (KEYWARD_TEST_POSTGRES_URL).
func BenchmarkImportPostgres(b *testing.B) { benchmarkImport(b, sqltest.Postgres(b)) }

func benchmarkImport(b *testing.B, db *sqlstore.DB) {
	s := newServer(b, db)
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
	body := func(n int) string {
		var sb strings.Builder
		for i := range n {
			sb.WriteString(`{"name": "bulk-` + strconv.Itoa(i) + `", "level": 2, "permissions": [{"name": "orders_read"}], "meta": {"plan": "pro"}, "secret": "legacy_` + secret.NewID() + `"}` + "\n")
		}
		return sb.String()
	}
	b.ResetTimer()
	var spent, cpu time.Duration
	for range b.N {
		b.StopTimer()
		lines := body(benchImportLines)
		b.StartTimer()
		start, startCPU := time.Now(), sqltest.ProcessCPU()
		a, _ := s.importKeys("Bearer "+s.admin, lines, 200)
		spent, cpu = spent+time.Since(start), cpu+sqltest.ProcessCPU()-startCPU
		if a.Created != benchImportLines {
			b.Fatalf("created %d", a.Created)
		}
	}
	b.ReportMetric(float64(b.N*benchImportLines)/spent.Seconds(), "keys/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N*benchImportLines)/cpu.Seconds(), "keys/cpu-s")
	}
}

// benchImportLines is the lines of one import request.
var benchImportLines = keyward.MaxImportLines
