package keyward

import (
	"context"
	"time"
)

type storeBudgetKey struct{}

// WithStoreBudget marks ctx so that every store call made with it (or a
// context derived from it) ends by until, however many calls a request
// makes: a server gives each request one database budget, so that a request
// answers within that budget (plus its own work) even when the database
// hangs. Store wrappers read it with StoreBudget.
func WithStoreBudget(ctx context.Context, until time.Time) context.Context {
	return context.WithValue(ctx, storeBudgetKey{}, until)
}

// IsStoreBudgetKey reports whether key is the context key WithStoreBudget
// sets, for a context that answers it itself (its value a time.Time).
func IsStoreBudgetKey(key any) bool {
	_, ok := key.(storeBudgetKey)
	return ok
}

// StoreBudget returns the time by which store calls made with ctx must end,
// if WithStoreBudget set one.
func StoreBudget(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(storeBudgetKey{}).(time.Time)
	return t, ok
}
