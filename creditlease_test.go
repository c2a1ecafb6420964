package keyward_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
	"github.com/keyward/keyward/internal/wire"
)

// spendUntilRefused verifies sec from 16 goroutines spread over svcs, each
// until it is refused at cost 1, with costs from cost (nil: 1; a larger
// cost refused is retried at 1), and returns the credits spent by VALID
// answers.
func spendUntilRefused(t *testing.T, svcs []*keyward.Service, verifiers []*keyward.Principal, sec string, cost func() int64) int64 {
	t.Helper()
	var spent atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := g % len(svcs)
			retry := false
			for {
				c := int64(1)
				if cost != nil && !retry {
					c = cost()
				}
				res, err := svcs[i].VerifyKey(t.Context(), verifiers[i], keyward.VerifyRequest{Key: sec, Cost: &c})
				switch {
				case err != nil:
					t.Error(err)
					return
				case res.Valid:
					spent.Add(c)
					retry = false
				case res.Code == keyward.CodeUsageExceeded && c == 1:
					return
				case res.Code == keyward.CodeUsageExceeded:
					retry = true
				default:
					t.Errorf("got code %s", res.Code)
					return
				}
			}
		}()
	}
	wg.Wait()
	return spent.Load()
}

// storedCredits reads what the database has left of a key's credits.
func storedCredits(t *testing.T, e *env, id string) int64 {
	t.Helper()
	k, err := e.store.GetAPIKey(e.ctx, e.admin.TenantID, id)
	if err != nil || k.Credits == nil {
		t.Fatalf("GetAPIKey: %+v, %v", k, err)
	}
	return k.Credits.Remaining
}

// warmLease verifies sec on e until the replica's lease of k holds
// credits, and returns the VALID answers.
func warmLease(t *testing.T, e *env, verifier *keyward.Principal, sec, id string) int64 {
	t.Helper()
	var n int64
	for keyward.LeaseHeld(e.svc, e.admin.TenantID, id) == 0 {
		if n > 500 {
			t.Fatal("the lease stays empty")
		}
		if res := verifyCost(t, e, verifier, sec, nil); !res.Valid {
			t.Fatalf("warming the lease: got %s", res.Code)
		}
		n++
	}
	return n
}

// TestCreditLeasesSurviveRestart: Close gives every lease back, so the
// database has exactly what was not answered VALID.
func TestCreditLeasesSurviveRestart(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db)
		verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
		k := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(100_000, nil)})
		valid, _ := spendConcurrently(t, []*keyward.Service{e.svc}, []*keyward.Principal{verifier}, k.ClientSecret, 3000)
		valid += warmLease(t, e, verifier, k.ClientSecret, k.ID)
		if err := e.svc.Close(); err != nil {
			t.Fatal(err)
		}
		if got := storedCredits(t, e, k.ID); got != 100_000-valid {
			t.Fatalf("after Close: stored %d, want %d (100,000 - %d VALID)", got, 100_000-valid, valid)
		}
		// A new Service on the same database goes on from there.
		next, err := wire.NewService(keyward.Config{Store: db, MasterKey: secret.RandomBytes(32), CacheTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer next.Close()
		res := verifyCost(t, &env{svc: next, ctx: e.ctx}, verifier, k.ClientSecret, ptr(int64(0)))
		if !res.Valid || res.Credits.Remaining != 100_000-valid {
			t.Fatalf("after a restart: got %+v %+v, want VALID with %d left", res, res.Credits, 100_000-valid)
		}
	})
}

// TestCreditLeasesIdleReturn: a lease not used for a second goes back.
func TestCreditLeasesIdleReturn(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db)
		verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
		k := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(1000, nil)})
		valid := warmLease(t, e, verifier, k.ClientSecret, k.ID)
		deadline := time.Now().Add(5 * time.Second)
		for storedCredits(t, e, k.ID) != 1000-valid {
			if time.Now().After(deadline) {
				t.Fatalf("stored %d 5 s after the last use, want %d", storedCredits(t, e, k.ID), 1000-valid)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if held := keyward.LeaseHeld(e.svc, e.admin.TenantID, k.ID); held != 0 {
			t.Errorf("the replica still holds %d", held)
		}
	})
}

