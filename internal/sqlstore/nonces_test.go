package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

func TestNonceStore(t *testing.T) {
	sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		clock := func() time.Time { return now }
		a, b := db.NonceStore(clock), db.NonceStore(clock) // two replicas on one database
		tests := []struct {
			name  string
			store interface {
				Remember(context.Context, string, time.Time) (bool, error)
			}
			key   string
			until time.Time
			want  bool
		}{
			{"first use", a, "k\x00n1", now.Add(time.Minute), true},
			{"replay on the same replica", a, "k\x00n1", now.Add(time.Minute), false},
			{"replay on another replica", b, "k\x00n1", now.Add(time.Minute), false},
			{"another nonce", b, "k\x00n2", now.Add(time.Minute), true},
			{"same nonce, another key", b, "j\x00n1", now.Add(time.Minute), true},
		}
		for _, tt := range tests {
			got, err := tt.store.Remember(ctx, tt.key, tt.until)
			if err != nil || got != tt.want {
				t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, tt.want)
			}
		}
		now = now.Add(2 * time.Minute) // n1 has expired: it may be used again
		if got, err := b.Remember(ctx, "k\x00n1", now.Add(time.Minute)); err != nil || !got {
			t.Errorf("an expired nonce: got %v, %v; want fresh", got, err)
		}
		if got, _ := a.Remember(ctx, "k\x00n1", now.Add(time.Minute)); got {
			t.Error("the renewed nonce was accepted twice")
		}
	})
}
