package keyward

import "slices"

// LeaseStats reports how many credit leases s took for a request that
// waited for them, and in the background (0, 0 with leases off).
func LeaseStats(s *Service) (waits, prefetches int64) {
	if s.leases == nil {
		return 0, 0
	}
	return s.leases.waits.Load(), s.leases.prefetches.Load()
}

// LeaseHeld is what s's lease of a key holds (0 without one).
func LeaseHeld(s *Service, tenantID, keyID string) int64 {
	if s.leases == nil {
		return 0
	}
	v, ok := s.leases.m.Load(KeyRef{TenantID: tenantID, ID: keyID}.String())
	if !ok {
		return 0
	}
	return max(v.(*creditLease).avail.Load(), 0)
}

// CachedExtrasShared reports whether the cached snapshot of the key with
// secret sec shares its extras with other keys (cached: it is cached).
func CachedExtrasShared(s *Service, sec string) (shared, cached bool) {
	h, _ := lookupHash("", sec)
	snap := s.cache.get(h, s.now())
	if snap == nil {
		return false, false
	}
	return slices.Contains(sharedExtras, snap.keyExtras), true
}

// MissWaiters is the number of cache misses of s waiting for another's
// store read of the same secret (flights.go).
func MissWaiters(s *Service) int { return s.misses.waiting() }

// ReturnLease returns the lease of a key as the idle sweep does.
func ReturnLease(s *Service, tenantID, keyID string) {
	if v, ok := s.leases.m.Load(KeyRef{TenantID: tenantID, ID: keyID}.String()); ok {
		s.leases.closeLease(v.(*creditLease))
	}
}

// OnLeaseWait sets the function a spend calls when it is about to wait
// for another's use of a lease (set it before the spends).
func OnLeaseWait(s *Service, f func()) { s.leases.onWait = f }
