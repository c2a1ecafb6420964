package storetest

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func testAudit(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "audit")
	other := createTenant(t, s, "audit-other")
	actor, target := secret.NewID(), secret.NewID()

	// Entries in insertion order. Their times are deliberately not in that
	// order: the log is ordered by insertion, not by At.
	entry := func(d time.Duration, action, actorID, targetID string) *keyward.AuditEntry {
		return &keyward.AuditEntry{ID: secret.NewID(), At: at(d), TenantID: tn.ID, ActorKind: "user", ActorID: actorID,
			Action: action, TargetID: targetID, IP: "192.0.2.1", UserAgent: "agent/1.0", Result: "success"}
	}
	entries := []*keyward.AuditEntry{
		0: entry(-time.Hour, "tenant.create", "bootstrap", tn.ID),
		1: entry(0, "apikey.create", actor, target),
		2: entry(-time.Microsecond, "apikey.update", actor, target),
		3: entry(time.Minute, "apikey.create", "cli", secret.NewID()),
		4: entry(time.Minute, "user.create", actor, secret.NewID()),
		5: {ID: secret.NewID(), At: at(2 * time.Minute), TenantID: tn.ID, ActorKind: "system", Action: "apikey.delete",
			TargetID: target}, // empty strings round-trip too
	}
	for i, e := range entries {
		must(t, "InsertAudit", s.InsertAudit(ctx, e))
		if i == 2 {
			// Another tenant's entries never show.
			must(t, "InsertAudit", s.InsertAudit(ctx, &keyward.AuditEntry{ID: secret.NewID(), At: t0, TenantID: other.ID,
				ActorKind: "user", ActorID: actor, Action: "apikey.create", TargetID: target, Result: "success"}))
		}
	}
	// pick returns entries newest (last inserted) first.
	pick := func(is ...int) []*keyward.AuditEntry {
		slices.Sort(is)
		out := []*keyward.AuditEntry{}
		for _, i := range slices.Backward(is) {
			out = append(out, entries[i])
		}
		return out
	}

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			name string
			f    keyward.AuditFilter
			want []*keyward.AuditEntry
		}{
			{"everything, newest first", keyward.AuditFilter{}, pick(0, 1, 2, 3, 4, 5)},
			{"action", keyward.AuditFilter{Action: "apikey.create"}, pick(1, 3)},
			{"action is exact", keyward.AuditFilter{Action: "apikey"}, pick()},
			{"actor", keyward.AuditFilter{ActorID: actor}, pick(1, 2, 4)},
			{"target", keyward.AuditFilter{TargetID: target}, pick(1, 2, 5)},
			{"since is inclusive", keyward.AuditFilter{Since: ptr(t0)}, pick(1, 3, 4, 5)},
			{"since a microsecond later", keyward.AuditFilter{Since: ptr(at(time.Microsecond))}, pick(3, 4, 5)},
			{"since a microsecond earlier", keyward.AuditFilter{Since: ptr(at(-time.Microsecond))}, pick(1, 2, 3, 4, 5)},
			{"every filter", keyward.AuditFilter{Action: "apikey.update", ActorID: actor, TargetID: target, Since: ptr(at(-time.Hour))}, pick(2)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.f.Page = keyward.Page{Number: 1, Size: 100}
				got, err := s.ListAudit(ctx, tn.ID, tt.f)
				must(t, "ListAudit", err)
				check(t, "ListAudit", got, keyward.List[*keyward.AuditEntry]{Items: tt.want, Page: tt.f.Page, TotalCount: len(tt.want)})
			})
		}
	})

	t.Run("paging", func(t *testing.T) {
		all := pick(0, 1, 2, 3, 4, 5)
		for n := 1; n <= 3; n++ {
			page := keyward.Page{Number: n, Size: 4}
			got, err := s.ListAudit(ctx, tn.ID, keyward.AuditFilter{Page: page})
			must(t, "ListAudit", err)
			want := []*keyward.AuditEntry{}
			if lo := page.Offset(); lo < len(all) {
				want = all[lo:min(lo+page.Size, len(all))]
			}
			check(t, "ListAudit page "+strconv.Itoa(n), got, keyward.List[*keyward.AuditEntry]{Items: want, Page: page, TotalCount: len(all)})
		}
	})

	t.Run("duplicate id", func(t *testing.T) {
		dup := *entries[1]
		wantCode(t, "InsertAudit", s.InsertAudit(ctx, &dup), keyward.ECONFLICT)
	})
}
