package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

const keysPageSize = 20

// maxKeyLevel is the highest level there is (the root package's maxLevel).
const maxKeyLevel = 8

// Token lifespan bounds of the key form (Pier Cloud's): 1-24 hours or 1-55
// minutes.
const (
	maxLifespanHours   = 24
	maxLifespanMinutes = 55
)

type keysView struct {
	Query, Status string
	Sort          string    // one of keySorts
	Sorts         []keySort // the choices
	Keys          []keyRow
	Pager         pager
	Filtered      bool
	Catalog       []*keyward.Permission
	Issued        *issuedView // the secret dialog, shown once
	Close         string      // where closing the dialog goes
	Back          string      // this list, for the row forms to return to
	// Headers are the sortable columns' headers, by field.
	Headers map[string]sortHeader
}

type keyRow struct {
	*keyward.APIKey
	State               string // Active, Inactive, Expired
	CanWrite, CanDelete bool
	ScopeNames          []string
	Spark               *sparkline // verifications over the last 14 days (lists only)
}

type issuedView struct {
	Heading, ClientID, Secret, Name string
	Server                          string // the public URL, for the snippets
}

func keyState(k *keyward.APIKey, now time.Time) string {
	return map[string]string{keyward.StatusActive: "Active", keyward.StatusInactive: "Inactive", keyward.StatusExpired: "Expired"}[k.Status(now)]
}

func (c *Console) row(s *session, k *keyward.APIKey, now time.Time) keyRow {
	names := make([]string, 0, len(k.Permissions))
	for _, p := range k.Permissions {
		names = append(names, p.Name)
	}
	return keyRow{APIKey: k, State: keyState(k, now), ScopeNames: names,
		CanWrite:  s.p.CanKey(keyward.PermAPIKeysWrite, k.OwnerID),
		CanDelete: s.p.CanKey(keyward.PermAPIKeysDelete, k.OwnerID)}
}

// keySort is an order the keys list offers.
type keySort struct{ Value, Label string }

// keySorts are the list's orders; the first is the default.
var keySorts = []keySort{
	{"-createdAt", "Newest first"}, {"createdAt", "Oldest first"}, {"name", "Name A–Z"}, {"-name", "Name Z–A"},
	{"-lastUsedAt", "Recently used"}, {"lastUsedAt", "Least recently used"}, {"expiresAt", "Expiring soonest"},
	{"-expiresAt", "Expiring latest"}, {"clientId", "Client ID A–Z"}, {"-clientId", "Client ID Z–A"},
	{"-isActive", "Active first"}, {"isActive", "Inactive first"}, {"userName", "Owner A–Z"}, {"-userName", "Owner Z–A"},
}

func validSort(v string) string {
	for _, s := range keySorts {
		if s.Value == v {
			return v
		}
	}
	return keySorts[0].Value
}

