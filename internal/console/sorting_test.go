package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestSortableHeaders: the list headers are links that order the list by
// their column, keep the filters, toggle the direction, and mark the
// column the list is ordered by with aria-sort and an arrow.
func TestSortableHeaders(t *testing.T) {
	s := start(t, false)
	name := "xenon"
	if _, err := s.svc.CreateAPIKey(context.Background(), s.admin, keyward.APIKeyInput{Name: &name}); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	for _, tc := range []struct {
		path string
		want []string
		not  []string
	}{
		{"/console/keys?sort=-name&status=active&q=x", []string{
			`<th scope="col" class="col-name" aria-sort="descending"><a class="sort" href="/console/keys?q=x&amp;sort=name&amp;status=active">Name<span class="arrow" aria-hidden="true">▼</span><span class="sr-only"> (sort ascending)</span></a></th>`,
			`href="/console/keys?q=x&amp;sort=-lastUsedAt&amp;status=active">Last used<span class="sr-only"> (sort descending)</span>`,
			`href="/console/keys?q=x&amp;sort=expiresAt&amp;status=active">Expires<`,
		}, []string{`aria-sort="ascending"`}},
		{"/console/keys?sort=expiresAt", []string{
			`<th scope="col" class="col-date" aria-sort="ascending"><a class="sort" href="/console/keys?sort=-expiresAt">Expires<span class="arrow" aria-hidden="true">▲</span>`,
			// the default order (newest first) is the Created column's descending order
			`href="/console/keys">Created<`,
		}, []string{`aria-sort="descending"`}},
		{"/console/keys?sort=bogus", []string{`<th scope="col" class="col-created" aria-sort="descending">`}, nil},
		{"/console/users?sort=-level&q=adm", []string{
			`<th scope="col" aria-sort="descending"><a class="sort" href="/console/users?q=adm&amp;sort=level">Level<span class="arrow" aria-hidden="true">▼</span>`,
			`href="/console/users?q=adm">User name<`,
			`<option value="-level" selected>Highest level first</option>`,
		}, nil},
	} {
		body := b.get(tc.path).Body
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %s", tc.path, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(body, w) {
				t.Errorf("%s has %s", tc.path, w)
			}
		}
	}
}
