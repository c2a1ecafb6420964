package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestTenantsAgainstServer runs "keyward tenants" end to end against a real
// server: create, list, get and update by name, deactivate, and the
// refusals; and refusals that name the flag, not the API field.
func TestTenantsAgainstServer(t *testing.T) {
	s := startServer(t, map[string]string{"KEYWARD_ADMIN_PASSWORD": "tenants-admin-password"}, "--data-dir", t.TempDir())
	env := map[string]string{"KEYWARD_SERVER": s.URL, "KEYWARD_USER": "admin", "KEYWARD_PASSWORD": "tenants-admin-password"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout (or stderr when the command fails)
	}{
		{"create", []string{"tenants", "create", "--name", "acme", "--prefix", "acme"}, 0, "acme"},
		{"create needs a name", []string{"tenants", "create"}, exitUsage, "--name is required"},
		{"a taken name", []string{"tenants", "create", "--name", "acme"}, 1, "already exists"},
		{"a bad name names the field", []string{"tenants", "create", "--name", "Not OK"}, 1, "name"},
		{"list", []string{"tenants", "list"}, 0, "2 tenants"},
		{"get by name", []string{"tenants", "get", "acme"}, 0, "Prefix   acme"},
		{"get an unknown name", []string{"tenants", "get", "nope"}, 1, "no tenant named"},
		{"update by name", []string{"tenants", "update", "acme", "--prefix", "ac"}, 0, "Prefix   ac"},
		{"update needs a change", []string{"tenants", "update", "acme"}, exitUsage, "nothing to change"},
		{"deactivate", []string{"tenants", "deactivate", "acme"}, 0, "inactive"},
		{"activate", []string{"tenants", "activate", "acme", "--json"}, 0, `"isActive": true`},
		{"the root tenant stays active", []string{"tenants", "deactivate", "default"}, 1, "root tenant"},
		{"a refused permission names the flag", []string{"apikeys", "create", "--name", "x", "--permission", "apikeys:read", "--permission", "orders_read"},
			1, "--permission orders_read: no such permission in this tenant"},
		{"a refused child names the flag", []string{"permissions", "create", "--name", "orders:all", "--child", "orders:write"},
			1, "--child orders:write: no such permission in this tenant"},
	}
	for _, tt := range tests {
		code, out, errs := cli(t, env, tt.args...)
		where := out
		if code != 0 {
			where = errs
		}
		if code != tt.wantCode || !strings.Contains(where, tt.wantOut) {
			t.Errorf("%s: got exit %d, stdout %q, stderr %q; want exit %d with %q", tt.name, code, out, errs, tt.wantCode, tt.wantOut)
		}
	}
}

// TestResetPasswordRefusesEmptyPlace: run where there is no database, reset-
// password says so and creates nothing (no database, no master key).
func TestResetPasswordRefusesEmptyPlace(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"admin", "reset-password", "--data-dir", dir}, func(string) string { return "" }, nil, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "no keyward database in "+dir) {
		t.Errorf("got exit %d, stderr %q; want 1 naming the directory", code, stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("reset-password left %d files in an empty directory", len(entries))
	}
}
