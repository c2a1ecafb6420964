package httpapi_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// keyPage is the answer of GET /v1/apikeys with its keyset paging fields.
type keyPage struct {
	Items               []keyward.APIKey `json:"items"`
	PageIndex           int              `json:"pageIndex"`
	TotalCount          int              `json:"totalCount"`
	TotalCountEstimated bool             `json:"totalCountEstimated"`
	HasPreviousPage     bool             `json:"hasPreviousPage"`
	HasNextPage         bool             `json:"hasNextPage"`
	NextCursor          string           `json:"nextCursor"`
}

// TestListAPIKeysCursor pages GET /v1/apikeys by cursor, on both
// databases: the pages join into the one big page, and a cursor of one
// tenant used in another lists only that tenant's keys.
func TestListAPIKeysCursor(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testListAPIKeysCursor(t, sqliteServer(t)) })
	t.Run("postgres", func(t *testing.T) { testListAPIKeysCursor(t, newServer(t, sqltest.Postgres(t))) })
}

func testListAPIKeysCursor(t *testing.T, s *server) {
	var acme keyward.Tenant
	s.do("POST", "/v1/tenants", s.admin, map[string]any{"name": "acme", "prefix": "acme"}, 201, &acme)
	for i := range 7 {
		s.do("POST", "/v1/apikeys", s.admin, map[string]any{"name": fmt.Sprintf("key %d", 7-i)}, 201, nil)
		if i < 3 {
			s.do("POST", "/v1/apikeys?tenant=acme", s.admin, map[string]any{"name": fmt.Sprintf("z acme key %d", i)}, 201, nil)
		}
	}
	// A cursor or filter that does not decode is refused, not dropped.
	for _, q := range []string{"cursor=%ZZ", "q=%", "status=active&ownerId=%zz"} {
		s.do("GET", "/v1/apikeys?"+q, s.admin, nil, 400, nil)
	}
	names := func(l keyPage) []string {
		var out []string
		for _, k := range l.Items {
			out = append(out, k.Name)
		}
		return out
	}
	for _, sort := range []string{"name", "-createdAt", "-lastUsedAt"} {
		var all keyPage
		s.do("GET", "/v1/apikeys?page-size=100&sort="+sort, s.admin, nil, 200, &all)
		var got []string
		path := "/v1/apikeys?page-size=3&sort=" + url.QueryEscape(sort)
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("the cursors never end")
			}
			var l keyPage
			q := path
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			s.do("GET", q, s.admin, nil, 200, &l)
			if l.TotalCount != len(all.Items) || l.TotalCountEstimated {
				t.Fatalf("sort %s: got total %d (estimated %v), want %d", sort, l.TotalCount, l.TotalCountEstimated, len(all.Items))
			}
			if l.HasNextPage != (l.NextCursor != "") || l.HasPreviousPage != (cursor != "") {
				t.Fatalf("sort %s: hasNextPage %v with cursor %q, hasPreviousPage %v", sort, l.HasNextPage, l.NextCursor, l.HasPreviousPage)
			}
			got = append(got, names(l)...)
			if cursor = l.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, names(all)) {
			t.Errorf("sort %s: pages by cursor joined into %v, want %v", sort, got, names(all))
		}
	}

	// A cursor from the default tenant, used in acme, by the root admin and
	// by acme's own admin: acme's keys only.
	var first keyPage
	s.do("GET", "/v1/apikeys?page-size=1&sort=name", s.admin, nil, 200, &first)
	if first.NextCursor == "" {
		t.Fatal("no next cursor")
	}
	s.do("POST", "/v1/users?tenant=acme", s.admin, map[string]any{"userName": "boss", "password": "boss-password", "level": 8}, 201, nil)
	boss := s.login("acme", "boss", "boss-password")
	for who, get := range map[string]func(path string, out any){
		"root admin": func(path string, out any) { s.do("GET", path+"&tenant=acme", s.admin, nil, 200, out) },
		"acme admin": func(path string, out any) { s.do("GET", path, boss, nil, 200, out) },
	} {
		var l keyPage
		get("/v1/apikeys?page-size=100&sort=name&cursor="+url.QueryEscape(first.NextCursor), &l)
		if len(l.Items) == 0 {
			t.Errorf("%s: the cursor hides acme's own keys", who)
		}
		for _, k := range l.Items {
			if k.TenantID != acme.ID || !strings.HasPrefix(k.Name, "z acme key") {
				t.Errorf("%s: a cursor of the default tenant listed %q of tenant %s in acme", who, k.Name, k.TenantID)
			}
		}
	}

	// A cursor is tied to its sort, and a forged one is refused.
	for _, q := range []string{
		"sort=-name&cursor=" + url.QueryEscape(first.NextCursor),
		"sort=name&cursor=forged",
		"cursor=" + strings.Repeat("A", keyward.MaxCursorLen+1),
		// Well-formed but holding text no key can (PostgreSQL answered 503).
		"sort=name&cursor=" + base64.RawURLEncoding.EncodeToString(
			[]byte(`{"s":"name","v":[{"k":"s","v":"a\u0000b"},{"k":"s","v":"00000000-0000-0000-0000-000000000000"}]}`)),
	} {
		res := s.do("GET", "/v1/apikeys?"+q, s.admin, nil, 400, nil)
		if !strings.Contains(string(res.Body), `"field":"cursor"`) {
			t.Errorf("%.40s: got %s, want a problem naming the cursor", q, res.Body)
		}
	}
}