// TestCreditLeasesRefill: a refill discards the lease of the old period
// (fake clock): the new period has exactly its amount.
func TestCreditLeasesRefill(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		e := newEnv(t, db) // 2026-01-02T03:04:05Z
		verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
		k := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(1000, &keyward.Refill{Amount: 10, Interval: "daily"})})
		warmLease(t, e, verifier, k.ClientSecret, k.ID)
		e.clock.Add(21 * time.Hour) // the next day
		valid := spendUntilRefused(t, []*keyward.Service{e.svc}, []*keyward.Principal{verifier}, k.ClientSecret, nil)
		if valid != 10 {
			t.Fatalf("the next day: got %d VALID, want 10", valid)
		}
		if err := e.svc.Close(); err != nil {
			t.Fatal(err)
		}
		if got := storedCredits(t, e, k.ID); got != 0 {
			t.Fatalf("stored %d after Close, want 0 (the old period's lease is not given back)", got)
		}
	})
}

// TestCreditLeasesChangeIsAbsolute: setting a key's credits drops the
// lease of the old setting at once, here and on another replica, without
// giving it back; a change of something else gives it back.
func TestCreditLeasesChangeIsAbsolute(t *testing.T) {
	svcs := replicas(t, 2)
	a, b := svcs[0], svcs[1]
	ctx := t.Context()
	admin := bootstrapAdmin(t, a)
	waitListening(t, b)
	v, err := a.CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("metered"), Credits: credits(100_000, nil)})
	if err != nil {
		t.Fatal(err)
	}
	verifierB, err := b.Authenticate(ctx, keyward.Credentials{Bearer: v.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	eb := &env{svc: b, ctx: ctx, admin: admin}
	warm := func() int64 {
		var n int64
		for keyward.LeaseHeld(b, admin.TenantID, k.ID) == 0 {
			if res := verifyCost(t, eb, verifierB, k.ClientSecret, nil); !res.Valid {
				t.Fatalf("warming B's lease: got %s", res.Code)
			}
			n++
		}
		return n
	}
	stored := func() int64 {
		got, err := a.GetAPIKey(ctx, admin, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Credits.Remaining
	}
	// A change of the name gives B's lease back: nothing is lost.
	valid := warm()
	if _, err := a.UpdateAPIKey(ctx, admin, k.ID, keyward.APIKeyInput{Name: ptr("renamed")}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for stored() != 100_000-valid {
		if time.Now().After(deadline) {
			t.Fatalf("after a rename: stored %d, want %d", stored(), 100_000-valid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Setting the credits on A is honoured on B at once: B's lease of the
	// old setting is dropped, not spent nor given back.
	warm()
	if _, err := a.UpdateAPIKey(ctx, admin, k.ID, keyward.APIKeyInput{Credits: credits(5, nil)}, nil); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for keyward.LeaseHeld(b, admin.TenantID, k.ID) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("B still holds its lease 5 s after the change")
		}
		time.Sleep(time.Millisecond)
	}
	if got := spendUntilRefused(t, []*keyward.Service{b}, []*keyward.Principal{verifierB}, k.ClientSecret, nil); got != 5 {
		t.Fatalf("B after the change: got %d VALID, want 5", got)
	}
	b.Close()
	if got := stored(); got != 0 {
		t.Fatalf("stored %d after B closed, want 0", got)
	}
}

// TestCreditLeasesConserve: 3 replicas spend with costs 0 to 3 while the
// key is renamed again and again (each change makes every replica give
// its lease back): VALID answers spend exactly what was granted, and what
// is stored after every replica closed is the rest.
func TestCreditLeasesConserve(t *testing.T) {
	svcs := replicas(t, 3)
	ctx := t.Context()
	admin := bootstrapAdmin(t, svcs[0])
	for _, s := range svcs[1:] {
		waitListening(t, s)
	}
	v, err := svcs[0].CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("verifier"), Permissions: perms("keys:verify")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := svcs[0].CreateAPIKey(ctx, admin, keyward.APIKeyInput{Name: ptr("metered"), Credits: credits(3000, nil)})
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
	stop := make(chan struct{})
	renamed := make(chan struct{})
	go func() {
		defer close(renamed)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if _, err := svcs[i%3].UpdateAPIKey(ctx, admin, k.ID, keyward.APIKeyInput{Name: ptr("renamed")}, nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	spent := spendUntilRefused(t, svcs, verifiers, k.ClientSecret, func() int64 { return rand.Int64N(4) })
	close(stop)
	<-renamed
	if spent > 3000 {
		t.Fatalf("spent %d of 3000", spent)
	}
	for _, s := range svcs {
		s.Close()
	}
	got, err := svcs[0].GetAPIKey(ctx, admin, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credits.Remaining+spent != 3000 {
		t.Fatalf("spent %d and %d stored, want 3000 in all", spent, got.Credits.Remaining)
	}
}

// heldReturns is a store whose first RefundCredits after hold is set says
// so on entered, then waits for release.
type heldReturns struct {
	keyward.Store
	hold             atomic.Bool
	entered, release chan struct{}
}

func (h *heldReturns) RefundCredits(ctx context.Context, sp keyward.CreditSpend) error {
	if h.hold.CompareAndSwap(true, false) {
		h.entered <- struct{}{}
		<-h.release
	}
	return h.Store.RefundCredits(ctx, sp)
}

// TestCreditLeaseReturnInFlight: while a lease goes back to the database
// (idle, or its key changed), a spend of the credits it held waits for the
// return and takes them again: it is not refused with credits left. (Seen
// under load: GET /v1/whoami refused 429 with its last credit on its way
// back from an idle lease.) Deterministic: the return is held until the
// spend either is answered or waits for it.
func TestCreditLeaseReturnInFlight(t *testing.T) {
	for _, tc := range []struct {
		name   string
		giveUp func(t *testing.T, e *env, id string)
	}{
		{"idle", func(t *testing.T, e *env, id string) { keyward.ReturnLease(e.svc, e.admin.TenantID, id) }},
		{"key changed", func(t *testing.T, e *env, id string) {
			if _, err := e.svc.UpdateAPIKey(e.ctx, e.admin, id, keyward.APIKeyInput{Name: ptr("renamed")}, nil); err != nil {
				t.Error(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
				store := &heldReturns{entered: make(chan struct{}), release: make(chan struct{})}
				e := newEnv(t, db, func(c *keyward.Config) { store.Store, c.Store = c.Store, store })
				waiting := make(chan struct{}, 1)
				keyward.OnLeaseWait(e.svc, func() {
					select {
					case waiting <- struct{}{}:
					default:
					}
				})
				verifier := e.keyPrincipal(t, e.key(t, e.admin, keyward.APIKeyInput{Permissions: perms("keys:verify")}).ClientSecret)
				k := e.key(t, e.admin, keyward.APIKeyInput{Credits: credits(1, nil)})
				p := e.keyPrincipal(t, k.ClientSecret) // spends the credit from a lease
				e.svc.RefundRequest(e.ctx, p)          // refused (403): back to the lease
				if held, stored := keyward.LeaseHeld(e.svc, e.admin.TenantID, k.ID), storedCredits(t, e, k.ID); held != 1 || stored != 0 {
					t.Fatalf("before the return: lease %d, stored %d; want 1, 0", held, stored)
				}

				store.hold.Store(true)
				gaveUp := make(chan struct{})
				go func() {
					defer close(gaveUp)
					tc.giveUp(t, e, k.ID)
				}()
				<-store.entered
				answered := make(chan *keyward.VerifyResult, 1)
				go func() {
					res, err := e.svc.VerifyKey(e.ctx, verifier, keyward.VerifyRequest{Key: k.ClientSecret})
					if err != nil {
						t.Error(err)
					}
					answered <- res
				}()
				var res *keyward.VerifyResult
				select {
				case res = <-answered: // answered while the credit was held back
					close(store.release)
				case <-waiting:
					close(store.release)
					res = <-answered
				}
				<-gaveUp
				if res == nil || !res.Valid || res.Credits == nil || res.Credits.Remaining != 0 {
					if res == nil {
						t.FailNow()
					}
					t.Fatalf("spending the last credit during the return: got valid %v, code %q, credits %+v; want VALID, 0 left", res.Valid, res.Code, res.Credits)
				}
				if res := verifyCost(t, e, verifier, k.ClientSecret, nil); res.Valid || res.Code != keyward.CodeUsageExceeded {
					t.Fatalf("after it: got %+v; want USAGE_EXCEEDED", res)
				}
			})
		})
	}
}
