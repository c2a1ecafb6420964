package keyward

import (
	"encoding/json"
	"slices"
	"time"
)

// AuditChange is one field a change made, as the audit log records it in
// an entry's details ("changes"): the old and new value, or for sets the
// names added and removed. Secrets never appear: a password change is
// recorded as Withheld, with neither value, and meta (free-form, possibly
// sensitive) likewise.
type AuditChange struct {
	Field    string
	Old, New any // nil: none (no expiry, no rate limit, no owner)
	// Added and Removed are set for sets (permissions, a composite's members).
	Added, Removed []string
	// Withheld is set when the values are not recorded (password, meta).
	Withheld bool
}

// MarshalJSON writes {"field","old","new"}, {"field","added","removed"} or
// {"field","withheld":true}.
func (c AuditChange) MarshalJSON() ([]byte, error) {
	switch {
	case c.Withheld:
		return json.Marshal(struct {
			Field    string `json:"field"`
			Withheld bool   `json:"withheld"`
		}{c.Field, true})
	case c.Added != nil || c.Removed != nil:
		return json.Marshal(struct {
			Field   string   `json:"field"`
			Added   []string `json:"added"`
			Removed []string `json:"removed"`
		}{c.Field, nonNil(c.Added), nonNil(c.Removed)})
	}
	return json.Marshal(struct {
		Field string `json:"field"`
		Old   any    `json:"old"`
		New   any    `json:"new"`
	}{c.Field, c.Old, c.New})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *AuditChange) UnmarshalJSON(b []byte) error {
	var raw struct {
		Field    string    `json:"field"`
		Old      any       `json:"old"`
		New      any       `json:"new"`
		Added    *[]string `json:"added"`
		Removed  *[]string `json:"removed"`
		Withheld bool      `json:"withheld"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*c = AuditChange{Field: raw.Field, Old: raw.Old, New: raw.New, Withheld: raw.Withheld}
	if raw.Added != nil || raw.Removed != nil {
		c.Added, c.Removed = []string{}, []string{}
		if raw.Added != nil {
			c.Added = *raw.Added
		}
		if raw.Removed != nil {
			c.Removed = *raw.Removed
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// changeList collects the changes of one update.
type changeList []AuditChange

func (l *changeList) value(field string, old, new any) {
	*l = append(*l, AuditChange{Field: field, Old: old, New: new})
}

func (l *changeList) set(field string, old, new []string) {
	added, removed := setDiff(old, new)
	if len(added) > 0 || len(removed) > 0 {
		*l = append(*l, AuditChange{Field: field, Added: added, Removed: removed})
	}
}

func (l *changeList) withheld(field string) {
	*l = append(*l, AuditChange{Field: field, Withheld: true})
}

// fields names the changed fields, for the details' "changed" list.
func (l changeList) fields() []string {
	out := make([]string, len(l))
	for i, c := range l {
		out[i] = c.Field
	}
	return out
}

// setDiff returns the names in new but not old, and in old but not new,
// sorted.
func setDiff(old, new []string) (added, removed []string) {
	for _, n := range new {
		if !slices.Contains(old, n) && !slices.Contains(added, n) {
			added = append(added, n)
		}
	}
	for _, o := range old {
		if !slices.Contains(new, o) && !slices.Contains(removed, o) {
			removed = append(removed, o)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

func permNames(ps []Permission) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// timeValue is t for the log, nil when unset.
func timeValue(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func rateValue(r *RateLimit) any {
	if r == nil {
		return nil
	}
	return *r
}

func creditsValue(c *Credits) any {
	if c == nil {
		return nil
	}
	return *c
}

func strValue(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// keyChanges lists what a change made to a key, for the audit log. Secret
// material is never part of it; meta is named without values.
func keyChanges(prev, k *APIKey) changeList {
	var l changeList
	if prev.Name != k.Name {
		l.value("name", prev.Name, k.Name)
	}
	if prev.Description != k.Description {
		l.value("description", prev.Description, k.Description)
	}
	if prev.DeviceName != k.DeviceName {
		l.value("deviceName", prev.DeviceName, k.DeviceName)
	}
	if prev.OwnerID != k.OwnerID {
		l.value("ownerId", strValue(prev.OwnerID), strValue(k.OwnerID))
	}
	if prev.ActsAsOwner != k.ActsAsOwner {
		l.value("actsAsOwner", prev.ActsAsOwner, k.ActsAsOwner)
	}
	if !slices.Equal(prev.Audiences, k.Audiences) {
		l.set("audiences", prev.Audiences, k.Audiences)
	}
	if prev.Level != k.Level {
		l.value("level", prev.Level, k.Level)
	}
	if !samePermissions(prev.Permissions, k.Permissions) {
		l.set("permissions", permNames(prev.Permissions), permNames(k.Permissions))
	}
	if prev.IsActive != k.IsActive {
		l.value("isActive", prev.IsActive, k.IsActive)
	}
	if !sameTime(prev.ExpiresAt, k.ExpiresAt) {
		l.value("expiresAt", timeValue(prev.ExpiresAt), timeValue(k.ExpiresAt))
	}
	if prev.TokenLifespanSeconds != k.TokenLifespanSeconds {
		l.value("tokenLifespanSeconds", prev.TokenLifespanSeconds, k.TokenLifespanSeconds)
	}
	if prev.HMACEnabled != k.HMACEnabled {
		l.value("hmacEnabled", prev.HMACEnabled, k.HMACEnabled)
	}
	if !sameRateLimit(prev.RateLimit, k.RateLimit) {
		l.value("rateLimit", rateValue(prev.RateLimit), rateValue(k.RateLimit))
	}
	if !sameNamedRateLimits(prev.RateLimits, k.RateLimits) {
		l.value("rateLimits", prev.RateLimits, k.RateLimits)
	}
	if !slices.Equal(prev.AllowedCIDRs, k.AllowedCIDRs) {
		l.set("allowedCidrs", prev.AllowedCIDRs, k.AllowedCIDRs)
	}
	if !sameCredits(prev.Credits, k.Credits) {
		l.value("credits", creditsValue(prev.Credits), creditsValue(k.Credits))
	}
	if string(prev.Meta) != string(k.Meta) {
		l.withheld("meta")
	}
	return l
}

// userChanges lists what a change made to a user, for the audit log; a
// new password is recorded as withheld, never its value or hash.
func userChanges(prev, u *User, password bool) changeList {
	var l changeList
	if prev.UserName != u.UserName {
		l.value("userName", prev.UserName, u.UserName)
	}
	if prev.Level != u.Level {
		l.value("level", prev.Level, u.Level)
	}
	if !samePermissions(prev.Permissions, u.Permissions) {
		l.set("permissions", permNames(prev.Permissions), permNames(u.Permissions))
	}
	if prev.IsActive != u.IsActive {
		l.value("isActive", prev.IsActive, u.IsActive)
	}
	if !sameNamedRateLimits(prev.RateLimits, u.RateLimits) {
		l.value("rateLimits", prev.RateLimits, u.RateLimits)
	}
	if password {
		l.withheld("password")
	}
	return l
}

// permissionChanges lists what a change made to a permission: its name,
// description, attributes and members (by name, looked up in catalog).
func permissionChanges(prev, p *Permission, catalog []*Permission) changeList {
	var l changeList
	if prev.Name != p.Name {
		l.value("name", prev.Name, p.Name)
	}
	pd, nd := "", ""
	if prev.Description != nil {
		pd = *prev.Description
	}
	if p.Description != nil {
		nd = *p.Description
	}
	if pd != nd {
		l.value("description", pd, nd)
	}
	a, _ := json.Marshal(prev.Attributes)
	b, _ := json.Marshal(p.Attributes)
	if string(a) != string(b) {
		l.value("attributes", prev.Attributes, p.Attributes)
	}
	names := func(ids []string) []string {
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			name := id
			for _, c := range catalog {
				if c.ID == id {
					name = c.Name
					break
				}
			}
			out = append(out, name)
		}
		return out
	}
	l.set("members", names(prev.Children), names(p.Children))
	return l
}
