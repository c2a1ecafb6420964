package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/console"
	"github.com/keyward/keyward/internal/dialect"
	"github.com/keyward/keyward/internal/dialect/carbonext"
	"github.com/keyward/keyward/internal/dialect/freesewing"
	"github.com/keyward/keyward/internal/dialect/portos"
	"github.com/keyward/keyward/internal/sqlstore"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// The model-based test of the rights model: a reference model of SPEC §3,
// written as plainly as the rules read (sets and levels, no shortcuts), and
// a seeded random walk of operations by random principals through the real
// server: native creates, changes, rotations and deletions, Carbonext and
// FreeSewing creates, Portos creates (acting as their owner, named by
// userName or the caller's) and PUT updates (with and without _v), each
// sent by a signing key NWS4-signed half of the time, and the console's
// forms (rotate, activate or deactivate, delete) posted by signed-in users
// with their form token. After every step the
// server's answer must equal the model's
// (allowed or refused), and every credential must act with exactly the
// rights the model gives it — never more than an active principal covering
// it holds.

var (
	walkSteps = flag.Int("walk.steps", 0, "steps of the authorization random walk (default 250, 150 with -short)")
	walkSeed  = flag.Uint64("walk.seed", 0, "seed of the authorization random walk (default: a few fixed seeds)")
)

// The catalog of the walk's tenant: built-ins, the dialect aliases, two
// custom permissions and a composite of them.
var (
	walkBuiltins = []string{"apikeys:read", "apikeys:write", "apikeys:delete", "permissions:read", "permissions:write",
		"users:read", "users:write", "audit:read", "keys:verify", "tenants:admin"}
	walkComposites = map[string][]string{
		"customer_applications_read": {"apikeys:read"}, "customer_applications_write": {"apikeys:write", "apikeys:delete"},
		"apiKeyCreate": {"apikeys:write"}, "apiKeyUpdate": {"apikeys:write"}, "apiKeyDelete": {"apikeys:delete"},
		"orders": {"orders_read", "orders_write"},
	}
	walkCustom = []string{"orders_read", "orders_write"}
	// walkGrantable are the names a walk step may put in a grant.
	walkGrantable = []string{"orders_read", "orders_write", "orders", "apikeys:read", "apikeys:write", "apikeys:delete",
		"apiKeyCreate", "users:write", "users:read", "audit:read", "keys:verify"}
)

func walkUniverse() []string {
	u := slices.Clone(walkBuiltins)
	u = append(u, walkCustom...)
	for name := range walkComposites {
		u = append(u, name)
	}
	slices.Sort(u)
	return u
}

type set map[string]bool

// expandNames returns names with the members of composites, recursively.
func expandNames(names []string) set {
	out := set{}
	var add func(string)
	add = func(n string) {
		if out[n] {
			return
		}
		out[n] = true
		for _, m := range walkComposites[n] {
			add(m)
		}
	}
	for _, n := range names {
		add(n)
	}
	return out
}

// rights are a level and the permission names held tenant-wide.
type rights struct {
	level int
	perms set
}

// grant returns the rights of a level and explicit permissions in the root
// tenant: the explicit ones expanded; everything at level 8; apikeys:read
// from level 5; apikeys:write and :delete from level 7.
func grant(level int, explicit []string) rights {
	e := expandNames(explicit)
	r := rights{level: level, perms: set{}}
	for _, n := range walkUniverse() {
		switch {
		case e[n], level >= 8:
			r.perms[n] = true
		case n == "apikeys:read" && level >= 5:
			r.perms[n] = true
		case (n == "apikeys:write" || n == "apikeys:delete") && level >= 7:
			r.perms[n] = true
		}
	}
	return r
}

func (r rights) and(o rights) rights {
	out := rights{level: min(r.level, o.level), perms: set{}}
	for n := range r.perms {
		if o.perms[n] {
			out.perms[n] = true
		}
	}
	return out
}

func (r rights) or(o rights) rights {
	out := rights{level: max(r.level, o.level), perms: set{}}
	for n := range r.perms {
		out.perms[n] = true
	}
	for n := range o.perms {
		out.perms[n] = true
	}
	return out
}

