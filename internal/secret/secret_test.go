package secret

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewSecretFormat(t *testing.T) {
	re := regexp.MustCompile(`^cbx_b2b_sk_[0-9A-Za-z]{49}$`)
	seen := map[string]bool{}
	for range 200 {
		s := NewSecret("cbx_b2b")
		if !re.MatchString(s) {
			t.Fatalf("got secret %q, want format <prefix>_sk_<49 base62>", s)
		}
		if !WellFormed(s) {
			t.Fatalf("WellFormed(%q) = false, want true", s)
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
	}
}

func TestWellFormed(t *testing.T) {
	good := NewSecret("kw")
	// Flip one character of the random part: the checksum must catch it.
	flipped := []byte(good)
	i := len("kw_sk_") + 5
	if flipped[i] == 'a' {
		flipped[i] = 'b'
	} else {
		flipped[i] = 'a'
	}
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"generated", good, true},
		{"typo in random part", string(flipped), false},
		{"truncated", good[:len(good)-1], false},
		{"extended", good + "0", false},
		{"no prefix", good[len("kw"):], false},
		{"bad prefix", "KW" + good[2:], false},
		{"non base62", good[:10] + "-" + good[11:], false},
		{"empty", "", false},
		{"other scheme", "Bearer " + good, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WellFormed(tt.in); got != tt.want {
				t.Errorf("WellFormed(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewClientID(t *testing.T) {
	re := regexp.MustCompile(`^kw_id_[0-9A-Za-z]{22}$`)
	if id := NewClientID("kw"); !re.MatchString(id) {
		t.Errorf("got client id %q, want kw_id_<22 base62>", id)
	}
}

func TestIDs(t *testing.T) {
	id := NewID()
	if !ValidID(id) {
		t.Fatalf("ValidID(%q) = false", id)
	}
	if id[14] != '4' {
		t.Errorf("got version nibble %c, want 4", id[14])
	}
	for _, bad := range []string{"", "not-a-uuid", strings.ToUpper(id), id + "0", "../" + id} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true, want false", bad)
		}
	}
}

// TestNewOrderedID: version 7, canonical, led by the time, so that ids
// made later sort after; random after the time.
func TestNewOrderedID(t *testing.T) {
	at := time.UnixMilli(0x0192_3456_789a)
	id := NewOrderedID(at)
	if !ValidID(id) || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
		t.Fatalf("got %q, want a canonical version 7 UUID", id)
	}
	if got, want := id[:13], "01923456-789a"; got != want {
		t.Errorf("got time part %q, want %q", got, want)
	}
	if other := NewOrderedID(at); other == id {
		t.Errorf("two ids of one millisecond are equal: %q", id)
	}
	prev := NewOrderedID(at)
	for i := range 1000 {
		next := NewOrderedID(at.Add(time.Duration(i+1) * time.Millisecond))
		if next <= prev {
			t.Fatalf("id %q made a millisecond after %q sorts before it", next, prev)
		}
		prev = next
	}
}

func TestHashAndEqual(t *testing.T) {
	s := NewSecret("kw")
	if !Equal(Hash(s), Hash(s)) {
		t.Error("Equal(Hash(s), Hash(s)) = false")
	}
	if Equal(Hash(s), Hash(s+"x")) {
		t.Error("hashes of different secrets compare equal")
	}
	if bytes.Contains(Hash(s), []byte(s)) || len(Hash(s)) != 32 {
		t.Error("hash is not a 32-byte digest")
	}
	if got := Hint(s); got != s[len(s)-4:] {
		t.Errorf("Hint = %q, want last 4 characters", got)
	}
}

