package httpapi

import (
	"bytes"
	"net/http"
	"sync"

	"github.com/keyward/keyward"
)

// decodeVerifyRequest reads and decodes POST /v1/keys/verify's body as
// decode does, refusing exactly what decode refuses with the same error. The
// common shape — one object of known members, each once, with the exact
// names, plain ASCII strings without escapes, a permissions array of such
// strings and an integer cost — is read by hand (verifyFast); any other body
// goes through decodeBytes. The body is read into a reused buffer: nothing
// decoded keeps it.
func decodeVerifyRequest(w http.ResponseWriter, r *http.Request, in *keyward.VerifyRequest) error {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	buf.Reset()
	body, err := readBodyInto(w, r, buf)
	if err != nil {
		return err
	}
	if verifyFast(body, in) {
		return nil
	}
	// A value of its own for encoding/json, which moves what it decodes
	// into to the heap: in stays on the caller's stack.
	slow := new(keyward.VerifyRequest)
	err = decodeBytes(body, slow)
	*in = *slow
	return err
}

// bodyBuffers are the verify bodies' and the OAuth2 forms' buffers; none
// larger than 64 KiB is kept.
var bodyBuffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 1024)) }}

func putBodyBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		bodyBuffers.Put(buf)
	}
}

// readBodyInto is readBody (the Content-Type check, at most MaxBodyBytes,
// the same errors) reading into buf.
func readBodyInto(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) ([]byte, error) {
	if err := jsonContentType(r); err != nil {
		return nil, err
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err := bodyReadError(err); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// verifyFast decodes body into in when it has the common shape of a
// verification (see decodeVerifyRequest), and reports whether it did. It
// never accepts a body decodeBytes refuses, nor reads one differently: what
// it does not know for sure, it leaves to decodeBytes (FuzzVerifyFast).
func verifyFast(body []byte, in *keyward.VerifyRequest) bool {
	p := jsonScan{b: body}
	p.space()
	if !p.byte('{') {
		return false
	}
	var seen uint8
	p.space()
	if !p.byte('}') {
		for {
			p.space()
			name, ok := p.plainBytes()
			if !ok {
				return false
			}
			p.space()
			if !p.byte(':') {
				return false
			}
			p.space()
			var bit uint8
			var dst *string
			switch string(name) {
			case "key":
				bit, dst = 1<<0, &in.Key
			case "clientId":
				bit, dst = 1<<1, &in.ClientID
			case "clientSecret":
				bit, dst = 1<<2, &in.ClientSecret
			case "token":
				bit, dst = 1<<3, &in.Token
			case "audience":
				bit, dst = 1<<4, &in.Audience
			case "ip":
				bit, dst = 1<<5, &in.IP
			case "permissions":
				bit = 1 << 6
			case "cost":
				bit = 1 << 7
			default:
				return false // unknown, or a name in another case: decodeBytes decides
			}
			if seen&bit != 0 {
				return false // given twice
			}
			seen |= bit
			switch string(name) {
			case "permissions":
				perms, ok := p.plainStrings()
				if !ok {
					return false
				}
				in.Permissions = perms
			case "cost":
				n, ok := p.integer()
				if !ok {
					return false
				}
				in.Cost = &n
			default:
				s, ok := p.plainString()
				if !ok {
					return false
				}
				*dst = s
			}
			p.space()
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return false
			}
		}
	}
	p.space()
	return p.i == len(p.b)
}

// jsonScan reads the plain JSON verifyFast accepts.
type jsonScan struct {
	b []byte
	i int
}

// space skips JSON whitespace.
func (p *jsonScan) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c if it is next.
func (p *jsonScan) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// plainString reads a string of printable ASCII without escapes, which
// JSON reads as its bytes; anything else is not plain.
func (p *jsonScan) plainString() (string, bool) {
	b, ok := p.plainBytes()
	return string(b), ok
}

// plainBytes is plainString's bytes, within the body: a member name read
// this way and compared as string(name) is not copied.
func (p *jsonScan) plainBytes() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			b := p.b[start:p.i]
			p.i++
			return b, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// plainStrings reads an array of plain strings; an empty array is a
// non-nil empty slice, as encoding/json decodes it.
func (p *jsonScan) plainStrings() ([]string, bool) {
	if !p.byte('[') {
		return nil, false
	}
	out := []string{}
	p.space()
	if p.byte(']') {
		return out, true
	}
	for {
		p.space()
		s, ok := p.plainString()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		p.space()
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// integer reads -?(0|[1-9][0-9]*) of at most 18 digits (always an int64);
// a fraction, an exponent or more digits are left to encoding/json.
func (p *jsonScan) integer() (int64, bool) {
	start := p.i
	p.byte('-')
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || n > 18 || (n > 1 && p.b[digits] == '0') {
		return 0, false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	var v int64
	for _, c := range p.b[digits:p.i] {
		v = v*10 + int64(c-'0')
	}
	if p.b[start] == '-' {
		v = -v
	}
	return v, true
}
