package secret

import "testing"

func TestForeignSecrets(t *testing.T) {
	good := NewSecret("kw")
	bad := good[:len(good)-1] + string(rune(good[len(good)-1])^1)
	if WellFormed(bad) {
		bad = good[:len(good)-1] + "0"
	}
	cases := []struct {
		s                    string
		lookupable, imported bool
	}{
		{good, true, true},
		{bad, false, false}, // keyward-shaped, wrong checksum: no store read
		{"unkey_3ZbFhWkQ9xYpLmN2", true, true},
		{"sk_live_51HxYz0AbCdEfGhIjKlMnOp", true, true},
		{"short_abc", false, false},
		{"aaaaaaaaaaaaaaaaaaaa", true, false},
		{"has space inside it ok", false, false},
	}
	for _, c := range cases {
		if got := Lookupable(c.s); got != c.lookupable {
			t.Errorf("Lookupable(%q) = %v", c.s, got)
		}
		if got := CheckImported(c.s) == ""; got != c.imported {
			t.Errorf("CheckImported(%q) = %q", c.s, CheckImported(c.s))
		}
	}
}
