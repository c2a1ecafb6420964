package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/gate"
)

// refuseDuplicateMembers returns EINVALID when an object of body, at any
// depth, names a member twice ("a" and "\u0061" alike). encoding/json
// keeps the last of them, where another reader of the same body (a proxy,
// a log, the database's own JSON for meta) may keep the first: one body,
// two meanings. The error names the top-level member holding the
// duplicate ("body" when none does). A body that is not JSON passes: the
// decoder says why.
//
// With the shape of the type body decodes into (shapeOf), a member whose
// name is not exactly one of its object's fields is refused as an unknown
// field, named by its path ("rateLimit.Limit"): encoding/json matches
// names without regard to case and with Unicode folding ("Level",
// "permiſſions", "\u212aey"), so that such a name, after or before the
// exact one, would be a second value for one field that the duplicate
// rule does not see.
func refuseDuplicateMembers(body []byte, shape *jsonShape) error {
	m := scanMembers(body, shape)
	switch {
	case m.unknown != "":
		return keyward.Invalid(keyward.FieldError{Field: m.unknown, Message: "unknown field"})
	case !m.found:
		return nil
	case m.top == "":
		return keyward.Invalid(keyward.FieldError{Field: m.name, Message: "is given more than once"})
	default:
		return keyward.Invalid(keyward.FieldError{Field: m.top, Message: "names the member " + quoteName(m.name) + " more than once"})
	}
}

// quoteName quotes a member name for a message, cut to 64 bytes.
func quoteName(name string) string {
	b, _ := json.Marshal(gate.Truncate(name, 64))
	return string(b)
}

// duplicateMember scans body, without decoding it, for the first object
// member named twice in one object: top is the top-level member it is in
// ("" when the duplicate is a top-level member itself) and name the
// duplicated name. found is false for a body without one, or that is not
// JSON.
func duplicateMember(body []byte) (top, name string, found bool) {
	m := scanMembers(body, nil)
	return m.top, m.name, m.found
}

// memberProblem is what scanMembers finds wrong first: a member given
// twice (found, top and name as duplicateMember says), or a member the
// shape does not have (unknown, its path).
type memberProblem struct {
	top, name string
	found     bool
	unknown   string
}

// scanMembers scans body, without decoding it, for the first member named
// twice in one object, or named other than exactly a field of its object's
// shape (root is the body's; nil checks no names).
func scanMembers(body []byte, root *jsonShape) memberProblem {
	// frames holds, per open container, the names seen in it (nil for an
	// array), its shape, the name of its member being read (an object's)
	// or the index of its element (an array's); expectName tells whether
	// the next string is a member name.
	type frame struct {
		object bool
		names  [][]byte
		shape  *jsonShape
		name   []byte
		index  int
	}
	var frames []frame
	expectName := false
	var topName []byte
	// child is the shape of the value that starts next.
	child := func() *jsonShape {
		if len(frames) == 0 {
			return root
		}
		f := &frames[len(frames)-1]
		if f.shape == nil {
			return nil
		}
		if f.object {
			return f.shape.members[string(f.name)]
		}
		return f.shape.elem
	}
	// path is where the member being read is, for a message.
	path := func() string {
		var b strings.Builder
		for _, f := range frames {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.Write(f.name)
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return b.String()
	}
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{':
			frames = append(frames, frame{object: true, shape: child()})
			expectName = true
		case '[':
			frames = append(frames, frame{shape: child()})
			expectName = false
		case '}', ']':
			if len(frames) == 0 {
				return memberProblem{}
			}
			frames = frames[:len(frames)-1]
			expectName = false
		case ',':
			expectName = len(frames) > 0 && frames[len(frames)-1].object
			if len(frames) > 0 && !frames[len(frames)-1].object {
				frames[len(frames)-1].index++
			}
		case '"':
			end, escaped := stringEnd(body, i)
			if end < 0 {
				return memberProblem{}
			}
			if expectName {
				raw := body[i+1 : end]
				if escaped {
					var s string
					if json.Unmarshal(body[i:end+1], &s) != nil {
						return memberProblem{}
					}
					raw = []byte(s)
				}
				f := &frames[len(frames)-1]
				for _, seen := range f.names {
					if bytes.Equal(seen, raw) {
						if len(frames) == 1 {
							return memberProblem{name: string(raw), found: true}
						}
						return memberProblem{top: string(topName), name: string(raw), found: true}
					}
				}
				f.names = append(f.names, raw)
				f.name = raw
				if len(frames) == 1 {
					topName = raw
				}
				if f.shape != nil && f.shape.members != nil {
					if _, ok := f.shape.members[string(raw)]; !ok {
						return memberProblem{unknown: path()}
					}
				}
				expectName = false
			}
			i = end
		}
	}
	return memberProblem{}
}

// stringEnd returns the index of the quote that closes the JSON string
// whose opening quote is at body[start], and whether the string holds an
// escape; end is -1 when the string is not closed.
func stringEnd(body []byte, start int) (end int, escaped bool) {
	for i := start + 1; i < len(body); i++ {
		switch body[i] {
		case '"':
			return i, escaped
		case '\\':
			escaped = true
			i++
		}
	}
	return -1, escaped
}
