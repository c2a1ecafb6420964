// Package wire builds keyward's Service and the implementations it runs on:
// the one place that knows which package serves which port of the domain.
// The serve, admin and migrate commands and every test build through it, so
// a Service is never assembled differently in two places.
package wire

import "github.com/keyward/keyward"

// NewService returns a Service for cfg, filling in the in-process
// implementations of every port cfg leaves empty.
func NewService(cfg keyward.Config) (*keyward.Service, error) {
	return keyward.NewService(cfg)
}
