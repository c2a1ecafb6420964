package keyward

import (
	"strconv"
	"strings"
)

// Bounds of the lists a request may carry, so that no request costs more
// than a bounded amount and every token fits a header (keyward's own limit
// is 64 KiB: 256 scopes of at most 128 characters, base64-encoded, stay
// well under it).
const (
	// MaxSortTerms bounds the terms of a sort (native sort, Portos $sort).
	MaxSortTerms = 16
	// MaxConditions bounds the filter conditions of a list (Portos NData).
	MaxConditions = 32
	// MaxPermissionRefs bounds the permissions given to a key, a user or a
	// composite permission in one request.
	MaxPermissionRefs = 256
	// MaxTokenScopes bounds the permissions an access token carries, and
	// the terms a token request's scope may name.
	MaxTokenScopes = 256
)

// grantScope returns what a token may carry: everything held when scope is
// empty, else the distinct names of scope, each of which must be held.
// held and holds are the same names, as a list and a set. Linear in held
// + requested.
func grantScope(held []string, holds map[string]bool, scope string) ([]string, error) {
	scope = strings.TrimSpace(scope)
	if scope == "" {
		if len(held) > MaxTokenScopes {
			return nil, Errorf(EINVALIDSCOPE, "a token carries at most %d permissions and this client holds %d: request a scope", MaxTokenScopes, len(held))
		}
		return held, nil
	}
	terms := strings.Fields(scope)
	if len(terms) > MaxTokenScopes {
		return nil, Errorf(EINVALIDSCOPE, "scope may name at most %s permissions", strconv.Itoa(MaxTokenScopes))
	}
	granted := make([]string, 0, len(terms))
	seen := make(map[string]bool, len(terms))
	for _, name := range terms {
		if !holds[name] {
			return nil, Errorf(EINVALIDSCOPE, "the client does not hold %q", name)
		}
		if !seen[name] {
			seen[name] = true
			granted = append(granted, name)
		}
	}
	return granted, nil
}
