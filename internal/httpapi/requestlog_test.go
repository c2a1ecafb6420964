package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/secret"
)

// slogRequestLine is the request line as the server wrote it before
// JSONRequestLog: a record through secret.RedactHandler and slog's JSON
// handler.
func slogRequestLine(t time.Time, id, method, route, path string, status int, d time.Duration, remote string) string {
	var buf bytes.Buffer
	h := secret.RedactHandler(slog.NewJSONHandler(&buf, nil))
	rec := slog.NewRecord(t, slog.LevelInfo, "request", 0)
	rec.AddAttrs(slog.String("request_id", id), slog.String("method", method), slog.String("route", route),
		slog.String("path", path), slog.Int("status", status), slog.Duration("duration", d),
		slog.String("remote", remote))
	_ = h.Handle(context.Background(), rec)
	return buf.String()
}

// The hand-written request line is byte for byte the line slog's JSON
// handler writes behind the redaction, secrets, escapes and odd bytes
// included.
func TestRequestLineMatchesSlog(t *testing.T) {
	sec := secret.NewSecret("kw")
	berlin := time.FixedZone("CET", 3600)
	cases := []struct {
		name                            string
		time                            time.Time
		id, method, route, path, remote string
		status                          int
		d                               time.Duration
	}{
		{"plain", time.Date(2026, 11, 28, 5, 1, 2, 123456789, time.UTC), "0123456789abcdef", "GET", "GET /v1/whoami", "/v1/whoami", "127.0.0.1", 200, 1234567 * time.Nanosecond},
		{"whole seconds", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "x", "POST", "POST /v1/keys/verify", "/v1/keys/verify", "::1", 400, 0},
		{"another zone", time.Date(2026, 6, 1, 0, 0, 0, 5000, berlin), "id", "GET", "unmatched", "/nope", "10.0.0.1", 404, time.Hour},
		{"monotonic clock", time.Now(), "id", "GET", "unmatched", "/", "", 500, -1},
		{"secret in the path", time.Unix(0, 0).UTC(), "r", "GET", "GET /v1/apikeys/{id}", "/v1/apikeys/" + sec, "1.2.3.4", 404, 7},
		{"secret in the id", time.Unix(1, 1).UTC(), "abc" + sec, "GET", "unmatched", "/x/" + sec + "/" + sec, "1.2.3.4", 404, 7},
		{"escapes", time.Unix(2, 0).UTC(), `q"b\s`, "G\tE\nT\r", "unmatched", "/a\x00b\x1f\x7f<>&", "1", 200, 1},
		{"unicode", time.Unix(3, 0).UTC(), "é", "GET", "unmatched", "/\u2028\u2029/ü/日本/\U0001F600", "1", 200, 1},
		{"invalid utf-8", time.Unix(4, 0).UTC(), "\xff", "GET", "unmatched", "/\xc3\x28/\xed\xa0\x80/\xf4\x90\x80\x80", "1", 200, 1},
		{"near a secret", time.Unix(5, 0).UTC(), "kw_sk_", "GET", "unmatched", "/kw_sk_short/_sk_", "1", 200, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := string(appendRequestLine(nil, c.time, c.id, c.method, c.route, c.path, c.status, c.d, c.remote))
			want := slogRequestLine(c.time, c.id, c.method, c.route, c.path, c.status, c.d, c.remote)
			if got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			if strings.Contains(c.path+c.id, sec) && strings.Contains(got, sec) {
				t.Fatalf("the line shows the secret: %s", got)
			}
		})
	}
}

