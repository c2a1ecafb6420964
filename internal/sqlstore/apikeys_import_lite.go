package sqlstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward"
)

// An import on SQLite writes its keys in one statement and its grants in
// another, each reading its rows from one JSON argument with jsonb_each,
// and looks up taken values the same way: one statement however many rows,
// so that SQLite parses no statement of thousands of parameters, opens one
// statement journal (which copies each page the statement changes) and
// flushes the names' full-text index once, instead of once a batch. JSON
// carries text, integers and NULL exactly; blobs travel as hex, which the
// statement unhexes. A string JSON cannot carry byte for byte (not UTF-8,
// or holding a NUL) sends the call back to bound parameters.

// insertKeysLite stores keys and their grants, in the order given, in two
// statements. It returns false, having written nothing, when a value
// cannot be carried as JSON.
func (s *store) insertKeysLite(ctx context.Context, q querier, keys []*keyward.APIKey) (bool, error) {
	rows := make([][]any, len(keys))
	var grants [][]any
	for i, k := range keys {
		rows[i] = s.keyInsertArgs(k)
		for _, p := range k.Permissions {
			grants = append(grants, []any{k.TenantID, k.ID, p.ID})
		}
	}
	// A column of one value in every row (the tenant, the times, the
	// creator, the NULLs of a new key: about half of them in an import) is
	// bound once instead of carried in each row: SQLite finds the nth
	// member of a JSON row by walking the n before it.
	selectList, args, rows := keyInsertSelect(rows)
	keyJSON, ok := jsonRows(make([]byte, 0, 400*len(keys)), rows)
	if !ok {
		return false, nil
	}
	grantJSON, ok := jsonRows(nil, grants)
	if !ok {
		return false, nil
	}
	_, err := q.ExecContext(ctx, `INSERT INTO api_keys (`+keyInsertColumns+`)
		SELECT `+selectList+` FROM jsonb_each(?) ORDER BY key`, append(args, string(keyJSON))...)
	if err != nil {
		return true, writeError(err, "importing api keys", keyConflict)
	}
	if len(grants) == 0 {
		return true, nil
	}
	_, err = q.ExecContext(ctx, `INSERT INTO api_key_permissions (tenant_id, key_id, permission_id)
		SELECT value->>0, value->>1, value->>2 FROM jsonb_each(?) ORDER BY key`, string(grantJSON))
	if err != nil {
		return true, writeError(err, "storing permissions", "permissions must be distinct")
	}
	return true, nil
}

// keyBlobColumns are the positions in keyInsertColumns of the BLOB
// columns: secret_hash, secret_ciphertext, prev_secret_hash and
// prev_secret_ciphertext.
var keyBlobColumns = [...]int{19, 20, 21, 22}

// keyInsertSelect returns the select list that reads keyInsertColumns
// from a jsonb_each row of rows (of keyInsertArgs) encoded by jsonRows,
// the arguments it binds and the rows to encode: a column whose value is
// the same in every row is a parameter, the others are read from the
// JSON row, which holds only them.
func keyInsertSelect(rows [][]any) (selectList string, args []any, varying [][]any) {
	same := make([]bool, keyInsertWidth)
	var cols []int // the varying columns
	for c := range keyInsertWidth {
		same[c] = len(rows) > 1 && !slices.ContainsFunc(rows[1:], func(row []any) bool { return !sameArg(row[c], rows[0][c]) })
		if !same[c] {
			cols = append(cols, c)
		}
	}
	var sb strings.Builder
	j := 0
	for c := range keyInsertWidth {
		if c > 0 {
			sb.WriteString(", ")
		}
		if same[c] {
			sb.WriteString("?")
			args = append(args, rows[0][c])
			continue
		}
		col := "value->>" + strconv.Itoa(j)
		j++
		if slices.Contains(keyBlobColumns[:], c) {
			col = "unhex(" + col + ")"
		}
		sb.WriteString(col)
	}
	varying = make([][]any, len(rows))
	for i, row := range rows {
		varying[i] = make([]any, len(cols))
		for j, c := range cols {
			varying[i][j] = row[c]
		}
	}
	return sb.String(), args, varying
}

// sameArg reports whether two query arguments are certainly equal: of one
// type among those keyInsertArgs makes, and of one value.
func sameArg(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		b, ok := b.(string)
		return ok && a == b
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case int:
		b, ok := b.(int)
		return ok && a == b
	case int64:
		b, ok := b.(int64)
		return ok && a == b
	}
	return false
}

// jsonList encodes values, all strings or all []byte, as a JSON array for
// an IN list, and returns the subquery that reads it back (its one
// parameter a ?). ok is false when a value cannot be carried.
func jsonList(values []any) (list string, in string, ok bool) {
	if len(values) == 0 {
		return "", "", false
	}
	buf := make([]byte, 0, 72*len(values))
	buf = append(buf, '[')
	_, blobs := values[0].([]byte)
	for i, v := range values {
		if _, b := v.([]byte); b != blobs {
			return "", "", false
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		if buf, ok = appendJSONValue(buf, v); !ok {
			return "", "", false
		}
	}
	buf = append(buf, ']')
	if blobs {
		return string(buf), "SELECT unhex(value) FROM json_each(?)", true
	}
	return string(buf), "SELECT value FROM json_each(?)", true
}

// jsonRows appends rows of query arguments to buf as a JSON array of
// arrays. ok is false when a value cannot be carried.
func jsonRows(buf []byte, rows [][]any) (_ []byte, ok bool) {
	buf = append(buf, '[')
	for i, row := range rows {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		for j, v := range row {
			if j > 0 {
				buf = append(buf, ',')
			}
			if buf, ok = appendJSONValue(buf, v); !ok {
				return nil, false
			}
		}
		buf = append(buf, ']')
	}
	return append(buf, ']'), true
}

// appendJSONValue appends v, a query argument, as JSON: a []byte as a hex
// string, a bool as 1 or 0 (as the driver binds it). ok is false for a
// string that is not UTF-8 or holds a NUL, or a type it does not know.
func appendJSONValue(buf []byte, v any) (_ []byte, ok bool) {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...), true
	case string:
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return buf, false
		}
		return appendJSONString(buf, v), true
	case []byte:
		buf = append(buf, '"')
		buf = hex.AppendEncode(buf, v)
		return append(buf, '"'), true
	case bool:
		if v {
			return append(buf, '1'), true
		}
		return append(buf, '0'), true
	case int:
		return strconv.AppendInt(buf, int64(v), 10), true
	case int64:
		return strconv.AppendInt(buf, v, 10), true
	}
	return buf, false
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(buf []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
