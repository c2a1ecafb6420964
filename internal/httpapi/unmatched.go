package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/keyward/keyward"
)

// unmatched answers requests that no route matches (404), or that a route
// matches only with another method (405, with Allow), with problem+json like
// every other refusal, instead of the mux's plain text. Everything else
// (matched routes, redirects to a clean path) is the mux's.
func (s *Server) unmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		cw := &captureWriter{header: http.Header{}}
		mux.ServeHTTP(cw, r)
		switch cw.status {
		case http.StatusNotFound:
			s.writeError(w, r, keyward.Errorf(keyward.ENOTFOUND, "no route matches this path"))
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", cw.header.Get("Allow"))
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			json.NewEncoder(w).Encode(ProblemFor(keyward.Errorf(keyward.EMETHODNOTALLOWED, "this route does not accept %s; see Allow", r.Method)))
		default:
			for k, v := range cw.header {
				w.Header()[k] = v
			}
			w.WriteHeader(cw.status)
			w.Write(cw.body.Bytes())
		}
	})
}

// captureWriter holds what the mux answers an unmatched request.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}
