package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"

	"github.com/keyward/keyward"
)

// MaxImportBytes bounds the body of POST /v1/apikeys:import: 10,000 lines
// of create bodies (the 1 MiB of other routes holds a few thousand).
const MaxImportBytes = 32 << 20

// importAnswer is the answer of POST /v1/apikeys:import.
type importAnswer struct {
	Items   []importItem `json:"items"`
	Created int          `json:"created"`
	Failed  int          `json:"failed"`
}

// importItem is what became of one line: the new key, or a problem.
type importItem struct {
	Line     int      `json:"line"`
	ID       string   `json:"id,omitempty"`
	ClientID string   `json:"clientId,omitempty"`
	Problem  *Problem `json:"problem,omitempty"`
}

// importAPIKeys serves POST /v1/apikeys:import: an NDJSON body of create
// bodies, each with "secret" or "secretHash", at most 10,000 lines (blank
// lines are skipped but counted). 200 with one item per line, in order:
// its id and clientId, or its problem. The secrets are never answered.
func (s *Server) importAPIKeys(w http.ResponseWriter, r *http.Request, p *keyward.Principal) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	if ct != "application/x-ndjson" && ct != "application/jsonl" {
		return keyward.Errorf(keyward.EINVALID, "Content-Type must be application/x-ndjson: one create body with secret or secretHash a line")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxImportBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return keyward.Errorf(keyward.ETOOLARGE, "the request body is larger than %d bytes", MaxImportBytes)
	} else if err != nil {
		return keyward.Errorf(keyward.EINVALID, "could not read the request body")
	}
	lines, err := importLines(body)
	if err != nil {
		return err
	}
	res, err := s.svc.ImportAPIKeys(r.Context(), p, lines)
	if err != nil {
		return err
	}
	a := importAnswer{Items: make([]importItem, len(res))}
	for i, x := range res {
		a.Items[i] = importItem{Line: x.Line, ID: x.ID, ClientID: x.ClientID}
		if x.Err != nil {
			pr := ProblemFor(x.Err)
			a.Items[i].Problem = &pr
			a.Failed++
		} else {
			a.Created++
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	encode(w, http.StatusOK, a)
	return nil
}

// importLines reads an NDJSON body: each non-blank line a keyward.ImportLine,
// numbered from 1; a line that does not decode carries its error. The
// lines are decoded on every CPU: each on its own.
func importLines(body []byte) ([]keyward.ImportLine, error) {
	var raw [][]byte
	var lines []keyward.ImportLine
	n := 0
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		n++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(lines) == keyward.MaxImportLines {
			return nil, keyward.Errorf(keyward.ETOOLARGE, "an import holds at most %d lines: send more requests", keyward.MaxImportLines)
		}
		raw = append(raw, line)
		lines = append(lines, keyward.ImportLine{Line: n})
	}
	if len(lines) == 0 {
		return nil, keyward.Errorf(keyward.EINVALID, "the body holds no line to import")
	}
	workers := min(runtime.GOMAXPROCS(0), (len(lines)+importDecodeChunk-1)/importDecodeChunk)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(lines); i += workers {
				l := &lines[i]
				if err := decodeBytes(raw[i], l); err != nil {
					*l = keyward.ImportLine{Line: l.Line, Err: err}
				}
			}
		})
	}
	wg.Wait()
	return lines, nil
}

// importDecodeChunk is the fewest lines worth a goroutine of their own.
const importDecodeChunk = 256
