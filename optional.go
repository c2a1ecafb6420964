package keyward

import (
	"bytes"
	"encoding/json"
)

// Optional is a field of a change that can be left out, set to null or given
// a value: three states a pointer cannot tell apart. Left out, the field
// stays as it is (PATCH) or takes its default (create, replace); null
// clears it. The zero Optional is left out.
//
// In JSON a left-out Optional is an absent member (tag it omitzero), null
// is null and a value is the value's own JSON.
type Optional[T any] struct {
	value T
	state optionalState
}

type optionalState uint8

const (
	optionalLeftOut optionalState = iota
	optionalNull
	optionalGiven
)

// Some returns an Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{value: v, state: optionalGiven} }

// Null returns an Optional that clears its field.
func Null[T any]() Optional[T] { return Optional[T]{state: optionalNull} }

// OptionalOf returns an Optional holding *v, or left out when v is nil.
func OptionalOf[T any](v *T) Optional[T] {
	if v == nil {
		return Optional[T]{}
	}
	return Some(*v)
}

// Get returns the value and whether there is one (neither left out nor
// null).
func (o Optional[T]) Get() (T, bool) { return o.value, o.state == optionalGiven }

// IsNull reports whether the field is to be cleared.
func (o Optional[T]) IsNull() bool { return o.state == optionalNull }

// IsZero reports whether the field was left out (what omitzero asks).
func (o Optional[T]) IsZero() bool { return o.state == optionalLeftOut }

// Ptr returns a pointer to a copy of the value, or nil when there is none.
func (o Optional[T]) Ptr() *T {
	if o.state != optionalGiven {
		return nil
	}
	v := o.value
	return &v
}

// MarshalJSON writes the value, or null (a left-out field is written as
// null too: tag it omitzero to leave it out).
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if o.state != optionalGiven {
		return []byte("null"), nil
	}
	return json.Marshal(o.value)
}

// UnmarshalJSON reads null or a value. The value's unknown members are
// refused, as everywhere in keyward's API.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*o = Null[T]()
		return nil
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*o = Some(v)
	return nil
}

// setOrClear sets *dst to a copy of the value, or to nil when null; a
// left-out field leaves *dst as it is.
func (o Optional[T]) setOrClear(dst **T) {
	switch o.state {
	case optionalGiven:
		*dst = o.Ptr()
	case optionalNull:
		*dst = nil
	}
}

// or returns o, or def when o is left out.
func (o Optional[T]) or(def Optional[T]) Optional[T] {
	if o.state == optionalLeftOut {
		return def
	}
	return o
}
