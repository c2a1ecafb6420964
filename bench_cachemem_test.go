package keyward_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// BenchmarkKeyCacheMemory fills the key cache with N distinct keys by
// verifying each once through the Service on a real SQLite store, and
// reports the Go heap's and the process's resident memory's growth per
// cached key (issue 13 wants at most 1 KiB of RSS). N is KEYWARD_BENCH_CACHE_KEYS (default 100,000); the
// keys are seeded through ImportAPIKeys (10,000 a call), half of them
// with a permission, a quarter owned by a user. Seeding takes a while, so
// it does not run with -short; run it once:
//
//	KEYWARD_BENCH_CACHE_KEYS=1000000 go test -run '^$' -bench KeyCacheMemory -benchtime 1x .
func BenchmarkKeyCacheMemory(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds many keys: not in -short mode")
	}
	n := 100_000
	if v := os.Getenv("KEYWARD_BENCH_CACHE_KEYS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("KEYWARD_BENCH_CACHE_KEYS=%q: want a positive number", v)
		}
	}
	e := newEnv(b, sqltest.SQLite(b), func(c *keyward.Config) { c.CacheSize = n + n/10 + 1000 }) // room in every shard
	if _, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders_read")}); err != nil {
		b.Fatal(err)
	}
	owner, err := e.svc.CreateUser(e.ctx, e.admin, keyward.UserInput{UserName: ptr("owner"), Password: ptr("password-owner"),
		Level: ptr(1), Permissions: perms("orders_read")})
	if err != nil {
		b.Fatal(err)
	}
	v, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: v.ClientSecret})
	if err != nil {
		b.Fatal(err)
	}
	secrets := make([]string, n)
	for start := 0; start < n; start += keyward.MaxImportLines {
		lines := make([]keyward.ImportLine, 0, keyward.MaxImportLines)
		for i := start; i < min(n, start+keyward.MaxImportLines); i++ {
			secrets[i] = secret.NewSecret("kw")
			in := keyward.APIKeyInput{Name: ptr(fmt.Sprintf("service %d", i))}
			if i%2 == 0 {
				in.Permissions = perms("orders_read")
			}
			if i%4 == 1 {
				in.OwnerID = &owner.ID
			}
			lines = append(lines, keyward.ImportLine{APIKeyInput: in, Line: len(lines) + 1, Secret: secrets[i]})
		}
		res, err := e.svc.ImportAPIKeys(e.ctx, e.admin, lines)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatalf("import line %d: %v", r.Line, r.Err)
			}
		}
	}
	verify := func(sec string) {
		res, err := e.svc.VerifyKey(e.ctx, verifier, keyward.VerifyRequest{Key: sec})
		if err != nil || !res.Valid {
			b.Fatalf("verify: %v %+v", err, res)
		}
	}
	heap := func() uint64 {
		if err := e.svc.FlushLastUsed(e.ctx); err != nil { // as the server does every 2 s
			b.Fatal(err)
		}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// rss is the process's resident memory (Linux; 0 elsewhere), what
	// /metrics reports as process_resident_memory_bytes.
	rss := func() int64 {
		f, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			return 0
		}
		var size, resident int64
		fmt.Sscan(string(f), &size, &resident)
		return resident * int64(os.Getpagesize())
	}
	verify(secrets[0]) // the paths warm, the catalog cached
	b.ResetTimer()
	for range b.N {
		before, rssBefore := heap(), rss()
		for _, sec := range secrets[1:] {
			verify(sec)
		}
		after, rssAfter := heap(), rss()
		_, _, size := e.svc.CacheStats()
		if size < n*99/100 {
			b.Fatalf("cache holds %d keys; want about %d", size, n)
		}
		b.ReportMetric(float64(int64(after)-int64(before))/float64(size-1), "bytes/key")
		b.ReportMetric(float64(rssAfter-rssBefore)/float64(size-1), "rss-bytes/key")
		b.ReportMetric(float64(size), "keys")
		runtime.KeepAlive(secrets)
	}
}
