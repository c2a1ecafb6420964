package main

import (
	"fmt"
	"strings"

	"github.com/keyward/keyward"
)

// parseNamedLimits reads repeated --limit NAME=N/window flags ("" alone
// for none) into the rateLimits to send.
func parseNamedLimits(m multiFlag) (*[]keyward.NamedRateLimit, error) {
	out := []keyward.NamedRateLimit{}
	for _, v := range m {
		if v == "" {
			continue
		}
		name, spec, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--limit %q: want NAME=N/window, e.g. burst=10/1s or daily=10000/24h", v)
		}
		l, err := keyward.ParseRateLimit(spec)
		if err != nil {
			return nil, fmt.Errorf("--limit %s: %w", name, err)
		}
		out = append(out, keyward.NamedRateLimit{Name: name, Limit: l.Limit, WindowSeconds: l.WindowSeconds})
	}
	return &out, nil
}

// namedLimitsText shows named rate limits, "none" without any.
func namedLimitsText(ls []keyward.NamedRateLimit) string {
	if len(ls) == 0 {
		return "none"
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s: %d per %ds", l.Name, l.Limit, l.WindowSeconds)
	}
	return strings.Join(parts, ", ")
}

const limitUsage = "a named rate limit `NAME=N/window`, e.g. burst=10/1s or daily=10000/24h; repeat for several (\"\" alone for none; replaces them all)"
