package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/gate"
)

// MaxBodyBytes bounds every JSON request body.
const MaxBodyBytes = 1 << 20

// StatusOf returns the HTTP status for err's code, from the one table
// (keyward.Codes).
func StatusOf(err error) int {
	return keyward.CodeStatus(keyward.ErrorCode(err))
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Code   string               `json:"code"`
	Errors []keyward.FieldError `json:"errors,omitempty"`
}

// ProblemFor builds the problem body for err. Internal errors carry no
// detail: they are logged, never shown.
func ProblemFor(err error) Problem {
	code := keyward.ErrorCode(err)
	status := StatusOf(err)
	p := Problem{
		Type:   "urn:keyward:problem:" + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: keyward.ErrorMessage(err),
		Code:   code,
	}
	var e *keyward.Error
	if errors.As(err, &e) {
		p.Errors = e.Fields
	}
	if code == keyward.EINTERNAL {
		p.Detail, p.Errors = "internal error", nil
	}
	return p
}

// writeError writes err as problem+json, logging internal errors with the
// request id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemFor(err)
	s.ErrorStatus(w, r, err)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// ErrorStatus returns the HTTP status of err from the one table and sets
// the headers that go with it whatever the body's shape: WWW-Authenticate
// on 401, RateLimit-* and Retry-After on 429, Retry-After on 503. Internal
// errors are logged with the request id. Dialects that answer errors in
// their own shape call it (through dialect.Host) so that their statuses and
// headers never drift from the native API's.
func (s *Server) ErrorStatus(w http.ResponseWriter, r *http.Request, err error) int {
	status := StatusOf(err)
	code := keyward.ErrorCode(err)
	if code == keyward.EINTERNAL {
		// A client that went away (its request's context canceled) is no
		// fault of the server's.
		level, msg := slog.LevelError, "internal error"
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			level, msg = slog.LevelInfo, "client went away"
		}
		s.logger.Log(r.Context(), level, msg, slog.String("request_id", requestID(r.Context())),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keyward", Basic realm="keyward"`)
	}
	var e *keyward.Error
	if errors.As(err, &e) && e.Rate != nil {
		setRateHeaders(w.Header(), e.Rate)
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(max(e.Rate.Reset, 1)))
		}
	}
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	return status
}

// setRateHeaders reports a rate limit status (draft RFC RateLimit fields).
func setRateHeaders(h http.Header, st *keyward.RateStatus) {
	h.Set("RateLimit-Limit", strconv.Itoa(st.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(st.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(st.Reset))
}

// encode writes v as JSON with status: json.Marshal's bytes and a newline.
func encode(w http.ResponseWriter, status int, v any) {
	buf := encodeBuffers.Get().(*bytes.Buffer)
	defer putEncodeBuffer(buf)
	buf.Reset()
	if b, ok := appendAnswer(buf.AvailableBuffer(), v); ok {
		buf.Write(b)
	} else if err := json.NewEncoder(buf).Encode(v); err != nil {
		http.Error(w, `{"code":"internal"}`, http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = headerJSON
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Header values every answer that sets them shares, set without the slice
// Header.Set allocates: net/http and keyward only ever replace a header's
// values (Set) or append to them (Add, which copies a full slice), never
// write one in place.
var (
	headerJSON    = []string{"application/json"}
	headerNoStore = []string{"no-store"}
	headerNoCache = []string{"no-cache"}
)

// encodeBuffers are encode's scratch buffers, reused across requests (a
// Write never keeps the bytes it is given); none larger than 64 KiB is kept.
var encodeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putEncodeBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		encodeBuffers.Put(buf)
	}
}

// readBody reads a JSON body of at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := jsonContentType(r); err != nil {
		return nil, err
	}
	return readBodyRaw(w, r)
}

// jsonContentType refuses a Content-Type other than JSON; none is JSON.
func jsonContentType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return keyward.Errorf(keyward.EINVALID, "Content-Type must be application/json")
	}
	return nil
}

// readBodyRaw reads a body of at most MaxBodyBytes, whatever its type.
func readBodyRaw(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err := bodyReadError(err); err != nil {
		return nil, err
	}
	return body, nil
}

