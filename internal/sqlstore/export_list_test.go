package sqlstore

// SetListCountCap sets the matches a key list counts exactly (and beyond
// which it walks its order) until restore is called; not for parallel
// tests.
func SetListCountCap(n int) (restore func()) {
	old := listCountCap
	listCountCap = n
	return func() { listCountCap = old }
}
