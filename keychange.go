package keyward

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// A change to an API key (create, update, replace) is made in steps, each
// a function of its own:
//
//  1. validateKeyInput: is the input well formed? Pure.
//  2. resolveKeyRefs: the owner and permissions it names, looked up in the
//     tenant.
//  3. applyKeyInput: set the fields on the key. Pure, and cannot fail.
//  4. authorizeKey: the policy (policy.go) decides whether the caller may
//     turn the key as it was into the key as it will be.

// validateKeyInput returns what is wrong with in on its own: lengths,
// ranges, formats. prev is the key before the change (nil on create).
func validateKeyInput(in APIKeyInput, prev *APIKey, now time.Time) fieldErrors {
	var f fieldErrors
	if name, ok := in.newName(prev == nil); ok {
		checkText(&f, "name", name, true, MaxNameLen)
	}
	if in.Description != nil {
		checkText(&f, "description", *in.Description, false, MaxDescriptionLen)
	}
	if in.DeviceName != nil {
		checkText(&f, "deviceName", *in.DeviceName, false, MaxNameLen)
	}
	if in.Level != nil {
		checkLevel(&f, "level", *in.Level)
	}
	checkExpiry(&f, in, now)
	if l := in.TokenLifespanSeconds; l != nil && (*l < MinTokenLifespan || *l > MaxTokenLifespan) {
		f.add("tokenLifespanSeconds", "must be between 60 and 86400")
	}
	checkKeyLimits(&f, in)
	if on := in.HMACEnabled; on != nil && *on && prev != nil && !prev.HMACEnabled {
		f.add("hmacEnabled", "can only be turned on when the key is created or rotated (POST .../rotate with hmacEnabled)")
	}
	if in.Audiences != nil {
		checkAudiences(&f, "audiences", *in.Audiences)
	}
	if in.hasMeta() {
		checkMeta(&f, in.Meta)
	}
	if o := in.OwnerID; o != nil && *o != "" && !secret.ValidID(*o) {
		f.add("ownerId", "must be a user id")
	}
	if list, ok := in.AllowedCIDRs.Get(); ok {
		_, errs := ParseAllowedCIDRs("allowedCidrs", list)
		f = append(f, errs...)
	}
	return f
}

// checkExpiry validates expiresAt or expiresIn.
func checkExpiry(f *fieldErrors, in APIKeyInput, now time.Time) {
	at, ok := in.ExpiresAt.Get()
	switch {
	case ok && in.ExpiresIn != nil:
		f.add("expiresIn", "give expiresAt or expiresIn, not both")
	case in.ExpiresIn != nil:
		checkExpiresIn(f, *in.ExpiresIn)
	case !ok:
	case !at.After(now):
		f.add("expiresAt", "must be in the future")
	case at.Sub(now) > MaxExpiresIn*time.Second:
		f.add("expiresAt", "must be at most ten years from now")
	}
}

func checkExpiresIn(f *fieldErrors, seconds int64) {
	if seconds < 1 || seconds > MaxExpiresIn {
		f.add("expiresIn", "must be between 1 and "+strconv.Itoa(MaxExpiresIn)+" seconds")
	}
}

// checkKeyLimits validates what bounds a key's use: its rate limit, its
// credits and its named limits.
func checkKeyLimits(f *fieldErrors, in APIKeyInput) {
	if l, ok := in.RateLimit.Get(); ok {
		checkRateLimit(f, "rateLimit", l)
	}
	if c, ok := in.Credits.Get(); ok {
		c = c.normalized()
		checkCredits(f, &c)
	}
	if in.RateLimits != nil {
		checkNamedRateLimits(f, *in.RateLimits)
	}
}

// newName returns the name in sets, trimmed, and whether it sets one: a
// create always does ("" when left out, which is refused).
func (in APIKeyInput) newName(create bool) (string, bool) {
	switch {
	case in.Name != nil:
		return strings.TrimSpace(*in.Name), true
	case create:
		return "", true
	}
	return "", false
}

// hasMeta reports whether in sets meta (null leaves it as it is).
func (in APIKeyInput) hasMeta() bool { return in.Meta != nil && string(in.Meta) != "null" }

// keyRefs are the owner and permissions an input names, found in the
// key's tenant.
type keyRefs struct {
	ownerID     *string      // the user OwnerUserName names; nil: not given
	permissions []Permission // nil: not given
}

