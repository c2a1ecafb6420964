package keyward_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

func credits(n int64, r *keyward.Refill) keyward.Optional[keyward.Credits] {
	return keyward.Some(keyward.Credits{Remaining: n, Refill: r})
}

// verifyCode verifies sec with cost (nil: default) and returns the answer.
func verifyCost(t *testing.T, e *env, verifier *keyward.Principal, sec string, cost *int64, perms ...string) *keyward.VerifyResult {
	t.Helper()
	res, err := e.svc.VerifyKey(e.ctx, verifier, keyward.VerifyRequest{Key: sec, Cost: cost, Permissions: perms})
	if err != nil {
		t.Fatalf("VerifyKey: %v", err)
	}
	return res
}

func TestCreditsSpendAndRefuse(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
		k := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(3, nil), RateLimit: keyward.Some(keyward.RateLimit{Limit: 5, WindowSeconds: 60})})
		steps := []struct {
			name      string
			cost      *int64
			perms     []string
			want      string
			remaining int64
		}{
			{"cost 2", ptr(int64(2)), nil, keyward.CodeValid, 1},
			{"cost 2 over what is left", ptr(int64(2)), nil, keyward.CodeUsageExceeded, 1},
			{"insufficient permissions spend nothing", nil, []string{"nope"}, keyward.CodeInsufficientPermissions, -1},
			{"cost 0 checks", ptr(int64(0)), nil, keyward.CodeValid, 1},
			{"default cost 1", nil, nil, keyward.CodeValid, 0},
			{"cost 0 on an exhausted key", ptr(int64(0)), nil, keyward.CodeUsageExceeded, 0},
			{"rate limited spends nothing", nil, nil, keyward.CodeRateLimited, -1},
		}
		for _, s := range steps {
			res := verifyCost(t, e, verifier, k.ClientSecret, s.cost, s.perms...)
			if res.Code != s.want || res.Valid != (s.want == keyward.CodeValid) {
				t.Fatalf("%s: got code %s, want %s", s.name, res.Code, s.want)
			}
			if s.remaining < 0 {
				if res.Credits != nil {
					t.Errorf("%s: got credits %+v, want none reported", s.name, *res.Credits)
				}
				continue
			}
			if res.Credits == nil || res.Credits.Remaining != s.remaining || res.Credits.RefillsAt != nil {
				t.Fatalf("%s: got credits %+v, want remaining %d and no refill", s.name, res.Credits, s.remaining)
			}
		}
		stored, err := e.svc.GetAPIKey(e.ctx, e.admin, k.ID)
		if err != nil || stored.Credits == nil || stored.Credits.Remaining != 0 {
			t.Fatalf("GetAPIKey: got %+v, %v; want remaining 0", stored, err)
		}
		if _, err := e.svc.VerifyKey(e.ctx, verifier, keyward.VerifyRequest{Key: k.ClientSecret, Cost: ptr(int64(-1))}); keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("cost -1: got %v, want invalid", err)
		}
		if _, err := e.svc.VerifyKey(e.ctx, verifier, keyward.VerifyRequest{Key: k.ClientSecret, Cost: ptr(int64(keyward.MaxCreditCost + 1))}); keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("cost over the bound: got %v, want invalid", err)
		}

		// A request authenticated by the key spends 1; spent, it is 429.
		a := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(1, nil)})
		if _, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: a.ClientSecret}); err != nil {
			t.Fatalf("first request: %v", err)
		}
		_, err = e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: a.ClientSecret})
		wantCode(t, err, keyward.EUSAGEEXCEEDED)

		// Removing the credits makes the key unlimited, on this replica at once.
		if _, err := e.svc.UpdateAPIKey(e.ctx, e.admin, a.ID, keyward.APIKeyInput{Credits: keyward.Null[keyward.Credits]()}, nil); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := e.svc.Authenticate(e.ctx, keyward.Credentials{Bearer: a.ClientSecret}); err != nil {
				t.Fatalf("after removing the credits: %v", err)
			}
		}
		got, _ := e.svc.GetAPIKey(e.ctx, e.admin, a.ID)
		if got.Credits != nil {
			t.Errorf("got credits %+v after null, want none", got.Credits)
		}
		// Deleting a key deletes its credits.
		if _, err := e.svc.DeleteAPIKey(e.ctx, e.admin, k.ID, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCreditsValidation(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		tests := []struct {
			name  string
			c     keyward.Optional[keyward.Credits]
			field string
		}{
			{"negative", credits(-1, nil), "credits.remaining"},
			{"too many", credits(keyward.MaxCredits+1, nil), "credits.remaining"},
			{"zero refill", credits(1, &keyward.Refill{Amount: 0, Interval: "daily"}), "credits.refill.amount"},
			{"unknown interval", credits(1, &keyward.Refill{Amount: 1, Interval: "weekly"}), "credits.refill.interval"},
			{"day on a daily refill", credits(1, &keyward.Refill{Amount: 1, Interval: "daily", DayOfMonth: 3}), "credits.refill.dayOfMonth"},
			{"day 32", credits(1, &keyward.Refill{Amount: 1, Interval: "monthly", DayOfMonth: 32}), "credits.refill.dayOfMonth"},
		}
		for _, tt := range tests {
			_, err := e.svc.CreateAPIKey(e.ctx, e.admin, keyward.APIKeyInput{Name: ptr("x"), Credits: tt.c})
			e, ok := err.(*keyward.Error)
			if !ok || e.Code != keyward.EINVALID || len(e.Fields) == 0 || e.Fields[0].Field != tt.field {
				t.Errorf("%s: got %v, want invalid %s", tt.name, err, tt.field)
			}
		}
	})
}