// listKeys fills the list part of the keys page from the request's filters.
func (c *Console) listKeys(r *http.Request, s *session, v *keysView) error {
	q := r.URL.Query()
	v.Query = strings.TrimSpace(q.Get("q"))
	v.Status = q.Get("status")
	switch v.Status {
	case keyward.StatusActive, keyward.StatusInactive:
	default:
		v.Status = keyward.StatusAll
	}
	v.Filtered = v.Query != "" || v.Status != keyward.StatusAll
	v.Sort, v.Sorts = validSort(q.Get("sort")), keySorts
	// Pages follow each other by cursor (keyset paging: as fast on page
	// 50,000 of a million keys as on page 1); ?page= only numbers them,
	// and, without a cursor (a link typed or kept), pages by offset. The
	// count past some thousand keys is the store's estimate.
	number, cursor, back := pageNumber(r), q.Get("cursor"), q.Get("back")
	if number == 1 {
		cursor, back = "", ""
	}
	f := keyward.APIKeyFilter{Page: keyward.Page{Number: number, Size: keysPageSize}, Query: v.Query, Status: v.Status,
		Sort: v.Sort + ",-id", Cursor: cursor}
	list, err := c.svc.ListAPIKeys(r.Context(), s.p, f)
	if keyward.ErrorCode(err) == keyward.EINVALID && cursor != "" {
		// A cursor of another sort, or damaged: the page by its number.
		f.Cursor, cursor, back = "", "", ""
		list, err = c.svc.ListAPIKeys(r.Context(), s.p, f)
	}
	if err != nil {
		return err
	}
	usage, err := c.svc.APIKeysUsage(r.Context(), s.p, list.Items, usageDays)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, k := range list.Items {
		row := c.row(s, k, now)
		row.Spark = newSparkline(usage[k.ID])
		v.Keys = append(v.Keys, row)
	}
	v.Pager = newPager(number, keysPageSize, list.TotalCount, func(n int) string {
		u := keysURL(v.Query, v.Status, v.Sort, n)
		switch {
		case n == number+1 && list.NextCursor != "":
			u = withCursor(u, list.NextCursor, cursor)
		case n == number-1 && back != "":
			u = withCursor(u, back, "")
		}
		return u
	})
	if list.TotalEstimated {
		v.Pager.About = true
		if list.NextCursor != "" && v.Pager.Next == "" {
			v.Pager.Next = withCursor(keysURL(v.Query, v.Status, v.Sort, number+1), list.NextCursor, cursor)
		}
	}
	v.Back = withCursor(keysURL(v.Query, v.Status, v.Sort, number), cursor, back)
	href := func(sort string) string { return keysURL(v.Query, v.Status, sort, 1) }
	v.Headers = map[string]sortHeader{}
	for _, c := range []struct {
		field, label, class string
		descFirst           bool
	}{
		{"name", "Name", "col-name", false}, {"clientId", "Client ID", "col-cid", false}, {"isActive", "Status", "", true},
		{"userName", "Owner", "col-owner", false}, {"expiresAt", "Expires", "col-date", false},
		{"lastUsedAt", "Last used", "col-date", true}, {"createdAt", "Created", "col-created", true},
	} {
		v.Headers[c.field] = newSortHeader(c.label, c.class, c.field, c.descFirst, v.Sort, href)
	}
	return nil
}

// withCursor adds to a keys list URL the cursor its page starts after and
// back, the cursor of the page before it ("" for none): the next page's
// Previous link.
func withCursor(u, cursor, back string) string {
	if cursor == "" || !strings.Contains(u, "page=") {
		return u
	}
	q := url.Values{"cursor": {cursor}}
	if back != "" {
		q.Set("back", back)
	}
	return u + "&" + q.Encode()
}

func keysURL(query, status, sort string, page int) string {
	q := url.Values{}
	if sort != "" && sort != keySorts[0].Value {
		q.Set("sort", sort)
	}
	if query != "" {
		q.Set("q", query)
	}
	if status != "" && status != keyward.StatusAll {
		q.Set("status", status)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return Prefix + "/keys"
	}
	return Prefix + "/keys?" + q.Encode()
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, s *session) error {
	var v keysView
	if err := c.listKeys(r, s, &v); err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "keys", "API Keys", v)
	return nil
}

// showIssued answers a create or rotate with the keys page and the dialog
// that shows the secret this once. The answer is never stored (no-store),
// and closing the dialog replaces it in the history with the plain list.
func (c *Console) showIssued(w http.ResponseWriter, r *http.Request, s *session, heading string, k *keyward.IssuedKey) error {
	r.URL.RawQuery = ""
	v := keysView{Issued: &issuedView{Heading: heading, ClientID: k.ClientID, Secret: k.ClientSecret, Name: k.Name,
		Server: strings.TrimSuffix(c.svc.PublicURL(), "/")}, Close: Prefix + "/keys"}
	if err := c.listKeys(r, s, &v); err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "keys", "API Keys", v)
	return nil
}

