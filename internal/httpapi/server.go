// Package httpapi serves keyward's native HTTP API (/v1), the operational
// endpoints (/healthz, /readyz, /metrics) and the OpenAPI document. Handlers
// translate HTTP into Service calls and back; they decide nothing themselves.
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/gate"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signature"
)

// Server is the HTTP face of a Service.
type Server struct {
	svc    *keyward.Service
	logger *slog.Logger
	// requestLog receives the request log lines (LogRequestsTo); the
	// logger's handler by default.
	requestLog slog.Handler
	metrics    *metrics
	mux        *http.ServeMux
	handler    http.Handler
	// proxies are the load balancers whose X-Forwarded-For is believed.
	proxies clientaddr.Proxies
	// fastLog is requestLog when it is a JSONRequestLog: the request line
	// is then appended by hand, the same bytes.
	fastLog *jsonRequestLog
	// budget, when positive, is every request's store budget (StoreBudget).
	budget time.Duration
}

// StoreBudget gives every request one database budget of d from its
// arrival (keyward.WithStoreBudget): all the store calls it makes together
// end within d. Set in the request's context with the request id, it costs
// no copy of the request of its own. Call it before serving.
func (s *Server) StoreBudget(d time.Duration) { s.budget = d }

// TrustProxies makes the server take the client's address from
// X-Forwarded-For when the request comes from one of prefixes (the load
// balancers in front of keyward): the right-most address not itself a
// trusted proxy. Call it before serving.
func (s *Server) TrustProxies(prefixes []netip.Prefix) { s.proxies = prefixes }

// LogRequestsTo sends the request log (one line per request) to h, e.g. a
// handler writing to a buffer, instead of to the server's logger; every
// other line still goes to the logger. Secrets are redacted as in every
// line. Call it before serving. A JSONRequestLog costs the least.
func (s *Server) LogRequestsTo(h slog.Handler) {
	if f, ok := h.(*jsonRequestLog); ok {
		s.requestLog, s.fastLog = f, f // it redacts itself
		return
	}
	s.requestLog, s.fastLog = secret.RedactHandler(h), nil
}

// resolveClient replaces r.RemoteAddr with the client's address when a
// trusted proxy forwarded the request (see clientaddr.Proxies.Resolve).
func (s *Server) resolveClient(r *http.Request) { s.proxies.Resolve(r) }

// New returns a Server for svc. reg receives the server's metrics; a new
// registry is used when it is nil.
func New(svc *keyward.Service, logger *slog.Logger, reg *prometheus.Registry) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The request log names the path, where a client may have put a secret.
	logger = slog.New(secret.RedactHandler(logger.Handler()))
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{svc: svc, logger: logger, requestLog: logger.Handler(), mux: http.NewServeMux()}
	s.metrics = newMetrics(reg, svc)
	s.routes()
	// The API reference is not an API operation: it is outside the table
	// (and openapi.json), gated like every route.
	s.mux.Handle("GET /docs", answer(s.docs, s.writeError))
	s.mux.Handle("GET /docs/docs.css", answer(s.docsCSS, s.writeError))
	s.handler = s.withRequestContext(s.unmatched(s.mux))
	return s
}

// Only returns a handler serving the routes whose pattern keep accepts
// (native, dialect and console routes alike); a request another route
// matches answers 404 as a path no route matches does. Requests get the id,
// log line and metrics of ServeHTTP. It is how one listener serves the
// credential-using routes and another the management ones.
func (s *Server) Only(keep func(pattern string) bool) http.Handler {
	inner := s.unmatched(s.mux)
	return s.withRequestContext(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.served(r, keep) {
			s.writeError(w, r, keyward.Errorf(keyward.ENOTFOUND, "no route matches this path"))
			return
		}
		inner.ServeHTTP(w, r)
	}))
}

// served reports whether the routes keep accepts serve r's path: its own
// route, or — for a method no route has, which the mux answers 405 with an
// Allow header — a route of another method on the path, so that a 405
// never names the methods of a route this listener does not serve.
func (s *Server) served(r *http.Request, keep func(pattern string) bool) bool {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		return keep(pattern)
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && !keep(pattern) {
			return false
		}
	}
	return true
}

// ServeHTTP serves every route of the server.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Mux exposes the route table so other packages (dialects, console) can
// mount their routes beside the native ones.
func (s *Server) Mux() *http.ServeMux { return s.mux }

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxUnreadBody
)

// unreadBody is set when a request is refused before its body was read:
// the answer then closes the connection rather than drain a body that may
// be large, or never end.
type unreadBody struct{ set bool }

