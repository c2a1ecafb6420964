package sqlstore_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// BenchmarkCreateAPIKeys stores 10,000 keys (a permission each) per
// operation through CreateAPIKeys in one transaction, as an import does,
// and reports keys/s, and keys per CPU second of the process (which a
// busy machine does not lower): the store's share of BenchmarkImport
// (httpapi).
func BenchmarkCreateAPIKeys(b *testing.B) { benchmarkCreateAPIKeys(b, sqltest.SQLite(b)) }

// BenchmarkCreateAPIKeysPostgres is BenchmarkCreateAPIKeys on PostgreSQL
// (KEYWARD_TEST_POSTGRES_URL).
func BenchmarkCreateAPIKeysPostgres(b *testing.B) { benchmarkCreateAPIKeys(b, sqltest.Postgres(b)) }

func benchmarkCreateAPIKeys(b *testing.B, db *sqlstore.DB) {
	const n = keyward.MaxImportLines
	tn, perms := benchTenant(b, db)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var spent, cpu time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		keys := make([]*keyward.APIKey, n)
		for j := range keys {
			keys[j] = benchKey(tn.ID, perms[:1], now)
			keys[j].Name = "bulk-" + strconv.Itoa(i*n+j)
		}
		b.StartTimer()
		start, startCPU := time.Now(), sqltest.ProcessCPU()
		err := db.Tx(b.Context(), func(tx keyward.StoreTx) error {
			errs, err := tx.CreateAPIKeys(b.Context(), keys)
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			return err
		})
		spent, cpu = spent+time.Since(start), cpu+sqltest.ProcessCPU()-startCPU
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/spent.Seconds(), "keys/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N*n)/cpu.Seconds(), "keys/cpu-s")
	}
}
