package secret

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type stringer string

func (s stringer) String() string { return string(s) }

type valuer string

func (v valuer) LogValue() slog.Value { return slog.StringValue(string(v)) }

// TestRedactHandler logs a secret in every kind of value a line can carry,
// and lines without one (which the handler passes on uncopied): none shows
// a secret, and every clean value shows as it was.
func TestRedactHandler(t *testing.T) {
	sec := NewSecret("kw")
	tests := []struct {
		name  string
		msg   string
		attrs []slog.Attr
		want  string // in the line
	}{
		{"clean", "request", []slog.Attr{slog.String("path", "/v1/whoami"), slog.Int("status", 200),
			slog.Duration("duration", time.Millisecond), slog.Bool("ok", true)}, `path=/v1/whoami status=200 duration=1ms ok=true`},
		{"message", "got " + sec, nil, `msg="got [redacted]"`},
		{"string", "request", []slog.Attr{slog.String("path", "/v1/apikeys/"+sec)}, `path=/v1/apikeys/[redacted]`},
		{"group", "request", []slog.Attr{slog.Group("g", slog.Int("n", 1), slog.String("path", sec))}, `g.n=1 g.path=[redacted]`},
		{"clean group", "request", []slog.Attr{slog.Group("g", slog.Int("n", 1), slog.String("path", "/x"))}, `g.n=1 g.path=/x`},
		{"error", "failed", []slog.Attr{slog.Any("error", errors.New("bad key "+sec))}, `error="bad key [redacted]"`},
		{"stringer", "failed", []slog.Attr{slog.Any("v", stringer(sec))}, `v=[redacted]`},
		{"bytes", "failed", []slog.Attr{slog.Any("v", []byte(sec))}, `v=[redacted]`},
		{"log valuer", "failed", []slog.Attr{slog.Any("v", valuer(sec))}, `v=[redacted]`},
		{"clean error", "failed", []slog.Attr{slog.Any("error", errors.New("timeout"))}, `error=timeout`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(RedactHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}})))
			logger.LogAttrs(t.Context(), slog.LevelInfo, tt.msg, tt.attrs...)
			got := buf.String()
			if strings.Contains(got, sec) || strings.Contains(got, sec[6:]) {
				t.Errorf("got %q: holds the secret", got)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to hold %q", got, tt.want)
			}
		})
	}
}

// BenchmarkRedactHandler logs a request line without a secret.
func BenchmarkRedactHandler(b *testing.B) {
	logger := slog.New(RedactHandler(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
	ctx := b.Context()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		logger.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", "0123456789abcdef"),
			slog.String("method", "GET"), slog.String("route", "GET /v1/whoami"), slog.String("path", "/v1/whoami"),
			slog.Int("status", 200), slog.Duration("duration", time.Duration(i)), slog.String("remote", "127.0.0.1"))
	}
}
