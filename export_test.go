package keyward

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