func TestCreditsRefill(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		// The clock starts at 2026-01-02T03:04:05Z.
		verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
		daily := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(2, &keyward.Refill{Amount: 5, Interval: "daily"})})
		monthly := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(1, &keyward.Refill{Amount: 3, Interval: "monthly", DayOfMonth: 31})})
		spend := func(k *keyward.IssuedKey, n int) (valid int, last *keyward.VerifyResult) {
			for range n {
				last = verifyCost(t, e, verifier, k.ClientSecret, nil)
				if last.Valid {
					valid++
				}
			}
			return valid, last
		}
		at := func(s string) time.Time {
			v, _ := time.Parse(time.RFC3339, s)
			return v
		}
		if v, last := spend(daily, 4); v != 2 || last.Code != keyward.CodeUsageExceeded || !last.Credits.RefillsAt.Equal(at("2026-01-03T00:00:00Z")) {
			t.Fatalf("daily, first day: got %d valid, last %+v, want 2 and a refill at 2026-01-03", v, last.Credits)
		}
		if v, last := spend(monthly, 2); v != 1 || !last.Credits.RefillsAt.Equal(at("2026-01-31T00:00:00Z")) {
			t.Fatalf("monthly, first period: got %d valid, refill at %v, want 1 and 2026-01-31", v, last.Credits.RefillsAt)
		}
		e.clock.Add(21 * time.Hour) // 2026-01-03T00:04:05Z: the daily refill, once
		if v, last := spend(daily, 7); v != 5 || last.Credits.Remaining != 0 {
			t.Fatalf("daily, second day: got %d valid, remaining %d, want 5 and 0", v, last.Credits.Remaining)
		}
		if v, _ := spend(monthly, 1); v != 0 {
			t.Fatalf("monthly before the 31st: got %d valid, want 0", v)
		}
		// 2026-02-28 is February's 31st.
		e.clock.Add(at("2026-02-28T00:00:01Z").Sub(e.clock.Now()))
		if v, last := spend(monthly, 4); v != 3 || !last.Credits.RefillsAt.Equal(at("2026-03-31T00:00:00Z")) {
			t.Fatalf("monthly on February's end: got %d valid, refill at %v, want 3 and 2026-03-31", v, last.Credits.RefillsAt)
		}
		// A spent key shows its refill on read once the period begins? The
		// stored count is refilled by the first spend of the period.
		got, _ := e.svc.GetAPIKey(e.ctx, e.admin, daily.ID)
		if got.Credits.Remaining != 0 || got.Credits.Refill.Amount != 5 {
			t.Errorf("got credits %+v, want 0 left of a daily 5", got.Credits)
		}
	})
}

func TestCreditsAreAGrant(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		if _, err := e.svc.CreatePermission(e.ctx, e.admin, keyward.PermissionInput{Name: ptr("orders_read")}); err != nil {
			t.Fatal(err)
		}
		ops := e.user(t, e.admin, "ops", 5, "apikeys:read", "apikeys:write")
		k := e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("orders_read"), Credits: credits(10, nil)})
		_, err := e.svc.UpdateAPIKey(e.ctx, ops, k.ID, keyward.APIKeyInput{Credits: credits(11, nil)}, nil)
		wantCode(t, err, keyward.EFORBIDDEN)
		_, err = e.svc.UpdateAPIKey(e.ctx, ops, k.ID, keyward.APIKeyInput{Credits: keyward.Null[keyward.Credits]()}, nil)
		wantCode(t, err, keyward.EFORBIDDEN)
		_, err = e.svc.UpdateAPIKey(e.ctx, ops, k.ID, keyward.APIKeyInput{Credits: credits(5, &keyward.Refill{Amount: 1, Interval: "daily"})}, nil)
		wantCode(t, err, keyward.EFORBIDDEN)
		if _, err := e.svc.UpdateAPIKey(e.ctx, ops, k.ID, keyward.APIKeyInput{Credits: credits(4, nil)}, nil); err != nil {
			t.Fatalf("lowering: %v", err)
		}
		self := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("apikeys:write"), Credits: credits(10, nil)}).ClientSecret)
		_, err = e.svc.UpdateAPIKey(e.ctx, self, self.ID, keyward.APIKeyInput{Credits: credits(5, nil)}, nil)
		wantCode(t, err, keyward.EFORBIDDEN)
	})
}