// keyForm is the add and edit form.
type keyForm struct {
	Edit          bool
	ID, ClientID  string
	Version       int
	Name          string
	Description   string
	Audiences     string // one per line
	Scopes        []string
	LifespanValue string
	LifespanUnit  string
	ExpiresOn     string // yyyy-mm-dd, the key expires at the end of that day (UTC)
	Expires       string // the expiry choice: never, 30, 90, 365 (days from now) or date
	RateLimit     string // requests per window; "" is none
	RateWindow    int    // seconds
	// RateLimits are the named limits, one "NAME N/WINDOW" a line;
	// RateLimitsWas is what the edit form showed (unchanged: sent nothing).
	RateLimits, RateLimitsWas string
	// Credits are the uses left ("" is unlimited), refilled to RefillAmount
	// each day or month ("" never, daily, monthly) on RefillDay. CreditsWas
	// is what the edit form showed: unchanged fields send nothing, so that
	// saving another change never resets what was spent meanwhile.
	Credits, CreditsWas  string
	Refill, RefillAmount string
	RefillDay            string
	AllowedCIDRs         string // one prefix or address a line; "" is anywhere
	HMAC                 bool
	Level                int
	OwnerID              string
	OwnerName            string
	Once                 string          // the add form's one-time token
	Levels               []int           // the levels the caller may give
	Owners               []*keyward.User // who the caller may make the owner; nil: the owner is not theirs to choose
	Catalog              []*keyward.Permission
	Errors               map[string]string
	Error                string
}

func (c *Console) catalog(r *http.Request, s *session) []*keyward.Permission {
	perms, err := c.svc.ListPermissions(r.Context(), s.p)
	if err != nil {
		return nil // without permissions:read the form offers no scopes
	}
	return perms
}

func (c *Console) newKeyPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if !s.p.CanSomeKeys(keyward.PermAPIKeysWrite) {
		return refuse(http.StatusForbidden, "You cannot create API keys. Ask an administrator of your tenant.")
	}
	f := keyForm{LifespanValue: "1", LifespanUnit: "hours", RateWindow: 60, Once: newOnce(), OwnerID: s.p.OwnerID, OwnerName: s.who.Name, Expires: "never"}
	c.formChoices(r, s, &f)
	c.render(w, r, s, http.StatusOK, "keyform", "Add API key", f)
	return nil
}

// formChoices fills what the key form offers: the catalog, the levels up to
// the caller's own, and the owners the caller may choose (users of the
// tenant, for a caller who manages every key and may read users).
func (c *Console) formChoices(r *http.Request, s *session, f *keyForm) {
	f.Catalog = c.catalog(r, s)
	f.Levels = nil
	for l := 0; l <= s.p.Level && l <= maxKeyLevel; l++ {
		f.Levels = append(f.Levels, l)
	}
	f.Owners = nil
	if s.p.Has(keyward.PermAPIKeysWrite) && s.p.Has(keyward.PermUsersRead) {
		list, err := c.svc.ListUsers(r.Context(), s.p, keyward.UserFilter{Page: keyward.Page{Number: 1, Size: 500}})
		if err == nil {
			f.Owners = list.Items
		}
	}
	if f.OwnerName == "" {
		for _, u := range f.Owners {
			if u.ID == f.OwnerID {
				f.OwnerName = u.UserName
			}
		}
	}
}

