package httpapi

import (
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/keyward/keyward"
)

// TestExactMemberNames (F4): a member whose name is not exactly a field of
// the body's type ("Permissions", "permiſſions", the Kelvin sign for K,
// "Level", "Secret") is refused as an unknown field named by its path,
// before or after the exact name, at any depth; an escape that spells an
// exact name is that name; meta's and headers' member names are data.
func TestExactMemberNames(t *testing.T) {
	type bad struct {
		body, field string
	}
	for _, tt := range []struct {
		name string
		v    func() any
		ok   []string
		bad  []bad
	}{
		{"verify", func() any { return &keyward.VerifyRequest{} }, []string{
			`{"key":"k","permissions":["orders:write"]}`, `{"\u006bey":"k"}`,
		}, []bad{
			{`{"key":"k","permissions":["orders:write"],"Permissions":[]}`, "Permissions"},
			{`{"Permissions":[],"key":"k","permissions":["orders:write"]}`, "Permissions"},
			{`{"key":"k","permiſſions":[]}`, "permiſſions"},
			{`{"key":"k","permi\u017f\u017fions":[]}`, "permiſſions"},
			{"{\"\u212aey\":\"k\"}", "\u212aey"},
			{`{"\u212aey":"k"}`, "\u212aey"},
			{`{"KEY":"k"}`, "KEY"},
		}},
		{"verify:batch", func() any { return &verifyBatch[keyward.VerifyRequest]{} }, []string{
			`{"items":[{"key":"k"},{"key":"l","permissions":[]}]}`,
		}, []bad{
			{`{"items":[{"key":"k"},{"key":"l","Permissions":[]}]}`, "items[1].Permissions"},
			{`{"Items":[]}`, "Items"},
		}},
		{"create", func() any { return &keyward.APIKeyInput{} }, []string{
			`{"name":"x","level":2,"meta":{"Level":8,"LEVEL":9,"level":1,"ſ":1}}`,
			`{"name":"x","rateLimit":{"limit":1,"windowSeconds":60},"permissions":[{"id":"a"},{"name":"b"}]}`,
			`{"name":"x","rateLimit":null,"credits":{"remaining":1,"refill":{"amount":1,"interval":"daily"}}}`,
		}, []bad{
			{`{"level":2,"Level":8}`, "Level"},
			{`{"Level":8,"level":2}`, "Level"},
			{`{"name":"x","rateLimit":{"limit":1,"Limit":1000}}`, "rateLimit.Limit"},
			{`{"name":"x","permissions":[{"id":"a"},{"ID":"b"}]}`, "permissions[1].ID"},
			{`{"name":"x","credits":{"remaining":1,"refill":{"Amount":1}}}`, "credits.refill.Amount"},
			{`{"name":"x","rateLimits":[{"name":"a","limit":1,"windowSeconds":1,"Limit":2}]}`, "rateLimits[0].Limit"},
		}},
		{"import line", func() any { return &keyward.ImportLine{} }, []string{
			`{"name":"x","level":2,"secret":"s"}`,
		}, []bad{
			{`{"name":"x","secret":"a","Secret":"b"}`, "Secret"},
			{`{"name":"x","secretHash":"a","SecretHash":"b"}`, "SecretHash"},
			{`{"name":"x","level":2,"Level":8}`, "Level"},
			{`{"name":"x","Line":3}`, "Line"},
		}},
		{"replace", func() any { return &replaceBody{} }, []string{`{"name":"x"}`}, []bad{{`{"Name":"x"}`, "Name"}}},
		{"signatures verify", func() any { return &signatureVerifyBody{} }, []string{
			`{"method":"GET","headers":{"Signature":"x","signature-input":"y"}}`,
		}, []bad{{`{"Method":"GET"}`, "Method"}}},
		{"user", func() any { return &keyward.UserInput{} }, nil, []bad{{`{"userName":"u","Level":9}`, "Level"}}},
		{"tenant", func() any { return &keyward.TenantInput{} }, nil, []bad{{`{"name":"t","IsActive":false}`, "IsActive"}}},
		{"permission", func() any { return &keyward.PermissionInput{} }, []string{
			`{"name":"p","attributes":{"Any":["x"]}}`,
		}, []bad{{`{"name":"p","Children":[]}`, "Children"}}},
		{"login", func() any { return &loginBody{} }, nil, []bad{{`{"userName":"u","password":"p","Tenant":"t"}`, "Tenant"}}},
		{"rotate", func() any { return &keyward.RotateInput{} }, nil, []bad{{`{"gracePeriodSeconds":1,"HMACEnabled":true}`, "HMACEnabled"}}},
	} {
		for _, body := range tt.ok {
			if err := decodeBytes([]byte(body), tt.v()); err != nil {
				t.Errorf("%s %s: got %v, want accepted", tt.name, body, err)
			}
		}
		for _, b := range tt.bad {
			err := decodeBytes([]byte(b.body), tt.v())
			p := ProblemFor(err)
			if keyward.ErrorCode(err) != keyward.EINVALID || len(p.Errors) != 1 || p.Errors[0].Field != b.field || p.Errors[0].Message != "unknown field" {
				t.Errorf("%s %s: got %v, want %s: unknown field", tt.name, b.body, err, b.field)
			}
		}
	}
	// The verify endpoint's fast reader leaves such a body to the decoder,
	// which refuses it.
	for _, body := range []string{`{"key":"k","permissions":["orders:write"],"Permissions":[]}`, "{\"\u212aey\":\"k\"}"} {
		var in keyward.VerifyRequest
		if err := decodeVerifyRequest(httptest.NewRecorder(), verifyPost("application/json", body), &in); keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("decodeVerifyRequest %s: got %v, want invalid", body, err)
		}
	}
}

// goTypeName matches what names a Go type in a message: keyward's input
// types, Go's kinds, encoding/json's wording.
var goTypeName = regexp.MustCompile(`APIKeyInput|ImportLine|VerifyRequest|RateLimit\b|Credits\b|Refill|NamedRateLimit|PermissionRef|` +
	`PermissionInput|UserInput|TenantInput|RotateInput|replaceBody|loginBody|signatureVerifyBody|verifyBatch|Optional|` +
	`\bu?int(8|16|32|64)?\b|float|time\.Time|\[\]|map\[|\*|Go |json:|struct|interface`)

// TestDecodeErrorsNameMembers (F11): a decode error names the member by
// its JSON path, never a Go type: a member of an embedded struct too
// (ImportLine's, replaceBody's APIKeyInput).
func TestDecodeErrorsNameMembers(t *testing.T) {
	for _, tt := range []struct {
		name, body, field string
		v                 func() any
	}{
		{"create level", `{"level":"x"}`, "level", func() any { return &keyward.APIKeyInput{} }},
		{"create rate limit", `{"rateLimit":{"limit":"x"}}`, "rateLimit.limit", func() any { return &keyward.APIKeyInput{} }},
		{"create permissions", `{"permissions":[{"id":3}]}`, "permissions.id", func() any { return &keyward.APIKeyInput{} }},
		{"create refill", `{"credits":{"remaining":1,"refill":{"amount":"x"}}}`, "credits.refill.amount", func() any { return &keyward.APIKeyInput{} }},
		{"create audiences", `{"audiences":[1]}`, "audiences", func() any { return &keyward.APIKeyInput{} }},
		{"create active", `{"isActive":"yes"}`, "isActive", func() any { return &keyward.APIKeyInput{} }},
		{"create cidrs", `{"allowedCidrs":"10.0.0.0/8"}`, "allowedCidrs", func() any { return &keyward.APIKeyInput{} }},
		{"create expiresIn", `{"expiresIn":1.5}`, "expiresIn", func() any { return &keyward.APIKeyInput{} }},
		{"create body", `[]`, "body", func() any { return &keyward.APIKeyInput{} }},
		{"import level", `{"level":"x"}`, "level", func() any { return &keyward.ImportLine{} }},
		{"import rate limit", `{"rateLimit":{"limit":"x"}}`, "rateLimit.limit", func() any { return &keyward.ImportLine{} }},
		{"import secret", `{"secret":1}`, "secret", func() any { return &keyward.ImportLine{} }},
		{"replace level", `{"level":true}`, "level", func() any { return &replaceBody{} }},
		{"verify cost", `{"cost":"1"}`, "cost", func() any { return &keyward.VerifyRequest{} }},
		{"batch key", `{"items":[{"key":3}]}`, "items.key", func() any { return &verifyBatch[keyward.VerifyRequest]{} }},
		{"signature headers", `{"headers":{"a":1}}`, "headers", func() any { return &signatureVerifyBody{} }},
		{"rotate grace", `{"gracePeriodSeconds":"1"}`, "gracePeriodSeconds", func() any { return &keyward.RotateInput{} }},
		{"permission attributes", `{"attributes":{"a":"b"}}`, "attributes", func() any { return &keyward.PermissionInput{} }},
		{"user level", `{"level":1e400}`, "level", func() any { return &keyward.UserInput{} }},
	} {
		err := decodeBytes([]byte(tt.body), tt.v())
		p := ProblemFor(err)
		if len(p.Errors) != 1 || p.Errors[0].Field != tt.field {
			t.Errorf("%s %s: got %v, want field %s", tt.name, tt.body, err, tt.field)
		}
		for _, s := range append([]string{p.Detail, p.Title}, fieldTexts(p)...) {
			if goTypeName.MatchString(s) {
				t.Errorf("%s %s: %q names a Go type", tt.name, tt.body, s)
			}
		}
	}
}

func fieldTexts(p Problem) []string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field, f.Message)
	}
	return out
}
