//go:build !unix

package sqltest

import "time"

// ProcessCPU is not measured here.
func ProcessCPU() time.Duration { return 0 }