// readKeyForm reads the posted form into f and the Service input. prev is
// the key being edited (nil when adding).
func readKeyForm(r *http.Request, f *keyForm, prev *keyward.APIKey) keyward.APIKeyInput {
	f.Errors = map[string]string{}
	f.Name = strings.TrimSpace(r.PostFormValue("name"))
	f.Description = strings.TrimSpace(r.PostFormValue("description"))
	f.Scopes = r.PostForm["scopes"]
	f.Audiences = strings.TrimSpace(r.PostFormValue("audiences"))
	f.LifespanValue = strings.TrimSpace(r.PostFormValue("lifespanValue"))
	f.LifespanUnit = r.PostFormValue("lifespanUnit")
	f.ExpiresOn = strings.TrimSpace(r.PostFormValue("expiresOn"))
	// The expiry choice; a form without one (an older page) sends the day.
	switch f.Expires = r.PostFormValue("expires"); f.Expires {
	case "never":
		f.ExpiresOn = ""
	case "30", "90", "365":
		days, _ := strconv.Atoi(f.Expires)
		f.ExpiresOn = time.Now().UTC().AddDate(0, 0, days).Format("2006-01-02")
		f.Expires = "date" // shown again as the day it became
	case "date":
	default:
		f.Expires = "date"
		if f.ExpiresOn == "" {
			f.Expires = "never"
		}
	}
	f.HMAC = r.PostFormValue("hmac") == "on"
	f.RateLimit = strings.TrimSpace(r.PostFormValue("rateLimit"))
	f.RateWindow, _ = strconv.Atoi(r.PostFormValue("rateWindow"))
	f.Credits, f.CreditsWas = strings.TrimSpace(r.PostFormValue("credits")), r.PostFormValue("creditsWas")
	f.Refill, f.RefillAmount = r.PostFormValue("refill"), strings.TrimSpace(r.PostFormValue("refillAmount"))
	f.RefillDay = strings.TrimSpace(r.PostFormValue("refillDay"))

	in := keyward.APIKeyInput{Name: &f.Name, Description: &f.Description}
	refs := make([]keyward.PermissionRef, 0, len(f.Scopes))
	for _, sc := range f.Scopes {
		refs = append(refs, keyward.PermissionRef{Name: sc})
	}
	in.Permissions = &refs

	n, err := strconv.Atoi(f.LifespanValue)
	seconds := 0
	switch f.LifespanUnit {
	case "hours":
		seconds = n * 3600
	case "minutes":
		seconds = n * 60
	default:
		f.Errors["lifespan"] = "Choose hours or minutes."
	}
	unchanged := prev != nil && err == nil && seconds == prev.TokenLifespanSeconds
	switch {
	case f.Errors["lifespan"] != "":
	case err != nil:
		f.Errors["lifespan"] = "Enter a whole number."
	case unchanged:
		// a lifespan set through the API may lie outside the form's bounds; keep it
	case f.LifespanUnit == "hours" && (n < 1 || n > maxLifespanHours):
		f.Errors["lifespan"] = "In hours, the token lifespan is 1 to 24."
	case f.LifespanUnit == "minutes" && (n < 1 || n > maxLifespanMinutes):
		f.Errors["lifespan"] = "In minutes, the token lifespan is 1 to 55. For longer, use hours."
	default:
		in.TokenLifespanSeconds = &seconds
	}

	switch {
	case f.ExpiresOn == "":
		if prev != nil && prev.ExpiresAt != nil {
			in.ExpiresAt = keyward.Null[time.Time]()
		}
	default:
		d, err := time.Parse("2006-01-02", f.ExpiresOn)
		if err != nil {
			f.Errors["expiresOn"] = "Enter a date as YYYY-MM-DD."
			break
		}
		end := d.Add(24*time.Hour - time.Second).UTC()
		if prev != nil && prev.ExpiresAt != nil && prev.ExpiresAt.Equal(end) {
			break
		}
		if !end.After(time.Now()) {
			f.Errors["expiresOn"] = "Choose today or a later day."
			break
		}
		in.ExpiresAt = keyward.Some(end)
	}
	switch n, err := strconv.Atoi(f.RateLimit); {
	case f.RateLimit == "":
		if prev != nil && prev.RateLimit != nil {
			in.RateLimit = keyward.Null[keyward.RateLimit]()
		}
	case err != nil || n < 1 || n > keyward.MaxRateLimit:
		f.Errors["rateLimit"] = "Enter a whole number of requests, at least 1, or leave it empty for no limit."
	case f.RateWindow < 1 || f.RateWindow > keyward.MaxRateLimitWindow:
		f.Errors["rateLimit"] = "Choose a window."
	default:
		in.RateLimit = keyward.Some(keyward.RateLimit{Limit: n, WindowSeconds: f.RateWindow})
	}
	creditsFromForm(f, &in, prev)
	if _, sent := r.PostForm["rateLimits"]; sent {
		f.RateLimits, f.RateLimitsWas = r.PostFormValue("rateLimits"), r.PostFormValue("rateLimitsWas")
		if prev == nil || !sameLimitsText(f.RateLimits, f.RateLimitsWas) {
			switch ls, msg := parseNamedLimits(f.RateLimits); {
			case msg != "":
				f.Errors["rateLimits"] = msg
			case prev != nil || len(ls) > 0:
				in.RateLimits = &ls
			}
		}
	}
	f.AllowedCIDRs = strings.TrimSpace(r.PostFormValue("allowedCidrs"))
	cidrs, errs := keyward.ParseAllowedCIDRs("allowedCidrs", strings.Fields(f.AllowedCIDRs))
	switch {
	case len(errs) > 0:
		f.Errors["allowedCidrs"] = "Enter one IPv4 or IPv6 address or prefix a line, such as 203.0.113.0/24, at most " +
			strconv.Itoa(keyward.MaxAllowedCIDRs) + "."
	case prev == nil || !slices.Equal(cidrs, prev.AllowedCIDRs):
		in.AllowedCIDRs = keyward.Some(cidrs)
	}
	if prev == nil {
		in.HMACEnabled = &f.HMAC
	}
	// Audiences contain no white space: one per line (or separated by
	// spaces). A form without the field (an older page) leaves them.
	if _, sent := r.PostForm["audiences"]; sent {
		auds := strings.Fields(f.Audiences)
		if (prev == nil && len(auds) > 0) || (prev != nil && !slices.Equal([]string(prev.Audiences), auds)) {
			in.Audiences = &auds
		}
	}
	if v := r.PostFormValue("level"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0 || n > maxKeyLevel:
			f.Errors["level"] = "Choose a level from the list."
		default:
			f.Level = n
			if prev == nil || prev.Level != n {
				in.Level = &f.Level
			}
		}
	}
	if _, sent := r.PostForm["ownerId"]; sent {
		f.OwnerID = r.PostFormValue("ownerId")
		if prev == nil || prev.OwnerID != f.OwnerID {
			in.OwnerID = &f.OwnerID
		}
	}
	if f.Name == "" {
		f.Errors["name"] = "Enter a name."
	}
	return in
}

