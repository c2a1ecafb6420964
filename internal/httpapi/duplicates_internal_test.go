package httpapi

import "testing"

// TestDuplicateMember: a member named twice in one object, at any depth and
// however its name is spelled, is found; the same name in different
// objects, in strings or in arrays is not; a body that is not JSON passes.
func TestDuplicateMember(t *testing.T) {
	for _, tt := range []struct {
		body      string
		top, name string
		found     bool
	}{
		{`{"name":"a","level":1}`, "", "", false},
		{`{"name":"a","name":"b"}`, "", "name", true},
		{` { "level" : 1 , "name" : "x" , "level" : 4 } `, "", "level", true},
		{`{"name":"a","n\u0061me":"b"}`, "", "name", true},
		{`{"na\"me":"a","na\u0022me":"b"}`, "", `na"me`, true},
		{`{"meta":{"plan":"pro","plan":"free"}}`, "meta", "plan", true},
		{`{"meta":{"a":{"x":1,"x":2}}}`, "meta", "x", true},
		{`{"permissions":[{"name":"a"},{"name":"b"}]}`, "", "", false},
		{`{"permissions":[{"name":"a","name":"b"}]}`, "permissions", "name", true},
		{`{"a":{"x":1},"b":{"x":1}}`, "", "", false},
		{`{"name":"\"name\":","x":"{\"name\":1,\"name\":2}"}`, "", "", false},
		{`{"a":"\\","a":1}`, "", "a", true},
		{`{"a":[1,2,{"b":[]}],"c":{}}`, "", "", false},
		{`[{"a":1,"a":2}]`, "", "a", true},
		{`{"name":"a"`, "", "", false},
		{`{"name":"a}`, "", "", false},
		{`}}`, "", "", false},
		{`not json`, "", "", false},
		{``, "", "", false},
	} {
		top, name, found := duplicateMember([]byte(tt.body))
		if top != tt.top || name != tt.name || found != tt.found {
			t.Errorf("%s: got %q %q %v, want %q %q %v", tt.body, top, name, found, tt.top, tt.name, tt.found)
		}
	}
}
