package main

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy is a TCP proxy on 127.0.0.1 in front of a database or Redis
// that can pause, drop, slow down and reset the traffic it carries, so that
// tests can see how keyward behaves when its dependencies misbehave.
//
//   - pause: bytes are held (both ways, new connections too) until resume;
//     bytes held for a connection whose other end gave up are discarded, as
//     a network that lost them would.
//   - drop: every connection is closed and new ones are closed on arrival.
//   - slow: every chunk is delayed by slowDelay.
//   - resetOn: the next connection whose client sends bytes containing the
//     pattern is reset (RST) before they reach the server: a connection
//     killed in the middle of a transaction.
type faultProxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    string // "", "pause", "drop", "slow"
	resume  chan struct{}
	resetOn []byte
	resets  int
	conns   map[*proxyConn]struct{}
}

const slowDelay = 200 * time.Millisecond

type proxyConn struct {
	client, server net.Conn
	once           sync.Once
	closed         chan struct{}
}

func (c *proxyConn) close(reset bool) {
	c.once.Do(func() {
		if reset {
			for _, n := range []net.Conn{c.client, c.server} {
				if tc, ok := n.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
			}
		}
		c.client.Close()
		c.server.Close()
		close(c.closed)
	})
}

// newFaultProxy listens on 127.0.0.1 and forwards to target (host:port).
func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, target: target, resume: make(chan struct{}), conns: map[*proxyConn]struct{}{}}
	close(p.resume)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.set("")
		p.closeAll(false)
	})
	return p
}

// Addr is the proxy's host:port.
func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// set switches the mode: "" (pass through), "pause", "drop" or "slow".
func (p *faultProxy) set(mode string) {
	p.mu.Lock()
	if p.mode == "pause" && mode != "pause" {
		close(p.resume)
	} else if p.mode != "pause" && mode == "pause" {
		p.resume = make(chan struct{})
	}
	p.mode = mode
	p.mu.Unlock()
	if mode == "drop" {
		p.closeAll(false)
	}
}

// armReset resets the next connection whose client sends pattern.
func (p *faultProxy) armReset(pattern string) {
	p.mu.Lock()
	p.resetOn = []byte(pattern)
	p.mu.Unlock()
}

// resetCount is how many connections armReset has reset.
func (p *faultProxy) resetCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resets
}

// closeAll closes every connection (reset: with RST).
func (p *faultProxy) closeAll(reset bool) {
	p.mu.Lock()
	var cs []*proxyConn
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.close(reset)
	}
}

// gate waits while the proxy is paused and reports the mode to apply.
func (p *faultProxy) gate(c *proxyConn) (mode string, ok bool) {
	for {
		p.mu.Lock()
		mode, resume := p.mode, p.resume
		p.mu.Unlock()
		if mode != "pause" {
			select {
			case <-c.closed:
				return mode, false
			default:
				return mode, true
			}
		}
		select {
		case <-resume:
		case <-c.closed:
			return mode, false
		}
	}
}

func (p *faultProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(client)
	}
}

func (p *faultProxy) serve(client net.Conn) {
	p.mu.Lock()
	mode := p.mode
	p.mu.Unlock()
	if mode == "drop" {
		client.Close()
		return
	}
	c := &proxyConn{client: client, closed: make(chan struct{})}
	if _, ok := p.gate(&proxyConn{client: client, closed: make(chan struct{})}); !ok {
		client.Close()
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	c.server = server
	p.mu.Lock()
	if p.mode == "drop" {
		p.mu.Unlock()
		c.close(false)
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(c, client, server, true) }()
	go func() { defer wg.Done(); p.pipe(c, server, client, false) }()
	wg.Wait()
}

// pipe copies from src to dst chunk by chunk, applying the mode to each.
func (p *faultProxy) pipe(c *proxyConn, src, dst net.Conn, fromClient bool) {
	defer c.close(false)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			mode, ok := p.gate(c)
			if !ok {
				return // the other end gave up: what was held is lost
			}
			if mode == "drop" {
				return
			}
			if fromClient {
				p.mu.Lock()
				hit := len(p.resetOn) > 0 && bytes.Contains(buf[:n], p.resetOn)
				if hit {
					p.resetOn = nil
					p.resets++
				}
				p.mu.Unlock()
				if hit {
					c.close(true)
					return
				}
			}
			if mode == "slow" {
				select {
				case <-time.After(slowDelay):
				case <-c.closed:
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}
