package keyward

// LeaseStats reports how many credit leases s took for a request that
// waited for them, and in the background (0, 0 with leases off).
func LeaseStats(s *Service) (waits, prefetches int64) {
	if s.leases == nil {
		return 0, 0
	}
	return s.leases.waits.Load(), s.leases.prefetches.Load()
}
