package console

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestParseNamedLimits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []keyward.NamedRateLimit
		err  string
	}{
		{"", []keyward.NamedRateLimit{}, ""},
		{"burst 10/1s\r\n\n  daily   10000/1d ", []keyward.NamedRateLimit{{Name: "burst", Limit: 10, WindowSeconds: 1}, {Name: "daily", Limit: 10000, WindowSeconds: 86400}}, ""},
		{"a=5/m\nb: 7/2h\nc 1/90s\nd 3/1h30m", []keyward.NamedRateLimit{{Name: "a", Limit: 5, WindowSeconds: 60}, {Name: "b", Limit: 7, WindowSeconds: 7200}, {Name: "c", Limit: 1, WindowSeconds: 90}, {Name: "d", Limit: 3, WindowSeconds: 5400}}, ""},
		{"burst", nil, "Line 1: write a name"},
		{"burst ten/1s", nil, "Line 1: write the limit as requests/window"},
		{"x 1/1s\nburst 0/1s", nil, "Line 2: the number of requests"},
		{"burst 10/1w", nil, "Line 1: the window is a number and a unit"},
		{"burst 10/2d", nil, "Line 1: the window must be from 1 second to 1 day"},
		{"a 1/1s\na 2/1m", nil, "Line 2: the name “a” is given twice"},
		{func() string {
			var b strings.Builder
			for i := range 17 {
				b.WriteString("l" + strconv.Itoa(i) + " 1/1s\n")
			}
			return b.String()
		}(), nil, "Enter at most 16 limits."},
	} {
		got, msg := parseNamedLimits(tc.in)
		if tc.err != "" {
			if !strings.HasPrefix(msg, tc.err) {
				t.Errorf("%q: got message %q, want %q…", tc.in, msg, tc.err)
			}
			continue
		}
		if msg != "" || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v %q, want %v", tc.in, got, msg, tc.want)
		}
		if back, msg := parseNamedLimits(namedLimitsText(got)); msg != "" || !slices.Equal(back, got) {
			t.Errorf("%q: written as %q reads back as %v %q", tc.in, namedLimitsText(got), back, msg)
		}
	}
}
