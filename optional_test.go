package keyward_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestOptionalJSON: a member left out, null and a value are three states,
// and each is written back as it was read.
func TestOptionalJSON(t *testing.T) {
	type body struct {
		Limit keyward.Optional[keyward.RateLimit] `json:"rateLimit,omitzero"`
		At    keyward.Optional[time.Time]         `json:"expiresAt,omitzero"`
	}
	for _, tt := range []struct {
		in            string
		leftOut, null bool
	}{
		{`{}`, true, false},
		{`{"rateLimit":null}`, false, true},
		{`{"rateLimit":{"limit":5,"windowSeconds":60}}`, false, false},
	} {
		var b body
		if err := json.Unmarshal([]byte(tt.in), &b); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		l, ok := b.Limit.Get()
		if b.Limit.IsZero() != tt.leftOut || b.Limit.IsNull() != tt.null || ok == (tt.leftOut || tt.null) {
			t.Errorf("%s: got left out %v, null %v, value %v", tt.in, b.Limit.IsZero(), b.Limit.IsNull(), ok)
		}
		if ok && l != (keyward.RateLimit{Limit: 5, WindowSeconds: 60}) {
			t.Errorf("%s: got %+v", tt.in, l)
		}
		if p := b.Limit.Ptr(); (p != nil) != ok {
			t.Errorf("%s: Ptr %v with value %v", tt.in, p, ok)
		}
		out, err := json.Marshal(b)
		if err != nil || string(out) != tt.in {
			t.Errorf("%s: written back as %s (%v)", tt.in, out, err)
		}
	}
	var b body
	if err := json.Unmarshal([]byte(`{"rateLimit":{"limit":5,"burst":1}}`), &b); err == nil {
		t.Error("an unknown member of the value was accepted")
	}
	if v := keyward.OptionalOf[int](nil); !v.IsZero() {
		t.Error("OptionalOf(nil) is not left out")
	}
	if v, ok := keyward.OptionalOf(new(int)).Get(); !ok || v != 0 {
		t.Error("OptionalOf(&0) does not hold 0")
	}
}

// TestAPIKeyStatus: inactive first, then expired from the expiry on.
func TestAPIKeyStatus(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tt := range []struct {
		active  bool
		expires *time.Time
		want    string
	}{
		{true, nil, keyward.StatusActive},
		{true, at(time.Second), keyward.StatusActive},
		{true, at(0), keyward.StatusExpired},
		{true, at(-time.Second), keyward.StatusExpired},
		{false, at(-time.Second), keyward.StatusInactive},
		{false, nil, keyward.StatusInactive},
	} {
		k := &keyward.APIKey{IsActive: tt.active, ExpiresAt: tt.expires}
		if got := k.Status(now); got != tt.want {
			t.Errorf("active %v, expires %v: got %s, want %s", tt.active, tt.expires, got, tt.want)
		}
	}
}
