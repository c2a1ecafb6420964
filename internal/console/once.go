package console

import (
	"sync"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// onceTokens remembers the one-time tokens of add-key forms that were
// sent, so a form sent twice (Back after the secret dialog, then Save; a
// double click) creates one key: the second answer shows the key the first
// made. Tokens are kept for an hour, per session, in this process only: a
// form sent twice to two replicas can still make two keys.
type onceTokens struct {
	mu   sync.Mutex
	seen map[string]onceEntry
}

type onceEntry struct {
	keyID string // "" while the first request is still creating it
	at    time.Time
}

const (
	onceTTL = time.Hour
	onceMax = 100_000
)

func newOnceTokens() *onceTokens { return &onceTokens{seen: map[string]onceEntry{}} }

// newOnce is a fresh token for a form.
func newOnce() string { return secret.NewID() }

// claim reserves token for session. It returns ok when this is the first
// use; otherwise keyID is the key the first use made ("" while it is still
// being made, or when it failed and the token may be sent again).
func (o *onceTokens) claim(session, token string, now time.Time) (keyID string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := session + "\x00" + token
	if e, found := o.seen[k]; found && now.Sub(e.at) < onceTTL {
		return e.keyID, false
	}
	if len(o.seen) >= onceMax {
		for key, e := range o.seen {
			if now.Sub(e.at) >= onceTTL {
				delete(o.seen, key)
			}
		}
		if len(o.seen) >= onceMax {
			o.seen = map[string]onceEntry{} // forget all rather than grow without bound
		}
	}
	o.seen[k] = onceEntry{at: now}
	return "", true
}

// done records the key a claimed token made.
func (o *onceTokens) done(session, token, keyID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := session + "\x00" + token
	if e, found := o.seen[k]; found {
		e.keyID = keyID
		o.seen[k] = e
	}
}

// release forgets a claimed token whose request failed, so the corrected
// form can be sent with it again.
func (o *onceTokens) release(session, token string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.seen, session+"\x00"+token)
}
