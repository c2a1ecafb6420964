package dialecttest

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// CheckMembers asserts that m has exactly the members of want, each of the
// JSON type and format want gives: "string", "uuid", "time" (RFC 3339),
// "number", "int" (a whole number), "bool", "array", "object", "null", or
// alternatives joined by "|" ("string|null").
func CheckMembers(t testing.TB, what string, m map[string]any, want map[string]string) {
	t.Helper()
	var got, exp []string
	for k := range m {
		got = append(got, k)
	}
	for k := range want {
		exp = append(exp, k)
	}
	sort.Strings(got)
	sort.Strings(exp)
	if strings.Join(got, ",") != strings.Join(exp, ",") {
		t.Errorf("%s: got members %v, want %v", what, got, exp)
	}
	for name, kinds := range want {
		v, ok := m[name]
		if !ok {
			continue
		}
		matched := false
		for _, kind := range strings.Split(kinds, "|") {
			if isKind(v, kind) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("%s: got %s = %#v, want %s", what, name, v, kinds)
		}
	}
}

func isKind(v any, kind string) bool {
	switch kind {
	case "null":
		return v == nil
	case "string":
		_, ok := v.(string)
		return ok
	case "uuid":
		s, ok := v.(string)
		return ok && uuidRE.MatchString(s)
	case "time":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "number":
		_, ok := v.(float64)
		return ok
	case "int":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "bool":
		_, ok := v.(bool)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	panic(fmt.Sprintf("unknown kind %q", kind))
}