// keyFields names the key form's fields after the Service's.
var keyFields = map[string]string{"permissions": "scopes", "tokenLifespanSeconds": "lifespan", "expiresAt": "expiresOn",
	"hmacEnabled": "hmac", "rateLimit.limit": "rateLimit", "rateLimit.windowSeconds": "rateLimit", "ownerId": "owner"}

// explain puts a Service error next to the key form's fields; false when
// the form cannot explain it.
func (f *keyForm) explain(err error) (int, bool) {
	fields, msg, status, ok := formProblem(err, keyFields)
	f.Error = msg
	for name, m := range fields {
		switch name {
		case "name", "description", "audiences", "scopes", "lifespan", "expiresOn", "hmac", "rateLimit", "rateLimits", "level", "owner", "allowedCidrs":
			f.Errors[name] = m
		default: // a field the form does not show
			f.Error = m
		}
	}
	return status, ok
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, s *session) error {
	f := keyForm{OwnerID: s.p.OwnerID, OwnerName: s.who.Name}
	in := readKeyForm(r, &f, nil)
	f.Once = r.PostFormValue("once")
	c.formChoices(r, s, &f)
	if len(f.Errors) > 0 {
		c.render(w, r, s, http.StatusBadRequest, "keyform", "Add API key", f)
		return nil
	}
	if f.Once != "" {
		if id, first := c.once.claim(s.csrf, f.Once, time.Now()); !first {
			return c.alreadyCreated(w, r, s, id)
		}
	}
	k, err := c.svc.CreateAPIKey(r.Context(), s.p, in)
	if err != nil {
		if f.Once != "" {
			c.once.release(s.csrf, f.Once)
		}
		if status, ok := f.explain(err); ok {
			c.render(w, r, s, status, "keyform", "Add API key", f)
			return nil
		}
		return err
	}
	if f.Once != "" {
		c.once.done(s.csrf, f.Once, k.ID)
	}
	return c.showIssued(w, r, s, "API key created", k)
}

// alreadyCreated answers an add form sent a second time: the key the first
// sending made, never a second one.
func (c *Console) alreadyCreated(w http.ResponseWriter, r *http.Request, s *session, id string) error {
	if id == "" {
		return refuse(http.StatusConflict, "This form was already sent and the key is being created. Open API Keys to see it.")
	}
	http.Redirect(w, r, Prefix+"/keys/"+id+"?done=already-created", http.StatusSeeOther)
	return nil
}

