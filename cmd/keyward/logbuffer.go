package main

import (
	"io"
	"sync"
	"time"
)

// logBufferSize is how much of the request log a logBuffer holds before
// writing it at once.
const logBufferSize = 32 << 10

// logBuffer is the one writer of a server's log output. Request log lines
// (Write) are held for at most the buffer's interval, or until
// logBufferSize of them wait, and written together: a busy server makes one
// write(2) for hundreds of requests instead of one each, the largest cost of
// a cached key's request after the handler itself. Every other line goes
// through Direct, which writes the held lines first and then its own at
// once, so the output keeps its order and a warning or error is never late.
// Close writes what is held. A process killed outright loses at most one
// interval of request lines, never a warning or an error.
type logBuffer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// newLogBuffer returns a logBuffer writing to w at least every interval.
func newLogBuffer(w io.Writer, interval time.Duration) *logBuffer {
	b := &logBuffer{w: w, buf: make([]byte, 0, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run(interval)
	return b
}

func (b *logBuffer) run(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.mu.Lock()
			b.flushLocked()
			b.mu.Unlock()
		}
	}
}

// Write holds p (one log line) to be written with the next batch.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > logBufferSize {
		b.flushLocked()
	}
	if b.closed || len(p) > logBufferSize {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Direct returns the writer of lines that must not wait.
func (b *logBuffer) Direct() io.Writer { return directWriter{b} }

type directWriter struct{ b *logBuffer }

func (d directWriter) Write(p []byte) (int, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	d.b.flushLocked()
	return d.b.w.Write(p)
}

// flushLocked writes the held lines; a write error drops them (a log line
// that cannot be written has nowhere else to go).
func (b *logBuffer) flushLocked() {
	if len(b.buf) > 0 {
		b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
}

// Close writes the held lines and stops the timer; later lines are written
// at once.
func (b *logBuffer) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.flushLocked()
	b.mu.Unlock()
	close(b.stop)
	<-b.done
}
