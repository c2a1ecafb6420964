package keyward

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/secret"
)

// TestLookupHashOfKeywardSecrets: a keyward secret's lookup hash is the
// SHA-256 of the secret, whatever the length of its prefix, and is found
// without an allocation.
func TestLookupHashOfKeywardSecrets(t *testing.T) {
	for _, prefix := range []string{"k", "kw", strings.Repeat("p", 16)} {
		sec := secret.NewSecret(prefix)
		h, ok := lookupHash("", sec)
		if want := sha256.Sum256([]byte(sec)); !ok || h != want {
			t.Errorf("%s: got %x %v, want %x true", sec, h, ok, want)
		}
		if n := testing.AllocsPerRun(100, func() { lookupHash("", sec) }); n != 0 {
			t.Errorf("%s: got %v allocations, want 0", sec, n)
		}
	}
}
