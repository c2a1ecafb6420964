package sqlstore

// SetListCountCap sets the matches a key list counts exactly (and beyond
// which it walks its order) until restore is called; not for parallel
// tests.
func SetListCountCap(n int) (restore func()) {
	old := listCountCap
	listCountCap = n
	return func() { listCountCap = old }
}

// SetAnchorStride sets the keys between two page anchors until restore is
// called; not for parallel tests.
func SetAnchorStride(n int) (restore func()) {
	old := anchorStride
	anchorStride = n
	return func() { anchorStride = old }
}

// Anchors returns the number of page anchors db holds.
func (db *DB) Anchors() int {
	c := db.store.anchors
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, set := range c.sets {
		n += len(set.vals)
	}
	return n
}

// SetListQueryHook calls hook with each query that reads the keys or sort
// values of a list, and its arguments, until restore is called; not for
// parallel tests.
func SetListQueryHook(hook func(query string, args []any)) (restore func()) {
	old := listQueryHook
	listQueryHook = hook
	return func() { listQueryHook = old }
}

// SetBoundedWalkKeys sets the keys the bounded walk of a name search reads
// (apikeys_namewalk.go) until restore is called; not for parallel tests.
func SetBoundedWalkKeys(n int) (restore func()) {
	old := boundedWalkKeys
	boundedWalkKeys = n
	return func() { boundedWalkKeys = old }
}
