// Package console serves keyward's web console at /console: server-rendered
// pages over the same Service as the API, so every rule (levels,
// permissions, tenants, secrets shown once) holds here as it does there.
//
// Sessions are login tokens kept in an HttpOnly, SameSite=Lax cookie (Secure
// over TLS) that expire with the token; signing out revokes the token.
// Every form is protected twice against cross-site requests: the stdlib's
// cross-origin protection (Sec-Fetch-Site / Origin) and a per-session token.
package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/gate"
	"github.com/keyward/keyward/internal/secret"
)

//go:embed templates static
var files embed.FS

// Prefix is where the console is served.
const Prefix = "/console"

// The session cookie. Over TLS it carries the __Host- prefix: Secure, for
// the whole host and no domain, so a sibling subdomain cannot plant one
// that the browser would send instead.
const (
	sessionCookie       = "keyward_session"
	sessionCookieSecure = "__Host-keyward_session"
)

// Console is the web console of one Service.
type Console struct {
	svc    *keyward.Service
	logger *slog.Logger
	pages  map[string]*template.Template
	csrf   *http.CrossOriginProtection
	secure bool // mark cookies Secure even without TLS (the public URL is https)
	once   *onceTokens
}

// Mount adds the console's routes to mux.
func Mount(mux *http.ServeMux, svc *keyward.Service, logger *slog.Logger) *Console {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = slog.New(secret.RedactHandler(logger.Handler()))
	c := &Console{svc: svc, logger: logger, pages: parsePages(), csrf: http.NewCrossOriginProtection(), once: newOnceTokens(),
		secure: strings.HasPrefix(svc.PublicURL(), "https://")}
	c.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		c.renderStatus(w, r, nil, http.StatusForbidden, "This request came from another site and was refused. Reload the console and try again.")
	}))
	static, _ := fs.Sub(files, "static")
	mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", cacheStatic(http.FileServerFS(static))))
	mux.Handle("GET "+Prefix, http.RedirectHandler(Prefix+"/keys", http.StatusSeeOther))
	mux.Handle("GET "+Prefix+"/{$}", http.RedirectHandler(Prefix+"/keys", http.StatusSeeOther))
	mux.Handle("GET "+Prefix+"/login", c.protect(c.loginPage))
	mux.Handle("POST "+Prefix+"/login", c.protect(c.login))
	mux.Handle("POST "+Prefix+"/logout", c.session(c.logout))

	mux.Handle("GET "+Prefix+"/keys", c.session(c.keysPage))
	mux.Handle("GET "+Prefix+"/keys/new", c.session(c.newKeyPage))
	mux.Handle("POST "+Prefix+"/keys", c.session(c.createKey))
	mux.Handle("POST "+Prefix+"/keys/bulk", c.session(c.bulkKeys))
	mux.Handle("GET "+Prefix+"/keys/{id}", c.session(c.keyPage))
	mux.Handle("GET "+Prefix+"/keys/{id}/edit", c.session(c.editKeyPage))
	mux.Handle("POST "+Prefix+"/keys/{id}/edit", c.session(c.updateKey))
	mux.Handle("POST "+Prefix+"/keys/{id}/active", c.session(c.setKeyActive))
	mux.Handle("GET "+Prefix+"/keys/{id}/rotate", c.session(c.confirmPage("rotate")))
	mux.Handle("POST "+Prefix+"/keys/{id}/rotate", c.session(c.rotateKey))
	mux.Handle("GET "+Prefix+"/keys/{id}/delete", c.session(c.confirmPage("delete")))
	mux.Handle("POST "+Prefix+"/keys/{id}/delete", c.session(c.deleteKey))

	mux.Handle("GET "+Prefix+"/users", c.session(c.usersPage))
	mux.Handle("POST "+Prefix+"/users", c.session(c.createUser))
	mux.Handle("GET "+Prefix+"/users/{id}/edit", c.session(c.editUserPage))
	mux.Handle("POST "+Prefix+"/users/{id}/edit", c.session(c.updateUser))
	mux.Handle("GET "+Prefix+"/users/{id}/active", c.session(c.confirmUserActive))
	mux.Handle("POST "+Prefix+"/users/{id}/active", c.session(c.setUserActive))
	mux.Handle("GET "+Prefix+"/users/{id}/delete", c.session(c.confirmUserDelete))
	mux.Handle("POST "+Prefix+"/users/{id}/delete", c.session(c.deleteUser))

	mux.Handle("GET "+Prefix+"/permissions", c.session(c.permissionsPage))
	mux.Handle("POST "+Prefix+"/permissions", c.session(c.createPermission))
	mux.Handle("GET "+Prefix+"/permissions/{id}/delete", c.session(c.confirmPermissionDelete))
	mux.Handle("POST "+Prefix+"/permissions/{id}/delete", c.session(c.deletePermission))

	mux.Handle("GET "+Prefix+"/audit", c.session(c.auditPage))

	mux.Handle("GET "+Prefix+"/tenants", c.session(c.tenantsPage))
	mux.Handle("POST "+Prefix+"/tenants", c.session(c.createTenant))
	mux.Handle("GET "+Prefix+"/tenants/{id}/active", c.session(c.confirmTenantActive))
	mux.Handle("POST "+Prefix+"/tenants/{id}/active", c.session(c.setTenantActive))
	mux.Handle(Prefix+"/", c.protect(func(w http.ResponseWriter, r *http.Request) error {
		return refuse(http.StatusNotFound, "There is no such page in the console.")
	}))
	return c
}