func markUnreadBody(r *http.Request) {
	if u, ok := r.Context().Value(ctxUnreadBody).(*unreadBody); ok {
		u.set = true
	}
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// requestState is what withRequestContext gives a request, in one
// allocation: the context carrying the request id (ctxRequestID), the
// unread-body mark (ctxUnreadBody) and the client's address (as
// keyward.WithClientIP does), the status writer, and the X-Request-Id
// header's value.
type requestState struct {
	context.Context
	sw       statusWriter
	id       string
	idHeader [1]string
	ip       any // a string, boxed once, set before the handler runs
	budget   any // a time.Time (keyward.WithStoreBudget's value), or nil
}

// Value answers the keys requestState carries, and any other from the
// request's own context.
func (c *requestState) Value(key any) any {
	switch key {
	case ctxRequestID:
		return c.id
	case ctxUnreadBody:
		return &c.sw.unread
	}
	if keyward.IsClientIPKey(key) {
		return c.ip
	}
	if c.budget != nil && keyward.IsStoreBudgetKey(key) {
		return c.budget
	}
	return c.Context.Value(key)
}

// newRequestID returns 16 random hex digits. A request id names a log
// line, it guards nothing: math/rand/v2's generator (ChaCha8, seeded by
// the runtime from the operating system) serves, at a fraction of
// crypto/rand's cost per request.
func newRequestID() string {
	var raw [8]byte
	binary.LittleEndian.PutUint64(raw[:], rand.Uint64())
	var id [16]byte
	hex.Encode(id[:], raw[:])
	return string(id[:])
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	unread unreadBody // the request's (ctxUnreadBody), allocated with the writer
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.unread.set {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// codeWriter records the first status a handler wrote.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withRequestContext gives every request an id (X-Request-Id), recovers
// panics as 500s, logs one line per request and records metrics. It never
// logs headers, bodies or query strings, which may carry secrets, and the
// logger redacts any secret in the path.
func (s *Server) withRequestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = newRequestID()
		}
		st := &requestState{Context: r.Context(), id: id}
		if s.budget > 0 {
			st.budget = start.Add(s.budget)
		}
		st.idHeader[0] = id
		w.Header()["X-Request-Id"] = st.idHeader[:]
		st.sw.ResponseWriter = w
		sw := &st.sw
		var ctx context.Context = st
		r = r.WithContext(ctx)
		s.resolveClient(r)
		// Every key credential is checked against its allowedCidrs with
		// this address, whichever route or dialect turns it into a principal
		// (keyward.WithClientIP's value, kept in st).
		st.ip = ClientIP(r)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.ErrorContext(ctx, "panic", slog.String("request_id", id), slog.Any("panic", v))
				if sw.status == 0 {
					s.writeError(sw, r, keyward.Errorf(keyward.EINTERNAL, "panic"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observe(r.Method, route, sw.status, d)
			if route == "GET /healthz" || route == "GET /metrics" {
				return
			}
			s.logRequest(ctx, id, r, route, sw.status, d)
		}()
		next.ServeHTTP(sw, r)
	})
}

// logRequest writes the request log line. It builds the record itself:
// Logger.LogAttrs would walk the stack for a source position no handler of
// keyward's prints, on every request.
func (s *Server) logRequest(ctx context.Context, id string, r *http.Request, route string, status int, d time.Duration) {
	if s.fastLog != nil {
		// Asked first: at a level above info the line's time and address
		// are not even read.
		if s.fastLog.Enabled(ctx, slog.LevelInfo) {
			s.fastLog.requestLine(ctx, time.Now(), id, r.Method, route, r.URL.Path, status, d, ClientIP(r))
		}
		return
	}
	h := s.requestLog
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	rec.AddAttrs(slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
		slog.String("path", r.URL.Path), slog.Int("status", status), slog.Duration("duration", d),
		slog.String("remote", ClientIP(r)))
	_ = h.Handle(ctx, rec)
}

// ClientIP returns the caller's address without the port (see clientaddr.IP).
func ClientIP(r *http.Request) string { return clientaddr.IP(r) }

// ClientIP returns the caller's address, for the dialects (dialect.Host).
func (s *Server) ClientIP(r *http.Request) string { return ClientIP(r) }

// CredentialsFrom extracts the credentials a request presents, in the
// schemes of SPEC §5.1, without judging them.
func CredentialsFrom(r *http.Request) keyward.Credentials {
	c := keyward.Credentials{IP: ClientIP(r), UserAgent: r.UserAgent(), APIKey: r.Header.Get("X-Api-Key")}
	if keyward.IsSigned(r.Header) {
		c.Signed = signedRequest(r)
		return c
	}
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, _ := strings.Cut(auth, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case lowerIs(scheme, "bearer"):
		c.Bearer = rest
		if c.Bearer == "" {
			c.Bearer = "invalid"
		}
	case lowerIs(scheme, "basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		user, pass, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			c.Bearer = "invalid" // present but unusable: fail, never fall through
			break
		}
		// OAuth2 clients form-encode both parts (RFC 6749 §2.3.1); keyward's
		// client ids and secrets never hold '%' or '+', so decoding is safe.
		c.HasBasic, c.BasicUser, c.BasicPass = true, formDecode(user), formDecode(pass)
	case scheme == "":
	default:
		c.Bearer = "invalid"
	}
	return c
}

// lowerIs reports whether strings.ToLower(s) == lower, without the string
// ToLower makes of an ASCII s with a capital ("Bearer", on every request
// with a key).
func lowerIs(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.ToLower(s) == lower
		}
	}
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// signedHeaders is what a signature may cover but the body.
func signedHeaders(r *http.Request) *keyward.SignedRequest {
	return &keyward.SignedRequest{Method: r.Method, Authority: strings.ToLower(r.Host), Path: r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery, Header: r.Header}
}

