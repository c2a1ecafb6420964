package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestGuardBoundsWaiting holds SQLite's one writer in a transaction and
// checks what the guard makes of the calls that must wait for it: a call
// past the timeout is EDBUNAVAILABLE at the timeout; after a timeout other
// calls fail at once while one probes; a call beyond MaxInFlight is
// EDBUNAVAILABLE at once; and once the writer is free, everything works
// again without help.
func TestGuardBoundsWaiting(t *testing.T) {
	ctx := context.Background()
	const timeout = 300 * time.Millisecond
	db := sqltest.SQLite(t)
	st := sqlstore.Guard(db, sqlstore.Limits{Timeout: timeout, MaxInFlight: 2})
	tenant := func() *keyward.Tenant {
		now := time.Now().UTC().Truncate(time.Microsecond)
		id := secret.NewID()
		return &keyward.Tenant{ID: id, Name: "t" + id[:8], Prefix: "kw", IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
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

	// timed runs call and checks its error code and how long it took.
	timed := func(what string, call func() error, wantCode string, min, max time.Duration) {
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
	write := func() error { return st.CreateTenant(ctx, tenant()) }
	read := func() error { _, err := st.CountTenants(ctx); return err }
	inBackground := func(f func() error) chan error {
		c := make(chan error, 1)
		go func() { c <- f() }()
		time.Sleep(50 * time.Millisecond) // until it waits
		return c
	}
	const soon = 40 * time.Millisecond

	timed("a write waiting for the held writer", write, keyward.EDBUNAVAILABLE, timeout, timeout+200*time.Millisecond)
	probe := inBackground(write) // the database is marked down: this call probes it
	timed("a read while another call probes", read, keyward.EDBUNAVAILABLE, 0, soon)
	if err := <-probe; keyward.ErrorCode(err) != keyward.EDBUNAVAILABLE {
		t.Errorf("the probing write: got %v, want EDBUNAVAILABLE", err)
	}
	timed("a read probing on its own (the readers are free)", read, "", 0, timeout)
	w1, w2 := inBackground(write), inBackground(write) // both slots
	timed("a read beyond MaxInFlight", read, keyward.EDBUNAVAILABLE, 0, soon)
	<-w1
	<-w2

	close(hold)
	if err := <-done; err != nil {
		t.Fatalf("the held transaction: %v", err)
	}
	t.Run("recovers by itself", func(t *testing.T) {
		// The first call probes and succeeds; the ones after it run as usual.
		for i := 0; i < 3; i++ {
			if err := st.CreateTenant(ctx, tenant()); err != nil {
				t.Fatalf("write %d after the writer was freed: %v", i, err)
			}
		}
		if err := st.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}
