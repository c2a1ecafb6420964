package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

// Times are TIMESTAMPTZ in PostgreSQL and INTEGER microseconds since the
// Unix epoch in SQLite, so that SQL comparisons and ordering on them are
// exact on both. Go code binds them with s.ts and scans them with
// timeCol/nullTimeCol, which accept either representation and return UTC.

// ts returns t as a query argument.
func (s *store) ts(t time.Time) any {
	if s.pg {
		return t.UTC()
	}
	return t.UnixMicro()
}

// tsPtr returns t as a query argument, nil as NULL.
func (s *store) tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.ts(*t)
}

// timeCol scans a NOT NULL time column.
type timeCol struct{ dst *time.Time }

func (c timeCol) Scan(v any) error {
	t, err := scanTime(v)
	if err != nil {
		return err
	} else if t == nil {
		return errors.New("scanning a time: unexpected NULL")
	}
	*c.dst = *t
	return nil
}

// nullTimeCol scans a nullable time column: NULL is nil.
type nullTimeCol struct{ dst **time.Time }

func (c nullTimeCol) Scan(v any) error {
	t, err := scanTime(v)
	if err != nil {
		return err
	}
	*c.dst = t
	return nil
}

func scanTime(v any) (*time.Time, error) {
	var t time.Time
	switch v := v.(type) {
	case nil:
		return nil, nil
	case int64:
		t = time.UnixMicro(v)
	case time.Time:
		t = v
	default:
		return nil, fmt.Errorf("scanning a time: unexpected %T", v)
	}
	t = t.UTC()
	return &t, nil
}

// nullString returns s as a query argument, "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullBytes returns b as a query argument, nil or empty as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// rawJSON returns JSON text as a query argument: nil is NULL, anything else
// is stored byte for byte.
func rawJSON(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// rawJSONCol scans a nullable JSON text column into a json.RawMessage.
type rawJSONCol struct{ dst *json.RawMessage }

func (c rawJSONCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.dst = nil
	case string:
		*c.dst = json.RawMessage(v)
	case []byte:
		*c.dst = append(json.RawMessage{}, v...)
	default:
		return fmt.Errorf("scanning JSON: unexpected %T", v)
	}
	return nil
}

// attributesArg encodes permission attributes: nil is NULL.
func attributesArg(a map[string][]string) (any, error) {
	if a == nil {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encoding attributes: %w", err)
	}
	return string(b), nil
}

func decodeAttributes(s sql.NullString) (map[string][]string, error) {
	if !s.Valid {
		return nil, nil
	}
	var a map[string][]string
	if err := json.Unmarshal([]byte(s.String), &a); err != nil {
		return nil, fmt.Errorf("decoding attributes: %w", err)
	}
	return a, nil
}

// foldCase lower-cases the ASCII letters of s, exactly as lower() does in
// SQLite and in PostgreSQL on the "C" collation the schema uses: keyward's
// case-insensitive matches fold ASCII only, identically on both databases.
func foldCase(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// containsPattern returns a LIKE pattern (used with ESCAPE '\') matching
// strings that contain q case-insensitively: q's own %, _ and \ match
// literally. Compare it with lower(column).
func containsPattern(q string) string {
	q = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(foldCase(q))
	return "%" + q + "%"
}

// placeholders returns "$from, $from+1, ..." for n arguments.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// whereClause builds a WHERE clause of conditions joined by AND, and its
// arguments.
type whereClause struct {
	conds []string
	args  []any
}

// add appends cond, in which "?" stands for the placeholder of arg.
func (w *whereClause) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args))))
}

func (w *whereClause) String() string { return " WHERE " + strings.Join(w.conds, " AND ") }

// audiencesArg encodes a key's audiences as a JSON array: none is NULL.
func audiencesArg(a keyward.Audiences) any {
	if len(a) == 0 {
		return nil
	}
	b, _ := json.Marshal(a) // a []string always encodes
	return string(b)
}

// audiencesCol scans the audiences column: NULL is none (nil).
type audiencesCol struct{ dst *keyward.Audiences }

func (c audiencesCol) Scan(v any) error {
	var raw []byte
	switch v := v.(type) {
	case nil:
		*c.dst = nil
		return nil
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		return fmt.Errorf("scanning audiences: unexpected %T", v)
	}
	var a []string
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("scanning audiences: %w", err)
	}
	if len(a) == 0 {
		a = nil
	}
	*c.dst = a
	return nil
}
