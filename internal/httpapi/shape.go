package httpapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"github.com/keyward/keyward"
)

// jsonShape is what member names a JSON value decoded into a Go type may
// use: an object's exact member names (members, each with its value's
// shape), or an array's elements' shape (elem). A nil shape checks
// nothing: a value of a free-form type (a map, any, json.RawMessage such
// as meta, whose member names are data), or one whose type decodes itself.
type jsonShape struct {
	members map[string]*jsonShape
	elem    *jsonShape
}

// shapes caches shapeOf by type: a type's shape is derived once.
var shapes sync.Map // reflect.Type → *jsonShape

// shapeOf returns the shape of what v (a pointer, as given to a decoder)
// decodes, derived from its json tags as encoding/json reads them.
func shapeOf(v any) *jsonShape {
	t := reflect.TypeOf(v)
	if s, ok := shapes.Load(t); ok {
		return s.(*jsonShape)
	}
	s := shapeOfType(t, map[reflect.Type]*jsonShape{})
	shapes.Store(t, s)
	return s
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	optionalPkg     = reflect.TypeFor[keyward.Optional[int]]().PkgPath()
)

// shapeOfType is shapeOf for t; seen holds the shapes being derived (a
// type that holds itself).
func shapeOfType(t reflect.Type, seen map[reflect.Type]*jsonShape) *jsonShape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v, ok := optionalValue(t); ok {
		return shapeOfType(v, seen)
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return nil // decodes itself (time.Time, json.RawMessage, ...)
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64 bytes
		}
		if e := shapeOfType(t.Elem(), seen); e != nil {
			return &jsonShape{elem: e}
		}
		return nil
	case reflect.Struct:
		if s, ok := seen[t]; ok {
			return s
		}
		s := &jsonShape{members: map[string]*jsonShape{}}
		seen[t] = s
		addMembers(s, t, seen)
		return s
	}
	return nil // a scalar, a map, any
}

// addMembers adds the members of struct t to s, those of its embedded
// structs too (promoted, as encoding/json promotes them).
func addMembers(s *jsonShape, t reflect.Type, seen map[reflect.Type]*jsonShape) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addMembers(s, ft, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.members[name] = shapeOfType(f.Type, seen)
	}
}

// optionalValue returns the type of the value a keyward.Optional[T]
// holds (T): it decodes itself, through a decoder of T.
func optionalValue(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct || t.PkgPath() != optionalPkg || !strings.HasPrefix(t.Name(), "Optional[") {
		return nil, false
	}
	f, ok := t.FieldByName("value")
	if !ok {
		return nil, false
	}
	return f.Type, true
}

// memberPath turns the path of an encoding/json type error (member names
// and, for a member of an embedded struct, that struct's Go name:
// "APIKeyInput.rateLimit.limit") into the JSON member path
// ("rateLimit.limit") by walking shape: no Go name reaches a problem.
func memberPath(field string, shape *jsonShape) string {
	if field == "" {
		return ""
	}
	var out []string
	s := shape
	for _, seg := range strings.Split(field, ".") {
		for s != nil && s.members == nil {
			s = s.elem // an array's elements
		}
		if s == nil {
			out = append(out, seg) // inside a free-form value
			continue
		}
		next, ok := s.members[seg]
		if !ok {
			continue // an embedded struct's Go name
		}
		out = append(out, seg)
		s = next
	}
	return strings.Join(out, ".")
}