func (c *Console) editKeyPage(w http.ResponseWriter, r *http.Request, s *session) error {
	k, err := c.svc.GetAPIKey(r.Context(), s.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !s.p.CanKey(keyward.PermAPIKeysWrite, k.OwnerID) {
		return refuse(http.StatusForbidden, "You cannot change this key. Ask an administrator of your tenant.")
	}
	v, unit := lifespanParts(k.TokenLifespanSeconds)
	f := keyForm{Edit: true, ID: k.ID, ClientID: k.ClientID, Version: k.Version, Name: k.Name, Description: k.Description,
		LifespanValue: strconv.Itoa(v), LifespanUnit: unit, HMAC: k.HMACEnabled, Level: k.Level, OwnerID: k.OwnerID, OwnerName: k.UserName,
		Expires: "never", Audiences: strings.Join(k.Audiences, "\n")}
	c.formChoices(r, s, &f)
	for _, p := range k.Permissions {
		f.Scopes = append(f.Scopes, p.Name)
	}
	if k.ExpiresAt != nil {
		f.ExpiresOn, f.Expires = k.ExpiresAt.UTC().Format("2006-01-02"), "date"
	}
	f.RateWindow = 60
	f.AllowedCIDRs = strings.Join(k.AllowedCIDRs, "\n")
	if k.RateLimit != nil {
		f.RateLimit, f.RateWindow = strconv.Itoa(k.RateLimit.Limit), k.RateLimit.WindowSeconds
	}
	creditsToForm(&f, k.Credits)
	f.RateLimits = namedLimitsText(k.RateLimits)
	f.RateLimitsWas = f.RateLimits
	c.render(w, r, s, http.StatusOK, "keyform", "Edit API key", f)
	return nil
}

func (c *Console) updateKey(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	k, err := c.svc.GetAPIKey(r.Context(), s.p, id)
	if err != nil {
		return err
	}
	f := keyForm{Edit: true, ID: k.ID, ClientID: k.ClientID, HMAC: k.HMACEnabled, Level: k.Level, OwnerID: k.OwnerID, OwnerName: k.UserName}
	f.Version, _ = strconv.Atoi(r.PostFormValue("version"))
	in := readKeyForm(r, &f, k)
	f.HMAC = k.HMACEnabled
	c.formChoices(r, s, &f)
	if len(f.Errors) > 0 {
		c.render(w, r, s, http.StatusBadRequest, "keyform", "Edit API key", f)
		return nil
	}
	version := f.Version
	if _, err := c.svc.UpdateAPIKey(r.Context(), s.p, id, in, &version); err != nil {
		if keyward.ErrorCode(err) == keyward.EPRECONDITION {
			f.Error = "Someone changed this key while you were editing it. Reload the page to see their changes, then edit again."
			c.render(w, r, s, http.StatusConflict, "keyform", "Edit API key", f)
			return nil
		}
		if status, ok := f.explain(err); ok {
			c.render(w, r, s, status, "keyform", "Edit API key", f)
			return nil
		}
		return err
	}
	// Back to the key itself, where the change can be seen.
	http.Redirect(w, r, Prefix+"/keys/"+k.ID+"?done=updated", http.StatusSeeOther)
	return nil
}

// back returns the list URL a form posted from (its "back" field, a
// console path), or def.
func back(r *http.Request, def string) string {
	b, ok := consolePath(r.PostFormValue("back"))
	if ok && !strings.Contains(b, "done=") {
		return b
	}
	return def
}

func doneParam(r *http.Request, code string) string {
	if strings.Contains(back(r, Prefix+"/keys"), "?") {
		return "&done=" + code
	}
	return "?done=" + code
}

func (c *Console) setKeyActive(w http.ResponseWriter, r *http.Request, s *session) error {
	active := r.PostFormValue("active") == "true"
	if _, err := c.svc.UpdateAPIKey(r.Context(), s.p, r.PathValue("id"), keyward.APIKeyInput{IsActive: &active}, nil); err != nil {
		return err
	}
	done := "deactivated"
	if active {
		done = "activated"
	}
	http.Redirect(w, r, back(r, Prefix+"/keys")+doneParam(r, done), http.StatusSeeOther)
	return nil
}

// gracePeriod reads the rotation's grace choice: "0", "3600", "86400", or
// "custom" with graceMinutes (1 to 1440). No choice is no grace.
func gracePeriod(r *http.Request) (int, bool) {
	switch v := r.PostFormValue("grace"); v {
	case "", "0":
		return 0, true
	case "3600", "86400":
		n, _ := strconv.Atoi(v)
		return n, true
	case "custom":
		m, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("graceMinutes")))
		if err != nil || m < 1 || m > keyward.MaxGracePeriod/60 {
			return 0, false
		}
		return m * 60, true
	}
	return 0, false
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request, s *session) error {
	grace, ok := gracePeriod(r)
	if !ok {
		return refuse(http.StatusBadRequest, "Keep the old secret working for 1 to 1440 minutes (24 hours), or choose another option. Nothing was changed.")
	}
	k, err := c.svc.RotateAPIKey(r.Context(), s.p, r.PathValue("id"), keyward.RotateInput{GracePeriodSeconds: grace})
	if err != nil {
		return err
	}
	heading := "New client secret"
	if grace > 0 {
		heading += ": the old one works until " + time.Now().Add(time.Duration(grace)*time.Second).UTC().Format("Jan 2, 15:04 UTC")
	}
	return c.showIssued(w, r, s, heading, k)
}

