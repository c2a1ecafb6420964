package secret

import (
	"context"
	"log/slog"
	"strings"
)

// Redacted replaces a secret in a log line.
const Redacted = "[redacted]"

// Redact returns s with every secret-shaped run replaced by Redacted: a
// tenant prefix, "_sk_" and 49 base62 characters. Every WellFormed secret is
// caught, and so is a mistyped one (a wrong checksum is still most of a
// secret).
func Redact(s string) string {
	if !strings.Contains(s, "_sk_") {
		return s
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "_sk_")
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		end := i + 4
		for end < len(rest) && end-i-4 < randomLen+checksumLen && is62(rest[end]) {
			end++
		}
		if end-i-4 < randomLen+checksumLen {
			b.WriteString(rest[:i+4])
			rest = rest[i+4:]
			continue
		}
		start := i
		for start > 0 && i-start < 16 && prefixByte(rest[start-1]) {
			start--
		}
		b.WriteString(rest[:start])
		b.WriteString(Redacted)
		rest = rest[end:]
	}
}

func prefixByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' }

// RedactHandler wraps h so that no secret reaches it: the message and every
// string, error and stringer attribute pass through Redact.
func RedactHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(redactHandler); ok {
		return h
	}
	return redactHandler{h}
}

type redactHandler struct{ h slog.Handler }

func (r redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	if clean(rec) {
		// The common line (the request log): nothing to redact, so no
		// copy of the record.
		return r.h.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redactHandler{r.h.WithAttrs(red)}
}

func (r redactHandler) WithGroup(name string) slog.Handler { return redactHandler{r.h.WithGroup(name)} }

// clean reports whether Redact would change nothing in rec: its message
// and string values hold no "_sk_", and it holds no value whose text only
// shows when formatted (an error, a stringer, bytes, a LogValuer).
func clean(rec slog.Record) bool {
	if strings.Contains(rec.Message, "_sk_") {
		return false
	}
	ok := true
	rec.Attrs(func(a slog.Attr) bool {
		ok = cleanValue(a.Value)
		return ok
	})
	return ok
}

func cleanValue(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindString:
		return !strings.Contains(v.String(), "_sk_")
	case slog.KindGroup:
		for _, a := range v.Group() {
			if !cleanValue(a.Value) {
				return false
			}
		}
		return true
	case slog.KindAny, slog.KindLogValuer:
		return false
	}
	return true // numbers, booleans, durations, times
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, m := range g {
			red[i] = redactAttr(m)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, Redact(x.String()))
		case []byte:
			return slog.String(a.Key, Redact(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
