package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

func testKeyUsage(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "usage")
	other := createTenant(t, s, "usage-other")
	a := createKey(t, s, tn.ID)
	b := createKey(t, s, tn.ID)
	hour := t0.Truncate(time.Hour)
	ra, rb := keyward.KeyRef{TenantID: tn.ID, ID: a.ID}, keyward.KeyRef{TenantID: tn.ID, ID: b.ID}

	must(t, "AddKeyUsage", s.AddKeyUsage(ctx, hour.Add(5*time.Minute), map[keyward.KeyRef]int64{ra: 3, rb: 1, {TenantID: tn.ID, ID: secret.NewID()}: 9, {TenantID: other.ID, ID: a.ID}: 50}))
	must(t, "AddKeyUsage same hour", s.AddKeyUsage(ctx, hour.Add(59*time.Minute), map[keyward.KeyRef]int64{ra: 4, rb: 0}))
	must(t, "AddKeyUsage next hour", s.AddKeyUsage(ctx, hour.Add(time.Hour), map[keyward.KeyRef]int64{ra: 2}))
	must(t, "AddKeyUsage two hours back", s.AddKeyUsage(ctx, hour.Add(-2*time.Hour), map[keyward.KeyRef]int64{ra: 100}))
	must(t, "AddKeyUsage with nothing", s.AddKeyUsage(ctx, hour, nil))

	tests := []struct {
		name        string
		tenant, key string
		since       time.Time
		want        []keyward.UsageCount
	}{
		{"counts add up per hour", tn.ID, a.ID, hour, []keyward.UsageCount{{Start: hour, Count: 7}, {Start: hour.Add(time.Hour), Count: 2}}},
		{"since includes earlier hours", tn.ID, a.ID, hour.Add(-3 * time.Hour), []keyward.UsageCount{{Start: hour.Add(-2 * time.Hour), Count: 100}, {Start: hour, Count: 7}, {Start: hour.Add(time.Hour), Count: 2}}},
		{"another key", tn.ID, b.ID, hour, []keyward.UsageCount{{Start: hour, Count: 1}}},
		{"another tenant sees nothing", other.ID, a.ID, hour, []keyward.UsageCount{}},
		{"unknown key", tn.ID, secret.NewID(), hour, []keyward.UsageCount{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.KeyUsage(ctx, tt.tenant, tt.key, tt.since)
			must(t, "KeyUsage", err)
			check(t, "KeyUsage", got, tt.want)
		})
	}

	t.Run("old counts are deleted", func(t *testing.T) {
		n, err := s.DeleteKeyUsage(ctx, hour.Add(-time.Hour))
		must(t, "DeleteKeyUsage", err)
		if n != 1 {
			t.Errorf("DeleteKeyUsage: got %d rows, want 1", n)
		}
		got, err := s.KeyUsage(ctx, tn.ID, a.ID, hour.Add(-3*time.Hour))
		must(t, "KeyUsage", err)
		check(t, "usage after deleting old counts", got, []keyward.UsageCount{{Start: hour, Count: 7}, {Start: hour.Add(time.Hour), Count: 2}})
	})

	t.Run("deleting the key deletes its usage", func(t *testing.T) {
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, tn.ID, b.ID, b.Version))
		must(t, "AddKeyUsage for a deleted key", s.AddKeyUsage(ctx, hour, map[keyward.KeyRef]int64{rb: 5}))
		got, err := s.KeyUsage(ctx, tn.ID, b.ID, hour.Add(-24*time.Hour))
		must(t, "KeyUsage", err)
		check(t, "usage of a deleted key", got, []keyward.UsageCount{})
	})
}

func testRateLimits(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "ratelimits")
	limited := createKey(t, s, tn.ID, func(k *keyward.APIKey) {
		k.RateLimit = &keyward.RateLimit{Limit: 1_000_000_000, WindowSeconds: 86400}
	})
	plain := createKey(t, s, tn.ID)
	check(t, "key with a rate limit", mustGetKey(t, s, tn.ID, limited.ID), limited)
	check(t, "key without one", mustGetKey(t, s, tn.ID, plain.ID), plain)

	changed := *limited
	changed.RateLimit, changed.Version = &keyward.RateLimit{Limit: 5, WindowSeconds: 1}, limited.Version+1
	must(t, "UpdateAPIKey", s.UpdateAPIKey(ctx, &changed, limited.Version))
	check(t, "changed rate limit", mustGetKey(t, s, tn.ID, limited.ID), &changed)
	cleared := changed
	cleared.RateLimit, cleared.Version = nil, changed.Version+1
	must(t, "UpdateAPIKey", s.UpdateAPIKey(ctx, &cleared, changed.Version))
	check(t, "cleared rate limit", mustGetKey(t, s, tn.ID, limited.ID), &cleared)
}