func (c *Console) deleteKey(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := c.svc.DeleteAPIKey(r.Context(), s.p, r.PathValue("id"), nil); err != nil {
		return err
	}
	b := back(r, Prefix+"/keys")
	if strings.HasPrefix(b, Prefix+"/keys/") {
		b = Prefix + "/keys" // the key's own page is gone
	}
	sep := "?"
	if strings.Contains(b, "?") {
		sep = "&"
	}
	http.Redirect(w, r, b+sep+"done=deleted", http.StatusSeeOther)
	return nil
}

// confirmView is a confirmation page, used without script (with script
// the same form opens in a dialog).
type confirmView struct {
	Heading, Message, Action, Button, Back string
	Danger                                 bool
	Grace                                  bool           // offer a rotation's grace period
	List                                   []string       // what the action affects
	Checks                                 []confirmCheck // choices that go with it
	Hidden                                 [][2]string    // fields the form sends as they are
}

// confirmCheck is a checkbox of a confirmation.
type confirmCheck struct {
	Name, Value, Label string
	Checked            bool
}

// rotateText is what a rotation confirmation says.
func rotateText(name string) string {
	return "A new secret for “" + name + "” is generated and shown once. The current secret stops working now, or when the grace period you choose ends; tokens issued with it stop now."
}

func (c *Console) confirmPage(what string) sessionHandler {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		k, err := c.svc.GetAPIKey(r.Context(), s.p, r.PathValue("id"))
		if err != nil {
			return err
		}
		v := confirmView{Action: Prefix + "/keys/" + k.ID + "/" + what, Back: Prefix + "/keys"}
		switch what {
		case "rotate":
			v.Heading, v.Button, v.Grace = "Generate a new client secret?", "Generate new client secret", true
			v.Message = rotateText(k.Name)
		case "delete":
			v.Heading, v.Button, v.Danger = "Delete this API key?", "Delete", true
			v.Message = "“" + k.Name + "” (" + k.ClientID + ") stops working at once and cannot be restored."
		}
		c.render(w, r, s, http.StatusOK, "confirm", v.Heading, v)
		return nil
	}
}

type keyView struct {
	Key             keyRow
	Usage           usageChart
	Back            string     // this page, for its forms to return to
	PrevSecretUntil *time.Time // the rotated-out secret works until then
}

func (c *Console) keyPage(w http.ResponseWriter, r *http.Request, s *session) error {
	k, err := c.svc.GetAPIKey(r.Context(), s.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	u, err := c.svc.APIKeyUsage(r.Context(), s.p, k.ID, usageDays)
	if err != nil {
		return err
	}
	v := keyView{Key: c.row(s, k, time.Now()), Usage: newUsageChart(u), Back: Prefix + "/keys/" + k.ID}
	if k.PrevSecretExpiresAt != nil && k.PrevSecretExpiresAt.After(time.Now()) {
		v.PrevSecretUntil = k.PrevSecretExpiresAt
	}
	c.render(w, r, s, http.StatusOK, "key", k.Name, v)
	return nil
}

const usageDays = 14
