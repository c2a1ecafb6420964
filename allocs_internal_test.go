package keyward

import (
	"crypto/sha256"
	"errors"
	"fmt"
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

// TestErrorCodeOfNoError: ErrorCode and ErrorMessage of nil, asked on
// every successful request (Attempt), are "" without an allocation; of an
// error they are as before.
func TestErrorCodeOfNoError(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { ErrorCode(nil); ErrorMessage(nil) }); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
	for _, c := range []struct {
		err        error
		code, text string
	}{
		{nil, "", ""},
		{Errorf(EINVALID, "bad %s", "x"), EINVALID, "bad x"},
		{fmt.Errorf("wrapped: %w", Errorf(ENOTFOUND, "gone")), ENOTFOUND, "gone"},
		{errors.New("plain"), EINTERNAL, "internal error"},
	} {
		if code, text := ErrorCode(c.err), ErrorMessage(c.err); code != c.code || text != c.text {
			t.Errorf("%v: got %q %q, want %q %q", c.err, code, text, c.code, c.text)
		}
	}
}
