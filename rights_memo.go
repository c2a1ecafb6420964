package keyward

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// keyRights are the rights a key snapshot holds (see snapshotOf): its
// level, every permission it acts with, its explicit ones (as a set and
// sorted) and what its tokens may carry. Shared by every snapshot made from
// the same inputs: nobody may change them.
type keyRights struct {
	level       int
	perms       map[string]bool
	explicit    map[string]bool
	permissions []string
	scopable    map[string]bool
	effective   []string
}

// rightsMemo remembers keyRights by what they are computed from, so that
// a cache miss of a key whose grant, owner and catalog repeat another's
// (most keys of a big tenant) does not compute them again. Its size is
// bounded: it starts over when full.
type rightsMemo struct {
	mu      sync.RWMutex
	entries map[rightsInputs]*keyRights
}

// maxRightsMemo bounds rightsMemo.
const maxRightsMemo = 4096

// rightsInputs names everything keyRights depend on. catalog is the address
// of the catalog's first element: a catalog is never changed once read (a
// change reads a new one), and the key keeps it alive, so the address names
// that catalog as long as the entry exists.
type rightsInputs struct {
	catalog **Permission
	n       int
	grant   string
}

// rightsOf returns the rights of k, owned by owner (nil: none, or not
// active), in a tenant (root or not) whose catalog is given.
func (m *rightsMemo) rightsOf(k *APIKey, owner *User, root bool, catalog []*Permission) *keyRights {
	if len(catalog) == 0 {
		return computeKeyRights(k, owner, root, catalog)
	}
	in := rightsInputs{catalog: &catalog[0], n: len(catalog), grant: grantInputs(k, owner, root)}
	m.mu.RLock()
	r := m.entries[in]
	m.mu.RUnlock()
	if r != nil {
		return r
	}
	r = computeKeyRights(k, owner, root, catalog)
	m.mu.Lock()
	if m.entries == nil || len(m.entries) >= maxRightsMemo {
		m.entries = map[rightsInputs]*keyRights{}
	}
	m.entries[in] = r
	m.mu.Unlock()
	return r
}

// grantInputs spells what of k, owner and the tenant the rights depend on.
func grantInputs(k *APIKey, owner *User, root bool) string {
	var b strings.Builder
	b.Grow(16 + 24*(len(k.Permissions)+1))
	b.WriteString(strconv.Itoa(k.Level))
	if root {
		b.WriteString(" root")
	}
	if k.ActsAsOwner {
		b.WriteString(" owner")
	}
	for _, p := range k.Permissions {
		b.WriteByte(' ')
		b.WriteString(p.ID)
	}
	if owner != nil {
		b.WriteString(" | ")
		b.WriteString(strconv.Itoa(owner.Level))
		for _, p := range owner.Permissions {
			b.WriteByte(' ')
			b.WriteString(p.ID)
		}
	}
	return b.String()
}

// computeKeyRights computes keyRights. A key acts with its grant
// intersected with its owner's rights now (SPEC §3): demoting the owner
// narrows the key at once.
func computeKeyRights(k *APIKey, owner *User, root bool, catalog []*Permission) *keyRights {
	explicit := expand(catalog, k.Permissions)
	eff := grantRights(k.Level, explicit, root, catalog)
	if owner != nil {
		or := grantRights(owner.Level, expand(catalog, owner.Permissions), root, catalog)
		if k.ActsAsOwner {
			eff, explicit = or, or.Perms
		} else {
			eff = eff.intersect(or)
			for name := range explicit {
				if !or.Perms[name] {
					delete(explicit, name)
				}
			}
		}
	}
	r := &keyRights{level: eff.Level, perms: eff.Perms, explicit: explicit}
	for name := range explicit {
		r.permissions = append(r.permissions, name)
	}
	slices.Sort(r.permissions)
	// A token may carry whatever the key holds, on every key or on its own.
	_, own := (&Principal{Level: eff.Level}).EffectivePermissions(nil)
	r.scopable = maps.Clone(eff.Perms)
	for _, name := range own {
		r.scopable[name] = true
	}
	r.effective = slices.Sorted(maps.Keys(r.scopable))
	return r
}
