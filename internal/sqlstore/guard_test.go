package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestGuardBoundsWaiting holds SQLite's one writer in a transaction (as a
// stuck process would) and checks what guards over that database make of
// the calls that must wait for it.
func TestGuardBoundsWaiting(t *testing.T) {
	ctx := context.Background()
	const timeout = 300 * time.Millisecond
	const soon = 40 * time.Millisecond
	db := sqltest.SQLite(t)
	guard := func(maxInFlight int) keyward.Store {
		return sqlstore.Guard(db, sqlstore.Limits{Timeout: timeout, MaxInFlight: maxInFlight})
	}
	tenant := func() *keyward.Tenant {
		now := time.Now().UTC().Truncate(time.Microsecond)
		id := secret.NewID()
		return &keyward.Tenant{ID: id, Name: "t" + id[:8], Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	write := func(st keyward.Store) func() error {
		return func() error { return st.CreateTenant(ctx, tenant()) }
	}
	read := func(st keyward.Store) func() error {
		return func() error { _, err := st.CountTenants(ctx); return err }
	}
	// timed runs call and checks its error code and how long it took.
	timed := func(t *testing.T, what string, call func() error, wantCode string, min, max time.Duration) {
		t.Helper()
		start := time.Now()
		err := call()
		took := time.Since(start)
		if got := keyward.ErrorCode(err); got != wantCode {
			t.Errorf("%s: got %v (code %q), want code %q", what, err, got, wantCode)
		}
		if took < min || took > max {
			t.Errorf("%s: took %s, want between %s and %s", what, took, min, max)
		}
	}
	inBackground := func(f func() error) {
		go f()
		time.Sleep(50 * time.Millisecond) // until it waits
	}

	hold := make(chan struct{})
	held := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// Unguarded, so that it holds the writer as long as the test wants.
		done <- db.Tx(ctx, func(tx keyward.StoreTx) error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-held

	tests := []struct {
		name        string
		maxInFlight int
		run         func(t *testing.T, st keyward.Store)
	}{
		{"a call past the timeout answers at the timeout", 4, func(t *testing.T, st keyward.Store) {
			timed(t, "a write", write(st), keyward.EDBUNAVAILABLE, timeout, timeout+200*time.Millisecond)
		}},
		{"a call beyond MaxInFlight answers at once", 1, func(t *testing.T, st keyward.Store) {
			inBackground(write(st))
			timed(t, "a read", read(st), keyward.EDBUNAVAILABLE, 0, soon)
		}},
		{"while a call probes a database marked down, others answer at once", 16, func(t *testing.T, st keyward.Store) {
			timed(t, "a write", write(st), keyward.EDBUNAVAILABLE, timeout, timeout+200*time.Millisecond)
			inBackground(write(st)) // the probe
			timed(t, "a read", read(st), keyward.EDBUNAVAILABLE, 0, soon)
		}},
		{"a probe that gets through clears the mark", 32, func(t *testing.T, st keyward.Store) {
			timed(t, "a write", write(st), keyward.EDBUNAVAILABLE, timeout, timeout+200*time.Millisecond)
			timed(t, "a read (probing; readers are free)", read(st), "", 0, timeout)
			timed(t, "another read", read(st), "", 0, timeout)
		}},
	}
	stores := map[string]keyward.Store{}
	for _, tt := range tests {
		st := guard(tt.maxInFlight)
		stores[tt.name] = st
		t.Run(tt.name, func(t *testing.T) { tt.run(t, st) })
	}

	close(hold)
	if err := <-done; err != nil {
		t.Fatalf("the held transaction: %v", err)
	}
	// Once the writer is free, the calls still waiting finish, give their
	// slots back, and every guard serves again by itself.
	for name, st := range stores {
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := write(st)()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: a write after the writer was freed: %v", name, err)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// waitingVerification is a store whose verification read waits until its
// context ends, as a database that does not answer would.
type waitingVerification struct {
	keyward.Store
	calls chan struct{}
}

func (w waitingVerification) KeyForVerification(ctx context.Context, hash []byte) (*keyward.VerificationRecord, error) {
	w.calls <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestGuardVerificationRead checks that the verification read, which the
// guard runs in the caller's goroutine, keeps the guard's promises: it is
// answered at the timeout with EDBUNAVAILABLE, marks the database down (so
// that a call beyond the probes answers at once), gives its slot back, and a
// call that gets through clears the mark.
func TestGuardVerificationRead(t *testing.T) {
	ctx := context.Background()
	const timeout = 200 * time.Millisecond
	db := sqltest.SQLite(t)
	w := waitingVerification{Store: db, calls: make(chan struct{}, 8)}
	// MaxInFlight 1: one probe at a time, and a slot not given back would
	// refuse every later call.
	st := sqlstore.Guard(w, sqlstore.Limits{Timeout: timeout, MaxInFlight: 1})

	start := time.Now()
	_, err := st.KeyForVerification(ctx, []byte("hash"))
	if got, took := keyward.ErrorCode(err), time.Since(start); got != keyward.EDBUNAVAILABLE || took < timeout || took > timeout+200*time.Millisecond {
		t.Errorf("a verification read that does not answer: got %v (code %q) after %s, want code %q after %s", err, got, took, keyward.EDBUNAVAILABLE, timeout)
	}
	// The slot was given back: the next call probes (and fails the same way).
	_, err = st.KeyForVerification(ctx, []byte("hash"))
	if got := keyward.ErrorCode(err); got != keyward.EDBUNAVAILABLE {
		t.Errorf("a second verification read: got %v, want code %q", err, keyward.EDBUNAVAILABLE)
	}
	if got := len(w.calls); got != 2 {
		t.Errorf("reads that reached the store: got %d, want 2", got)
	}
	// A budget shorter than the timeout ends the read at the budget.
	bctx := keyward.WithStoreBudget(ctx, time.Now().Add(50*time.Millisecond))
	start = time.Now()
	_, _ = st.KeyForVerification(bctx, []byte("hash"))
	if took := time.Since(start); took > 150*time.Millisecond {
		t.Errorf("a verification read under a 50ms store budget: took %s", took)
	}
	<-w.calls
	// A call that gets through clears the down mark.
	if _, err := st.CountTenants(ctx); err != nil {
		t.Fatalf("CountTenants: %v", err)
	}
	if _, err := st.CountTenants(ctx); err != nil {
		t.Errorf("CountTenants after the mark was cleared: %v", err)
	}
	// A caller that went away gets its own error, not EDBUNAVAILABLE, and
	// does not mark the database down.
	cctx, cancel := context.WithCancel(ctx)
	go func() { <-w.calls; cancel() }()
	if _, err := st.KeyForVerification(cctx, []byte("hash")); !errors.Is(err, context.Canceled) || keyward.ErrorCode(err) == keyward.EDBUNAVAILABLE {
		t.Errorf("a verification read whose caller went away: got %v, want context.Canceled", err)
	}
	if _, err := st.CountTenants(ctx); err != nil {
		t.Errorf("CountTenants after a caller went away: %v", err)
	}
}

// refusingTouch is a store whose TouchAPIKeys returns err at once, as a
// database refusing the statement does.
type refusingTouch struct {
	keyward.Store
	err error
}

func (r refusingTouch) TouchAPIKeys(context.Context, map[keyward.KeyRef]time.Time) error {
	return r.err
}

// TestGuardRefusalIsNotTimeout: a statement the database refused, long
// before the timeout, is reported as it is, not as "the database did not
// answer in time" (EDBUNAVAILABLE, which also marks the database down). The
// guard cancels the call's context as soon as the call returns, which raced
// with the classification of its error.
func TestGuardRefusalIsNotTimeout(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"a foreign key violated", &pgconn.PgError{Code: "23503", Message: `insert or update on table "key_usage" violates foreign key constraint`}},
		{"another error of the driver", errors.New("constraint failed")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := sqlstore.Guard(refusingTouch{Store: sqltest.SQLite(t), err: tt.err}, sqlstore.Limits{Timeout: time.Minute})
			for i := range 300 {
				err := st.TouchAPIKeys(ctx, map[keyward.KeyRef]time.Time{{TenantID: "t", ID: "k"}: time.Now()})
				if !errors.Is(err, tt.err) || keyward.ErrorCode(err) == keyward.EDBUNAVAILABLE {
					t.Fatalf("call %d: got %v (code %q), want %v", i, err, keyward.ErrorCode(err), tt.err)
				}
			}
		})
	}
}
