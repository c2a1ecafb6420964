package console

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
)

// The Service's messages are written for API clients ("must be 8 to 256
// bytes"); the console says the same in words a person acts on. Messages
// not listed here are made into a sentence that names the field.

// fieldLabels are the console's names of form fields.
var fieldLabels = map[string]string{
	"name": "Name", "description": "Description", "userName": "User name", "password": "Password",
	"level": "Level", "scopes": "Scopes", "children": "Contains", "lifespan": "Token lifespan",
	"expiresOn": "Expiry", "rateLimit": "Rate limit", "owner": "Owner", "prefix": "Key prefix",
	"isActive": "Status", "hmac": "HMAC signing", "rateLimits": "Named rate limits",
	"audiences": "Token audiences", "allowedCidrs": "Allowed addresses", "credits": "Usage credits",
}

// fieldTexts replace a field's message that starts with prefix.
var fieldTexts = []struct{ field, prefix, text string }{
	{"password", "must be ", "Use at least " + strconv.Itoa(keyward.MinPasswordLen) + " characters (and at most " + strconv.Itoa(keyward.MaxPasswordLen) + " bytes)."},
	{"password", "is required", "Enter a password."},
	{"userName", "must be ", "Use up to 64 letters, digits and . _ @ + -, starting with a letter or digit."},
	{"userName", "is immutable", "A user name cannot be changed."},
	{"name", "must be 1-128", "Use up to 128 letters, digits and _ . : -, starting with a letter or digit, for example orders:read."},
	{"name", "must be 1-63", "Use up to 63 lowercase letters, digits, _ and -, starting with a letter or digit."},
	{"name", "is a built-in permission name", "A built-in permission has this name. Choose another."},
	{"name", "is required", "Enter a name."},
	{"prefix", "must be ", "Use up to 16 lowercase letters, digits and _."},
	{"owner", "", "Choose an owner from the list: a user of this tenant."},
	{"scopes", "no such permission", "One of the chosen scopes is no longer in the catalog. Reload the page and choose again."},
	{"children", "no such permission", "One of the chosen permissions is no longer in the catalog. Reload the page and choose again."},
	{"children", "would make the composite contain itself", "A composite cannot contain itself."},
	{"isActive", "you cannot deactivate yourself", "You cannot deactivate yourself."},
	{"isActive", "the root tenant cannot be deactivated", "The root tenant cannot be deactivated."},
}

// humane is the console's text for a Service message about field.
func humane(field, msg string) string {
	for _, t := range fieldTexts {
		if t.field == field && strings.HasPrefix(msg, t.prefix) {
			return t.text
		}
	}
	label := fieldLabels[field]
	if label == "" {
		label = field
	}
	return label + ": " + sentence(msg)
}

// sentence makes a Service message ("user x already exists") a sentence.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

var (
	levelAboveOwn   = regexp.MustCompile(`^level (\d+) is above your own level (\d+)$`)
	levelAboveOwner = regexp.MustCompile(`^level (\d+) is above the owner's level (\d+)$`)
	targetAbove     = regexp.MustCompile(`^the (key|user)'s level (\d+) is above yours \((\d+)\)$`)
	cannotGrant     = regexp.MustCompile(`^you cannot (grant|compose) permission (\S+): you do not hold it$`)
	needs           = regexp.MustCompile(`^(\S+:\S+)(?: on every key of the tenant)? is required`)
)

// forbiddenText explains a refusal: what was refused and why.
func forbiddenText(msg string) string {
	if m := levelAboveOwn.FindStringSubmatch(msg); m != nil {
		return "You cannot give level " + m[1] + ": it is above your own level (" + m[2] + ")."
	}
	if m := levelAboveOwner.FindStringSubmatch(msg); m != nil {
		return "Level " + m[1] + " is above the owner's level (" + m[2] + "). Choose a lower level or another owner."
	}
	if m := targetAbove.FindStringSubmatch(msg); m != nil {
		return "This " + m[1] + " has level " + m[2] + ", above your own (" + m[3] + "), so you cannot change it."
	}
	if m := cannotGrant.FindStringSubmatch(msg); m != nil {
		return "You cannot give " + m[2] + ": you do not hold it yourself."
	}
	if m := needs.FindStringSubmatch(msg); m != nil {
		return "You do not have permission to do this: it needs " + m[1] + ". Ask an administrator of your tenant."
	}
	return "You do not have permission to do this: " + sentence(msg) + " Ask an administrator of your tenant."
}

// errItem is a line of a form's error summary: it links to the field.
type errItem struct{ ID, Label, Message string }

// formFields lists each form's fields in page order, with the id of the
// control the summary links to.
var formFields = map[string][][2]string{
	"key": {{"name", "name"}, {"description", "description"}, {"audiences", "audiences"}, {"level", "level"}, {"owner", "owner"},
		{"scopes", "scope-0"}, {"lifespan", "lifespanValue"}, {"expiresOn", "expiresOn"}, {"rateLimit", "rateLimit"},
		{"rateLimits", "rateLimits"}, {"allowedCidrs", "allowedCidrs"}, {"credits", "credits"}, {"hmac", "hmac"}},
	"user":       {{"userName", "userName"}, {"password", "password"}, {"level", "level"}, {"scopes", "scope-0"}, {"rateLimits", "rateLimits"}},
	"permission": {{"name", "perm-name"}, {"description", "perm-description"}, {"children", "child-0"}},
	"tenant":     {{"name", "tenant-name"}, {"prefix", "tenant-prefix"}},
}

// errorList orders a form's field errors for its summary; errors of fields
// the form does not list come last, linked to the form's first field.
func errorList(errs map[string]string, form string) []errItem {
	var out []errItem
	seen := map[string]bool{}
	fields := formFields[form]
	for _, f := range fields {
		if m, ok := errs[f[0]]; ok {
			out = append(out, errItem{ID: f[1], Label: fieldLabels[f[0]], Message: m})
			seen[f[0]] = true
		}
	}
	for name, m := range errs {
		if !seen[name] && len(fields) > 0 {
			out = append(out, errItem{ID: fields[0][1], Label: fieldLabels[name], Message: m})
		}
	}
	return out
}

// errSummary is what the "errors" template shows.
type errSummary struct {
	List    []errItem
	Message string
}

func errs(fieldErrs map[string]string, form, msg string) errSummary {
	return errSummary{List: errorList(fieldErrs, form), Message: msg}
}

// scopeGroup is the permissions of one resource in the key form: the part
// of their names before ":" ("orders" for orders:read, orders:write).
type scopeGroup struct {
	Name    string
	Entries []scopeEntry
}

type scopeEntry struct {
	Index       int // for the checkbox id, in catalog order
	Name        string
	Description string
}

// scopeGroups groups the catalog by resource, in catalog order; names
// without a resource (the dialects' apiKeyCreate, …) come last as "other".
func scopeGroups(catalog []*keyward.Permission) []scopeGroup {
	var out []scopeGroup
	at := map[string]int{}
	var other []scopeEntry
	for i, p := range catalog {
		e := scopeEntry{Index: i, Name: p.Name}
		if p.Description != nil {
			e.Description = *p.Description
		}
		res, _, found := strings.Cut(p.Name, ":")
		if !found {
			other = append(other, e)
			continue
		}
		if j, ok := at[res]; ok {
			out[j].Entries = append(out[j].Entries, e)
			continue
		}
		at[res] = len(out)
		out = append(out, scopeGroup{Name: res, Entries: []scopeEntry{e}})
	}
	if len(other) > 0 {
		out = append(out, scopeGroup{Name: "other", Entries: other})
	}
	return out
}
