package keyward

import (
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unique"
	"weak"
)

// keyRights is what a key may do, resolved against its tenant's catalog:
// the part of a keySnapshot that keys with the same grant, level and owner
// rights hold alike, shared between them (see rightsTable). Nothing may
// change it once interned.
type keyRights struct {
	Permissions []string // explicit, composites expanded, sorted
	// explicit holds Permissions as a set: what verify's required
	// permissions are checked against.
	explicit map[string]bool
	// perms holds every permission the key acts with (level-implied
	// included), its grant intersected with its owner's current rights.
	perms map[string]bool
	// effective lists every permission name the key holds, explicit and by
	// level, on every key or on its own: what an access token's scope may
	// ask for. scopable holds the same as a set.
	effective []string
	scopable  map[string]bool
	// catalog is the tenant's catalog the rights were resolved with.
	catalog    []*Permission
	rootTenant bool
	// tenantCounter names the tenant's rate-limit counter.
	tenantCounter string
}

// rightsKey identifies equal keyRights: the catalog they were resolved
// with (by identity: a changed catalog is a new slice), the level and the
// permission sets.
type rightsKey struct {
	catalog *Permission // the first, nil for an empty catalog
	size    int
	sig     string
}

// rightsTable interns keyRights so that a million cached keys with a few
// distinct grants hold a few maps, not three million. It holds them weakly:
// rights no snapshot uses any more are collected and their entry removed.
type rightsTable struct {
	mu sync.Mutex
	m  map[rightsKey]weak.Pointer[keyRights]
}

// intern returns the shared keyRights equal to r (r itself the first time).
func (t *rightsTable) intern(r *keyRights, level int) *keyRights {
	k := rightsKey{size: len(r.catalog), sig: rightsSig(r, level)}
	if len(r.catalog) > 0 {
		k.catalog = r.catalog[0]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if wp, ok := t.m[k]; ok {
		if shared := wp.Value(); shared != nil {
			return shared
		}
	}
	if t.m == nil {
		t.m = map[rightsKey]weak.Pointer[keyRights]{}
	}
	wp := weak.Make(r)
	t.m[k] = wp
	runtime.AddCleanup(r, t.forget, rightsEntry{k, wp})
	return r
}

type rightsEntry struct {
	key rightsKey
	wp  weak.Pointer[keyRights]
}

// forget removes the entry of collected rights, unless it was replaced.
func (t *rightsTable) forget(e rightsEntry) {
	t.mu.Lock()
	if t.m[e.key] == e.wp {
		delete(t.m, e.key)
	}
	t.mu.Unlock()
}

// len is the number of interned rights (for tests).
func (t *rightsTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// rightsSig spells out everything of r beyond its catalog; effective and
// scopable follow from perms and level.
func rightsSig(r *keyRights, level int) string {
	var b strings.Builder
	b.WriteString(r.tenantCounter)
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(level))
	if r.rootTenant {
		b.WriteString("r")
	}
	for _, name := range r.Permissions {
		b.WriteByte(0)
		b.WriteString(name)
	}
	b.WriteByte(1)
	for _, name := range slices.Sorted(maps.Keys(r.perms)) {
		b.WriteByte(0)
		b.WriteString(name)
	}
	return b.String()
}

// internString returns s backed by one shared copy: the tenant and owner
// ids many snapshots hold.
func internString(s string) string { return unique.Make(s).Value() }