// resolveKeyRefs looks up the owner (by userName) and the permissions in
// names, adding the unknown ones to f.
func resolveKeyRefs(ctx context.Context, tx StoreTx, tenantID string, in APIKeyInput, f *fieldErrors) (keyRefs, error) {
	var refs keyRefs
	if name := in.OwnerUserName; name != nil {
		switch u, err := tx.GetUserByName(ctx, tenantID, *name); {
		case err == nil:
			refs.ownerID = &u.ID
		case ErrorCode(err) == ENOTFOUND:
			f.add("userName", "no user "+strconv.Quote(*name)+" in this tenant")
		default:
			return refs, err
		}
	}
	if in.Permissions != nil {
		perms, err := resolvePermissions(ctx, tx, tenantID, *in.Permissions, f)
		if err != nil {
			return refs, err
		}
		refs.permissions = perms
	}
	return refs, nil
}

// applyKeyInput sets on k what a valid in changes, with the references it
// resolved to.
func applyKeyInput(k *APIKey, in APIKeyInput, refs keyRefs, now time.Time) {
	if name, ok := in.newName(false); ok {
		k.Name = name
	}
	setIfGiven(&k.Description, in.Description)
	setIfGiven(&k.DeviceName, in.DeviceName)
	setIfGiven(&k.Level, in.Level)
	setIfGiven(&k.IsActive, in.IsActive)
	setIfGiven(&k.TokenLifespanSeconds, in.TokenLifespanSeconds)
	setIfGiven(&k.ActsAsOwner, in.ActsAsOwner)
	setIfGiven(&k.OwnerID, in.OwnerID)
	setIfGiven(&k.OwnerID, refs.ownerID)
	applyExpiry(k, in, now)
	applyKeyLimits(k, in, now)
	if in.HMACEnabled != nil {
		k.HMACEnabled = *in.HMACEnabled
		if !k.HMACEnabled {
			k.SecretCiphertext, k.PrevSecretCiphertext = nil, nil
		}
	}
	if in.Audiences != nil {
		k.Audiences = nil
		if len(*in.Audiences) > 0 {
			k.Audiences = append(Audiences{}, *in.Audiences...)
		}
	}
	if in.hasMeta() {
		k.Meta = in.Meta
	}
	if !in.AllowedCIDRs.IsZero() {
		list, _ := in.AllowedCIDRs.Get() // null: none, as []
		k.AllowedCIDRs, _ = ParseAllowedCIDRs("allowedCidrs", list)
	}
	if refs.permissions != nil {
		k.Permissions = refs.permissions
	}
}

// applyExpiry sets k's expiry from expiresIn, expiresAt or null.
func applyExpiry(k *APIKey, in APIKeyInput, now time.Time) {
	switch at, ok := in.ExpiresAt.Get(); {
	case in.ExpiresIn != nil:
		t := now.Add(time.Duration(*in.ExpiresIn) * time.Second)
		k.ExpiresAt = &t
	case ok:
		k.ExpiresAt = normalizeTime(&at)
	case in.ExpiresAt.IsNull():
		k.ExpiresAt = nil
	}
}

// applyKeyLimits sets k's rate limit, credits and named limits.
func applyKeyLimits(k *APIKey, in APIKeyInput, now time.Time) {
	in.RateLimit.setOrClear(&k.RateLimit)
	if c, ok := in.Credits.Get(); ok {
		c = c.normalized()
		if c.Refill != nil {
			c.Period = c.Refill.periodStart(now).Unix()
		}
		k.Credits = &c
	} else if in.Credits.IsNull() {
		k.Credits = nil
	}
	if in.RateLimits != nil {
		k.RateLimits = sortNamedRateLimits(*in.RateLimits)
	}
}

// checkKey validates the key a change makes, beyond each field on its own.
func checkKey(k *APIKey) error {
	if k.ActsAsOwner && k.OwnerID == "" {
		return Invalid(FieldError{Field: "actsAsOwner", Message: "needs an owner (ownerId)"})
	}
	return nil
}

// setIfGiven sets *dst to *v unless v is nil.
func setIfGiven[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// normalized returns a copy of c, its refill copied too, with a monthly
// refill's day defaulting to the 1st.
func (c Credits) normalized() Credits {
	if c.Refill != nil {
		r := *c.Refill
		if r.Interval == RefillMonthly && r.DayOfMonth == 0 {
			r.DayOfMonth = 1
		}
		c.Refill = &r
	}
	return c
}
