package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestAuditSaysWhatChanged: the audit log names a deleted key and says what
// each change made of its fields, old → new, and never shows a secret or a
// password.
func TestAuditSaysWhatChanged(t *testing.T) {
	s := start(t, false)
	ctx := context.Background()
	name := "Nightly export ✓"
	for _, p := range []string{"orders:read", "audit:view"} {
		if _, err := s.svc.CreatePermission(ctx, s.admin, keyward.PermissionInput{Name: &p}); err != nil {
			t.Fatal(err)
		}
	}
	k, err := s.svc.CreateAPIKey(ctx, s.admin, keyward.APIKeyInput{Name: &name,
		Permissions: &[]keyward.PermissionRef{{Name: "audit:view"}}})
	if err != nil {
		t.Fatal(err)
	}
	level := 3
	if _, err := s.svc.UpdateAPIKey(ctx, s.admin, k.ID, keyward.APIKeyInput{Level: &level,
		Permissions: &[]keyward.PermissionRef{{Name: "orders:read"}}}, nil); err != nil {
		t.Fatal(err)
	}
	life, active := 1800, false
	if _, err := s.svc.UpdateAPIKey(ctx, s.admin, k.ID, keyward.APIKeyInput{TokenLifespanSeconds: &life,
		RateLimit: keyward.Some(keyward.RateLimit{Limit: 600, WindowSeconds: 60}), IsActive: &active}, nil); err != nil {
		t.Fatal(err)
	}
	rot, err := s.svc.RotateAPIKey(ctx, s.admin, k.ID, keyward.RotateInput{})
	if err != nil {
		t.Fatal(err)
	}
	user, pw, pw2 := "olga", "olga-password-91x", "olga-password-92y"
	u, err := s.svc.CreateUser(ctx, s.admin, keyward.UserInput{UserName: &user, Password: &pw})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.UpdateUser(ctx, s.admin, u.ID, keyward.UserInput{Password: &pw2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.DeleteAPIKey(ctx, s.admin, k.ID, nil); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.mustLogin("admin", adminPassword)
	body := b.get("/console/audit").Body
	for _, want := range []string{"Nightly export ✓ <span class=\"muted small\">(gone", "<li>level: 0 → 3</li>",
		"<li>permissions: &#43;orders:read −audit:view</li>", "<li>password: changed</li>",
		"<li>token lifespan: 1 hour → 30 minutes</li>", "<li>active: yes → no</li>", "<li>rate limit: none → 600 per 60 s</li>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the audit page lacks %q", want)
		}
	}
	for _, leak := range []string{k.ClientSecret, rot.ClientSecret, pw, pw2} {
		if strings.Contains(body, leak) {
			t.Errorf("the audit page shows a secret (%.10q…)", leak)
		}
	}
}