// bodyReadError is the answer to an error reading a body of at most
// MaxBodyBytes (http.MaxBytesReader).
func bodyReadError(err error) error {
	if err == nil {
		return nil // before tooLarge, which errors.As moves to the heap
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return keyward.Errorf(keyward.ETOOLARGE, "the request body is larger than %d bytes", MaxBodyBytes)
	} else if err != nil {
		return keyward.Errorf(keyward.EINVALID, "could not read the request body")
	}
	return nil
}

// decode reads a JSON body into v, rejecting unknown fields, members given
// twice (in any object), trailing data and wrong types with a message that
// names the problem.
func decode(w http.ResponseWriter, r *http.Request, v any) ([]byte, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return body, decodeBytes(body, v)
}

func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return keyward.Errorf(keyward.EINVALID, "a JSON body is required")
	}
	if err := gate.JSON(body); err != nil {
		return err
	}
	shape := shapeOf(v)
	if err := refuseDuplicateMembers(body, shape); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return keyward.Errorf(keyward.EINVALID, "malformed JSON at byte %d", syn.Offset)
		case errors.As(err, &typ):
			field := memberPath(typ.Field, shape)
			if field == "" {
				field = "body"
			}
			return keyward.Invalid(keyward.FieldError{Field: field, Message: "must be " + jsonKind(typ.Type.String())})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return keyward.Invalid(keyward.FieldError{Field: name, Message: "unknown field"})
		case errors.Is(err, io.ErrUnexpectedEOF):
			return keyward.Errorf(keyward.EINVALID, "malformed JSON: unexpected end")
		default:
			return keyward.Errorf(keyward.EINVALID, "malformed JSON body")
		}
	}
	// Anything but white space after the value is refused, a stray closing
	// bracket too (dec.More is false before one).
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return keyward.Errorf(keyward.EINVALID, "malformed JSON: data after the object")
	}
	return nil
}

func jsonKind(goType string) string {
	goType = strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "time.Time":
		return "an RFC 3339 time"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "an object" // never a Go type's name
	default:
		return "another kind of value" // never a Go type's name
	}
}

// queryInt parses an optional integer query parameter.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, keyward.Invalid(keyward.FieldError{Field: name, Message: "must be an integer"})
	}
	return n, nil
}

// pageOf reads page and page-size.
func pageOf(r *http.Request) (keyward.Page, error) {
	n, err := queryInt(r, "page", 1)
	if err != nil {
		return keyward.Page{}, err
	}
	size, err := queryInt(r, "page-size", keyward.DefaultPageSize)
	if err != nil {
		return keyward.Page{}, err
	}
	return keyward.ValidatePage(n, size)
}

// ListEnvelope is the paged list shape shared with Carbonext.
type ListEnvelope[T any] struct {
	Items           []T  `json:"items"`
	PageIndex       int  `json:"pageIndex"`
	PageSize        int  `json:"pageSize"`
	TotalPages      int  `json:"totalPages"`
	TotalCount      int  `json:"totalCount"`
	HasPreviousPage bool `json:"hasPreviousPage"`
	HasNextPage     bool `json:"hasNextPage"`
}

// envelope wraps a list page.
func envelope[T any](l keyward.List[T]) ListEnvelope[T] {
	items := l.Items
	if items == nil {
		items = []T{}
	}
	total := l.TotalPages()
	return ListEnvelope[T]{
		Items: items, PageIndex: l.Page.Number, PageSize: l.Page.Size, TotalPages: total, TotalCount: l.TotalCount,
		HasPreviousPage: l.Page.Number > 1, HasNextPage: l.Page.Number < total,
	}
}

// ifMatch parses an If-Match header holding one version: "3" (quoted or
// weak). A missing header or "*" is nil.
func ifMatch(r *http.Request) (*int, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return nil, nil
	}
	v = strings.Trim(strings.TrimPrefix(v, "W/"), `"`)
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, keyward.Errorf(keyward.EPRECONDITION, "If-Match must be the key's ETag, such as \"3\"")
	}
	return &n, nil
}

func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }
