package keyward

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/secret"
)

// Bounds of input values.
const (
	MaxNameLen           = 200
	MaxDescriptionLen    = 2000
	MaxMetaBytes         = 8 << 10
	MinTokenLifespan     = 60
	MaxTokenLifespan     = 86400
	DefaultTokenLifespan = 3600
	MaxGracePeriod       = 86400
	MaxExpiresIn         = 10 * 365 * 24 * 3600 // ten years, in seconds
	MaxPageSize          = 500
	DefaultPageSize      = 20
	MinPasswordLen       = 8
	MaxPasswordLen       = 256
	MaxAudiences         = 16  // per key, and per token request
	MaxAudienceLen       = 255 // bytes
)

var (
	// slugRE is a requested clientId: what Keycloak clients use in
	// practice, case kept, limited to characters that need no escaping in
	// a URL, a Basic credential or a signature's keyid.
	slugRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$`)
	userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)
	permNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
	tenantRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// audienceNameRE is an audience that is not a URI: a name such as
	// "orders-api" or "urn:example:orders".
	audienceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~:/@+-]*$`)
)

// audienceProblem says what is wrong with an audience, or "" when it is
// valid: an absolute URI without a fragment (RFC 8707 §2), or a name of
// letters, digits and ._~:/@+-, at most MaxAudienceLen bytes.
func audienceProblem(a string) string {
	if a == "" || len(a) > MaxAudienceLen {
		return "must be 1 to " + strconv.Itoa(MaxAudienceLen) + " bytes"
	}
	if strings.Contains(a, "://") {
		u, err := url.Parse(a)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" || strings.Contains(a, "#") ||
			strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || r == 0x7f || r > 0x7e }) {
			return "must be an absolute URI without a fragment, or a name"
		}
		return ""
	}
	if !audienceNameRE.MatchString(a) {
		return "must be an absolute URI without a fragment, or a name of letters, digits and ._~:/@+-"
	}
	return ""
}

// checkAudiences validates a key's audiences: at most MaxAudiences, each
// valid, none twice.
func checkAudiences(f *fieldErrors, field string, list []string) {
	if len(list) > MaxAudiences {
		f.add(field, "at most "+strconv.Itoa(MaxAudiences)+" audiences")
		return
	}
	seen := map[string]bool{}
	for i, a := range list {
		if p := audienceProblem(a); p != "" {
			f.add(field+"["+strconv.Itoa(i)+"]", p)
		} else if seen[a] {
			f.add(field+"["+strconv.Itoa(i)+"]", "is given twice")
		}
		seen[a] = true
	}
}

// fieldErrors collects validation problems.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, msg string) { *f = append(*f, FieldError{Field: field, Message: msg}) }

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(f...)
}

func checkText(f *fieldErrors, field, s string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(s) == "":
		f.add(field, "is required")
	case !utf8.ValidString(s):
		f.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		f.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
		f.add(field, "must not contain control characters")
	}
}

func checkLevel(f *fieldErrors, field string, level int) {
	if level < 0 || level > maxLevel {
		f.add(field, "must be between 0 and 8")
	}
}

func checkMeta(f *fieldErrors, meta json.RawMessage) {
	if meta == nil || string(meta) == "null" {
		return
	}
	if len(meta) > MaxMetaBytes {
		f.add("meta", "must be at most 8 KiB")
		return
	}
	var m map[string]any
	if err := json.Unmarshal(meta, &m); err != nil || !bytes.HasPrefix(bytes.TrimSpace(meta), []byte("{")) {
		f.add("meta", "must be a JSON object")
	}
}

func validatePassword(pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return Invalid(FieldError{Field: "password", Message: "must be " + strconv.Itoa(MinPasswordLen) + " to " + strconv.Itoa(MaxPasswordLen) + " bytes"})
	}
	return nil
}

// checkID refuses an id that is not a canonical lower-case UUID as invalid
// input (EINVALID on the field "id"): a path id that cannot exist.
func checkID(kind, id string) error {
	if !secret.ValidID(id) {
		return Invalid(FieldError{Field: "id", Message: kind + " id must be a UUID"})
	}
	return nil
}

// MaxPageNumber bounds page numbers, and MaxSkip the rows a skip/take page
// may skip, so that an offset always fits the databases' 64-bit integers.
const (
	MaxPageNumber = 10_000_000
	MaxSkip       = MaxPageNumber * MaxPageSize
)

// ValidatePage checks a page request: number 1..MaxPageNumber, size
// 1..MaxPageSize.
func ValidatePage(number, size int) (Page, error) {
	var f fieldErrors
	if number < 1 || number > MaxPageNumber {
		f.add("page", "must be between 1 and "+strconv.Itoa(MaxPageNumber))
	}
	if size < 1 || size > MaxPageSize {
		f.add("page-size", "must be between 1 and "+strconv.Itoa(MaxPageSize))
	}
	return Page{Number: number, Size: size}, f.err()
}

func normalizeTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}
