//go:build race

package httpapi

// raceEnabled: the race detector adds allocations of its own.
const raceEnabled = true
