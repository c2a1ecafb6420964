//go:build race

package oauth_test

// raceEnabled: the race detector adds allocations of its own.
const raceEnabled = true
