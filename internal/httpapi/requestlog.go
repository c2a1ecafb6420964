package httpapi

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/secret"
)

// JSONRequestLog returns a handler that writes JSON lines to w as
// secret.RedactHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level:
// level})) does, for every record. Given to Server.LogRequestsTo, it also
// lets the server write its request log line straight into a reused buffer
// (the same bytes, with the same redaction): no slog.Record, no attribute
// walk, no handler state. It writes each line with one Write, under a lock
// of its own.
func JSONRequestLog(w io.Writer, level slog.Leveler) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	lw := &lockedWriter{w: w}
	return &jsonRequestLog{
		Handler: secret.RedactHandler(slog.NewJSONHandler(lw, &slog.HandlerOptions{Level: level})),
		w:       lw,
		level:   level,
	}
}

// jsonRequestLog is JSONRequestLog's handler: any record goes through the
// slog handler; the request line (requestLine) is appended by hand.
type jsonRequestLog struct {
	slog.Handler
	w     *lockedWriter
	level slog.Leveler
}

// lockedWriter serializes the writes of the slog handler and of the fast
// request line: the slog handler's own lock does not cover the latter.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// requestLineBuffers are the request lines' scratch buffers (a Write never
// keeps the bytes it is given); none larger than 4 KiB is kept.
var requestLineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// requestLine writes the request log line, as logRequest's record would be
// written by the slog JSON handler behind the redaction: every string
// passed through secret.Redact, then escaped as log/slog escapes it.
func (h *jsonRequestLog) requestLine(ctx context.Context, t time.Time, id, method, route, path string, status int, d time.Duration, remote string) {
	if !h.Handler.Enabled(ctx, slog.LevelInfo) {
		return
	}
	bp := requestLineBuffers.Get().(*[]byte)
	*bp = appendRequestLine((*bp)[:0], t, id, method, route, path, status, d, remote)
	_, _ = h.w.Write(*bp)
	if cap(*bp) <= 4<<10 {
		requestLineBuffers.Put(bp)
	}
}

// appendRequestLine appends the JSON line slog.NewJSONHandler writes for
// the record "request" at level INFO with these attributes, after
// secret.RedactHandler. A time outside the years 0–9999, which slog writes
// with an error appended, never reaches it (time.Now).
func appendRequestLine(b []byte, t time.Time, id, method, route, path string, status int, d time.Duration, remote string) []byte {
	b = append(b, `{"time":"`...)
	b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","request_id":`...)
	b = appendLogString(b, id)
	b = append(b, `,"method":`...)
	b = appendLogString(b, method)
	b = append(b, `,"route":`...)
	b = appendLogString(b, route)
	b = append(b, `,"path":`...)
	b = appendLogString(b, path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, `,"remote":`...)
	b = appendLogString(b, remote)
	return append(b, "}\n"...)
}

// appendLogString appends s redacted (secret.Redact) and quoted as
// log/slog's JSON handler quotes a string.
func appendLogString(b []byte, s string) []byte {
	s = secret.Redact(s)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