func (r rights) covers(t rights) bool {
	if r.level < t.level {
		return false
	}
	for n := range t.perms {
		if !r.perms[n] {
			return false
		}
	}
	return true
}

func (r rights) names() []string {
	out := []string{}
	for n := range r.perms {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

type mUser struct {
	id, name, password string
	level              int
	perms              []string
	active             bool
	token              string // "" once the session ended
}

type mKey struct {
	id, clientID, secret string
	owner                string // user id, "" for none
	level                int
	perms                []string
	active               bool
	holder               string // the principal shown the current secret
	revoked              bool
	actsAsOwner          bool       // a Portos key: acts with its owner's current rights
	hmac                 bool       // signs NWS4 requests
	expires              *time.Time // the key's expiry as stored, nil for none
}

type walkModel struct {
	users map[string]*mUser
	keys  map[string]*mKey
	order []string // ids, to pick deterministically
}

// principal is who acts in a step: a user or a key.
type principal struct {
	user *mUser
	key  *mKey
}

// bounded reports whether p is a key that expires (the walk's keys have no
// other bound): it may create no user and set no password.
func (p principal) bounded() bool { return p.key != nil && p.key.expires != nil }

func (p principal) id() string {
	if p.user != nil {
		return p.user.id
	}
	return p.key.id
}

// ownerID is the user whose keys count as the principal's own.
func (p principal) ownerID() string {
	if p.user != nil {
		return p.user.id
	}
	return p.key.owner
}

func (p principal) String() string {
	if p.user != nil {
		return fmt.Sprintf("user %s (level %d, %v)", p.user.name, p.user.level, p.user.perms)
	}
	return fmt.Sprintf("key %s (level %d, %v, owner %s)", p.key.id[:8], p.key.level, p.key.perms, p.key.owner)
}

func (u *mUser) tokenOrEmpty() string {
	if u == nil {
		return ""
	}
	return u.token
}

func (m *walkModel) userRights(u *mUser) rights { return grant(u.level, u.perms) }

// keyGrant is what the key's secret may do at most: its grant, and for a
// key acting as its owner the owner's rights too (what its holder must
// cover).
func (m *walkModel) keyGrant(k *mKey) rights {
	return m.grantOf(k.owner, k.level, k.perms, k.actsAsOwner)
}

func (m *walkModel) grantOf(owner string, level int, perms []string, actsAsOwner bool) rights {
	g := grant(level, perms)
	if actsAsOwner && owner != "" {
		g = g.or(m.userRights(m.users[owner]))
	}
	return g
}

// works reports whether a key's secret authenticates now.
func (m *walkModel) works(k *mKey) bool {
	if !k.active || k.revoked {
		return false
	}
	if k.owner != "" {
		o := m.users[k.owner]
		return o != nil && o.active
	}
	return true
}

// keyRights are what a working key acts with: its grant within its owner's
// current rights.
func (m *walkModel) keyRights(k *mKey) rights {
	if k.actsAsOwner {
		return m.userRights(m.users[k.owner])
	}
	r := grant(k.level, k.perms)
	if k.owner != "" {
		r = r.and(m.userRights(m.users[k.owner]))
	}
	return r
}

func (m *walkModel) rightsOf(p principal) rights {
	if p.user != nil {
		return m.userRights(p.user)
	}
	return m.keyRights(p.key)
}

// canKey: perm tenant-wide, or on the principal's own keys by level
// (read from 1, write and delete from 4).
func (m *walkModel) canKey(p principal, perm, owner string) bool {
	r := m.rightsOf(p)
	if r.perms[perm] {
		return true
	}
	if owner == "" || owner != p.ownerID() {
		return false
	}
	if perm == "apikeys:read" {
		return r.level >= 1
	}
	return r.level >= 4
}

func (m *walkModel) visible(p principal, k *mKey) bool {
	if p.key != nil && p.key.id == k.id {
		return true
	}
	return m.canKey(p, "apikeys:read", k.owner) || m.canKey(p, "apikeys:write", k.owner)
}

func (m *walkModel) mayOwnerless(p principal) bool {
	return m.rightsOf(p).level >= 8 || (p.key != nil && p.key.owner == "")
}

// mayCreateKey decides a key create by p.
func (m *walkModel) mayCreateKey(p principal, owner string, level int, perms []string, actsAsOwner bool) bool {
	r := m.rightsOf(p)
	if actsAsOwner && owner == "" {
		return false // acting as its owner needs one
	}
	next := m.grantOf(owner, level, perms, actsAsOwner)
	if !m.canKey(p, "apikeys:write", owner) {
		return false
	}
	if owner == "" && !m.mayOwnerless(p) {
		return false
	}
	if !r.covers(next) {
		return false
	}
	if owner != "" && owner != p.ownerID() && !r.covers(m.userRights(m.users[owner])) {
		return false
	}
	return owner == "" || actsAsOwner || level <= m.users[owner].level
}

func (m *walkModel) mayPatchKey(p principal, k *mKey, level int, perms []string) bool {
	r := m.rightsOf(p)
	if !m.visible(p, k) || !m.canKey(p, "apikeys:write", k.owner) || m.keyGrant(k).level > r.level {
		return false
	}
	changed := level != k.level || !sameNames(perms, k.perms)
	if !changed {
		return true
	}
	if k.owner == "" && !m.mayOwnerless(p) {
		return false
	}
	if !r.covers(m.keyGrant(k)) { // as it was
		return false
	}
	if !r.covers(m.grantOf(k.owner, level, perms, k.actsAsOwner)) {
		return false
	}
	return k.owner == "" || k.actsAsOwner || level == k.level || level <= m.users[k.owner].level
}

func (m *walkModel) mayRotate(p principal, k *mKey) bool {
	if p.key != nil && p.key.id == k.id {
		return true
	}
	if !m.visible(p, k) || !m.canKey(p, "apikeys:write", k.owner) {
		return false
	}
	if k.owner == "" && !m.mayOwnerless(p) {
		return false
	}
	// A key that expires rotates (is shown the secret of) only keys that
	// expire no later (README: a key's bounds pass to the keys it makes).
	if p.bounded() && (k.expires == nil || k.expires.After(*p.key.expires)) {
		return false
	}
	return m.rightsOf(p).covers(m.keyGrant(k))
}

func (m *walkModel) mayDeleteKey(p principal, k *mKey) bool {
	// The key's own level, even for a key acting as its owner.
	return m.visible(p, k) && m.canKey(p, "apikeys:delete", k.owner) && k.level <= m.rightsOf(p).level
}

func (m *walkModel) mayChangeUser(p principal, prev, next *rights) bool {
	r := m.rightsOf(p)
	if !r.perms["users:write"] {
		return false
	}
	if prev != nil && (prev.level > r.level || !r.covers(*prev)) {
		return false
	}
	return next == nil || r.covers(*next)
}

func sameNames(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// offboard is the model of a principal losing its access: the secrets it
// was shown die.
func (m *walkModel) offboard(holder string) {
	for _, k := range m.keys {
		if k.holder == holder {
			k.revoked = true
		}
	}
}

func TestAuthorizationWalk(t *testing.T) {
	steps := *walkSteps
	if steps == 0 {
		steps = 250
		if testing.Short() {
			steps = 150
		}
	}
	seeds := []uint64{1, 2, 3}
	if *walkSeed != 0 {
		seeds = []uint64{*walkSeed}
	}
	t.Parallel() // each seed has its own servers: they run beside the other long tests, after the rest
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			sqltest.Backends(t, func(t *testing.T, db *sqlstore.DB) {
				mount := []func(*http.ServeMux, *keyward.Service, dialect.Host){carbonext.Mount, freesewing.Mount, portos.Mount}
				mount = append(mount, func(mux *http.ServeMux, svc *keyward.Service, _ dialect.Host) { console.Mount(mux, svc, nil) })
				walk(t, newServerWith(t, db, mount), db, seed, steps)
			})
		})
	}
}