func TestSealer(t *testing.T) {
	master := RandomBytes(MasterKeySize)
	s, err := NewSealer(master, "apikey secrets")
	if err != nil {
		t.Fatal(err)
	}
	ct := s.Seal([]byte("hello"), []byte("key-1"))
	if bytes.Contains(ct, []byte("hello")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := s.Open(ct, []byte("key-1"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("Open = %q, %v; want hello, nil", got, err)
	}
	if _, err := s.Open(ct, []byte("key-2")); err == nil {
		t.Error("Open with other additional data succeeded, want error")
	}
	other, _ := NewSealer(master, "other purpose")
	if _, err := other.Open(ct, []byte("key-1")); err == nil {
		t.Error("Open under another purpose succeeded, want error")
	}
	ct[len(ct)-1] ^= 1
	if _, err := s.Open(ct, []byte("key-1")); err == nil {
		t.Error("Open of tampered ciphertext succeeded, want error")
	}
	if _, err := NewSealer([]byte("short"), "x"); err == nil {
		t.Error("NewSealer with a short key succeeded, want error")
	}
}

func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	k1, created, err := LoadOrCreateMasterKeyFile(path)
	if err != nil || !created || len(k1) != MasterKeySize {
		t.Fatalf("first load: %d bytes, created=%v, err=%v", len(k1), created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("got mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	k2, created, err := LoadOrCreateMasterKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second load: created=%v err=%v equal=%v", created, err, bytes.Equal(k1, k2))
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateMasterKeyFile(path); err == nil {
		t.Error("world-readable key file accepted, want error")
	}
}

func TestParseMasterKey(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{strings.Repeat("ab", 32), true},
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true},
		{"short", false},
		{strings.Repeat("ab", 31), false},
	}
	for _, tt := range tests {
		_, err := ParseMasterKey(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseMasterKey(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestPassword(t *testing.T) {
	h := HashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("got hash %q, want argon2id PHC string", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	tests := []struct {
		hash, pw string
		want     bool
	}{
		{h, "correct horse", true},
		{h, "correct horsE", false},
		{h, "", false},
		{"", "", false},
		{"$argon2id$garbage", "correct horse", false},
		{"plaintext", "plaintext", false},
	}
	for _, tt := range tests {
		if got := CheckPassword(tt.hash, tt.pw); got != tt.want {
			t.Errorf("CheckPassword(%q, %q) = %v, want %v", tt.hash, tt.pw, got, tt.want)
		}
	}
}

func FuzzWellFormed(f *testing.F) {
	f.Add(NewSecret("kw"))
	f.Add("kw_sk_")
	f.Add("a_sk_b_sk_" + strings.Repeat("0", 49))
	f.Fuzz(func(t *testing.T, s string) {
		if WellFormed(s) && !strings.Contains(s, "_sk_") {
			t.Fatalf("WellFormed(%q) without _sk_", s)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	s := NewSecret("kw")
	for b.Loop() {
		Hash(s)
	}
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := NewPassword()
		if len(p) != 24 || strings.IndexFunc(p, func(r rune) bool { return !is62(byte(r)) }) >= 0 || seen[p] {
			t.Fatalf("NewPassword() = %q: want 24 fresh base62 characters", p)
		}
		seen[p] = true
	}
}

func TestRedact(t *testing.T) {
	sec := NewSecret("kw")
	other := NewSecret("cbx_b2b")
	typo := sec[:len(sec)-1] + "x"
	tests := []struct{ in, want string }{
		{"/v1/apikeys/" + sec, "/v1/apikeys/" + Redacted},
		{"/v1/apikeys/" + sec + "/rotate", "/v1/apikeys/" + Redacted + "/rotate"},
		{other + " and " + sec, Redacted + " and " + Redacted},
		{"typo " + typo, "typo " + Redacted},
		{"kw_sk_short", "kw_sk_short"},
		{"no secret here", "no secret here"},
		{"_sk_" + sec[6:], Redacted},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q): got %q, want %q", tt.in, got, tt.want)
		}
		if !strings.Contains(tt.want, Redacted) {
			continue
		}
		for _, s := range []string{sec, other, typo} {
			if strings.Contains(Redact(tt.in), s) {
				t.Errorf("Redact(%q) still holds a secret", tt.in)
			}
		}
	}
}

func TestChecksumIEEE(t *testing.T) {
	all := make([]byte, 600)
	for i := range all {
		all[i] = byte(i*131 + i>>3)
	}
	cases := []string{"", "a", "123456789", NewSecret("kw"), random62(32, randomLen), "\xff\x00\x80"}
	for n := 0; n <= len(all); n += 7 { // every length modulo 8, every byte value
		cases = append(cases, string(all[:n]), string(all[len(all)-n:]))
	}
	for _, s := range cases {
		if got, want := checksumIEEE(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("checksumIEEE(%q): got %08x, want %08x", s, got, want)
		}
	}
}

// FuzzChecksumIEEE: checksumIEEE is crc32.ChecksumIEEE of any string.
func FuzzChecksumIEEE(f *testing.F) {
	f.Add("kw_sk_0123456789")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := checksumIEEE(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Fatalf("checksumIEEE(%q): got %08x, want %08x", s, got, want)
		}
	})
}

// TestEncode62 checks encode62 against math/big's base conversion: the
// lengths keyward draws (client ids, secrets, their random parts), edge
// values, and values too wide for width (their low digits).
func TestEncode62(t *testing.T) {
	want := func(b []byte, width int) string {
		out := bytes.Repeat([]byte{'0'}, width)
		v, mod, base := new(big.Int).SetBytes(b), new(big.Int), big.NewInt(62)
		for i := width - 1; i >= 0 && v.Sign() > 0; i-- {
			v.DivMod(v, base, mod)
			out[i] = base62[mod.Int64()]
		}
		return string(out)
	}
	cases := []struct {
		b     []byte
		width int
	}{
		{nil, 3}, {[]byte{0}, 2}, {[]byte{61}, 2}, {[]byte{62}, 2}, {[]byte{1, 0}, 4},
		{bytes.Repeat([]byte{0xff}, 16), clientIDLen}, {bytes.Repeat([]byte{0xff}, 32), randomLen},
		{bytes.Repeat([]byte{0xff}, 18), 24}, {bytes.Repeat([]byte{0xff}, 16), 5}, {[]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, 12},
	}
	for _, n := range []int{16, 18, 32, 9, 1} {
		for range 200 {
			b := make([]byte, n)
			_, _ = rand.Read(b)
			cases = append(cases, struct {
				b     []byte
				width int
			}{b, map[int]int{16: clientIDLen, 18: 24, 32: randomLen, 9: 13, 1: 2}[n]})
		}
	}
	for _, c := range cases {
		if got, want := encode62(c.b, c.width), want(c.b, c.width); got != want {
			t.Fatalf("encode62(%x, %d): got %s, want %s", c.b, c.width, got, want)
		}
	}
}

// formatUUID writes the canonical form: hex.EncodeToString's digits cut
// 8-4-4-4-12.
func TestFormatUUID(t *testing.T) {
	for _, b := range [][16]byte{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}} {
		h := hex.EncodeToString(b[:])
		want := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		if got := formatUUID(&b); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	if raceEnabled {
		return // the race detector allocates for itself
	}
	if n := testing.AllocsPerRun(100, func() { _ = NewID() }); n != 1 {
		t.Errorf("NewID: got %v allocations, want 1", n)
	}
}