// FuzzRequestLine: whatever a client puts in the request id, method and
// path, the hand-written line is the one slog would have written.
func FuzzRequestLine(f *testing.F) {
	sec := secret.NewSecret("kw")
	for _, seed := range []string{"", "/v1/whoami", "/v1/apikeys/" + sec, `"\` + "\x00\u2028\xff", "kw_sk_" + sec} {
		f.Add(seed, seed, int64(0), 200)
	}
	f.Fuzz(func(t *testing.T, id, path string, nanos int64, status int) {
		tm := time.Unix(1_700_000_000, nanos%1e9).UTC()
		got := string(appendRequestLine(nil, tm, id, "GET", "unmatched", path, status, time.Duration(nanos), id))
		want := slogRequestLine(tm, id, "GET", "unmatched", path, status, time.Duration(nanos), id)
		if got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// A JSONRequestLog writes any other record as slog's JSON handler does,
// redacted, and answers Enabled by its level.
func TestJSONRequestLogHandler(t *testing.T) {
	sec := secret.NewSecret("kw")
	var got, want bytes.Buffer
	h := JSONRequestLog(&got, slog.LevelInfo)
	ref := secret.RedactHandler(slog.NewJSONHandler(&want, nil))
	tm := time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC)
	for _, l := range []slog.Handler{h, ref} {
		lg := slog.New(l).With(slog.String("k", sec))
		rec := slog.NewRecord(tm, slog.LevelWarn, "odd "+sec, 0)
		rec.AddAttrs(slog.Any("err", sec), slog.Int("n", 1))
		_ = lg.Handler().Handle(context.Background(), rec)
	}
	if got.String() != want.String() || strings.Contains(got.String(), sec) {
		t.Fatalf("got  %s\nwant %s", got.String(), want.String())
	}
	if h.Enabled(context.Background(), slog.LevelDebug) || !h.Enabled(context.Background(), slog.LevelInfo) {
		t.Fatalf("Enabled: got debug %v info %v, want false true", h.Enabled(context.Background(), slog.LevelDebug), h.Enabled(context.Background(), slog.LevelInfo))
	}
	// Above its level, the request line is not written.
	var quiet bytes.Buffer
	JSONRequestLog(&quiet, slog.LevelWarn).(*jsonRequestLog).requestLine(context.Background(), tm, "id", "GET", "r", "/", 200, 1, "1")
	if quiet.Len() != 0 {
		t.Fatalf("got %q at level warn, want nothing", quiet.String())
	}
}

// BenchmarkRequestLine compares the request line through slog (a record,
// the redaction, the JSON handler) with JSONRequestLog's.
func BenchmarkRequestLine(b *testing.B) {
	ctx, now := context.Background(), time.Now()
	b.Run("slog", func(b *testing.B) {
		h := secret.RedactHandler(slog.NewJSONHandler(io.Discard, nil))
		b.ReportAllocs()
		for b.Loop() {
			rec := slog.NewRecord(now, slog.LevelInfo, "request", 0)
			rec.AddAttrs(slog.String("request_id", "0123456789abcdef"), slog.String("method", "POST"), slog.String("route", "POST /v1/keys/verify"),
				slog.String("path", "/v1/keys/verify"), slog.Int("status", 200), slog.Duration("duration", 123456), slog.String("remote", "127.0.0.1"))
			_ = h.Handle(ctx, rec)
		}
	})
	b.Run("json", func(b *testing.B) {
		h := JSONRequestLog(io.Discard, slog.LevelInfo).(*jsonRequestLog)
		b.ReportAllocs()
		for b.Loop() {
			h.requestLine(ctx, now, "0123456789abcdef", "POST", "POST /v1/keys/verify", "/v1/keys/verify", 200, 123456, "127.0.0.1")
		}
	})
}

type parentKey struct{}

// A request's context answers its id, its unread-body mark and the
// client's address (as keyward.WithClientIP's would), and every other key
// from the context it was given.
func TestRequestStateContext(t *testing.T) {
	parent := context.WithValue(context.Background(), parentKey{}, "parent")
	want := keyward.WithClientIP(parent, "192.0.2.1")
	st := &requestState{Context: parent, id: "abc", ip: "192.0.2.1"}
	if got := requestID(st); got != "abc" {
		t.Errorf("request id: got %q, want abc", got)
	}
	if got, _ := st.Value(ctxUnreadBody).(*unreadBody); got != &st.sw.unread {
		t.Errorf("unread body: got %p, want %p", got, &st.sw.unread)
	}
	if got := st.Value(parentKey{}); got != "parent" {
		t.Errorf("parent's value: got %v, want parent", got)
	}
	if got, wantIP := keyward.ClientIPFrom(st), keyward.ClientIPFrom(want); got != wantIP || got != "192.0.2.1" {
		t.Errorf("client address: got %q, want %q", got, wantIP)
	}
	if got := keyward.ClientIPFrom(&requestState{Context: parent}); got != "" {
		t.Errorf("client address before it is known: got %q, want none", got)
	}
}
