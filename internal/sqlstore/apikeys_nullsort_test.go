package sqlstore_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestListAPIKeysNullableSortWalk walks every list sorted by a nullable
// field, both ways, through all its pages by cursor and by page number
// (from page anchors, among many keys and few), over keys whose values are
// NULL, equal or distinct, and compares each walk with the order sorted
// here: values first, NULLs last in both directions, ties by id.
func TestListAPIKeysNullableSortWalk(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		now := time.Now().UTC().Truncate(time.Second)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "nullsort", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		rng := rand.New(rand.NewPCG(7, 11))
		var keys []*keyward.APIKey
		for range 45 {
			k := benchKey(tn.ID, nil, now)
			k.IsActive = rng.IntN(3) != 0
			if rng.IntN(5) < 2 { // a value among four: many ties
				k.LastUsedAt = ptrTo(now.Add(-time.Duration(rng.IntN(4)) * time.Minute))
			}
			if rng.IntN(3) == 0 {
				k.ExpiresAt = ptrTo(now.Add(time.Duration(1+rng.IntN(3)) * time.Hour))
			}
			must(t, db.CreateAPIKey(ctx, k))
			keys = append(keys, k)
		}
		value := func(k *keyward.APIKey, field string) *time.Time {
			if field == "lastUsedAt" {
				return k.LastUsedAt
			}
			return k.ExpiresAt
		}
		ids := func(keys []*keyward.APIKey) []string {
			out := []string{}
			for _, k := range keys {
				out = append(out, k.ID)
			}
			return out
		}
		for _, c := range []struct {
			name         string
			cap, stride  int // listCountCap and anchorStride
			inactiveOnly bool
		}{
			{"many keys", 3, 4, false},
			{"many keys, a filter", 3, 4, true},
			{"few keys", 1000, 2000, false},
		} {
			for _, sort := range []string{"lastUsedAt", "-lastUsedAt", "expiresAt", "-expiresAt"} {
				field, desc := strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
				var want []*keyward.APIKey
				for _, k := range keys {
					if !c.inactiveOnly || !k.IsActive {
						want = append(want, k)
					}
				}
				slices.SortFunc(want, func(a, b *keyward.APIKey) int {
					va, vb := value(a, field), value(b, field)
					switch {
					case va == nil && vb == nil:
					case va == nil:
						return 1
					case vb == nil:
						return -1
					case !va.Equal(*vb):
						if desc {
							return vb.Compare(*va)
						}
						return va.Compare(*vb)
					}
					return cmp.Compare(a.ID, b.ID)
				})
				f := keyward.APIKeyFilter{Sort: sort, Now: now}
				if c.inactiveOnly {
					f.Status = keyward.StatusInactive
				}
				for _, size := range []int{1, 3, 7} {
					t.Run(fmt.Sprintf("%s/%s/size%d", c.name, sort, size), func(t *testing.T) {
						defer sqlstore.SetListCountCap(c.cap)()
						defer sqlstore.SetAnchorStride(c.stride)()
						var byCursor, byNumber []*keyward.APIKey
						f := f
						f.Page = keyward.Page{Number: 1, Size: size}
						for range len(want) + 1 {
							l, err := db.ListAPIKeys(ctx, tn.ID, f)
							must(t, err)
							byCursor = append(byCursor, l.Items...)
							if l.NextCursor == "" {
								break
							}
							f.Cursor = l.NextCursor
						}
						f.Cursor = ""
						for n := 1; n <= len(want)/size+1; n++ {
							f.Page.Number = n
							l, err := db.ListAPIKeys(ctx, tn.ID, f)
							must(t, err)
							byNumber = append(byNumber, l.Items...)
							if more := n*size < len(want); (l.NextCursor != "") != more {
								t.Errorf("page %d: got a next cursor %v, want %v", n, l.NextCursor != "", more)
							}
						}
						if got, want := ids(byCursor), ids(want); !slices.Equal(got, want) {
							t.Errorf("by cursor: got %v, want %v", got, want)
						}
						if got, want := ids(byNumber), ids(want); !slices.Equal(got, want) {
							t.Errorf("by page number: got %v, want %v", got, want)
						}
					})
				}
			}
		}
	})
}

// TestListAPIKeysNullableSortSeeks checks, on SQLite (whose plans do not
// depend on statistics), that a list of many keys sorted by a nullable
// field, after a cursor among the values, in a tie or among the NULLs,
// seeks in the order's index past the IS NULL column (to the value, or to
// the id among equal values and NULLs) and sorts nothing: a condition
// bounding the IS NULL column alone read every key before the cursor.
func TestListAPIKeysNullableSortSeeks(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Dialect() != sqlstore.DialectSQLite {
			t.Skip("PostgreSQL's plans of a few keys are not those of many: see BenchmarkListAPIKeysMillion")
		}
		ctx := t.Context()
		now := time.Now().UTC().Truncate(time.Second)
		tn := &keyward.Tenant{ID: secret.NewID(), Name: "seeks", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, db.CreateTenant(ctx, tn))
		for i := range 12 {
			k := benchKey(tn.ID, nil, now)
			if i%3 != 0 { // two keys a value: ties
				k.LastUsedAt = ptrTo(now.Add(-time.Duration(i/2) * time.Minute))
				k.ExpiresAt = ptrTo(now.Add(time.Duration(i/2) * time.Hour))
			}
			must(t, db.CreateAPIKey(ctx, k))
		}
		defer sqlstore.SetListCountCap(3)()
		seek := regexp.MustCompile(`SEARCH k USING (COVERING )?INDEX \S+ \(tenant_id=\? AND <expr>=\? AND (last_used_at|expires_at)[=<>]`)
		for _, sort := range []string{"lastUsedAt", "-lastUsedAt", "expiresAt", "-expiresAt"} {
			for n := 1; n < 12; n++ {
				// The cursor of the n-th key: a value, a tie or a NULL.
				f := keyward.APIKeyFilter{Sort: sort, Now: now, Page: keyward.Page{Number: n, Size: 1}}
				l, err := db.ListAPIKeys(ctx, tn.ID, f)
				must(t, err)
				f.Page.Number, f.Cursor = 1, l.NextCursor
				var queries [][]any
				func() {
					defer sqlstore.SetListQueryHook(func(q string, args []any) { queries = append(queries, append([]any{q}, args...)) })()
					_, err = db.ListAPIKeys(ctx, tn.ID, f)
				}()
				must(t, err)
				if len(queries) == 0 {
					t.Fatalf("%s after key %d: no query seen", sort, n)
				}
				for _, q := range queries {
					plan, err := db.QueryStrings(ctx, "EXPLAIN QUERY PLAN "+q[0].(string), q[1:]...)
					must(t, err)
					p := strings.Join(plan, "\n")
					if !seek.MatchString(p) || strings.Contains(p, "TEMP B-TREE") {
						t.Errorf("%s after key %d: got plan\n%s\nwant a seek past the IS NULL column (%s) and no sort", sort, n, p, seek)
					}
				}
			}
		}
	})
}
