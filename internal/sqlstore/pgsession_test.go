package sqlstore_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestPostgresSessionsRunWithoutJIT: keyward's PostgreSQL sessions have JIT
// off (issue 13: its compilation cost a flush statement hundreds of ms),
// unless the DSN sets jit itself, as a parameter or in options.
func TestPostgresSessionsRunWithoutJIT(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	for _, c := range []struct{ name, params, want string }{
		{"default", "", "off"},
		{"dsn jit=on", "&jit=on", "on"},
		{"dsn options", "&options=-c%20jit%3Don", "on"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := sqltest.Open(t, dsn+c.params, false)
			got, err := db.QueryStrings(t.Context(), `SHOW jit`)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != c.want {
				t.Errorf("jit = %q, want %q", got, c.want)
			}
		})
	}
}

// TestFlushPlansNestedLoops: the usage flush's last-use statement looks its
// keys up by primary key, in nested loops, even where the planner would
// rather hash a whole table (issue 13: all of api_keys, 400,000 rows, for
// a flush of 8,000 keys): here 3,000 keys flushed of 6,000, analyzed.
func TestFlushPlansNestedLoops(t *testing.T) {
	ctx := t.Context()
	db := sqltest.Open(t, sqltest.PostgresDSN(t), true)
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := &keyward.Tenant{ID: secret.NewID(), Name: "t", Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	var keys []*keyward.APIKey
	for range 6_000 {
		keys = append(keys, &keyward.APIKey{ID: secret.NewID(), TenantID: tn.ID, ClientID: secret.NewClientID("kw"),
			Name: "k", IsActive: true, TokenLifespanSeconds: 60, CreatedAt: now, UpdatedAt: now, Version: 1,
			SecretHash: secret.RandomBytes(32)})
	}
	if _, err := db.CreateAPIKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	if _, err := db.QueryStrings(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys[:3_000] {
		ids = append(ids, k.ID)
	}
	slices.Sort(ids)
	plan, err := db.ExplainTouch(ctx, tn.ID, ids, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"Hash Join", "Merge Join", "Seq Scan"} {
		if strings.Contains(plan, bad) {
			t.Errorf("the plan has a %s:\n%s", bad, plan)
		}
	}
}
