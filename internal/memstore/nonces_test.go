package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestMemoryNoncesExpire: a nonce is refused until its signature expires,
// and expired nonces are dropped, so the store holds one window at most.
func TestMemoryNoncesExpire(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewNonceStore(func() time.Time { return now })
	ctx := context.Background()
	remember := func(key string, until time.Time) bool {
		t.Helper()
		fresh, err := m.Remember(ctx, key, until)
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	if !remember("k\x00n1", now.Add(30*time.Second)) || remember("k\x00n1", now.Add(30*time.Second)) {
		t.Fatal("want the first use fresh and the second refused")
	}
	for i := range 1000 {
		remember(fmt.Sprint("k\x00bulk", i), now.Add(time.Minute))
	}
	now = now.Add(61 * time.Second)
	if !remember("k\x00n1", now.Add(30*time.Second)) {
		t.Error("an expired nonce is still refused")
	}
	if got := m.Len(); got != 1 {
		t.Errorf("got %d nonces held after the window passed, want 1", got)
	}
}