// spendConcurrently verifies sec from 16 goroutines spread over svcs until
// attempts run out, and counts the answers.
func spendConcurrently(t *testing.T, svcs []*keyward.Service, verifiers []*keyward.Principal, sec string, attempts int) (valid, exceeded int64) {
	t.Helper()
	var v, x, n atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := g % len(svcs)
			for n.Add(1) <= int64(attempts) {
				res, err := svcs[i].VerifyKey(t.Context(), verifiers[i], keyward.VerifyRequest{Key: sec})
				switch {
				case err != nil:
					t.Error(err)
					return
				case res.Valid:
					v.Add(1)
				case res.Code == keyward.CodeUsageExceeded:
					x.Add(1)
				default:
					t.Errorf("got code %s", res.Code)
					return
				}
			}
		}()
	}
	wg.Wait()
	return v.Load(), x.Load()
}

func TestCreditsExactUnderConcurrency(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
		k := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(300, nil)})
		valid, exceeded := spendConcurrently(t, []*keyward.Service{e.svc}, []*keyward.Principal{verifier}, k.ClientSecret, 400)
		if valid != 300 || exceeded != 100 {
			t.Fatalf("got %d VALID and %d USAGE_EXCEEDED, want 300 and 100", valid, exceeded)
		}
	})
}

// TestCreditsExactAcrossReplicas: 16 verifiers on 3 replicas sharing one
// PostgreSQL spend a key of 1,000 credits exactly: with leases, each
// verifier running until it is refused; without, 1,300 attempts in all.
func TestCreditsExactAcrossReplicas(t *testing.T) {
	for _, leases := range []bool{true, false} {
		t.Run(map[bool]string{true: "leases", false: "exact"}[leases], func(t *testing.T) {
			creditsExactAcrossReplicas(t, leases)
		})
	}
}

func creditsExactAcrossReplicas(t *testing.T, leases bool) {
	dsn := sqltest.PostgresDSN(t)
	master := secret.RandomBytes(32)
	replica := func(migrate bool) *keyward.Service {
		db := sqltest.Open(t, dsn, migrate)
		svc, err := wire.NewService(keyward.Config{Store: db, MasterKey: master, Changes: db.ChangeFeed(), CacheTTL: time.Hour,
			NoCreditLeases: !leases})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		return svc
	}
	svcs := []*keyward.Service{replica(true), replica(false), replica(false)}
	ctx := t.Context()
	admin := bootstrapAdmin(t, svcs[0])
	v, err := svcs[0].CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := svcs[0].CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("metered"), Credits: credits(1000, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var verifiers []*keyward.Principal
	for _, s := range svcs {
		p, err := s.Authenticate(ctx, keyward.Credentials{Bearer: v.ClientSecret})
		if err != nil {
			t.Fatal(err)
		}
		verifiers = append(verifiers, p)
	}
	if leases {
		if valid := spendUntilRefused(t, svcs, verifiers, k.ClientSecret, nil); valid != 1000 {
			t.Fatalf("got %d VALID, want 1000", valid)
		}
	} else {
		valid, exceeded := spendConcurrently(t, svcs, verifiers, k.ClientSecret, 1300)
		if valid != 1000 || exceeded != 300 {
			t.Fatalf("got %d VALID and %d USAGE_EXCEEDED, want 1000 and 300", valid, exceeded)
		}
	}
	// Nothing is lost on restart: a new replica sees none left.
	fresh := replica(false)
	p, err := fresh.Authenticate(ctx, keyward.Credentials{Bearer: v.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	res, err := fresh.VerifyKey(ctx, p, keyward.VerifyRequest{Key: k.ClientSecret, Cost: ptr(int64(0))})
	if err != nil || res.Code != keyward.CodeUsageExceeded || res.Credits.Remaining != 0 {
		t.Fatalf("a new replica: got %+v, %v; want USAGE_EXCEEDED with 0 left", res, err)
	}
}