// cacheStatic serves the assets with a short cache lifetime, and no
// directory listings.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// protect sets the headers every console answer carries and refuses
// cross-origin form posts. It is the adapter of the pages without a
// session: the error h returns is answered as a page (fail).
func (c *Console) protect(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return c.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		err := gate.Request(r)
		if err == nil && r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if r.ParseForm() == nil { // a form that does not parse fails the form token
				err = gate.Form(r.PostForm)
			}
		}
		if err != nil {
			err = refuse(http.StatusBadRequest, "The request holds text that is not valid UTF-8, or a NUL character ("+keyward.ErrorMessage(err)+").")
		} else {
			err = h(w, r)
		}
		if err != nil {
			c.fail(w, r, nil, err)
		}
	}))
}

// maxFormBytes bounds a console form.
const maxFormBytes = 256 << 10

// securityHeaders are on every console answer, refusals included.
func securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
}

// session is a console request of a signed-in user.
type session struct {
	p     *keyward.Principal
	token string
	csrf  string
	who   *keyward.WhoAmI
}

// sessionHandler is a console handler: it answers success itself (a page,
// a redirect, a form re-rendered with its field errors) and returns any
// other error, which session, the console's one adapter, answers as a page
// (fail).
type sessionHandler func(w http.ResponseWriter, r *http.Request, s *session) error

// session authenticates the session cookie (a login token), checks the
// form token on every POST, and hands the user to h. Without a valid
// session a page load goes to the login form.
func (c *Console) session(h sessionHandler) http.Handler {
	return c.protect(func(w http.ResponseWriter, r *http.Request) error {
		if len(r.CookiesNamed(c.cookieName(r))) > 1 {
			// Two sessions: one was planted by another site sharing the
			// domain (on a longer path, so the browser sends it first).
			// Use neither, rather than let it replace the user's.
			return refuse(http.StatusBadRequest, plantedCookie)
		}
		ck, err := r.Cookie(c.cookieName(r))
		var p *keyward.Principal
		if err == nil {
			p, err = c.svc.AuthenticateUser(r.Context(), ck.Value, clientaddr.IP(r), r.UserAgent())
		}
		if err != nil || p == nil {
			if ck != nil {
				c.clearSession(w, r)
			}
			next := ""
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, loginURL(next), http.StatusSeeOther)
			return nil
		}
		s := &session{p: p, token: ck.Value, csrf: csrfToken(ck.Value)}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			got := r.PostFormValue("csrf")
			if subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
				err = refuse(http.StatusForbidden, "The form was out of date or did not come from this console. Reload the page and try again.")
			}
		}
		if err == nil {
			if s.who, err = c.svc.WhoAmI(r.Context(), p); err == nil {
				err = h(w, r, s)
			}
		}
		if err != nil {
			// Answered here, with the session: the page shows the user's menu.
			c.fail(w, r, s, err)
		}
		return nil
	})
}

// csrfToken derives the form token from the session token, which scripts
// cannot read (HttpOnly) and other sites cannot send (SameSite, origin
// checks).
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("keyward-console-form\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

func loginURL(next string) string {
	next, ok := consolePath(next)
	if !ok || strings.HasPrefix(next, Prefix+"/login") {
		return Prefix + "/login"
	}
	return Prefix + "/login?next=" + url.QueryEscape(next)
}

// consolePath normalizes a redirect target that must stay in the console:
// a path (no scheme, host or backslash) that, cleaned of dot segments, is
// still under /console/. "/console/../\evil.example" is refused: browsers
// read the "/\evil.example" it cleans to as another site.
func consolePath(target string) (string, bool) {
	if target == "" || strings.ContainsAny(target, "\\\x00\r\n\t") || strings.HasPrefix(target, "//") {
		return "", false
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, Prefix+"/") || strings.HasPrefix(clean, "//") {
		return "", false
	}
	out := clean
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, true
}

// secureCookies tells whether the session cookie is Secure (and __Host-).
func (c *Console) secureCookies(r *http.Request) bool { return c.secure || r.TLS != nil }

func (c *Console) cookieName(r *http.Request) string {
	if c.secureCookies(r) {
		return sessionCookieSecure
	}
	return sessionCookie
}

func (c *Console) sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	ck := &http.Cookie{Name: sessionCookie, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if c.secureCookies(r) {
		ck.Name, ck.Path, ck.Secure = sessionCookieSecure, "/", true
	}
	return ck
}

func (c *Console) setSession(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, c.sessionCookie(r, token, maxAge))
}

