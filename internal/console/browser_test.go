package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestConsoleInChromium runs test/node/console.mjs: Pier Cloud's API-key
// script step by step in Debian's Chromium against a real server, plus
// filters, paging, the other screens, CSRF, the permission-denied case and
// axe-core on every screen. Screenshots go to artifacts/console at the
// repository root (git-ignored). Without node, its packages or Chromium the
// test skips, unless KEYWARD_TEST_NODE is set (as in CI): then it fails.
func TestConsoleInChromium(t *testing.T) {
	dir, err := filepath.Abs("../../test/node")
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "playwright-core"))
	_, chromeErr := os.Stat("/usr/bin/chromium")
	if nodeErr != nil || modErr != nil || chromeErr != nil {
		if os.Getenv("KEYWARD_TEST_NODE") != "" {
			t.Fatalf("KEYWARD_TEST_NODE is set but node, test/node/node_modules or /usr/bin/chromium is missing: %v %v %v", nodeErr, modErr, chromeErr)
		}
		t.Skip("node, test/node/node_modules (npm ci) or /usr/bin/chromium (apt-get install chromium) missing: skipping the browser test")
	}
	s := start(t, false)
	attack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>prize</title><form method="post" action="%s/console/keys">
<input name="name" value="planted by another site"><input name="lifespanValue" value="1"><input name="lifespanUnit" value="hours">
</form><script>document.forms[0].submit()</script>`, s.URL)
	}))
	defer attack.Close()
	artifacts, err := filepath.Abs("../../artifacts/console")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]string{"base": s.URL, "attack": attack.URL + "/attack", "adminPassword": adminPassword, "artifacts": artifacts})

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "console.mjs", string(cfg))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node console.mjs: %v\n%s", err, b)
	}
	var got struct {
		Steps            []string
		Axe              map[string][]any
		Screenshots      []string
		CSRFStatus       int `json:"csrfStatus"`
		NoTokenStatus    int `json:"noTokenStatus"`
		ViewerPostStatus int `json:"viewerPostStatus"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("console.mjs printed %s: %v", b, err)
	}
	wantSteps := []string{"login", "add", "secret-gone", "deactivate-activate", "rotate", "edit", "filters-paging", "detail",
		"users-permissions-audit", "widths", "bulk", "delete", "csrf", "logout", "permission-denied"}
	if fmt.Sprint(got.Steps) != fmt.Sprint(wantSteps) {
		t.Errorf("steps: got %v, want %v", got.Steps, wantSteps)
	}
	if got.CSRFStatus != http.StatusForbidden || got.NoTokenStatus != http.StatusForbidden || got.ViewerPostStatus != http.StatusForbidden {
		t.Errorf("refusals: cross-origin %d, no token %d, level 2 %d; want 403 each", got.CSRFStatus, got.NoTokenStatus, got.ViewerPostStatus)
	}
	if len(got.Axe) < 10 {
		t.Errorf("axe ran on %d screens, want at least 10", len(got.Axe))
	}
	for screen, v := range got.Axe {
		if len(v) > 0 {
			t.Errorf("axe on %s: serious or critical violations %v", screen, v)
		}
	}
	for _, f := range got.Screenshots {
		if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s missing or empty: %v", f, err)
		}
	}
	// What the browser did, seen from the Service.
	keys, err := s.svc.ListAPIKeys(context.Background(), s.admin, keywardFilterAll())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.Items {
		if k.Name == "planted by another site" || k.Name == "forced" || k.Name == "Billing" {
			t.Errorf("key %q exists after the browser run", k.Name)
		}
	}
}

func keywardFilterAll() keyward.APIKeyFilter {
	return keyward.APIKeyFilter{Page: keyward.Page{Number: 1, Size: 100}}
}
