package secret

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

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

// TestScopedHash: the scoped hash is the documented SHA-256, differs by
// tenant and from the plain hash.
func TestScopedHash(t *testing.T) {
	plain := Hash("Summer2024!Password")
	want := sha256.Sum256(append([]byte("keyward imported key\x00tenant-a\x00"), plain...))
	a := ScopedHash("tenant-a", plain)
	if !bytes.Equal(a, want[:]) {
		t.Errorf("ScopedHash: got %x, want %x", a, want)
	}
	if b := ScopedHash("tenant-b", plain); bytes.Equal(a, b) || bytes.Equal(a, plain) || len(b) != sha256.Size {
		t.Errorf("ScopedHash must differ by tenant and from the plain hash")
	}
}
