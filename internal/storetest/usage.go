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

	must(t, "AddKeyUsage", s.AddKeyUsage(ctx, hour.Add(5*time.Minute), map[keyward.KeyRef]int64{ra: 3, rb: 1, {TenantID: tn.ID, ID: secret.NewID()}: 9, {TenantID: other.ID, ID: a.ID}: 50}, nil))
	must(t, "AddKeyUsage same hour", s.AddKeyUsage(ctx, hour.Add(59*time.Minute), map[keyward.KeyRef]int64{ra: 4, rb: 0}, nil))
	must(t, "AddKeyUsage next hour", s.AddKeyUsage(ctx, hour.Add(time.Hour), map[keyward.KeyRef]int64{ra: 2}, nil))
	must(t, "AddKeyUsage two hours back", s.AddKeyUsage(ctx, hour.Add(-2*time.Hour), map[keyward.KeyRef]int64{ra: 100}, nil))
	must(t, "AddKeyUsage with nothing", s.AddKeyUsage(ctx, hour, nil, nil))

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

	t.Run("uses before the key's creation are skipped", func(t *testing.T) {
		// Counts recorded up to a use before the key was created are a
		// deleted key's with its id (re-created meanwhile); from its
		// creation on they are the key's.
		c := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.CreatedAt = t0 })
		rc := keyward.KeyRef{TenantID: tn.ID, ID: c.ID}
		for _, tt := range []struct {
			used time.Time
			n    int64
		}{{t0.Add(-time.Microsecond), 3}, {t0, 4}, {t0.Add(time.Second), 5}} {
			must(t, "AddKeyUsage", s.AddKeyUsage(ctx, hour, map[keyward.KeyRef]int64{rc: tt.n}, map[keyward.KeyRef]time.Time{rc: tt.used}))
		}
		got, err := s.KeyUsage(ctx, tn.ID, c.ID, hour)
		must(t, "KeyUsage", err)
		check(t, "usage of a re-created key", got, []keyward.UsageCount{{Start: hour, Count: 9}})
	})

	t.Run("deleting the key deletes its usage", func(t *testing.T) {
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, tn.ID, b.ID, b.Version))
		must(t, "AddKeyUsage for a deleted key", s.AddKeyUsage(ctx, hour, map[keyward.KeyRef]int64{rb: 5}, nil))
		got, err := s.KeyUsage(ctx, tn.ID, b.ID, hour.Add(-24*time.Hour))
		must(t, "KeyUsage", err)
		check(t, "usage of a deleted key", got, []keyward.UsageCount{})
	})
}

