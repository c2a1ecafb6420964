//go:build unix

package sqltest

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time (user and system) the process has used: what
// benchmarks report per key on a machine whose wall time others share.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