func walk(t *testing.T, s *server, db *sqlstore.DB, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	m := &walkModel{users: map[string]*mUser{}, keys: map[string]*mKey{}}
	for _, name := range walkCustom {
		s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": name}, 201, nil)
	}
	s.do("POST", "/v1/permissions", s.admin, map[string]any{"name": "orders", "children": refs(walkCustom...)}, 201, nil)
	var who keyward.WhoAmI
	s.do("GET", "/v1/whoami", s.admin, nil, 200, &who)
	var catalog struct{ Items []keyward.Permission }
	s.do("GET", "/v1/permissions?page-size=500", s.admin, nil, 200, &catalog)
	permIDs := map[string]string{}
	for _, c := range catalog.Items {
		permIDs[c.Name] = c.ID
	}
	admin := &mUser{id: who.ID, name: "admin", password: adminPassword, level: 8, active: true, token: s.admin}
	m.users[admin.id] = admin
	m.order = append(m.order, admin.id)

	var trace []string
	consoles := map[string]*consoleBrowser{} // signed-in console sessions, by user id
	tally := map[string]int{}                // allowed and refused steps, by operation
	defer func() { t.Logf("seed %d: %d steps: %v", seed, len(trace), tally) }()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, step %d: %s\nreproduce with: go test ./internal/httpapi -run TestAuthorizationWalk -walk.seed %d -walk.steps %d\nsteps:\n  %s",
			seed, len(trace), fmt.Sprintf(format, args...), seed, len(trace), strings.Join(trace, "\n  "))
	}
	// expiryOf reads the expiry of the key id that p just created, and
	// checks that a key that expires made one that expires no later.
	expiryOf := func(p principal, id string) *time.Time {
		t.Helper()
		k, err := db.GetAPIKey(t.Context(), who.TenantID, id)
		if err != nil {
			fail("reading key %s: %v", id, err)
		}
		if p.key != nil && p.key.expires != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*p.key.expires)) {
			fail("%v (expires %s) made key %s expiring %v: want no later", p, p.key.expires, id, k.ExpiresAt)
		}
		return k.ExpiresAt
	}
	randomPerms := func() []string {
		var out []string
		for _, n := range walkGrantable {
			if rng.IntN(5) == 0 {
				out = append(out, n)
			}
		}
		return out
	}
	randomLevel := func() int { return []int{0, 1, 2, 4, 5, 6, 7, 8}[rng.IntN(8)] }
	// pick returns a random principal that can act now, logging users in
	// whose session ended.
	pick := func() (principal, bool) {
		var cands []principal
		for _, id := range m.order {
			if u := m.users[id]; u != nil && u.active {
				cands = append(cands, principal{user: u})
			} else if k := m.keys[id]; k != nil && m.works(k) {
				cands = append(cands, principal{key: k})
			}
		}
		if len(cands) == 0 {
			return principal{}, false
		}
		p := cands[rng.IntN(len(cands))]
		if p.user != nil && p.user.token == "" {
			p.user.token = s.login("", p.user.name, p.user.password)
		}
		return p, true
	}
	cred := func(p principal) string {
		if p.user != nil {
			return "Bearer " + p.user.token
		}
		return "Bearer " + p.key.secret
	}
	randomUser := func() *mUser {
		var us []*mUser
		for _, id := range m.order {
			if u := m.users[id]; u != nil {
				us = append(us, u)
			}
		}
		return us[rng.IntN(len(us))]
	}
	randomKey := func() *mKey {
		var ks []*mKey
		for _, id := range m.order {
			if k := m.keys[id]; k != nil {
				ks = append(ks, k)
			}
		}
		if len(ks) == 0 {
			return nil
		}
		return ks[rng.IntN(len(ks))]
	}
	// call sends a request as p: with its bearer credential, or — for a
	// key that signs (hmacEnabled), half of the time — NWS4-signed, as
	// Portos clients send, on the native and Portos routes alike.
	call := func(p principal, method, path string, body any, out any) int {
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		var res response
		if p.key != nil && p.key.hmac && !strings.HasPrefix(path, "/v1/customers") && rng.IntN(2) == 0 {
			res = sendNWS4(t, s, method, path, b, p.key.clientID, p.key.secret)
			tally["nws4"]++
		} else if body != nil {
			res = s.raw(method, path, cred(p), strings.NewReader(string(b)))
		} else {
			res = s.raw(method, path, cred(p), nil)
		}
		if res.Status >= 500 {
			fail("%s %s by %v: %d %s", method, path, p, res.Status, res.Body)
		}
		if out != nil && res.Status < 300 {
			json.Unmarshal(res.Body, out)
		}
		return res.Status
	}
	expect := func(desc string, allowed bool, status int) bool {
		t.Helper()
		trace = append(trace, fmt.Sprintf("%s → %d", desc, status))
		ok := status >= 200 && status < 300
		verb := strings.Fields(strings.SplitN(desc, ") ", 2)[len(strings.SplitN(desc, ") ", 2))-1])[0]
		tally[fmt.Sprintf("%s:%v", verb, ok)]++
		if ok != allowed {
			fail("%s: got %d, the model says allowed=%v", desc, status, allowed)
		}
		return ok
	}

	for step := 0; step < steps; step++ {
		p, ok := pick()
		if !ok {
			break // nobody left who can act
		}
		switch op := rng.IntN(13); {
		case op == 0: // create a user
			name := fmt.Sprintf("u%d", step)
			level, perms := randomLevel(), randomPerms()
			allowed := m.mayChangeUser(p, nil, ptrTo(grant(level, perms))) && !p.bounded()
			var u keyward.User
			st := call(p, "POST", "/v1/users", map[string]any{"userName": name, "password": "password-" + name, "level": level, "permissions": refs(perms...)}, &u)
			if expect(fmt.Sprintf("%v creates user %s level %d %v", p, name, level, perms), allowed, st) {
				m.users[u.ID] = &mUser{id: u.ID, name: name, password: "password-" + name, level: level, perms: perms, active: true}
				m.order = append(m.order, u.ID)
			}
		case op == 1: // change a user
			u := randomUser()
			prev := m.userRights(u)
			body := map[string]any{}
			nu := *u
			switch rng.IntN(4) {
			case 0:
				nu.level = randomLevel()
				body["level"] = nu.level
			case 1:
				nu.perms = randomPerms()
				body["permissions"] = refs(nu.perms...)
			case 2:
				if u == admin {
					continue
				}
				nu.active = !u.active
				body["isActive"] = nu.active
			case 3:
				nu.password = "changed-" + fmt.Sprint(step)
				body["password"] = nu.password
			}
			allowed := m.mayChangeUser(p, &prev, ptrTo(m.userRights(&nu)))
			if nu.password != u.password && p.bounded() {
				allowed = false // a key that expires hands out no user credential
			}
			if p.user != nil && p.user.id == u.id && u.active && !nu.active {
				allowed = false // nobody deactivates themselves
			}
			st := call(p, "PATCH", "/v1/users/"+u.id, body, nil)
			if expect(fmt.Sprintf("%v changes user %s: %v", p, u.name, body), allowed, st) {
				deactivated := u.active && !nu.active
				if nu.password != u.password || deactivated {
					nu.token = ""
				}
				*u = nu
				if deactivated {
					for _, k := range m.keys {
						if k.owner == u.id {
							if k.active {
								m.offboard(k.id) // a deactivated key's secrets die too
							}
							k.active = false
						}
					}
					m.offboard(u.id)
				}
			}
		case op == 2: // delete a user (not the admin: the walk needs someone left to act)
			u := randomUser()
			if u == admin {
				continue
			}
			prev := m.userRights(u)
			allowed := m.mayChangeUser(p, &prev, nil) && !(p.user != nil && p.user.id == u.id)
			st := call(p, "DELETE", "/v1/users/"+u.id, nil, nil)
			if expect(fmt.Sprintf("%v deletes user %s", p, u.name), allowed, st) {
				delete(m.users, u.id)
				m.offboard(u.id)
				for id, k := range m.keys {
					if k.owner == u.id {
						delete(m.keys, id)
						m.offboard(id)
					}
				}
			}
		case op == 3: // create a key through a dialect: owned by the caller's owner
			level, perms := randomLevel(), randomPerms()
			var st int
			var id, clientID, sec, surface string
			if rng.IntN(2) == 0 { // Carbonext: level 0, permissions by id
				level, surface = 0, "Carbonext"
				ids := []map[string]string{}
				for _, n := range perms {
					ids = append(ids, map[string]string{"id": permIDs[n]})
				}
				var out struct{ ID, ClientID, ClientSecret string }
				st = call(p, "POST", "/v1/customers/applications?customer-id="+who.TenantID,
					map[string]any{"clientId": fmt.Sprint("app", step), "displayName": fmt.Sprint("app ", step), "permissions": ids}, &out)
				id, clientID, sec = out.ID, out.ClientID, out.ClientSecret
			} else { // FreeSewing: a level, no permissions
				perms, surface = nil, "FreeSewing"
				via, auth := "jwt", "Bearer "+p.user.tokenOrEmpty()
				if p.key != nil {
					via, auth = "key", "Basic "+base64.StdEncoding.EncodeToString([]byte(p.key.clientID+":"+p.key.secret))
				}
				b, _ := json.Marshal(map[string]any{"name": fmt.Sprint("fs", step), "level": level, "expiresIn": 86400})
				res := s.raw("POST", "/apikeys/"+via, auth, strings.NewReader(string(b)))
				st = res.Status
				if st >= 500 {
					fail("FreeSewing create by %v: %d %s", p, st, res.Body)
				}
				var out struct {
					Apikey struct{ ID, Key, Secret string }
				}
				json.Unmarshal(res.Body, &out)
				id, clientID, sec = out.Apikey.ID, out.Apikey.Key, out.Apikey.Secret
			}
			owner := p.ownerID()
			allowed := m.mayCreateKey(p, owner, level, perms, false)
			if expect(fmt.Sprintf("%v creates a key through %s level %d %v", p, surface, level, perms), allowed, st) {
				m.keys[id] = &mKey{id: id, clientID: clientID, secret: sec, owner: owner, level: level, perms: perms,
					active: true, holder: p.id(), expires: expiryOf(p, id)}
				m.order = append(m.order, id)
			}
		case op <= 5: // create a key
			owner := p.ownerID()
			body := map[string]any{"name": fmt.Sprint("k", step)}
			switch rng.IntN(4) {
			case 0:
				owner = randomUser().id
				body["ownerId"] = owner
			case 1:
				owner = ""
				body["ownerId"] = ""
			}
			level, perms, hmac := randomLevel(), randomPerms(), rng.IntN(2) == 0
			body["level"], body["permissions"], body["hmacEnabled"] = level, refs(perms...), hmac
			allowed := m.mayCreateKey(p, owner, level, perms, false)
			var k keyward.IssuedKey
			st := call(p, "POST", "/v1/apikeys", body, &k)
			if expect(fmt.Sprintf("%v creates a key owned by %q level %d %v", p, owner, level, perms), allowed, st) {
				m.keys[k.ID] = &mKey{id: k.ID, clientID: k.ClientID, secret: k.ClientSecret, owner: owner, level: level, perms: perms,
					active: true, holder: p.id(), hmac: hmac, expires: expiryOf(p, k.ID)}
				m.order = append(m.order, k.ID)
			}
		case op == 6: // change a key
			k := randomKey()
			if k == nil {
				continue
			}
			level, perms, active := k.level, k.perms, k.active
			body := map[string]any{}
			switch rng.IntN(3) {
			case 0:
				level = randomLevel()
				body["level"] = level
			case 1:
				perms = randomPerms()
				body["permissions"] = refs(perms...)
			case 2:
				active = !k.active
				body["isActive"] = active
			}
			allowed := m.mayPatchKey(p, k, level, perms)
			st := call(p, "PATCH", "/v1/apikeys/"+k.id, body, nil)
			if expect(fmt.Sprintf("%v changes key %s: %v", p, k.id[:8], body), allowed, st) {
				if k.active && !active {
					m.offboard(k.id)
				}
				k.level, k.perms, k.active = level, perms, active
			}
		case op <= 8: // rotate a key
			k := randomKey()
			if k == nil {
				continue
			}
			allowed := m.mayRotate(p, k)
			var out keyward.IssuedKey
			st := call(p, "POST", "/v1/apikeys/"+k.id+"/rotate", map[string]any{}, &out)
			if expect(fmt.Sprintf("%v rotates key %s (level %d %v owner %q)", p, k.id[:8], k.level, k.perms, k.owner), allowed, st) {
				k.secret = out.ClientSecret
				if p.key == nil || p.key.id != k.id {
					// A key rotating itself stays with whoever was shown the
					// secret it rotated with.
					k.holder, k.revoked = p.id(), false
				}
			}
		case op == 10: // create a key through Portos: acting as its owner (userName, else the caller's)
			owner := p.ownerID()
			body := map[string]any{"name": fmt.Sprint("portos", step)}
			if rng.IntN(2) == 0 {
				u := randomUser()
				owner, body["userName"] = u.id, u.name
			}
			perms, active := randomPerms(), rng.IntN(4) != 0
			body["permissions"] = perms
			if active {
				body["isActive"] = true // else it starts inactive, as Portos keys do
			}
			allowed := m.mayCreateKey(p, owner, 0, perms, true)
			var out struct{ ID, ClientID, ClientSecret string }
			st := call(p, "POST", "/apikeys", body, &out)
			if expect(fmt.Sprintf("%v creates a key through Portos owned by %q %v active %v", p, owner, perms, active), allowed, st) {
				m.keys[out.ID] = &mKey{id: out.ID, clientID: out.ClientID, secret: out.ClientSecret, owner: owner, perms: perms,
					active: active, holder: p.id(), actsAsOwner: true, hmac: true, expires: expiryOf(p, out.ID)}
				m.order = append(m.order, out.ID)
			}
		case op == 11: // update a key through Portos' PUT, with or without _v
			k := randomKey()
			if k == nil {
				continue
			}
			perms, active := k.perms, k.active
			body := map[string]any{}
			if rng.IntN(2) == 0 {
				perms = randomPerms()
				body["permissions"] = append([]string{}, perms...)
			} else {
				active = !k.active
				body["isActive"] = active
			}
			if rng.IntN(2) == 0 {
				cur, err := db.GetAPIKey(t.Context(), who.TenantID, k.id) // the current version, read aside
				if err != nil {
					t.Fatal(err)
				}
				body["_v"] = cur.Version
			}
			allowed := m.mayPatchKey(p, k, k.level, perms)
			st := call(p, "PUT", "/apikeys/"+k.id, body, nil)
			if expect(fmt.Sprintf("%v updates key %s through Portos: %v", p, k.id[:8], body), allowed, st) {
				if k.active && !active {
					m.offboard(k.id)
				}
				k.perms, k.active = perms, active
			}
		case op == 12: // a user changes a key through the console's forms
			k := randomKey()
			if k == nil || p.user == nil {
				continue
			}
			c := consoles[p.user.id]
			if c == nil {
				c = consoleLogin(t, s, p.user.name, p.user.password)
				consoles[p.user.id] = c
			}
			var allowed bool
			var desc string
			var form url.Values
			var path string
			action := rng.IntN(3)
			switch action {
			case 0:
				allowed, desc, path, form = m.mayRotate(p, k), "rotates", "/rotate", url.Values{"grace": {"0"}}
			case 1:
				allowed = m.mayPatchKey(p, k, k.level, k.perms)
				desc, path, form = fmt.Sprintf("sets active=%v on", !k.active), "/active", url.Values{"active": {fmt.Sprint(!k.active)}}
			default:
				allowed, desc, path, form = m.mayDeleteKey(p, k), "deletes", "/delete", url.Values{}
			}
			res := c.post("/console/keys/"+k.id+path, form)
			if res.Status == http.StatusSeeOther && strings.Contains(res.Header.Get("Location"), "/login") {
				// The session ended (a password change, a deactivation):
				// nothing was done; sign in again.
				c = consoleLogin(t, s, p.user.name, p.user.password)
				consoles[p.user.id] = c
				res = c.post("/console/keys/"+k.id+path, form)
			}
			st := res.Status
			if st == http.StatusSeeOther {
				if strings.Contains(res.Header.Get("Location"), "/login") {
					fail("console %s key %s by %v: sent to sign in", desc, k.id[:8], p)
				}
				st = http.StatusOK
			}
			if st >= 500 {
				fail("console %s key %s by %v: %d %s", desc, k.id[:8], p, res.Status, res.Body)
			}
			if expect(fmt.Sprintf("%v %s key %s through the console", p, desc, k.id[:8]), allowed, st) {
				switch action {
				case 0:
					sec := secretRe.FindString(string(res.Body))
					if sec == "" {
						fail("the console's rotation page shows no secret")
					}
					k.secret, k.holder, k.revoked = sec, p.id(), false
				case 1:
					if k.active {
						m.offboard(k.id)
					}
					k.active = !k.active
				default:
					delete(m.keys, k.id)
					m.offboard(k.id)
				}
			}
		default: // delete a key
			k := randomKey()
			if k == nil {
				continue
			}
			allowed := m.mayDeleteKey(p, k)
			st := call(p, "DELETE", "/v1/apikeys/"+k.id, nil, nil)
			if expect(fmt.Sprintf("%v deletes key %s", p, k.id[:8]), allowed, st) {
				delete(m.keys, k.id)
				m.offboard(k.id)
			}
		}
		checkCredentials(t, s, m, fail)
	}
}

