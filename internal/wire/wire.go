// Package wire builds keyward's Service and the implementations it runs on:
// the one place that knows which package serves which port of the domain.
// The serve, admin and migrate commands and every test build through it, so
// a Service is never assembled differently in two places.
package wire

import (
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/memstore"
	"github.com/keyward/keyward/internal/oauth"
)

// NewService returns a Service for cfg, filling in the in-process
// implementations of every port cfg leaves empty.
func NewService(cfg keyward.Config) (*keyward.Service, error) {
	now := cfg.Clock()
	if cfg.Limiter == nil {
		cfg.Limiter = memstore.NewLimiter(now)
	}
	if cfg.NonceStore == nil {
		cfg.NonceStore = memstore.NewNonceStore(now)
	}
	if cfg.Tokens == nil && cfg.Store != nil {
		issuer, loginIssuer := cfg.Issuers()
		tokens, err := oauth.New(oauth.Config{Store: cfg.Store, MasterKey: cfg.MasterKey, Logger: cfg.Logger, Now: now,
			Issuer: issuer, LoginIssuer: loginIssuer, Algorithm: cfg.TokenAlgorithm, Rotation: cfg.SigningKeyRotation})
		if err != nil {
			return nil, err
		}
		cfg.Tokens = tokens
	}
	return keyward.NewService(cfg)
}
