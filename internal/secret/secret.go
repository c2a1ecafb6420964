// Package secret makes and checks the credential material of keyward: random
// ids, client ids and secrets in the key format (with checksum), their
// SHA-256 hashes, constant-time comparison, and AES-256-GCM sealing under the
// master key. It imports nothing of keyward.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash/crc32"
	"math/bits"
	"regexp"
	"time"
)

const (
	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

	// randomLen is the length of the random part of a secret: 43 base62
	// characters hold 256 random bits (62^43 > 2^256).
	randomLen = 43
	// checksumLen is the length of the base62 CRC32 of the random part.
	checksumLen = 6
	// clientIDLen is the length of the random part of a generated client id:
	// 22 base62 characters hold 128 random bits.
	clientIDLen = 22
)

// ValidPrefix reports whether p is a valid tenant key prefix: 1-16 of [a-z0-9_].
func ValidPrefix(p string) bool {
	if len(p) < 1 || len(p) > 16 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// is62 reports whether c is a base62 digit.
func is62(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// encode62 writes b, a big-endian number, in base62, left-padded with '0'
// to width characters (its low digits if it needs more). It divides 64-bit
// words (math/big allocated at each of a client id's 22 digits: a tenth of
// an import's per-line work).
func encode62(b []byte, width int) string {
	words := make([]uint64, (len(b)+7)/8)
	for i, c := range b { // the most significant word first
		j := len(b) - 1 - i
		words[len(words)-1-j/8] |= uint64(c) << (8 * (j % 8))
	}
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		var rem uint64
		for k, w := range words {
			words[k], rem = bits.Div64(rem, w, 62)
		}
		out[i] = base62[rem]
	}
	return string(out)
}

func random62(bytes, width int) string {
	b := make([]byte, bytes)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error()) // never returns an error on supported platforms
	}
	return encode62(b, width)
}

// checksum returns the CRC32 of the random part in base62, checksumLen wide.
func checksum(random string) string {
	var out [checksumLen]byte
	v := crc32.ChecksumIEEE([]byte(random))
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out[:])
}

// NewSecret returns a new client secret: <prefix>_sk_<43 base62 = 256 random
// bits><6 base62 CRC32 of the random part>.
func NewSecret(prefix string) string {
	r := random62(32, randomLen)
	return prefix + "_sk_" + r + checksum(r)
}

// NewPassword returns a generated user password: 24 base62 characters
// (about 142 random bits).
func NewPassword() string {
	return random62(18, 24)
}

// checksumIEEE is crc32.ChecksumIEEE of s without copying s to the heap
// (WellFormed runs on every request with a key, up to three times for a
// verification). It takes eight bytes a step (slicing-by-8, as hash/crc32
// does behind its function variable, through which s would escape): a
// third of the time of a byte a step on a secret's 43 characters.
func checksumIEEE(s string) uint32 {
	t := crcTables
	crc := ^uint32(0)
	for len(s) >= 8 {
		crc ^= uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
		crc = t[0][s[7]] ^ t[1][s[6]] ^ t[2][s[5]] ^ t[3][s[4]] ^
			t[4][crc>>24] ^ t[5][crc>>16&0xff] ^ t[6][crc>>8&0xff] ^ t[7][crc&0xff]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		crc = t[0][byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

// crcTables are the slicing-by-8 tables of the IEEE polynomial: entry k of
// table i is the CRC of byte k followed by i zero bytes. Read only.
var crcTables = func() *[8][256]uint32 {
	t := new([8][256]uint32)
	t[0] = *crc32.IEEETable
	for k := range 256 {
		crc := t[0][k]
		for i := 1; i < 8; i++ {
			crc = t[0][crc&0xff] ^ crc>>8
			t[i][k] = crc
		}
	}
	return t
}()

// WellFormed reports whether s has the secret format and a valid checksum.
// It lets the server reject typos without a database lookup; it is not a
// security control.
func WellFormed(s string) bool {
	if !KeywardShaped(s) {
		return false
	}
	tail := s[len(s)-randomLen-checksumLen:]
	v := checksumIEEE(tail[:randomLen])
	for j := len(tail) - 1; j >= randomLen; j-- {
		if tail[j] != base62[v%62] {
			return false
		}
		v /= 62
	}
	return v == 0
}

// NewClientID returns a generated client id: <prefix>_id_<22 base62>.
func NewClientID(prefix string) string {
	return prefix + "_id_" + random62(16, clientIDLen)
}

// Hash returns the SHA-256 of a secret, the only form in which it is stored
// for lookup.
func Hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Equal compares two byte strings in constant time (for equal lengths).
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// Hint returns the last four characters of a secret, safe to show.
func Hint(s string) string {
	if len(s) <= 4 {
		return ""
	}
	return s[len(s)-4:]
}

// NewID returns a random (version 4) UUID in canonical lower-case form.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(&b)
}

// formatUUID writes b in the canonical form, 8-4-4-4-12 lower-case hex
// digits, with one allocation (the string).
func formatUUID(b *[16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// NewOrderedID returns a version 7 UUID for time t in canonical lower-case
// form: t's Unix milliseconds, then 74 random bits. Ids made later sort
// after ids made earlier (those of one millisecond in any order), so rows
// keyed by them go to the end of an index instead of a random page of it:
// an import of 10,000 keys stores each in the pages the one before it
// changed (issue 13). The time is no secret: it is the key's createdAt.
func NewOrderedID(t time.Time) string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	ms := t.UnixMilli()
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(&b)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidID reports whether s is a canonical lower-case UUID.
func ValidID(s string) bool { return uuidRE.MatchString(s) }

// RandomBytes returns n bytes from crypto/rand.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return b
}