// checkCredentials asserts the invariant: every credential works exactly
// when the model says so, with exactly the model's rights — within its
// owner's current rights.
func checkCredentials(t *testing.T, s *server, m *walkModel, fail func(string, ...any)) {
	t.Helper()
	for _, id := range m.order {
		var cred string
		var want rights
		var works bool
		if u := m.users[id]; u != nil {
			if u.token == "" {
				continue
			}
			cred, want, works = u.token, m.userRights(u), u.active
		} else if k := m.keys[id]; k != nil {
			cred, want, works = k.secret, m.keyRights(k), m.works(k)
			if k.owner != "" && works && !m.userRights(m.users[k.owner]).covers(want) {
				fail("the model lets key %s act beyond its owner", k.id)
			}
		} else {
			continue
		}
		res := s.raw("GET", "/v1/whoami", "Bearer "+cred, nil)
		if (res.Status == 200) != works {
			fail("credential %s: whoami got %d, the model says works=%v", id[:8], res.Status, works)
		}
		if res.Status != 200 {
			if u := m.users[id]; u != nil {
				u.token = ""
			}
			continue
		}
		var who keyward.WhoAmI
		json.Unmarshal(res.Body, &who)
		if who.Level != want.level || strings.Join(who.Permissions, " ") != strings.Join(want.names(), " ") {
			fail("credential %s acts with level %d %v; the model says level %d %v", id[:8], who.Level, who.Permissions, want.level, want.names())
		}
	}
}

