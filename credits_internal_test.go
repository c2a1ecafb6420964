package keyward

import (
	"testing"
	"time"
)

func TestRefillPeriods(t *testing.T) {
	day := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name        string
		r           Refill
		now         string
		start, next string
	}{
		{"daily", Refill{Amount: 1, Interval: RefillDaily}, "2026-03-10T15:00:00Z", "2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z"},
		{"daily at midnight", Refill{Amount: 1, Interval: RefillDaily}, "2026-03-10T00:00:00Z", "2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z"},
		{"daily across a year", Refill{Amount: 1, Interval: RefillDaily}, "2026-12-31T23:59:59Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"monthly on the 1st", Refill{Amount: 1, Interval: RefillMonthly, DayOfMonth: 1}, "2026-03-10T15:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"monthly before the day", Refill{Amount: 1, Interval: RefillMonthly, DayOfMonth: 15}, "2026-03-10T15:00:00Z", "2026-02-15T00:00:00Z", "2026-03-15T00:00:00Z"},
		{"monthly on the day", Refill{Amount: 1, Interval: RefillMonthly, DayOfMonth: 15}, "2026-03-15T00:00:00Z", "2026-03-15T00:00:00Z", "2026-04-15T00:00:00Z"},
		{"31st clamps to February's end", Refill{Amount: 1, Interval: RefillMonthly, DayOfMonth: 31}, "2026-02-28T01:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"},
		{"31st before February's end", Refill{Amount: 1, Interval: RefillMonthly, DayOfMonth: 31}, "2026-02-27T01:00:00Z", "2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"},
		{"31st in a leap February", Refill{Amount: 1, Interval: RefillMonthly, DayOfMonth: 31}, "2028-02-29T12:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z"},
		{"30th clamps in April? no: April has 30", Refill{Amount: 1, Interval: RefillMonthly, DayOfMonth: 31}, "2026-04-30T00:00:00Z", "2026-04-30T00:00:00Z", "2026-05-31T00:00:00Z"},
		{"monthly across a year", Refill{Amount: 1, Interval: RefillMonthly, DayOfMonth: 5}, "2027-01-02T00:00:00Z", "2026-12-05T00:00:00Z", "2027-01-05T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := day(tt.now)
			if got, want := tt.r.periodStart(now), day(tt.start); !got.Equal(want) {
				t.Errorf("periodStart(%s) got %s, want %s", tt.now, got, want)
			}
			if got, want := tt.r.next(now), day(tt.next); !got.Equal(want) {
				t.Errorf("next(%s) got %s, want %s", tt.now, got, want)
			}
		})
	}
}
