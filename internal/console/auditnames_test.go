package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestAuditSaysWhatChanged: the audit log names a deleted key and says which
// fields a change touched (never their values).
func TestAuditSaysWhatChanged(t *testing.T) {
	s := start(t, false)
	ctx := context.Background()
	name := "Nightly export ✓"
	k, err := s.svc.CreateAPIKey(ctx, s.admin, keyward.APIKeyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	level := 3
	if _, err := s.svc.UpdateAPIKey(ctx, s.admin, k.ID, keyward.APIKeyInput{Level: &level}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.DeleteAPIKey(ctx, s.admin, k.ID, nil); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	body := b.get("/console/audit").Body
	for _, want := range []string{"Nightly export ✓ <span class=\"muted small\">(gone", "changed level"} {
		if !strings.Contains(body, want) {
			t.Errorf("the audit page lacks %q", want)
		}
	}
}
