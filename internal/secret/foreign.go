package secret

import (
	"crypto/sha256"
)

// Secrets imported from elsewhere (an Unkey "prefix_…", a Stripe-like
// "sk_live_…", a team's own table) keep their format: keyward stores only
// their ScopedHash and finds them by it in their tenant. These bound what
// such a secret may be.
const (
	// MinForeignLen is the shortest secret not in keyward's format that is
	// imported or looked up.
	MinForeignLen = 16
	// MaxForeignLen is the longest.
	MaxForeignLen = 512
	// minForeignDistinct is the fewest distinct characters an imported
	// secret holds: "aaaaaaaaaaaaaaaa" is no secret.
	minForeignDistinct = 8
)

// KeywardShaped reports whether s has the shape of a keyward secret
// (<prefix>_sk_ and 49 base62 characters), whatever its checksum.
func KeywardShaped(s string) bool {
	// The tail is a fixed number of base62 characters, so the last "_sk_"
	// can only be where it ends: no search.
	i := len(s) - randomLen - checksumLen - 4
	if i < 1 || s[i:i+4] != "_sk_" || !ValidPrefix(s[:i]) {
		return false
	}
	tail := s[i+4:]
	for j := 0; j < len(tail); j++ {
		if !is62(tail[j]) {
			return false
		}
	}
	return true
}

// Foreign reports whether s may be an imported secret: not shaped like a
// keyward secret, MinForeignLen to MaxForeignLen printable ASCII characters
// without spaces (it rides in headers).
func Foreign(s string) bool {
	if len(s) < MinForeignLen || len(s) > MaxForeignLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return !KeywardShaped(s)
}

// Lookupable reports whether s is worth a lookup by hash: a WellFormed
// keyward secret (the checksum shortcut refuses a mistyped one without a
// database read) or a Foreign one.
func Lookupable(s string) bool { return WellFormed(s) || Foreign(s) }

// CheckImported returns what is wrong with a secret given in clear to be
// imported, or "": a keyward-shaped secret must be WellFormed; any other
// must be Foreign and hold at least 8 distinct characters.
func CheckImported(s string) string {
	switch {
	case KeywardShaped(s):
		if !WellFormed(s) {
			return "has the shape of a keyward secret but a wrong checksum"
		}
		return ""
	case len(s) < MinForeignLen || len(s) > MaxForeignLen:
		return "must be 16 to 512 characters"
	case !Foreign(s):
		return "must be printable ASCII without spaces"
	}
	seen := map[byte]bool{}
	for i := 0; i < len(s) && len(seen) < minForeignDistinct; i++ {
		seen[s[i]] = true
	}
	if len(seen) < minForeignDistinct {
		return "is too simple: it must hold at least 8 distinct characters"
	}
	return ""
}

// ScopedHash is the lookup hash keyward stores for an imported (Foreign)
// secret of tenant tenantID, from plainHash, the SHA-256 of the secret:
// SHA-256("keyward imported key\x00" + tenantID + "\x00" + plainHash).
//
// Keyward's own secrets are random and carry their plain SHA-256, unique
// across all tenants. An imported secret may be weak or known elsewhere;
// were it stored by its plain hash, a tenant importing guesses (or a leaked
// list of hashes) would learn from the uniqueness conflicts which secrets
// another tenant uses, bypassing the limit on failed authentications, and
// could block that tenant's own import. Scoped by tenant, the same secret
// makes a different hash in every tenant: uniqueness holds within a tenant
// only, and a foreign secret is found only where the tenant is known (a
// verifier's tenant), never at keyward's own API.
func ScopedHash(tenantID string, plainHash []byte) []byte {
	h := sha256.New()
	h.Write([]byte("keyward imported key\x00"))
	h.Write([]byte(tenantID))
	h.Write([]byte{0})
	h.Write(plainHash)
	return h.Sum(nil)
}
