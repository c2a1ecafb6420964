package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestLimiterWindows: a window allows Limit requests, a refund gives one
// back, and the next window starts from zero.
func TestLimiterWindows(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewLimiter(func() time.Time { return now })
	ctx := context.Background()
	l := keyward.RateLimit{Limit: 2, WindowSeconds: 10}
	allow := func() (bool, keyward.RateStatus) {
		t.Helper()
		ok, st, err := m.Allow(ctx, "k", l)
		if err != nil {
			t.Fatal(err)
		}
		return ok, st
	}
	if ok, st := allow(); !ok || st.Remaining != 1 || st.Reset != 10 {
		t.Fatalf("first request: got %v %+v, want allowed with 1 remaining, reset 10", ok, st)
	}
	allow()
	if ok, _ := allow(); ok {
		t.Fatal("the third request of a limit of 2 was allowed")
	}
	if err := m.Refund(ctx, "k", l); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allow(); ok {
		t.Fatal("a refund of the refused request made room past the limit")
	}
	now = now.Add(10 * time.Second)
	if ok, st := allow(); !ok || st.Remaining != 1 {
		t.Fatalf("next window: got %v %+v, want allowed with 1 remaining", ok, st)
	}
	if ok, _, _ := m.Allow(ctx, "other", l); !ok {
		t.Fatal("another key shares the counter")
	}
}
