package httpapi

import (
	"bytes"
	"encoding/json"

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
func refuseDuplicateMembers(body []byte) error {
	top, name, found := duplicateMember(body)
	switch {
	case !found:
		return nil
	case top == "":
		return keyward.Invalid(keyward.FieldError{Field: name, Message: "is given more than once"})
	default:
		return keyward.Invalid(keyward.FieldError{Field: top, Message: "names the member " + quoteName(name) + " more than once"})
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
	// frames holds, per open container, the names seen in it (nil for an
	// array); expectName tells whether the next string is a member name.
	type frame struct {
		object bool
		names  [][]byte
	}
	var frames []frame
	expectName := false
	var topName []byte
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{':
			frames = append(frames, frame{object: true})
			expectName = true
		case '[':
			frames = append(frames, frame{})
			expectName = false
		case '}', ']':
			if len(frames) == 0 {
				return "", "", false
			}
			frames = frames[:len(frames)-1]
			expectName = false
		case ',':
			expectName = len(frames) > 0 && frames[len(frames)-1].object
		case '"':
			end, escaped := stringEnd(body, i)
			if end < 0 {
				return "", "", false
			}
			if expectName {
				raw := body[i+1 : end]
				if escaped {
					var s string
					if json.Unmarshal(body[i:end+1], &s) != nil {
						return "", "", false
					}
					raw = []byte(s)
				}
				f := &frames[len(frames)-1]
				for _, seen := range f.names {
					if bytes.Equal(seen, raw) {
						if len(frames) == 1 {
							return "", string(raw), true
						}
						return string(topName), string(raw), true
					}
				}
				f.names = append(f.names, raw)
				if len(frames) == 1 {
					topName = raw
				}
				expectName = false
			}
			i = end
		}
	}
	return "", "", false
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
