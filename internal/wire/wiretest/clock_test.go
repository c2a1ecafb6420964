package wiretest

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	var c Clock // follows the real clock
	if d := time.Since(c.Now()); d < -time.Second || d > time.Second {
		t.Fatalf("a new clock is %v off the real one", d)
	}
	c.Add(time.Hour)
	if d := time.Until(c.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("after Add(1h): %v ahead, want about an hour", d)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Set(at)
	c.Add(time.Minute)
	if got := c.Now(); !got.Equal(at.Add(time.Minute)) {
		t.Errorf("set then moved a minute: got %v", got)
	}
	f := NewFrozenClock(at)
	time.Sleep(2 * time.Millisecond)
	if !f.Now().Equal(at) {
		t.Errorf("a frozen clock moved on its own: %v", f.Now())
	}
}
