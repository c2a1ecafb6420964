package keyward_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/memstore"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/sqlstore/sqltest"
)

// TestNewServiceRequiresPorts: the domain builds nothing of its own; a
// Config without one of its ports is refused by name (wire fills them in).
func TestNewServiceRequiresPorts(t *testing.T) {
	db := sqltest.SQLite(t)
	master := secret.RandomBytes(32)
	tokens, err := oauth.New(oauth.Config{Store: db, MasterKey: master, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	full := keyward.Config{Store: db, MasterKey: master, Limiter: memstore.NewLimiter(nil),
		NonceStore: memstore.NewNonceStore(time.Now), Tokens: tokens}
	svc, err := keyward.NewService(full)
	if err != nil {
		t.Fatalf("with every port: %v", err)
	}
	svc.Close()
	for name, drop := range map[string]func(*keyward.Config){
		"Store":      func(c *keyward.Config) { c.Store = nil },
		"Limiter":    func(c *keyward.Config) { c.Limiter = nil },
		"NonceStore": func(c *keyward.Config) { c.NonceStore = nil },
		"Tokens":     func(c *keyward.Config) { c.Tokens = nil },
	} {
		cfg := full
		drop(&cfg)
		if _, err := keyward.NewService(cfg); err == nil || !strings.Contains(err.Error(), "Config."+name) {
			t.Errorf("without %s: got %v, want an error naming Config.%s", name, err, name)
		}
	}
}
