package keyward

// MaxCursorLen bounds APIKeyFilter.Cursor. A cursor holds the sort values
// of a key (a description may be 2,000 characters, and a sort 16 fields):
// the bound only stops abuse, never a cursor keyward made.
const MaxCursorLen = 64 << 10
