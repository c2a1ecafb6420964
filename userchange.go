package keyward

import "strings"

// A change to a user is made like one to a key (keychange.go): validated
// on its own (validateUserCreate, validateUserUpdate), its permissions
// resolved in the tenant, applied (applyUserInput), then authorized by the
// policy (authorizeUser, policy.go).

// validateUserCreate returns what is wrong with a new user's input.
func validateUserCreate(in UserInput) fieldErrors {
	var f fieldErrors
	if !userNameRE.MatchString(in.newUserName()) {
		f.add("userName", "must be 1-64 of letters, digits and . _ @ + -, starting with a letter or digit")
	}
	if in.Password == nil {
		f.add("password", "is required")
	} else if err := validatePassword(*in.Password); err != nil {
		f.add("password", err.(*Error).Fields[0].Message)
	}
	checkUserLimits(&f, in)
	return f
}

// validateUserUpdate returns what is wrong with a change of a user; self
// tells whether the caller is that user.
func validateUserUpdate(in UserInput, self bool) fieldErrors {
	var f fieldErrors
	if in.UserName != nil {
		f.add("userName", "is immutable")
	}
	if in.Password != nil && len(*in.Password) > 1024 {
		f.add("password", "must be at most 1024 bytes")
	} else if in.Password != nil {
		if err := validatePassword(*in.Password); err != nil {
			f.add("password", err.(*Error).Fields[0].Message)
		}
	}
	if in.IsActive != nil && !*in.IsActive && self {
		f.add("isActive", "you cannot deactivate yourself")
	}
	checkUserLimits(&f, in)
	return f
}

// checkUserLimits validates a user's level and named rate limits.
func checkUserLimits(f *fieldErrors, in UserInput) {
	if in.Level != nil {
		checkLevel(f, "level", *in.Level)
	}
	if in.RateLimits != nil {
		checkNamedRateLimits(f, *in.RateLimits)
	}
}

// newUserName is the userName a create asks for, trimmed.
func (in UserInput) newUserName() string {
	if in.UserName == nil {
		return ""
	}
	return strings.TrimSpace(*in.UserName)
}

// applyUserInput sets on u what a valid in changes, with the permissions it
// resolved to (nil: not given) and the hash of its new password ("": none).
func applyUserInput(u *User, in UserInput, perms []Permission, passwordHash string) {
	setIfGiven(&u.Level, in.Level)
	setIfGiven(&u.IsActive, in.IsActive)
	if in.RateLimits != nil {
		u.RateLimits = sortNamedRateLimits(*in.RateLimits)
	}
	if perms != nil {
		u.Permissions = perms
	}
	if passwordHash != "" {
		u.PasswordHash = passwordHash
	}
}
