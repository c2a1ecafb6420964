package portos

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// Query is a parsed NData query string.
type Query struct {
	Conditions []keyward.Condition
	Skip, Take int
	// TakeGiven tells whether $take was in the query: without it a list
	// answers the rest of the matches, up to MaxTake.
	TakeGiven bool
	Sort      string // keyward's form: "a,-b"
	CountOnly bool
}

// MaxTake is the most items one answer carries: $take above it is refused,
// and a query without $take answers at most this many (totalCount still
// counts every match, so a client sees that it must page).
const MaxTake = keyward.MaxPageSize

// DefaultTake is the page size used when $take is absent.
const DefaultTake = MaxTake

// member is an ApiKey member NData may filter and sort on.
type member struct {
	name  string // as Portos spells it
	field string // keyward's Condition and sort field
	typ   string // string, bool, time, int
}

// members are the ApiKey members, by lower-cased name: NData member names
// are case-insensitive. clientSecret is not a member anyone may query.
var members = map[string]member{}

func init() {
	for _, m := range []member{
		{"id", "id", "string"}, {"clientId", "clientId", "string"}, {"isActive", "isActive", "bool"},
		{"createdAt", "createdAt", "time"}, {"name", "name", "string"}, {"description", "description", "string"},
		{"userName", "userName", "string"}, {"deviceName", "deviceName", "string"},
		{"permissions", "permissions", "string"}, {"_v", "version", "int"},
	} {
		members[strings.ToLower(m.name)] = m
	}
}

const memberList = "id, clientId, isActive, createdAt, name, description, userName, deviceName, permissions, _v"

var ops = map[string]bool{"eq": true, "neq": true, "gt": true, "gte": true, "lt": true, "lte": true, "in": true, "contains": true}

// splitQuery parses a raw query string like url.ParseQuery, but splits on
// "&" only: NData separates operations with ";", which url.ParseQuery (and
// so Request.URL.Query) refuses.
func splitQuery(raw string) (url.Values, error) {
	out := url.Values{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, keyward.Invalid(keyward.FieldError{Field: k, Message: "is not validly escaped"})
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, keyward.Invalid(keyward.FieldError{Field: key, Message: "is not validly escaped"})
		}
		out[key] = append(out[key], val)
	}
	return out, nil
}

// parseBool reads an NData boolean: true or false in any case (C# writes
// True and False).
func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// ParseQuery reads NData from a raw query string: filters on any member,
// written member=op:arg;op:arg (repeated members and ;-separated operations
// are ANDed; a bare value means eq; in takes its values separated by ":",
// or by "," — the only separator for times, whose own colons would be
// ambiguous), $skip, $take, $sort=a,-b or a:desc, and $count=true. Member
// names, operators and booleans ignore case. Every problem is EINVALID
// naming the offending member.
func ParseQuery(raw string) (*Query, error) {
	q, err := splitQuery(raw)
	if err != nil {
		return nil, err
	}
	out := &Query{Take: DefaultTake}
	bad := func(member, msg string) error {
		return keyward.Invalid(keyward.FieldError{Field: member, Message: msg})
	}
	for name, values := range q {
		switch strings.ToLower(name) {
		case "$skip", "$take":
			n, err := strconv.Atoi(values[0])
			isTake := strings.EqualFold(name, "$take")
			if err != nil || len(values) > 1 || n < 0 || (!isTake && n > keyward.MaxSkip) || (isTake && (n < 1 || n > MaxTake)) {
				return nil, bad(name, "must be an integer ("+map[bool]string{false: "0 to " + strconv.Itoa(keyward.MaxSkip), true: "1 to 500"}[isTake]+"), given once")
			}
			if isTake {
				out.Take, out.TakeGiven = n, true
			} else {
				out.Skip = n
			}
		case "$count":
			b, ok := parseBool(values[0])
			if !ok || len(values) > 1 {
				return nil, bad(name, "must be true or false")
			}
			out.CountOnly = b
		case "$sort":
			sort, err := parseSort(strings.Join(values, ","))
			if err != "" {
				return nil, bad(name, err)
			}
			out.Sort = sort
		case "tenant":
			// keyward's own ?tenant= for root admins; not NData.
		default:
			m, ok := members[strings.ToLower(name)]
			if !ok {
				return nil, bad(name, "is not a member of ApiKey ("+memberList+")")
			}
			for _, v := range values {
				for _, part := range strings.Split(v, ";") {
					c, err := parseCondition(m, part)
					if err != "" {
						return nil, bad(name, err)
					}
					out.Conditions = append(out.Conditions, c)
					if len(out.Conditions) > keyward.MaxConditions {
						return nil, bad(name, "a query may hold at most "+strconv.Itoa(keyward.MaxConditions)+" conditions")
					}
				}
			}
		}
	}
	return out, nil
}

