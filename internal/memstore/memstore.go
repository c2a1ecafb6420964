// Package memstore holds keyward's rate-limit counters and the replay guard
// of signed requests in this process's memory: the implementations for a
// single replica, beside redisstore (shared by replicas) and sqlstore.
package memstore

import "github.com/keyward/keyward"

var (
	_ keyward.Limiter    = (*Limiter)(nil)
	_ keyward.NonceStore = (*NonceStore)(nil)
)
