//go:build race

package secret

// raceEnabled: the race detector adds allocations of its own.
const raceEnabled = true