// signedRequest reads what a signature may cover, hashing the body (up to
// keyward.MaxSignedBody) and putting it back for the handler.
func signedRequest(r *http.Request) *keyward.SignedRequest {
	sr := signedHeaders(r)
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, keyward.MaxSignedBody+1))
		if err != nil || len(b) > keyward.MaxSignedBody {
			sr.BodyTooLarge = len(b) > keyward.MaxSignedBody
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	sum := sha256.Sum256(body)
	sr.BodySHA256, sr.HasBody = sum[:], len(body) > 0
	return sr
}

// isNWS4 reports whether r is signed with Portos' NWS4 scheme.
func isNWS4(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), signature.NWS4Algorithm+" ")
}

// formDecode undoes application/x-www-form-urlencoded escaping, leaving a
// value that is not validly escaped as it is.
func formDecode(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// Authenticate returns the principal of a request, switched into another
// tenant by ?tenant= for a root admin. Dialects mounted on Mux use it so that
// every scheme and rule of the native API applies to them too.
func (s *Server) Authenticate(r *http.Request) (*keyward.Principal, error) {
	// The dialects' routes are not gated: each answers this error in its
	// own shape.
	if err := gate.Request(r); err != nil {
		return nil, err
	}
	return s.authenticate(r)
}

// authenticate is Authenticate for a request answer has gated already.
func (s *Server) authenticate(r *http.Request) (*keyward.Principal, error) {
	if err := keyward.OneCredential(r.Header); err != nil {
		return nil, err
	}
	nws4 := isNWS4(r)
	if nws4 && !signature.NWS4QueryFullySigned(r.URL.RawQuery) {
		return nil, keyward.Errorf(keyward.ESIGCOMPONENT, "NWS4 signs a query value only up to a second '=': send '=' inside a value as %%3D")
	}
	signed := keyward.IsSigned(r.Header)
	if signed {
		// Before the body is buffered: a blocked address, or a keyid that
		// names no HMAC key, costs no more than the headers.
		if err := s.svc.IdentifySigner(r.Context(), ClientIP(r), signedHeaders(r)); err != nil {
			markUnreadBody(r)
			return nil, err
		}
	}
	p, err := s.svc.Authenticate(r.Context(), CredentialsFrom(r))
	if err != nil {
		if signed {
			return nil, keyward.HideSigner(err)
		}
		return nil, err
	}
	if nws4 {
		// The handler sees the query exactly as it was signed (sorted,
		// re-escaped), never a part the signature does not cover.
		r.URL.RawQuery = signature.NWS4CanonicalQuery(r.URL.RawQuery)
		r.Form, r.PostForm = nil, nil
	}
	if r.URL.RawQuery == "" {
		return p, nil
	}
	if t := r.URL.Query().Get("tenant"); t != "" {
		return s.svc.InTenant(r.Context(), p, t)
	}
	return p, nil
}

// WriteError answers err as an RFC 9457 problem, as the native API does.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

// authed wraps a handler that needs a principal. It authenticates the
// request and, with ?tenant=, switches a root admin into another tenant.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r) // answer gated r
		if err != nil {
			return err
		}
		if p.Rate != nil {
			setRateHeaders(w.Header(), p.Rate)
		}
		return s.Serve(w, r, p, h)
	}
}

// Serve runs h for p, the principal Authenticate returned for r, as every
// authenticated route of the native API runs (dialect.Host): a request
// refused as not allowed — h wrote a 403 or returned an error the one
// table makes 403 — spends none of the key's credits
// (Service.RefundRequest).
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, p *keyward.Principal, h func(http.ResponseWriter, *http.Request, *keyward.Principal) error) error {
	if !p.SpentCredits() {
		return h(w, r, p)
	}
	sw := &codeWriter{ResponseWriter: w}
	err := h(sw, r, p)
	if sw.code == http.StatusForbidden || (err != nil && StatusOf(err) == http.StatusForbidden) {
		s.svc.RefundRequest(r.Context(), p)
	}
	return err
}
