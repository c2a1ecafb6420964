package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

const listPageSize = 25

// userForm is the add-user form.
type userForm struct {
	UserName   string
	Level      int
	Scopes     []string
	RateLimits string // named limits, one "NAME N/WINDOW" a line
	Errors     map[string]string
	Error      string
}

type usersView struct {
	Query   string
	Sort    string                // one of keyward.UserSorts
	Sorts   []keySort             // the order select's choices
	Headers map[string]sortHeader // the sortable columns' headers, by field
	Users   []*keyward.User
	Pager   pager
	Form    userForm
	Catalog []*keyward.Permission
	Levels  []int
	Self    string
	MinPass int
}

func (c *Console) usersView(r *http.Request, s *session, v *usersView) error {
	v.Query = strings.TrimSpace(r.URL.Query().Get("q"))
	v.Sort = r.URL.Query().Get("sort")
	if !slices.Contains(keyward.UserSorts, v.Sort) {
		v.Sort = keyward.UserSorts[0]
	}
	number := pageNumber(r)
	list, err := c.svc.ListUsers(r.Context(), s.p, keyward.UserFilter{Page: keyward.Page{Number: number, Size: listPageSize},
		Query: v.Query, Sort: v.Sort})
	if err != nil {
		return err
	}
	v.Users = list.Items
	v.Pager = newPager(number, listPageSize, list.TotalCount, func(n int) string { return usersURL(v.Query, v.Sort, n) })
	href := func(sort string) string { return usersURL(v.Query, sort, 1) }
	v.Sorts = userSorts
	v.Headers = map[string]sortHeader{
		"userName":  newSortHeader("User name", "", "userName", false, v.Sort, href),
		"level":     newSortHeader("Level", "", "level", true, v.Sort, href),
		"isActive":  newSortHeader("Status", "", "isActive", true, v.Sort, href),
		"createdAt": newSortHeader("Created", "", "createdAt", true, v.Sort, href),
	}
	v.Catalog = c.catalog(r, s)
	for l := 0; l <= s.p.Level; l++ {
		v.Levels = append(v.Levels, l)
	}
	v.Self, v.MinPass = s.p.ID, keyward.MinPasswordLen
	return nil
}

// userSorts are the users list's orders, as keyward.UserSorts.
var userSorts = []keySort{{"userName", "User name A–Z"}, {"-userName", "User name Z–A"}, {"level", "Lowest level first"},
	{"-level", "Highest level first"}, {"isActive", "Inactive first"}, {"-isActive", "Active first"},
	{"createdAt", "Oldest first"}, {"-createdAt", "Newest first"}}

// usersURL is the users list with a search, an order and a page.
func usersURL(query, sort string, page int) string {
	q := url.Values{}
	if query != "" {
		q.Set("q", query)
	}
	if sort != "" && sort != keyward.UserSorts[0] {
		q.Set("sort", sort)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return Prefix + "/users"
	}
	return Prefix + "/users?" + q.Encode()
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s *session) error {
	v := usersView{Form: userForm{Level: 1}}
	if err := c.usersView(r, s, &v); err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "users", "Users", v)
	return nil
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, s *session) error {
	f := userForm{UserName: strings.TrimSpace(r.PostFormValue("userName")), Scopes: r.PostForm["scopes"], Errors: map[string]string{}}
	level, err := strconv.Atoi(r.PostFormValue("level"))
	if err != nil {
		f.Errors["level"] = "Choose a level."
	}
	f.Level = level
	password := r.PostFormValue("password")
	if f.UserName == "" {
		f.Errors["userName"] = "Enter a user name."
	}
	f.RateLimits = r.PostFormValue("rateLimits")
	limits, msg := parseNamedLimits(f.RateLimits)
	if msg != "" {
		f.Errors["rateLimits"] = msg
	}
	if len(f.Errors) == 0 {
		refs := make([]keyward.PermissionRef, 0, len(f.Scopes))
		for _, sc := range f.Scopes {
			refs = append(refs, keyward.PermissionRef{Name: sc})
		}
		in := keyward.UserInput{UserName: &f.UserName, Password: &password, Level: &level, Permissions: &refs}
		if len(limits) > 0 {
			in.RateLimits = &limits
		}
		_, err = c.svc.CreateUser(r.Context(), s.p, in)
		if err == nil {
			http.Redirect(w, r, Prefix+"/users?done=user-added", http.StatusSeeOther)
			return nil
		}
		fields, msg, status, ok := formProblem(err, map[string]string{"permissions": "scopes"})
		if !ok {
			return err
		}
		f.Errors, f.Error = fields, msg
		return c.renderUsers(w, r, s, status, f)
	}
	return c.renderUsers(w, r, s, http.StatusBadRequest, f)
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, s *session, status int, f userForm) error {
	v := usersView{Form: f}
	if err := c.usersView(r, s, &v); err != nil {
		return err
	}
	c.render(w, r, s, status, "users", "Users", v)
	return nil
}

