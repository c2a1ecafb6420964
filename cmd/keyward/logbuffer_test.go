package main

import (
	"strings"
	"testing"
	"time"
)

// TestLogBuffer holds request lines until a direct line, a full buffer, the
// interval or Close, and never reorders them.
func TestLogBuffer(t *testing.T) {
	var out lockedBuffer
	b := newLogBuffer(&out, time.Hour)
	b.Write([]byte("request 1\n"))
	b.Write([]byte("request 2\n"))
	if got := out.String(); got != "" {
		t.Fatalf("before any flush: got %q, want nothing written yet", got)
	}
	b.Direct().Write([]byte("warning\n"))
	if got, want := out.String(), "request 1\nrequest 2\nwarning\n"; got != want {
		t.Fatalf("after a direct line: got %q, want %q", got, want)
	}
	line := strings.Repeat("x", 1000) + "\n"
	n := 0
	for len(out.String()) == len("request 1\nrequest 2\nwarning\n") {
		b.Write([]byte(line))
		if n++; n > logBufferSize/len(line)+1 {
			t.Fatalf("%d lines of %d bytes held: want a write once %d bytes wait", n, len(line), logBufferSize)
		}
	}
	b.Write([]byte("request 3\n"))
	b.Close()
	if got := out.String(); !strings.HasSuffix(got, line+"request 3\n") || strings.Count(got, line) != n {
		t.Fatalf("after Close: got %d bytes ending %q, want all %d long lines then request 3", len(got), got[max(len(got)-20, 0):], n)
	}
	b.Write([]byte("late\n"))
	if got := out.String(); !strings.HasSuffix(got, "request 3\nlate\n") {
		t.Fatalf("a line after Close: got %q at the end, want it written at once", got[max(len(got)-20, 0):])
	}
	b.Close() // twice is fine
}

// TestLogBufferInterval writes held lines within the interval.
func TestLogBufferInterval(t *testing.T) {
	var out lockedBuffer
	b := newLogBuffer(&out, 10*time.Millisecond)
	defer b.Close()
	b.Write([]byte("request\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("a held line was not written within 5s of a 10ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := out.String(); got != "request\n" {
		t.Fatalf("got %q, want %q", got, "request\n")
	}
}
