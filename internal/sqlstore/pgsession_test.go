package sqlstore_test

import (
	"testing"

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
