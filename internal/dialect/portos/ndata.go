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
	Sort       string // keyward's form: "a,-b"
	CountOnly  bool
}

// DefaultTake is $take when it is not given.
const DefaultTake = 100

// members are the fields NData may filter and sort on, with their types.
var members = map[string]string{"id": "string", "isActive": "bool", "name": "string", "createdAt": "time"}

// sortable are the fields $sort accepts.
var sortable = map[string]bool{"id": true, "isActive": true, "name": true, "createdAt": true}

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

// ParseQuery reads NData from a raw query string: filters written
// member=op:arg;op:arg (repeated members and ;-separated operations are
// ANDed; a bare value means eq; in takes a comma-separated list), $skip,
// $take, $sort=a,-b or a:desc, and $count=true. Every problem is EINVALID
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
	for member, values := range q {
		switch member {
		case "$skip", "$take":
			n, err := strconv.Atoi(q.Get(member))
			if err != nil || len(values) > 1 || n < 0 || (member == "$skip" && n > keyward.MaxSkip) || (member == "$take" && (n < 1 || n > keyward.MaxPageSize)) {
				return nil, bad(member, "must be an integer ("+map[string]string{"$skip": "0 to " + strconv.Itoa(keyward.MaxSkip), "$take": "1 to 500"}[member]+"), given once")
			}
			if member == "$skip" {
				out.Skip = n
			} else {
				out.Take = n
			}
		case "$count":
			switch q.Get(member) {
			case "true":
				out.CountOnly = true
			case "false":
			default:
				return nil, bad(member, "must be true or false")
			}
		case "$sort":
			sort, err := parseSort(strings.Join(values, ","))
			if err != "" {
				return nil, bad(member, err)
			}
			out.Sort = sort
		case "tenant":
			// keyward's own ?tenant= for root admins; not NData.
		default:
			typ, ok := members[member]
			if !ok {
				return nil, bad(member, "is not a filterable member (id, isActive, name, createdAt)")
			}
			for _, v := range values {
				for _, part := range strings.Split(v, ";") {
					c, err := parseCondition(member, typ, part)
					if err != "" {
						return nil, bad(member, err)
					}
					out.Conditions = append(out.Conditions, c)
					if len(out.Conditions) > keyward.MaxConditions {
						return nil, bad(member, "a query may hold at most "+strconv.Itoa(keyward.MaxConditions)+" conditions")
					}
				}
			}
		}
	}
	return out, nil
}

func parseSort(s string) (string, string) {
	if strings.Count(s, ",") >= keyward.MaxSortTerms {
		return "", "must have at most " + strconv.Itoa(keyward.MaxSortTerms) + " terms"
	}
	var fields []string
	for _, f := range strings.Split(s, ",") {
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
		if !sortable[f] {
			return "", "cannot sort by " + strconv.Quote(f) + " (id, isActive, name, createdAt)"
		}
		if desc {
			f = "-" + f
		}
		fields = append(fields, f)
	}
	return strings.Join(fields, ","), ""
}

// parseCondition reads "op:arg" (or a bare "arg", meaning eq).
func parseCondition(member, typ, part string) (keyward.Condition, string) {
	op, arg, ok := strings.Cut(part, ":")
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
		args = strings.Split(arg, ",")
		if len(args) > 100 {
			return keyward.Condition{}, "in takes at most 100 values"
		}
	}
	c := keyward.Condition{Field: member, Op: op}
	for _, a := range args {
		switch typ {
		case "bool":
			b, err := strconv.ParseBool(a)
			if err != nil {
				return c, "must be true or false, not " + strconv.Quote(a)
			}
			c.Values = append(c.Values, b)
		case "time":
			t, err := time.Parse(time.RFC3339Nano, a)
			if err != nil {
				return c, "must be an RFC 3339 time, not " + strconv.Quote(a)
			}
			c.Values = append(c.Values, t.UTC())
		default:
			c.Values = append(c.Values, a)
		}
	}
	if op == "contains" && typ != "string" {
		return c, "contains applies to text members only"
	}
	if (op == "gt" || op == "gte" || op == "lt" || op == "lte") && typ == "bool" {
		return c, op + " does not apply to a boolean"
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