// sendNWS4 sends one request signed afresh with NWS4 by the key clientID.
func sendNWS4(t *testing.T, s *server, method, path string, body []byte, clientID, sec string) response {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, s.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, err = http.NewRequest(method, s.URL+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	nws4(t, req, body, clientID, sec, time.Now())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// secretRe finds a client secret on a console page.
var secretRe = regexp.MustCompile(`kw_sk_[0-9A-Za-z]{49}`)

// consoleBrowser is a signed-in console session.
type consoleBrowser struct {
	t     *testing.T
	s     *server
	c     *http.Client
	token string // the session's form token, read from a page once
}

// consoleLogin signs user in to the console.
func consoleLogin(t *testing.T, s *server, user, password string) *consoleBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &consoleBrowser{t: t, s: s, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if res := b.do("POST", "/console/login", url.Values{"userName": {user}, "password": {password}}); res.Status != http.StatusSeeOther {
		t.Fatalf("console sign-in as %s: got %d %s", user, res.Status, res.Body)
	}
	return b
}

var formTokenRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post sends form with the session's form token, as the console's pages
// do. A session that ended gets the console's answer: 303 to sign in.
func (b *consoleBrowser) post(path string, form url.Values) response {
	b.t.Helper()
	if b.token == "" {
		page := b.do("GET", "/console/keys", nil)
		m := formTokenRe.FindStringSubmatch(string(page.Body))
		if m == nil {
			if page.Status == http.StatusSeeOther {
				return page
			}
			b.t.Fatalf("no form token on the console's pages: %d", page.Status)
		}
		b.token = m[1]
	}
	form.Set("csrf", b.token)
	return b.do("POST", path, form)
}

func (b *consoleBrowser) do(method, path string, form url.Values) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Origin", b.s.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: out}
}
