package console

import (
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// namedLimitsText shows named rate limits as the form edits them: one a
// line, "NAME N/WINDOW", e.g. "burst 10/1s" and "daily 10000/1d".
func namedLimitsText(ls []keyward.NamedRateLimit) string {
	lines := make([]string, len(ls))
	for i, l := range ls {
		lines[i] = l.Name + " " + strconv.Itoa(l.Limit) + "/" + windowText(l.WindowSeconds)
	}
	return strings.Join(lines, "\n")
}

// windowText writes a window in its largest whole unit: 1d, 2h, 30m, 45s.
func windowText(seconds int) string {
	for _, u := range []struct {
		s    int
		unit string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}} {
		if seconds >= u.s && seconds%u.s == 0 {
			return strconv.Itoa(seconds/u.s) + u.unit
		}
	}
	return strconv.Itoa(seconds) + "s"
}

// namedLimitsSummary shows named rate limits on a page: "burst: 10 per
// second, daily: 10000 per day".
func namedLimitsSummary(ls []keyward.NamedRateLimit) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Name + ": " + rateLimitText(&keyward.RateLimit{Limit: l.Limit, WindowSeconds: l.WindowSeconds})
	}
	return strings.Join(parts, ", ")
}

// sameLimitsText tells whether two texts of the field say the same, line
// endings and surrounding blanks aside.
func sameLimitsText(a, b string) bool {
	norm := func(s string) string {
		var out []string
		for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
			if line = strings.Join(strings.Fields(line), " "); line != "" {
				out = append(out, line)
			}
		}
		return strings.Join(out, "\n")
	}
	return norm(a) == norm(b)
}

// parseNamedLimits reads the field: one limit a line, "NAME N/WINDOW" (or
// NAME=N/WINDOW, NAME: N/WINDOW), the window a number and a unit s, m, h or
// d ("1d", "30s"; the number may be left out: "10/h"). The message says
// what is wrong in words a person reads next to the field.
func parseNamedLimits(text string) ([]keyward.NamedRateLimit, string) {
	out := []keyward.NamedRateLimit{}
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		at := "Line " + strconv.Itoa(i+1) + ": "
		cut := strings.IndexAny(line, " \t=:")
		if cut <= 0 {
			return nil, at + "write a name, then the limit, such as “burst 10/1s”."
		}
		name, spec := line[:cut], strings.TrimLeft(line[cut:], " \t=:")
		if seen[name] {
			return nil, at + "the name “" + name + "” is given twice; each limit needs its own name."
		}
		seen[name] = true
		n, w, ok := strings.Cut(strings.ReplaceAll(spec, " ", ""), "/")
		limit, err := strconv.Atoi(n)
		if !ok || err != nil {
			return nil, at + "write the limit as requests/window, such as “" + name + " 10/1s” or “" + name + " 10000/1d”."
		}
		if limit < 1 || limit > keyward.MaxRateLimit {
			return nil, at + "the number of requests must be at least 1."
		}
		seconds, ok := windowSeconds(w)
		if !ok {
			return nil, at + "the window is a number and a unit: s, m, h or d, such as 1s, 15m, 1h or 1d."
		}
		if seconds < 1 || seconds > keyward.MaxRateLimitWindow {
			return nil, at + "the window must be from 1 second to 1 day."
		}
		out = append(out, keyward.NamedRateLimit{Name: name, Limit: limit, WindowSeconds: seconds})
	}
	if len(out) > keyward.MaxNamedRateLimits {
		return nil, "Enter at most " + strconv.Itoa(keyward.MaxNamedRateLimits) + " limits."
	}
	return out, ""
}

// windowSeconds reads "1d", "30s", "h" or a duration such as "1h30m".
func windowSeconds(w string) (int, bool) {
	w = strings.ToLower(w)
	units := map[string]int{"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
		"h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}
	digits := strings.TrimRight(w, "abcdefghijklmnopqrstuvwxyz")
	if unit, ok := units[w[len(digits):]]; ok && !strings.ContainsAny(digits, "abcdefghijklmnopqrstuvwxyz") {
		n := 1
		if digits != "" {
			var err error
			if n, err = strconv.Atoi(digits); err != nil || n > keyward.MaxRateLimitWindow {
				return 0, false
			}
		}
		return n * unit, true
	}
	d, err := time.ParseDuration(w)
	if err != nil || d%time.Second != 0 || d > time.Duration(keyward.MaxRateLimitWindow)*time.Second*2 {
		return 0, false
	}
	return int(d / time.Second), true
}
