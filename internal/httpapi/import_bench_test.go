package httpapi_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// BenchmarkImport imports 10,000 keys (secrets in clear, a permission
// each) per request through HTTP into SQLite and reports keys/s.
func BenchmarkImport(b *testing.B) {
	s := newServer(b, sqltest.SQLite(b))
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders_read"}, 201, nil)
	body := func(n int) string {
		var sb strings.Builder
		for i := range n {
			sb.WriteString(`{"name": "bulk-` + strconv.Itoa(i) + `", "level": 2, "permissions": [{"name": "orders_read"}], "meta": {"plan": "pro"}, "secret": "legacy_` + secret.NewID() + `"}` + "\n")
		}
		return sb.String()
	}
	b.ResetTimer()
	var spent time.Duration
	for range b.N {
		b.StopTimer()
		lines := body(benchImportLines)
		b.StartTimer()
		start := time.Now()
		a, _ := s.importKeys("Bearer "+s.admin, lines, 200)
		spent += time.Since(start)
		if a.Created != benchImportLines {
			b.Fatalf("created %d", a.Created)
		}
	}
	b.ReportMetric(float64(b.N*benchImportLines)/spent.Seconds(), "keys/s")
}

// benchImportLines is the lines of one import request.
var benchImportLines = keyward.MaxImportLines
