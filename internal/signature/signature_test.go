package signature

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRFC9421B25 reproduces RFC 9421 Appendix B.2.5 (hmac-sha256) exactly.
func TestRFC9421B25(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString("uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")
	inputs, err := ParseSignatureInput(`sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`)
	if err != nil || len(inputs) != 1 {
		t.Fatalf("parse: %v %v", inputs, err)
	}
	base, err := SignatureBase(inputs[0], map[string]string{
		"date": "Tue, 20 Apr 2021 02:07:55 GMT", "@authority": "example.com", "content-type": "application/json",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantBase := `"date": Tue, 20 Apr 2021 02:07:55 GMT
"@authority": example.com
"content-type": application/json
"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`
	if base != wantBase {
		t.Errorf("signature base:\n%s\nwant:\n%s", base, wantBase)
	}
	sigs, err := ParseSignature(`sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:`)
	if err != nil {
		t.Fatal(err)
	}
	got := HMACSHA256(key, base)
	if base64.StdEncoding.EncodeToString(got) != "pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=" || string(got) != string(sigs["sig-b25"]) {
		t.Errorf("got signature %s, want RFC 9421's pxcQw6G3…", base64.StdEncoding.EncodeToString(got))
	}
}

// TestNWS4Vector reproduces the NWS4 test vector of SPEC §7 exactly.
func TestNWS4Vector(t *testing.T) {
	body := []byte(`{"name":"John"}`)
	ts := "2023-05-30T13:17:01.992Z"
	bh := BodySHA256(body)
	if bh != "f498513cc6d902a32254a1d795e2031636dea18dce65ba10e94e83189e50cbb8" {
		t.Errorf("body hash %s", bh)
	}
	if q := NWS4CanonicalQuery("i=1$ref=1&validate"); q != "i=1%24ref&validate=" {
		t.Errorf("canonical query %q, want i=1%%24ref&validate=", q)
	}
	signed := []string{"accept", "content-type", "host", "x-nd-content-sha256", "x-nd-date"}
	cr := NWS4CanonicalRequest("POST", "/api/user", "i=1$ref=1&validate", map[string]string{
		"accept": "application/json", "content-type": "application/json", "host": "example.com:8080",
		"x-nd-content-sha256": bh, "x-nd-date": ts}, signed, bh)
	sts := NWS4StringToSign(ts, "d948ec22e47790caacce234b792a0f117d85c365", cr)
	sig := NWS4Signature("5070adfb2bedf1c0c97d5c8cfa8c794d513249b802ea10596a175d88828abc19", ts[:10], sts)
	if sig != "87c7a2057285f0db8dc3b7c95c15fe5476f5ab44b73b3e15990d8b1a837d4ddb" {
		t.Errorf("signature %s, want 87c7a205…", sig)
	}
	a := NWS4Auth{Credential: "d948ec22e47790caacce234b792a0f117d85c365", SignedHeaders: signed, Timestamp: ts, Signature: sig}
	parsed, err := ParseNWS4Authorization(a.Format())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&a, parsed); d != "" {
		t.Errorf("Authorization round trip (-want +got):\n%s", d)
	}
}

func TestParseSignatureInputErrors(t *testing.T) {
	for _, in := range []string{
		``, `sig`, `sig=`, `sig=("@method"`, `sig=(@method)`, `sig=("@METHOD")`, `sig=("a" "a")`,
		`sig=("a");created=1;created=2`, `sig=("a"), sig=("b")`, `sig=("a");created=abc`, `Sig=("a")`,
		`sig=("a");tag=token`, `sig=("a")junk`, `sig=("a";p=1)`, `sig=("a\q")`,
	} {
		if got, err := ParseSignatureInput(in); err == nil {
			t.Errorf("ParseSignatureInput(%q) = %+v, want an error", in, got[0])
		}
	}
	for _, in := range []string{``, `sig=abc`, `sig=:abc`, `sig=:!!!:`, `sig=:YQ==:, sig=:YQ==:`} {
		if _, err := ParseSignature(in); err == nil {
			t.Errorf("ParseSignature(%q): want an error", in)
		}
	}
	for _, in := range []string{``, `AWS4-HMAC-SHA256 x`, NWS4Algorithm + ` Credential=a`, NWS4Algorithm + ` %zz`,
		NWS4Algorithm + ` Credential=a,SignedHeaders=host,Timestamp=t,Signature=nothex`,
		NWS4Algorithm + ` Credential=a,SignedHeaders=x;host,Timestamp=t,Signature=` + strings.Repeat("a", 64)} {
		if _, err := ParseNWS4Authorization(in); err == nil {
			t.Errorf("ParseNWS4Authorization(%q): want an error", in)
		}
	}
}

// FuzzParseSignatureInput: whatever parses serializes to something that
// parses back to the same input.
func FuzzParseSignatureInput(f *testing.F) {
	for _, s := range []string{
		`sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"`,
		`kw=("@method" "@authority" "@path" "@query" "content-type" "content-digest");created=1;expires=2;nonce="abc";keyid="kw_id_x";tag="keyward-v1"`,
		`a=();b, c=("x");d=?0`, `sig=("a\"b")`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		inputs, err := ParseSignatureInput(s)
		if err != nil {
			return
		}
		for _, in := range inputs {
			again, err := ParseSignatureInput(in.Label + "=" + in.Serialize())
			if err != nil {
				t.Fatalf("%q serialized as %q, which does not parse: %v", s, in.Serialize(), err)
			}
			if d := cmp.Diff(in, again[0]); d != "" {
				t.Fatalf("round trip of %q (-first +second):\n%s", s, d)
			}
		}
	})
}

func FuzzParseSignature(f *testing.F) {
	f.Add(`sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:`)
	f.Add(`a=:YQ==:, b=:Yg==:;x=1`)
	f.Fuzz(func(t *testing.T, s string) {
		sigs, err := ParseSignature(s)
		if err == nil && len(sigs) == 0 {
			t.Fatalf("%q parsed to no signature", s)
		}
	})
}

func FuzzParseNWS4Authorization(f *testing.F) {
	a := NWS4Auth{Credential: "c", SignedHeaders: []string{"host", "x-nd-date"}, Timestamp: "2023-05-30T13:17:01.992Z", Signature: strings.Repeat("ab", 32)}
	f.Add(a.Format())
	f.Add(NWS4Algorithm + " Credential%3Dx")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseNWS4Authorization(s)
		if err != nil {
			return
		}
		again, err := ParseNWS4Authorization(got.Format())
		if err != nil || !cmp.Equal(got, again) {
			t.Fatalf("%q: round trip gave %+v, %v", s, again, err)
		}
	})
}