func parseSort(s string) (string, string) {
	var fields []string
	seen := map[string]bool{}
	terms := strings.Split(s, ",")
	if len(terms) > keyward.MaxSortTerms {
		return "", "takes at most " + strconv.Itoa(keyward.MaxSortTerms) + " members"
	}
	for _, f := range terms {
		f = strings.TrimSpace(f)
		desc := false
		if name, dir, ok := strings.Cut(f, ":"); ok {
			switch strings.ToLower(dir) {
			case "desc":
				desc = true
			case "asc":
			default:
				return "", "direction must be asc or desc"
			}
			f = name
		}
		if name, ok := strings.CutPrefix(f, "-"); ok {
			f, desc = name, true
		}
		m, ok := members[strings.ToLower(f)]
		if !ok || m.name == "permissions" {
			return "", "cannot sort by " + strconv.Quote(f) + " (" + strings.Replace(memberList, ", permissions", "", 1) + ")"
		}
		if seen[m.field] {
			continue // a later term on the same member orders nothing
		}
		seen[m.field] = true
		if desc {
			fields = append(fields, "-"+m.field)
		} else {
			fields = append(fields, m.field)
		}
	}
	return strings.Join(fields, ","), ""
}

// parseCondition reads "op:arg" (or a bare "arg", meaning eq).
func parseCondition(m member, part string) (keyward.Condition, string) {
	op, arg, ok := strings.Cut(part, ":")
	op = strings.ToLower(op)
	switch {
	case ok && ops[op]:
	case ok && isWord(op):
		return keyward.Condition{}, "unknown operator " + strconv.Quote(op) + " (eq, neq, gt, gte, lt, lte, in, contains)"
	default:
		// A bare value means eq; a time's own colons are not an operator.
		op, arg = "eq", part
	}
	args := []string{arg}
	if op == "in" {
		if m.typ == "time" || !strings.Contains(arg, ":") {
			args = strings.Split(arg, ",")
		} else {
			args = strings.Split(arg, ":")
		}
		if len(args) > 100 {
			return keyward.Condition{}, "in takes at most 100 values"
		}
	}
	c := keyward.Condition{Field: m.field, Op: op}
	for _, a := range args {
		switch m.typ {
		case "bool":
			b, ok := parseBool(a)
			if !ok {
				return c, "must be true or false, not " + strconv.Quote(a)
			}
			c.Values = append(c.Values, b)
		case "int":
			n, err := strconv.Atoi(a)
			if err != nil {
				return c, "must be a whole number, not " + strconv.Quote(a)
			}
			c.Values = append(c.Values, n)
		case "time":
			t, err := time.Parse(time.RFC3339Nano, a)
			if err != nil {
				return c, "must be an RFC 3339 time, not " + strconv.Quote(a)
			}
			c.Values = append(c.Values, t.UTC())
		default:
			if m.name == "permissions" && op != "contains" {
				a = catalogName(a)
			}
			c.Values = append(c.Values, a)
		}
	}
	if op == "contains" && m.typ != "string" {
		return c, "contains applies to text members only"
	}
	if op == "gt" || op == "gte" || op == "lt" || op == "lte" {
		if m.typ == "bool" {
			return c, op + " does not apply to a boolean"
		}
		if m.name == "permissions" {
			return c, op + " does not apply to a set"
		}
	}
	return c, ""
}

// isWord reports whether s is all ASCII letters (an operator's shape).
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
