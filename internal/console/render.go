package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "status", "keys", "keyform", "key", "confirm", "users", "useredit", "permissions", "audit", "tenants"}

var funcs = template.FuncMap{
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"isodate":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"day":      func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"ago":      ago,
	"lifespan": lifespanText,
	"join":     strings.Join,
	"add":      func(a, b int) int { return a + b },
	"permNames": func(ps []keyward.Permission) []string {
		out := make([]string, 0, len(ps))
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	},
	"windows": rateWindows,
	"short": func(id string) string {
		if len(id) > 8 {
			return id[:8] + "…"
		}
		return id
	},
	"ratelimit":   rateLimitText,
	"namedlimits": namedLimitsSummary,
	"errs":        errs,
	"scopeGroups": scopeGroups,
	"contains": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
}

func parsePages() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, n := range pageNames {
		out[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/icons.html", "templates/partials.html", "templates/"+n+".html"))
	}
	return out
}

// view is what every page template receives.
type view struct {
	Title  string
	Nav    string // the menu entry to mark current
	User   *keyward.WhoAmI
	CSRF   string
	Can    map[string]bool // which menu entries and buttons to show
	Notice string
	Data   any
}

// notices are the messages a redirect may ask the next page to show, by
// code, so no text travels in URLs.
var notices = map[string]string{
	"activated":   "The key is active again.",
	"deactivated": "The key is deactivated: its secret and tokens stop working now.",
	"deleted":     "The key is deleted.",
	"bulk-off":    "The chosen keys are deactivated.",
	"bulk-on":     "The chosen keys are active again.",
	"bulk-gone":   "The chosen keys are deleted.",
	"updated":     "Your changes are saved.",
	"already-created": "This key was already created when the form was first sent, so no second key was made. " +
		"Its secret was shown then; if nobody copied it, generate a new one.",
	"user-added":   "The user is added.",
	"user-changed": "The user is changed.",
	"user-on":      "The user is active again.",
	"user-off":     "The user is deactivated, and so are their keys.",
	"user-on-keys": "The user is active again, and so are the keys you chose.",
	"user-gone":    "The user is deleted.",
	"perm-added":   "The permission is added.",
	"tenant-added": "The tenant is added, with the built-in permissions. Create its first user through the API or CLI (keyward users create --tenant NAME).",
	"tenant-on":    "The tenant is active again.",
	"tenant-off":   "The tenant is deactivated: its keys and users stop working.",
	"perm-gone":    "The permission is deleted.",
	"signed-out":   "You are signed out.",
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, page, title string, data any) {
	v := view{Title: title, Data: data, Notice: notices[r.URL.Query().Get("done")]}
	if r.URL.Query().Get("signedOut") != "" {
		v.Notice = notices["signed-out"]
	}
	if s != nil {
		v.User, v.CSRF = s.who, s.csrf
		p := s.p
		v.Can = map[string]bool{
			"keysRead":   p.CanSomeKeys(keyward.PermAPIKeysRead),
			"keysWrite":  p.CanSomeKeys(keyward.PermAPIKeysWrite),
			"usersRead":  p.Has(keyward.PermUsersRead),
			"usersWrite": p.Has(keyward.PermUsersWrite),
			"permsRead":  p.Has(keyward.PermPermissionsRead),
			"permsWrite": p.Has(keyward.PermPermissionsWrite),
			"auditRead":  p.Has(keyward.PermAuditRead),
			"tenants":    p.Has(keyward.PermTenantsAdmin),
		}
		v.Nav = page
	}
	var buf bytes.Buffer
	if err := c.pages[page].Execute(&buf, v); err != nil {
		c.logError(r, fmt.Errorf("rendering %s: %w", page, err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type statusView struct {
	Status  int
	Heading string
	Message string
}

func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	heading := map[int]string{
		http.StatusForbidden: "Not allowed", http.StatusNotFound: "Not found", http.StatusConflict: "Changed meanwhile",
	}[status]
	if heading == "" {
		heading = http.StatusText(status)
	}
	c.render(w, r, s, status, "status", heading, statusView{Status: status, Heading: heading, Message: msg})
}

// ago says how long ago t was, roughly.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// window is an option of the rate limit window select.
type window struct {
	Seconds  int
	Label    string
	Selected bool
}

// rateWindows lists the windows the key form offers, and the key's own
// when it is another (set through the API).
func rateWindows(selected int) []window {
	out := []window{{1, "per second", false}, {60, "per minute", false}, {3600, "per hour", false}, {86400, "per day", false}}
	found := false
	for i := range out {
		if out[i].Seconds == selected {
			out[i].Selected, found = true, true
		}
	}
	if !found && selected > 0 {
		out = append(out, window{selected, "per " + strconv.Itoa(selected) + " seconds", true})
	}
	return out
}

// rateLimitText shows a rate limit as "100 per minute".
func rateLimitText(l *keyward.RateLimit) string {
	if l == nil {
		return ""
	}
	for _, w := range rateWindows(l.WindowSeconds) {
		if w.Selected {
			return strconv.Itoa(l.Limit) + " " + w.Label
		}
	}
	return ""
}

// lifespanText shows a token lifespan in the unit the console edits it in.
func lifespanText(seconds int) string {
	v, unit := lifespanParts(seconds)
	if v == 1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	return strconv.Itoa(v) + " " + unit
}

// lifespanParts splits seconds into the console's value and unit: whole
// hours in hours, anything else in minutes.
func lifespanParts(seconds int) (int, string) {
	if seconds%3600 == 0 {
		return seconds / 3600, "hours"
	}
	return seconds / 60, "minutes"
}

// pager is what the paging controls need.
type pager struct {
	Number, Size, Total, Pages, From, To int
	Prev, Next                           string
	About                                bool // Total is an estimate
}

func newPager(number, size, total int, link func(page int) string) pager {
	pages := (total + size - 1) / size
	p := pager{Number: number, Size: size, Total: total, Pages: pages}
	if total > 0 {
		p.From = (number-1)*size + 1
		p.To = min(number*size, total)
	}
	if number > 1 {
		p.Prev = link(number - 1)
	}
	if number < pages {
		p.Next = link(number + 1)
	}
	return p
}

// pageNumber reads ?page=, 1 when missing or wrong.
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 || n > 1_000_000 {
		return 1
	}
	return n
}

// formProblem turns a Service error a form can explain (invalid input, not
// allowed, a duplicate) into messages by form field, renamed by names
// (fields not named there keep their own name), a message for the form as
// a whole, and the status to answer with. ok is false for other errors,
// which the caller answers as a page (fail).
func formProblem(err error, names map[string]string) (fields map[string]string, msg string, status int, ok bool) {
	e, isErr := err.(*keyward.Error)
	if !isErr {
		return nil, "", 0, false
	}
	switch e.Code {
	case keyward.EINVALID, keyward.ECONFLICT, keyward.EFORBIDDEN:
		status = keyward.CodeStatus(e.Code)
	default:
		return nil, "", 0, false
	}
	fields = map[string]string{}
	for _, fe := range e.Fields {
		name := strings.SplitN(fe.Field, "[", 2)[0]
		if n, renamed := names[name]; renamed {
			name = n
		}
		if _, taken := fields[name]; !taken {
			fields[name] = humane(name, fe.Message)
		}
	}
	if len(e.Fields) == 0 {
		msg = sentence(e.Message)
		if e.Code == keyward.EFORBIDDEN {
			msg = forbiddenText(e.Message)
		}
	}
	return fields, msg, status, true
}
