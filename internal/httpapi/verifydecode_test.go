package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// verifyBodies are the bodies both decoders are compared on: the common
// shapes (fast), and every way a body may differ from them.
var verifyBodies = []struct {
	body string
	fast bool // read by verifyFast
}{
	{`{"key":"kw_sk_abc"}`, true},
	{` {"key" : "kw_sk_abc" } ` + "\n", true},
	{"{\t\"key\":\r\n\"x\"}", true},
	{`{}`, true},
	{`{"key":""}`, true},
	{`{"clientId":"kw_abc","clientSecret":"kw_sk_x","permissions":["a","b:c"],"cost":0,"ip":"10.0.0.1"}`, true},
	{`{"token":"a.b.c","audience":"https://api.example.com"}`, true},
	{`{"key":"k","permissions":[]}`, true},
	{`{"key":"k","permissions":[ "a" , "b" ]}`, true},
	{`{"key":"k","cost":-0}`, true},
	{`{"key":"k","cost":-12}`, true},
	{`{"key":"k","cost":999999999999999999}`, true},
	{`{"key":"k","cost":9223372036854775807}`, false},
	{`{"key":"k","cost":9223372036854775808}`, false},
	{`{"key":"k","cost":1.0}`, false},
	{`{"key":"k","cost":1e2}`, false},
	{`{"key":"k","cost":01}`, false},
	{`{"key":"k","cost":-}`, false},
	{`{"key":"k","cost":"1"}`, false},
	{`{"key":"k","cost":null}`, false},
	{`{"key":null}`, false},
	{`{"key":1}`, false},
	{`{"key":true}`, false},
	{`{"key":["k"]}`, false},
	{`{"permissions":"a"}`, false},
	{`{"permissions":[1]}`, false},
	{`{"permissions":null}`, false},
	{`{"permissions":["a",]}`, false},
	{`{"key":"k","key":"l"}`, false},
	{`{"cost":1,"cost":2}`, false},
	{`{"permissions":["a"],"permissions":["b"]}`, false},
	{`{"Key":"k"}`, false},
	{`{"KEY":"k"}`, false},
	{`{"clientid":"k"}`, false},
	{`{"key":"k","permissions":["a"],"Permissions":[]}`, false},
	{`{"key":"k","permiſſions":[]}`, false},
	{"{\"\u212aey\":\"k\"}", false},
	{`{"name":"k"}`, false},
	{`{"key":"k","extra":{}}`, false},
	{`{"key":"k\u0041"}`, false},
	{`{"key":"k\"q"}`, false},
	{`{"key":"é"}`, false},
	{`{"key":"k\u0000"}`, false},
	{"{\"key\":\"k\x00\"}", false},
	{"{\"key\":\"k\x7f\"}", false},
	{"{\"key\":\"\xff\"}", false},
	{`{"key":"k"`, false},
	{`{"key":"k",}`, false},
	{`{"key" "k"}`, false},
	{`{,}`, false},
	{`{"key":"k"} {}`, false},
	{`{"key":"k"}}`, false},
	{`{"key":"k"}]`, false},
	{`{"key":"k"}x`, false},
	{`[]`, false},
	{`null`, false},
	{`"k"`, false},
	{``, false},
	{`   `, false},
	{"\f{}", false},
	{"{}\v", false},
}

// decodeVerifyRequest answers every body as decode does: the same value,
// or the same error; the common shapes take the fast path.
func TestDecodeVerifyRequest(t *testing.T) {
	for _, c := range verifyBodies {
		t.Run(c.body, func(t *testing.T) {
			var fast keyward.VerifyRequest
			if got := verifyFast([]byte(c.body), &fast); got != c.fast {
				t.Errorf("verifyFast: got %v, want %v", got, c.fast)
			}
			compareVerifyDecoders(t, "application/json", c.body)
		})
	}
	t.Run("content type", func(t *testing.T) {
		for _, ct := range []string{"", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", "application/x-www-form-urlencoded"} {
			compareVerifyDecoders(t, ct, `{"key":"k"}`)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := `{"key":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
		got := compareVerifyDecoders(t, "application/json", big)
		if keyward.ErrorCode(got) != keyward.ETOOLARGE {
			t.Errorf("got %v, want %s", got, keyward.ETOOLARGE)
		}
		compareVerifyDecoders(t, "application/json", `{"key":"`+strings.Repeat("a", MaxBodyBytes-10)+`"}`)
	})
}

// compareVerifyDecoders decodes body with decodeVerifyRequest and with
// decode, fails unless both give the same value or the same error, and
// returns the error.
func compareVerifyDecoders(t *testing.T, contentType, body string) error {
	t.Helper()
	var got, want keyward.VerifyRequest
	gotErr := decodeVerifyRequest(httptest.NewRecorder(), verifyPost(contentType, body), &got)
	_, wantErr := decode(httptest.NewRecorder(), verifyPost(contentType, body), &want)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(ProblemFor(gotErr), ProblemFor(wantErr)) {
		t.Fatalf("%.80q: got error %v, want %v", body, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%.80q: got %+v, want %+v", body, got, want)
	}
	return gotErr
}

func verifyPost(contentType, body string) *http.Request {
	r := httptest.NewRequest("POST", "/v1/keys/verify", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// FuzzVerifyFast: verifyFast never accepts a body decodeBytes refuses, nor
// reads one differently.
func FuzzVerifyFast(f *testing.F) {
	for _, c := range verifyBodies {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow keyward.VerifyRequest
		if !verifyFast(body, &fast) {
			return
		}
		if err := decodeBytes(body, &slow); err != nil {
			t.Fatalf("%q: verifyFast accepts it, decodeBytes answers %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: verifyFast reads %+v, decodeBytes %+v", body, fast, slow)
		}
	})
}

// TestDecodeDataAfterTheObject: a body is one JSON value and white space;
// a stray closing bracket after it was accepted (json.Decoder.More is false
// before one).
func TestDecodeDataAfterTheObject(t *testing.T) {
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{`{"key":"k"}`, true},
		{"{\"key\":\"k\"} \t\r\n", true},
		{`{"key":"k"}}`, false},
		{`{"key":"k"}]`, false},
		{`{"key":"k"} }`, false},
		{`{"key":"k"} {}`, false},
		{`{"key":"k"}x`, false},
		{`{"key":"k"},`, false},
	} {
		var v keyward.VerifyRequest
		err := decodeBytes([]byte(c.body), &v)
		if got := err == nil; got != c.ok {
			t.Errorf("%q: got accepted %v (%v), want %v", c.body, got, err, c.ok)
		}
		if err != nil && keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("%q: got code %s, want %s", c.body, keyward.ErrorCode(err), keyward.EINVALID)
		}
	}
}

// TestVerifyFastAllocs: a verification's body is read into the strings it
// carries and nothing else: the member names are compared in place.
func TestVerifyFastAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates for itself")
	}
	for _, c := range []struct {
		body string
		want float64
	}{
		{`{"key":"kw_7XbqL0NnS8mRk2V4cPz9TgYh1WfEaDoJuIiQx3sC"}`, 1},
		{`{"key":"kw_abc","audience":"orders","ip":"10.0.0.1"}`, 3},
	} {
		body := []byte(c.body)
		var in keyward.VerifyRequest
		got := testing.AllocsPerRun(100, func() {
			if !verifyFast(body, &in) {
				t.Fatal("not read by hand")
			}
		})
		if got != c.want {
			t.Errorf("%s: got %v allocations, want %v", c.body, got, c.want)
		}
	}
}
