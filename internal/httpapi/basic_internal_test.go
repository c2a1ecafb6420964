package httpapi

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestDecodeBasicAsDecodeString: decodeBasic answers what
// base64.StdEncoding.DecodeString did for Basic credentials, valid or not,
// short or past its stack buffer.
func TestDecodeBasicAsDecodeString(t *testing.T) {
	long := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 191) + ":"))
	cases := []string{
		"", "=", "==", "YQ", "YQ=", "YQ==", "YWI=", "YWJj", "a", "YQ==YQ==", "Y Q==", "YQ\r\n==", "YQ\n=\n=",
		"!!!!", "YWJj*", "aWQ6c2VjcmV0", "aWQ6c2VjcmV0=", "aWQlM0E6cyUyNTM=", "-_-_", "YW\x00Jj",
		long, long[:len(long)-1], long + "YQ==", long[:256], long[:252] + "====", long[:255] + "!",
		strings.Repeat("A", 256), strings.Repeat("A", 257), strings.Repeat("A", 260), strings.Repeat("\n", 300),
	}
	for i, s := range cases {
		raw, wantErr := base64.StdEncoding.DecodeString(s)
		got, err := decodeBasic(s)
		if got != string(raw) || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("case %d (%q): got %q, %v; want %q, %v", i, s, got, err, raw, wantErr)
		}
	}
}

// FuzzDecodeBasic: decodeBasic and base64.StdEncoding.DecodeString agree
// on any input.
func FuzzDecodeBasic(f *testing.F) {
	f.Add("aWQ6c2VjcmV0")
	f.Add("YQ\r\n==")
	f.Fuzz(func(t *testing.T, s string) {
		raw, wantErr := base64.StdEncoding.DecodeString(s)
		got, err := decodeBasic(s)
		if got != string(raw) || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("%q: got %q, %v; want %q, %v", s, got, err, raw, wantErr)
		}
	})
}
