// Package signature holds the request-signature schemes keyward verifies:
// HTTP Message Signatures (RFC 9421) as profile keyward-v1 with
// hmac-sha256, and Portos' NWS4-HMAC-SHA256. It parses headers, builds what
// is signed and computes MACs; deciding whether a request is allowed (keys,
// windows, nonces) is the Service's.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Param is one signature parameter (created, expires, nonce, keyid, tag,
// alg), in the order it was given.
type Param struct {
	Name  string
	Value any // int64, string or bool
}

// Input is one signature's covered components and parameters, as given in
// Signature-Input.
type Input struct {
	Label      string
	Components []string // component identifiers, e.g. "@method", "content-type"
	Params     []Param
}

// Param returns the value of parameter name, and whether it is there.
func (in *Input) Param(name string) (any, bool) {
	for _, p := range in.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return nil, false
}

// Serialize returns the inner list with its parameters in RFC 8941 form:
// the value of "@signature-params".
func (in *Input) Serialize() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range in.Components {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(c))
	}
	b.WriteByte(')')
	for _, p := range in.Params {
		b.WriteByte(';')
		b.WriteString(p.Name)
		switch v := p.Value.(type) {
		case int64:
			b.WriteByte('=')
			b.WriteString(strconv.FormatInt(v, 10))
		case string:
			b.WriteString("=" + quoteSF(v))
		case bool:
			if !v {
				b.WriteString("=?0")
			}
		}
	}
	return b.String()
}

// sfEscaper escapes an RFC 8941 string's backslashes and quotes.
var sfEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func quoteSF(s string) string { return `"` + sfEscaper.Replace(s) + `"` }

// ParseSignatureInput parses a Signature-Input field: a dictionary of inner
// lists of strings with parameters.
func ParseSignatureInput(field string) ([]*Input, error) {
	p := &parser{s: field}
	var out []*Input
	seen := map[string]bool{}
	for {
		p.skipSP()
		label, err := p.key()
		if err != nil {
			return nil, err
		}
		if seen[label] {
			return nil, errors.New("signature label " + label + " given twice")
		}
		seen[label] = true
		if !p.consume('=') || !p.consume('(') {
			return nil, errors.New("signature " + label + ": want an inner list")
		}
		in := &Input{Label: label}
		for {
			p.skipSP()
			if p.consume(')') {
				break
			}
			c, err := p.str()
			if err != nil {
				return nil, err
			}
			if strings.ToLower(c) != c || c == "" {
				return nil, errors.New("component identifiers must be lower-case")
			}
			for _, prev := range in.Components {
				if prev == c {
					return nil, errors.New("component " + c + " covered twice")
				}
			}
			in.Components = append(in.Components, c)
			if p.peek() != ' ' && p.peek() != ')' {
				return nil, errors.New("component parameters are not supported")
			}
		}
		if in.Params, err = p.params(); err != nil {
			return nil, err
		}
		out = append(out, in)
		p.skipOWS()
		if p.done() {
			return out, nil
		}
		if !p.consume(',') {
			return nil, errors.New("want ',' between signatures")
		}
		p.skipOWS()
	}
}

// ParseSignature parses a Signature field: a dictionary of byte sequences.
func ParseSignature(field string) (map[string][]byte, error) {
	p := &parser{s: field}
	out := map[string][]byte{}
	for {
		p.skipSP()
		label, err := p.key()
		if err != nil {
			return nil, err
		}
		if _, dup := out[label]; dup {
			return nil, errors.New("signature label " + label + " given twice")
		}
		if !p.consume('=') || !p.consume(':') {
			return nil, errors.New("signature " + label + ": want a byte sequence")
		}
		end := strings.IndexByte(p.s[p.i:], ':')
		if end < 0 {
			return nil, errors.New("signature " + label + ": unterminated byte sequence")
		}
		b, err := base64.StdEncoding.DecodeString(p.s[p.i : p.i+end])
		if err != nil {
			return nil, errors.New("signature " + label + ": not base64")
		}
		p.i += end + 1
		out[label] = b
		if _, err := p.params(); err != nil {
			return nil, err
		}
		p.skipOWS()
		if p.done() {
			return out, nil
		}
		if !p.consume(',') {
			return nil, errors.New("want ',' between signatures")
		}
		p.skipOWS()
	}
}

// SignatureBase builds what is signed (RFC 9421 §2.5): one line per
// covered component, `"name": value`, then the "@signature-params" line.
// values maps each component identifier to its value; a missing one is an
// error.
func SignatureBase(in *Input, values map[string]string) (string, error) {
	var b strings.Builder
	for _, c := range in.Components {
		v, ok := values[c]
		if !ok {
			return "", errors.New("covered component " + c + " is missing")
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", errors.New("component " + c + " holds a line break")
		}
		b.WriteString(strconv.Quote(c) + ": " + v + "\n")
	}
	b.WriteString(`"@signature-params": ` + in.Serialize())
	return b.String(), nil
}

// HMACSHA256 returns the hmac-sha256 signature of base under key.
func HMACSHA256(key []byte, base string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(base))
	return m.Sum(nil)
}

// parser reads RFC 8941 structured field values.
type parser struct {
	s string
	i int
}

func (p *parser) done() bool { return p.i >= len(p.s) }

func (p *parser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *parser) consume(c byte) bool {
	if p.peek() == c && !p.done() {
		p.i++
		return true
	}
	return false
}

func (p *parser) skipSP() {
	for p.peek() == ' ' {
		p.i++
	}
}

func (p *parser) skipOWS() {
	for p.peek() == ' ' || p.peek() == '\t' {
		p.i++
	}
}

// key reads an RFC 8941 key: lcalpha or "*", then lcalpha, digits, _-.*
func (p *parser) key() (string, error) {
	start := p.i
	c := p.peek()
	if !(c >= 'a' && c <= 'z' || c == '*') {
		return "", errors.New("want a key")
	}
	for !p.done() {
		c = p.peek()
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

// str reads an RFC 8941 string.
func (p *parser) str() (string, error) {
	if !p.consume('"') {
		return "", errors.New("want a string")
	}
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.done() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return "", errors.New("bad escape in a string")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", errors.New("bad character in a string")
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated string")
}

// params reads ;name=value parameters (integer, string, token or boolean).
func (p *parser) params() ([]Param, error) {
	var out []Param
	seen := map[string]bool{}
	for p.consume(';') {
		p.skipSP()
		name, err := p.key()
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, errors.New("parameter " + name + " given twice")
		}
		seen[name] = true
		if !p.consume('=') {
			out = append(out, Param{Name: name, Value: true})
			continue
		}
		switch c := p.peek(); {
		case c == '"':
			s, err := p.str()
			if err != nil {
				return nil, err
			}
			out = append(out, Param{Name: name, Value: s})
		case c == '-' || c >= '0' && c <= '9':
			start := p.i
			p.i++
			for !p.done() && p.peek() >= '0' && p.peek() <= '9' {
				p.i++
			}
			n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
			if err != nil || p.i-start > 16 {
				return nil, errors.New("parameter " + name + ": bad integer")
			}
			out = append(out, Param{Name: name, Value: n})
		case c == '?':
			p.i++
			switch {
			case p.consume('1'):
				out = append(out, Param{Name: name, Value: true})
			case p.consume('0'):
				out = append(out, Param{Name: name, Value: false})
			default:
				return nil, errors.New("parameter " + name + ": bad boolean")
			}
		default:
			return nil, errors.New("parameter " + name + ": unsupported value")
		}
	}
	return out, nil
}