// userEdit is the form that changes a user: level, permissions, password.
type userEdit struct {
	User   *keyward.User
	Level  int
	Scopes []string
	// RateLimits are the named limits, one "NAME N/WINDOW" a line;
	// RateLimitsWas is what the form showed (unchanged: sent nothing).
	RateLimits, RateLimitsWas string
	Catalog                   []*keyward.Permission
	Levels                    []int
	MinPass                   int
	Errors                    map[string]string
	Error                     string
}

func (c *Console) userEdit(r *http.Request, s *session, u *keyward.User) userEdit {
	e := userEdit{User: u, Level: u.Level, Catalog: c.catalog(r, s), MinPass: keyward.MinPasswordLen, Errors: map[string]string{}}
	for l := 0; l <= s.p.Level; l++ {
		e.Levels = append(e.Levels, l)
	}
	for _, p := range u.Permissions {
		e.Scopes = append(e.Scopes, p.Name)
	}
	e.RateLimits = namedLimitsText(u.RateLimits)
	e.RateLimitsWas = e.RateLimits
	return e
}

func (c *Console) editUserPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if !s.p.Has(keyward.PermUsersWrite) {
		return refuse(http.StatusForbidden, "You cannot change users. Ask an administrator of your tenant.")
	}
	u, err := c.svc.GetUser(r.Context(), s.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "useredit", "Edit user", c.userEdit(r, s, u))
	return nil
}

