package secret

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestForeignSecrets(t *testing.T) {
	good := NewSecret("kw")
	// bad: good with its last character (of the checksum) changed to
	// another of the alphabet. Flipping a bit of it could leave the
	// alphabet ('z' becomes '{'), which makes a foreign-looking secret.
	bad := good[:len(good)-1] + "0"
	if bad == good {
		bad = good[:len(good)-1] + "1"
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

// keywardShapedBySearch is KeywardShaped as first written (the last "_sk_"
// found by search): the fixed-position check must agree with it.
func keywardShapedBySearch(s string) bool {
	i := strings.LastIndex(s, "_sk_")
	if i < 1 || !ValidPrefix(s[:i]) {
		return false
	}
	tail := s[i+4:]
	if len(tail) != randomLen+checksumLen {
		return false
	}
	for j := 0; j < len(tail); j++ {
		if !is62(tail[j]) {
			return false
		}
	}
	return true
}

func TestKeywardShapedAgreesWithSearch(t *testing.T) {
	sec := NewSecret("kw")
	tail := sec[len("kw_sk_"):]
	cases := []string{
		sec, NewSecret("cbx_b2b"), NewSecret("a_sk_b"), "_sk_" + tail, "k_sk_" + tail, "kw_sk_" + tail[1:], "kw_sk_" + tail + "x",
		"kw_sk_" + tail[:20] + "_sk_" + tail[24:], "kw_sk_" + tail[:48] + "_", "KW_sk_" + tail, "kw-sk_" + tail,
		strings.Repeat("a", 17) + "_sk_" + tail, "kw_sk_", "", "x", sec + "_sk_" + tail, "kw_sk_" + tail + "_sk_",
		"kw_sk_" + strings.Repeat("_sk_", 12) + "a",
	}
	for _, s := range cases {
		if got, want := KeywardShaped(s), keywardShapedBySearch(s); got != want {
			t.Errorf("KeywardShaped(%q): got %v, want %v", s, got, want)
		}
	}
}