func (c *Console) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, c.sessionCookie(r, "", -1))
}

type loginForm struct {
	Tenant, UserName, Next, Error string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	if len(r.CookiesNamed(c.cookieName(r))) > 1 {
		return refuse(http.StatusBadRequest, plantedCookie)
	}
	if ck, err := r.Cookie(c.cookieName(r)); err == nil {
		if _, err := c.svc.AuthenticateUser(r.Context(), ck.Value, clientaddr.IP(r), r.UserAgent()); err == nil {
			http.Redirect(w, r, Prefix+"/keys", http.StatusSeeOther)
			return nil
		}
	}
	c.render(w, r, nil, http.StatusOK, "login", "Sign in", loginForm{Next: r.URL.Query().Get("next"), Tenant: r.URL.Query().Get("tenant")})
	return nil
}

// plantedCookie explains why a request with two session cookies is refused.
const plantedCookie = "Your browser sent two console sessions. One was set by another site that shares this domain, so keyward uses neither. " +
	"Delete this site's cookies in your browser and sign in again; serving the console over HTTPS prevents this."

func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	if len(r.CookiesNamed(c.cookieName(r))) > 1 {
		return refuse(http.StatusBadRequest, plantedCookie)
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	f := loginForm{Tenant: strings.TrimSpace(r.PostFormValue("tenant")), UserName: strings.TrimSpace(r.PostFormValue("userName")), Next: r.PostFormValue("next")}
	res, err := c.svc.LoginFrom(r.Context(), keyward.LoginRequest{Tenant: f.Tenant, UserName: f.UserName,
		Password: r.PostFormValue("password"), IP: clientaddr.IP(r), UserAgent: r.UserAgent()})
	if err != nil {
		status := keyward.CodeStatus(keyward.ErrorCode(err))
		switch keyward.ErrorCode(err) {
		case keyward.EUNAUTHORIZED, keyward.EINVALID:
			f.Error = "The user name or password is not right."
		case keyward.ERATELIMITED:
			f.Error = "Too many failed sign-ins from your address. Wait a few minutes, then try again."
		default:
			c.logError(r, err)
			f.Error = "Signing in failed. Try again in a moment."
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			retry := 1
			var e *keyward.Error
			if errors.As(err, &e) && e.Rate != nil {
				retry = max(e.Rate.Reset, 1)
			}
			w.Header().Set("Retry-After", strconv.Itoa(retry))
		}
		c.render(w, r, nil, status, "login", "Sign in", f)
		return nil
	}
	c.setSession(w, r, res.AccessToken, res.ExpiresIn)
	next := Prefix + "/keys"
	if p, ok := consolePath(f.Next); ok && !strings.HasPrefix(p, Prefix+"/login") {
		next = p
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.svc.Logout(r.Context(), s.token); err != nil {
		return err
	}
	c.clearSession(w, r)
	http.Redirect(w, r, Prefix+"/login?signedOut=1", http.StatusSeeOther)
	return nil
}

// refusal is a page a handler refuses with, its status and message as
// they are.
type refusal struct {
	status int
	msg    string
}

func (e *refusal) Error() string { return e.msg }

// refuse returns the error that answers the page status with msg.
func refuse(status int, msg string) error { return &refusal{status, msg} }

// fail answers a handler's error as a page: a refusal as it is, a Service
// error with its status (401 back to the login form). Internal errors are
// logged and shown without detail.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var page *refusal
	if errors.As(err, &page) {
		c.renderStatus(w, r, s, page.status, page.msg)
		return
	}
	status := keyward.CodeStatus(keyward.ErrorCode(err))
	msg := keyward.ErrorMessage(err)
	switch {
	case status == http.StatusUnauthorized:
		c.clearSession(w, r)
		http.Redirect(w, r, loginURL(""), http.StatusSeeOther)
		return
	case status == http.StatusForbidden:
		msg = forbiddenText(msg)
	case status >= 500:
		c.logError(r, err)
		msg = "Something went wrong on our side. Try again in a moment."
	}
	c.renderStatus(w, r, s, status, msg)
}

func (c *Console) logError(r *http.Request, err error) {
	var e *keyward.Error
	if errors.As(err, &e) && e.Code != keyward.EINTERNAL {
		return
	}
	c.logger.ErrorContext(r.Context(), "console", slog.String("path", r.URL.Path), slog.Any("error", err))
}