func (c *Console) updateUser(w http.ResponseWriter, r *http.Request, s *session) error {
	u, err := c.svc.GetUser(r.Context(), s.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	e := c.userEdit(r, s, u)
	e.Scopes = r.PostForm["scopes"]
	level, err := strconv.Atoi(r.PostFormValue("level"))
	if err != nil {
		e.Errors["level"] = "Choose a level."
	}
	e.Level = level
	var limits *[]keyward.NamedRateLimit
	if _, sent := r.PostForm["rateLimits"]; sent {
		e.RateLimits, e.RateLimitsWas = r.PostFormValue("rateLimits"), r.PostFormValue("rateLimitsWas")
		if !sameLimitsText(e.RateLimits, e.RateLimitsWas) {
			ls, msg := parseNamedLimits(e.RateLimits)
			if msg != "" {
				e.Errors["rateLimits"] = msg
			}
			limits = &ls
		}
	}
	if len(e.Errors) == 0 {
		refs := make([]keyward.PermissionRef, 0, len(e.Scopes))
		for _, sc := range e.Scopes {
			refs = append(refs, keyward.PermissionRef{Name: sc})
		}
		in := keyward.UserInput{Level: &level, Permissions: &refs, RateLimits: limits}
		if pw := r.PostFormValue("password"); pw != "" {
			in.Password = &pw
		}
		_, err = c.svc.UpdateUser(r.Context(), s.p, u.ID, in)
		if err == nil {
			http.Redirect(w, r, Prefix+"/users?done=user-changed", http.StatusSeeOther)
			return nil
		}
		fields, msg, status, ok := formProblem(err, map[string]string{"permissions": "scopes"})
		if !ok {
			return err
		}
		e.Errors, e.Error = fields, msg
		c.render(w, r, s, status, "useredit", "Edit user", e)
		return nil
	}
	c.render(w, r, s, http.StatusBadRequest, "useredit", "Edit user", e)
	return nil
}

// maxListed is how many affected keys a confirmation names.
const maxListed = 50

// userKeys lists the keys a user owns in one state (active or inactive).
func (c *Console) userKeys(r *http.Request, s *session, userID, status string) ([]*keyward.APIKey, int, error) {
	list, err := c.svc.ListAPIKeys(r.Context(), s.p, keyward.APIKeyFilter{ExactCount: true, Page: keyward.Page{Number: 1, Size: maxListed},
		OwnerID: userID, Status: status, Sort: "name"})
	if err != nil {
		return nil, 0, err
	}
	return list.Items, list.TotalCount, nil
}

// confirmUserActive asks before a user is deactivated, naming the keys
// that stop with them, or reactivated, offering to turn their keys on again
// (those turned off together with the user are chosen already).
func (c *Console) confirmUserActive(w http.ResponseWriter, r *http.Request, s *session) error {
	u, err := c.svc.GetUser(r.Context(), s.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := confirmView{Action: Prefix + "/users/" + u.ID + "/active", Back: Prefix + "/users"}
	if u.IsActive {
		keys, total, err := c.userKeys(r, s, u.ID, keyward.StatusActive)
		if err != nil {
			return err
		}
		v.Heading, v.Danger = "Deactivate “"+u.UserName+"”?", true
		v.Hidden = [][2]string{{"active", "false"}}
		switch total {
		case 0:
			v.Message = u.UserName + " can no longer sign in. They own no active API keys."
			v.Button = "Deactivate user"
		default:
			verb := " stop"
			if total == 1 {
				verb = " stops"
			}
			v.Message = u.UserName + " can no longer sign in, and the " + plural(total, "active API key") + " they own" + verb + " working now:"
			v.Button = "Deactivate user and " + plural(total, "key")
			for _, k := range keys {
				v.List = append(v.List, k.Name+" ("+k.ClientID+")")
			}
			if total > len(keys) {
				v.List = append(v.List, "and "+strconv.Itoa(total-len(keys))+" more")
			}
		}
		c.render(w, r, s, http.StatusOK, "confirm", v.Heading, v)
		return nil
	}
	keys, total, err := c.userKeys(r, s, u.ID, keyward.StatusInactive)
	if err != nil {
		return err
	}
	v.Heading, v.Button = "Activate “"+u.UserName+"”?", "Activate user"
	v.Hidden = [][2]string{{"active", "true"}}
	v.Message = u.UserName + " can sign in again. Their keys stay off unless you choose them here."
	if total == 0 {
		v.Message = u.UserName + " can sign in again. They own no inactive API keys."
	}
	for _, k := range keys {
		v.Checks = append(v.Checks, confirmCheck{Name: "keys", Value: k.ID, Label: "Also activate " + k.Name + " (" + k.ClientID + ")",
			Checked: c.offWithUser(r, s, k, u)})
	}
	if total > len(keys) {
		v.List = []string{strconv.Itoa(total-len(keys)) + " more inactive keys are not listed: activate them from API Keys."}
	}
	c.render(w, r, s, http.StatusOK, "confirm", v.Heading, v)
	return nil
}

// offWithUser reports whether key k was turned off when user u was: its
// newest deactivation is the user's (the audit log says so; without
// audit:read, the same update time does).
func (c *Console) offWithUser(r *http.Request, s *session, k *keyward.APIKey, u *keyward.User) bool {
	l, err := c.svc.ListAudit(r.Context(), s.p, keyward.AuditFilter{Page: keyward.Page{Number: 1, Size: 1},
		Action: "apikey.deactivate", TargetID: k.ID})
	if err != nil {
		return k.UpdatedAt.Equal(u.UpdatedAt)
	}
	return len(l.Items) == 1 && l.Items[0].At.Equal(u.UpdatedAt)
}

func (c *Console) setUserActive(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	active := r.PostFormValue("active") == "true"
	if _, err := c.svc.UpdateUser(r.Context(), s.p, id, keyward.UserInput{IsActive: &active}); err != nil {
		return err
	}
	done := "user-off"
	if active {
		done = "user-on"
		on := true
		for _, kid := range r.PostForm["keys"] {
			k, err := c.svc.GetAPIKey(r.Context(), s.p, kid)
			if err != nil || k.OwnerID != id || k.IsActive {
				continue // not this user's, or on already
			}
			if _, err := c.svc.UpdateAPIKey(r.Context(), s.p, kid, keyward.APIKeyInput{IsActive: &on}, nil); err != nil {
				return err
			}
			done = "user-on-keys"
		}
	}
	http.Redirect(w, r, Prefix+"/users?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) confirmUserDelete(w http.ResponseWriter, r *http.Request, s *session) error {
	u, err := c.svc.GetUser(r.Context(), s.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := confirmView{Heading: "Delete this user?", Button: "Delete user", Danger: true, Back: Prefix + "/users",
		Action:  Prefix + "/users/" + u.ID + "/delete",
		Message: "“" + u.UserName + "” can no longer sign in, and the keys they own stop working."}
	c.render(w, r, s, http.StatusOK, "confirm", v.Heading, v)
	return nil
}

func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := c.svc.DeleteUser(r.Context(), s.p, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"/users?done=user-gone", http.StatusSeeOther)
	return nil
}

// permForm is the add-permission form.
type permForm struct {
	Name, Description string
	Children          []string
	Errors            map[string]string
	Error             string
}

type permissionsView struct {
	Catalog []*keyward.Permission
	Names   map[string]string // id → name, to show a composite's members
	Form    permForm
}

func (c *Console) permissionsView(r *http.Request, s *session, f permForm) (permissionsView, error) {
	perms, err := c.svc.ListPermissions(r.Context(), s.p)
	if err != nil {
		return permissionsView{}, err
	}
	v := permissionsView{Catalog: perms, Names: map[string]string{}, Form: f}
	for _, p := range perms {
		v.Names[p.ID] = p.Name
	}
	return v, nil
}

func (c *Console) permissionsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := c.permissionsView(r, s, permForm{})
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "permissions", "Permissions", v)
	return nil
}

func (c *Console) createPermission(w http.ResponseWriter, r *http.Request, s *session) error {
	f := permForm{Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description")),
		Children: r.PostForm["children"], Errors: map[string]string{}}
	in := keyward.PermissionInput{Name: &f.Name, Description: &f.Description}
	if len(f.Children) > 0 {
		refs := make([]keyward.PermissionRef, 0, len(f.Children))
		for _, ch := range f.Children {
			refs = append(refs, keyward.PermissionRef{Name: ch})
		}
		in.Children = &refs
	}
	_, err := c.svc.CreatePermission(r.Context(), s.p, in)
	if err == nil {
		http.Redirect(w, r, Prefix+"/permissions?done=perm-added", http.StatusSeeOther)
		return nil
	}
	fields, msg, status, ok := formProblem(err, nil)
	if !ok {
		return err
	}
	f.Errors, f.Error = fields, msg
	v, verr := c.permissionsView(r, s, f)
	if verr != nil {
		return verr
	}
	c.render(w, r, s, status, "permissions", "Permissions", v)
	return nil
}

func (c *Console) confirmPermissionDelete(w http.ResponseWriter, r *http.Request, s *session) error {
	p, err := c.svc.GetPermission(r.Context(), s.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := confirmView{Heading: "Delete this permission?", Button: "Delete permission", Danger: true, Back: Prefix + "/permissions",
		Action:  Prefix + "/permissions/" + p.ID + "/delete",
		Message: "“" + p.Name + "” leaves the catalog. Take it from every key, user and composite that holds it first: keyward refuses to delete a permission in use."}
	c.render(w, r, s, http.StatusOK, "confirm", v.Heading, v)
	return nil
}

func (c *Console) deletePermission(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := c.svc.DeletePermission(r.Context(), s.p, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"/permissions?done=perm-gone", http.StatusSeeOther)
	return nil
}

type auditView struct {
	Action  string
	Actions []string
	Entries []auditRow
	Pager   pager
}

// auditRow is an entry with its actor and target named where the viewer
// may read them.
type auditRow struct {
	*keyward.AuditEntry
	Actor, Target, TargetLink string
	// Gone names a target that no longer exists (from the entry's details),
	// Note says what the entry adds: the fields changed, a refusal's reason,
	// how many logins failed.
	Gone, Note string
	// Changes says what each changed field was and became, one line each.
	Changes []string
}

// auditNote is what an entry's details say, in words.
func auditNote(e *keyward.AuditEntry) (gone, note string, changes []string) {
	var d struct {
		Name, UserName, Reason string
		Changed, DisabledKeys  []string
		Changes                []keyward.AuditChange
		Count                  int
	}
	if len(e.Details) == 0 || json.Unmarshal(e.Details, &d) != nil {
		return "", "", nil
	}
	for _, c := range d.Changes {
		changes = append(changes, changeText(c))
	}
	if len(changes) > 0 {
		d.Changed = nil // the lines say it
	}
	gone = d.Name
	if gone == "" {
		gone = d.UserName
	}
	var parts []string
	if len(d.Changed) > 0 {
		parts = append(parts, "changed "+strings.Join(d.Changed, ", "))
	}
	if n := len(d.DisabledKeys); n > 0 {
		parts = append(parts, strconv.Itoa(n)+" keys disabled with it")
	}
	if d.Reason != "" {
		parts = append(parts, e.Result+": "+d.Reason)
	}
	if d.Count > 0 {
		parts = append(parts, strconv.Itoa(d.Count)+" failed")
	}
	return gone, strings.Join(parts, "; "), changes
}

// changeText is one recorded change in words: "level: 3 → 5",
// "permissions: +orders:read −audit:read", "password: changed".
func changeText(c keyward.AuditChange) string {
	field := c.Field
	if l, ok := auditFieldLabels[field]; ok {
		field = l
	}
	switch {
	case c.Withheld:
		return field + ": changed"
	case c.Added != nil || c.Removed != nil:
		var parts []string
		for _, n := range c.Added {
			parts = append(parts, "+"+n)
		}
		for _, n := range c.Removed {
			parts = append(parts, "−"+n)
		}
		return field + ": " + strings.Join(parts, " ")
	}
	if c.Field == "tokenLifespanSeconds" {
		if o, ok := c.Old.(float64); ok {
			if n, ok := c.New.(float64); ok {
				return field + ": " + lifespanText(int(o)) + " → " + lifespanText(int(n))
			}
		}
	}
	return field + ": " + changeValue(c.Old) + " → " + changeValue(c.New)
}

// auditFieldLabels name the recorded fields in words where the API's names are
// not words.
var auditFieldLabels = map[string]string{"tokenLifespanSeconds": "token lifespan", "isActive": "active", "expiresAt": "expires",
	"rateLimit": "rate limit", "hmacEnabled": "HMAC signing", "ownerId": "owner", "deviceName": "device name",
	"actsAsOwner": "acts as owner", "userName": "user name"}

func changeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case string:
		if v == "" {
			return "“”"
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC().Format("2006-01-02 15:04 UTC")
		}
		return "“" + v + "”"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case map[string]any:
		if l, ok := v["limit"].(float64); ok {
			if w, ok := v["windowSeconds"].(float64); ok {
				return strconv.FormatFloat(l, 'f', -1, 64) + " per " + strconv.FormatFloat(w, 'f', -1, 64) + " s"
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// auditActions are the actions the audit log records, for the filter.
var auditActions = []string{"apikey.create", "apikey.update", "apikey.activate", "apikey.deactivate", "apikey.rotate",
	"apikey.delete", "token.revoke", "user.create", "user.update", "user.delete", "permission.create",
	"permission.update", "permission.delete", "tenant.create", "tenant.update"}

// namer looks up the names of audit actors and targets, once each per page.
type namer struct {
	c     *Console
	r     *http.Request
	s     *session
	names map[string]string
}

func (n *namer) name(kind, id string) string {
	if id == "" {
		return ""
	}
	if v, ok := n.names[kind+id]; ok {
		return v
	}
	ctx, name := n.r.Context(), ""
	switch kind {
	case "apikey":
		if k, err := n.c.svc.GetAPIKey(ctx, n.s.p, id); err == nil {
			name = k.Name
		}
	case "user":
		if u, err := n.c.svc.GetUser(ctx, n.s.p, id); err == nil {
			name = u.UserName
		}
	case "permission":
		if p, err := n.c.svc.GetPermission(ctx, n.s.p, id); err == nil {
			name = p.Name
		}
	case "tenant":
		if t, err := n.c.svc.GetTenant(ctx, n.s.p, id); err == nil {
			name = t.Name
		}
	}
	n.names[kind+id] = name
	return name
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *session) error {
	v := auditView{Action: strings.TrimSpace(r.URL.Query().Get("action"))}
	number := pageNumber(r)
	list, err := c.svc.ListAudit(r.Context(), s.p, keyward.AuditFilter{Page: keyward.Page{Number: number, Size: listPageSize}, Action: v.Action})
	if err != nil {
		return err
	}
	names := &namer{c: c, r: r, s: s, names: map[string]string{}}
	for _, e := range list.Items {
		row := auditRow{AuditEntry: e, Actor: names.name(e.ActorKind, e.ActorID)}
		row.Gone, row.Note, row.Changes = auditNote(e)
		kind, _, _ := strings.Cut(e.Action, ".")
		if kind == "token" {
			kind = "apikey" // a revoked token's target is its key
		}
		row.Target = names.name(kind, e.TargetID)
		if kind == "apikey" && row.Target != "" {
			row.TargetLink = Prefix + "/keys/" + e.TargetID
		}
		v.Entries = append(v.Entries, row)
	}
	v.Actions = auditActions
	v.Pager = newPager(number, listPageSize, list.TotalCount, func(n int) string {
		q := url.Values{"page": {strconv.Itoa(n)}}
		if v.Action != "" {
			q.Set("action", v.Action)
		}
		return Prefix + "/audit?" + q.Encode()
	})
	c.render(w, r, s, http.StatusOK, "audit", "Audit log", v)
	return nil
}
