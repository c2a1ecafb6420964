package keyward

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unique"
)

// keyRights is what a key may do, resolved against its tenant's catalog:
// the part of a keySnapshot that keys with the same grant, level and owner
// rights hold alike, shared between them (see rightsMemo). Nothing may
// change it once made.
type keyRights struct {
	// TenantID is the key's tenant (interned): rights are never shared
	// across tenants.
	TenantID    string
	Level       int      // the level it acts with: the key's, within its owner's
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

// internString returns s backed by one shared copy: the tenant and owner
// ids many snapshots hold.
func internString(s string) string { return unique.Make(s).Value() }

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
// change reads a new one), and the entry's rights hold it, so the address
// names that catalog as long as the entry exists.
type rightsInputs struct {
	catalog **Permission // nil for an empty catalog
	n       int
	tenant  string
	grant   string
}

// rightsOf returns the rights of k, owned by owner (nil: none, or not
// active), in a tenant (root or not) whose catalog is given.
func (m *rightsMemo) rightsOf(k *APIKey, owner *User, root bool, catalog []*Permission) *keyRights {
	in := rightsInputs{n: len(catalog), tenant: k.TenantID, grant: grantInputs(k, owner, root)}
	if len(catalog) > 0 {
		in.catalog = &catalog[0]
	}
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
	r := &keyRights{TenantID: internString(k.TenantID), Level: eff.Level, perms: eff.Perms, explicit: explicit,
		catalog: catalog, rootTenant: root, tenantCounter: "tenant:" + internString(k.TenantID)}
	for name := range explicit {
		r.Permissions = append(r.Permissions, name)
	}
	slices.Sort(r.Permissions)
	// A token may carry whatever the key holds, on every key or on its own.
	_, own := (&Principal{Level: eff.Level}).EffectivePermissions(nil)
	r.scopable = maps.Clone(eff.Perms)
	for _, name := range own {
		r.scopable[name] = true
	}
	r.effective = slices.Sorted(maps.Keys(r.scopable))
	return r
}