func testKeyOutcomes(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tn := createTenant(t, s, "outcomes")
	other := createTenant(t, s, "outcomes-other")
	a := createKey(t, s, tn.ID)
	b := createKey(t, s, tn.ID)
	c := createKey(t, s, other.ID)
	twin := createKey(t, s, other.ID, func(k *keyward.APIKey) { k.ID = a.ID }) // key ids are per tenant
	hour := t0.Truncate(time.Hour)
	type ko = keyward.KeyOutcome
	o := func(id, outcome string) ko {
		tenant := tn.ID
		if id == c.ID {
			tenant = other.ID
		}
		return ko{Key: keyward.KeyRef{TenantID: tenant, ID: id}, Outcome: outcome}
	}
	twinValid := ko{Key: keyward.KeyRef{TenantID: other.ID, ID: twin.ID}, Outcome: keyward.CodeValid}
	v, rl, nf := keyward.CodeValid, keyward.CodeRateLimited, keyward.CodeNotFound

	must(t, "AddKeyOutcomes", s.AddKeyOutcomes(ctx, hour.Add(5*time.Minute),
		map[ko]int64{o(a.ID, v): 3, o(a.ID, rl): 2, o(b.ID, nf): 1, o(secret.NewID(), v): 9, o(c.ID, v): 4, twinValid: 50}, nil))
	must(t, "AddKeyOutcomes same hour", s.AddKeyOutcomes(ctx, hour.Add(59*time.Minute), map[ko]int64{o(a.ID, v): 4, o(b.ID, v): 0}, nil))
	must(t, "AddKeyOutcomes next hour", s.AddKeyOutcomes(ctx, hour.Add(time.Hour), map[ko]int64{o(a.ID, rl): 1}, nil))
	must(t, "AddKeyOutcomes two hours back", s.AddKeyOutcomes(ctx, hour.Add(-2*time.Hour), map[ko]int64{o(a.ID, v): 100}, nil))
	must(t, "AddKeyOutcomes with nothing", s.AddKeyOutcomes(ctx, hour, nil, nil))

	oc := func(id string, h time.Time, o string, n int64) keyward.OutcomeCount {
		return keyward.OutcomeCount{KeyID: id, Start: h, Outcome: o, Count: n}
	}
	tests := []struct {
		name   string
		tenant string
		keys   []string
		since  time.Time
		want   []keyward.OutcomeCount
	}{
		{"counts add up per hour and outcome", tn.ID, []string{a.ID}, hour,
			[]keyward.OutcomeCount{oc(a.ID, hour, rl, 2), oc(a.ID, hour, v, 7), oc(a.ID, hour.Add(time.Hour), rl, 1)}},
		{"since includes earlier hours", tn.ID, []string{a.ID}, hour.Add(-3 * time.Hour),
			[]keyward.OutcomeCount{oc(a.ID, hour.Add(-2*time.Hour), v, 100), oc(a.ID, hour, rl, 2), oc(a.ID, hour, v, 7), oc(a.ID, hour.Add(time.Hour), rl, 1)}},
		{"several keys, by key", tn.ID, []string{b.ID, a.ID}, hour.Add(30 * time.Minute),
			[]keyward.OutcomeCount{oc(a.ID, hour.Add(time.Hour), rl, 1)}},
		{"several keys from the hour on", tn.ID, []string{b.ID, a.ID}, hour,
			sortedOutcomes(a.ID, b.ID, []keyward.OutcomeCount{oc(a.ID, hour, rl, 2), oc(a.ID, hour, v, 7), oc(a.ID, hour.Add(time.Hour), rl, 1), oc(b.ID, hour, nf, 1)})},
		{"another tenant's key is left out", tn.ID, []string{c.ID}, hour, []keyward.OutcomeCount{}},
		{"a key of another tenant with the same id is counted apart", other.ID, []string{a.ID}, hour,
			[]keyward.OutcomeCount{oc(a.ID, hour, v, 50)}},
		{"no keys", tn.ID, nil, hour, []keyward.OutcomeCount{}},
		{"unknown key", tn.ID, []string{secret.NewID()}, hour, []keyward.OutcomeCount{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.KeyOutcomes(ctx, tt.tenant, tt.keys, tt.since)
			must(t, "KeyOutcomes", err)
			check(t, "KeyOutcomes", got, tt.want)
		})
	}

	t.Run("old counts are deleted", func(t *testing.T) {
		n, err := s.DeleteKeyUsage(ctx, hour.Add(-time.Hour))
		must(t, "DeleteKeyUsage", err)
		if n != 1 {
			t.Errorf("DeleteKeyUsage: got %d rows, want 1", n)
		}
		got, err := s.KeyOutcomes(ctx, tn.ID, []string{a.ID}, hour.Add(-3*time.Hour))
		must(t, "KeyOutcomes", err)
		check(t, "outcomes after deleting old counts", got,
			[]keyward.OutcomeCount{oc(a.ID, hour, rl, 2), oc(a.ID, hour, v, 7), oc(a.ID, hour.Add(time.Hour), rl, 1)})
	})

	t.Run("outcomes of a use before the key's creation are skipped", func(t *testing.T) {
		// A deleted key's counts, flushed after it was re-created with its
		// id (by a replica that missed the delete), are not the new key's.
		d := createKey(t, s, tn.ID, func(k *keyward.APIKey) { k.CreatedAt = t0 })
		rd := keyward.KeyRef{TenantID: tn.ID, ID: d.ID}
		for _, tt := range []struct {
			used time.Time
			n    int64
		}{{t0.Add(-time.Microsecond), 3}, {t0, 4}, {t0.Add(time.Second), 5}} {
			must(t, "AddKeyOutcomes", s.AddKeyOutcomes(ctx, hour, map[ko]int64{o(d.ID, v): tt.n}, map[keyward.KeyRef]time.Time{rd: tt.used}))
		}
		got, err := s.KeyOutcomes(ctx, tn.ID, []string{d.ID}, hour)
		must(t, "KeyOutcomes", err)
		check(t, "outcomes of a re-created key", got, []keyward.OutcomeCount{oc(d.ID, hour, v, 9)})
	})

	t.Run("deleting the key deletes its outcomes", func(t *testing.T) {
		must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, tn.ID, b.ID, b.Version))
		must(t, "AddKeyOutcomes for a deleted key", s.AddKeyOutcomes(ctx, hour, map[ko]int64{o(b.ID, v): 5}, nil))
		got, err := s.KeyOutcomes(ctx, tn.ID, []string{b.ID}, hour.Add(-24*time.Hour))
		must(t, "KeyOutcomes", err)
		check(t, "outcomes of a deleted key", got, []keyward.OutcomeCount{})
	})
}

// sortedOutcomes orders counts of keys a and b as KeyOutcomes does: by key id.
func sortedOutcomes(a, b string, counts []keyward.OutcomeCount) []keyward.OutcomeCount {
	if a < b {
		return counts
	}
	var first, second []keyward.OutcomeCount
	for _, c := range counts {
		if c.KeyID == b {
			first = append(first, c)
		} else {
			second = append(second, c)
		}
	}
	return append(first, second...)
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
