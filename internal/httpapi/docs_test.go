package httpapi_test

import (
	"html"
	"os"
	"strings"
	"testing"
)

// TestDocsListsEveryOperation: /docs renders the served document — every
// operation (its method, path and summary), every schema, the examples —
// as one page with no script or inline style, under a CSP that allows
// nothing but its own stylesheet.
func TestDocsListsEveryOperation(t *testing.T) {
	s := sqliteServer(t)
	doc := loadDoc(t, s)
	res := s.raw("GET", "/docs", "", nil)
	page := string(res.Body)
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs: got %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "script-src"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP %q allows %q", csp, bad)
		}
	}
	for _, bad := range []string{"<script", " style=", "<link rel=\"stylesheet\" href=\"http"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, attr := range []string{"onclick=", "onload=", "onerror="} {
		if strings.Contains(page, attr) {
			t.Errorf("the page holds an event handler %q", attr)
		}
	}
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			i := strings.Index(page, `id="op-`+op.OperationID+`"`)
			if i < 0 {
				t.Errorf("%s %s (%s) is not on the page", method, path, op.OperationID)
				continue
			}
			article := page[i:]
			article = article[:strings.Index(article, "</article>")]
			for _, want := range []string{">" + method + "<", "<code>" + path + "</code>", html.EscapeString(op.Summary), "<h4>Responses</h4>"} {
				if !strings.Contains(article, want) {
					t.Errorf("%s: the page's entry lacks %q", op.OperationID, want)
				}
			}
			if op.RequestBody != nil && !strings.Contains(article, "<pre>") {
				t.Errorf("%s: the request body's example is not shown", op.OperationID)
			}
		}
	}
	if ops < 30 {
		t.Errorf("the document has %d operations; want them all", ops)
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("schema %s is not on the page", name)
		}
	}
	if !strings.Contains(page, "<code>clientSecret</code>") || strings.Contains(page, "`clientSecret`") {
		t.Error("the descriptions' `code` spans are not rendered as code")
	}
	if !strings.Contains(page, "orders-service") {
		t.Error("the examples are not on the page")
	}
	css := s.raw("GET", "/docs/docs.css", "", nil)
	if css.Status != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") || len(css.Body) == 0 {
		t.Errorf("GET /docs/docs.css: got %d %s", css.Status, css.Header.Get("Content-Type"))
	}
	if res := s.raw("GET", "/docs?x=%FF", "", nil); res.Status != 400 {
		t.Errorf("GET /docs with bad bytes: got %d, want 400", res.Status)
	}
}

// TestDocsInChromium opens /docs in Chromium at 1280×800 and 390×844
// (test/node/docs.mjs): the page loads its stylesheet under its CSP with no
// console error, lists every operation, and is no wider than the window.
func TestDocsInChromium(t *testing.T) {
	dir := nodeHarness(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		if os.Getenv("KEYWARD_TEST_NODE") != "" {
			t.Fatalf("KEYWARD_TEST_NODE is set but /usr/bin/chromium is missing: %v", err)
		}
		t.Skip("/usr/bin/chromium missing: skipping the browser check")
	}
	s := sqliteServer(t)
	var got struct {
		Operations int
		Viewports  map[string]struct {
			Status        int
			Errors        []string
			Missing       []string
			Width, Window int
			Styled        bool
		}
	}
	runNode(t, dir, "docs.mjs", &got, s.URL)
	if got.Operations < 30 || len(got.Viewports) != 2 {
		t.Fatalf("docs.mjs saw %d operations in %d viewports", got.Operations, len(got.Viewports))
	}
	for name, v := range got.Viewports {
		if v.Status != 200 || len(v.Errors) > 0 || len(v.Missing) > 0 || !v.Styled {
			t.Errorf("%s: status %d, errors %q, operations missing %q, styled %v", name, v.Status, v.Errors, v.Missing, v.Styled)
		}
		if v.Width > v.Window {
			t.Errorf("%s: the page is %d px wide in a %d px window", name, v.Width, v.Window)
		}
	}
}
