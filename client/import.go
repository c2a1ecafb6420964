package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/keyward/keyward"
)

// ImportItem is what became of one line of an import: the new key's id
// and client id, or the line's Problem.
type ImportItem struct {
	Line     int    // the line's number in the body sent, from 1
	ID       string // "" when the line failed
	ClientID string
	Problem  *Error // nil when the key was created
}

// ImportResult is the answer to an import: one item per line, in order.
type ImportResult struct {
	Items   []ImportItem
	Created int
	Failed  int
}

// ImportAPIKeys imports up to keyward.MaxImportLines keys with their
// secrets (POST /v1/apikeys:import): each line a create body with Secret
// (in clear) or SecretHash (hex SHA-256). A line that fails does so alone;
// its item holds the problem. Honours WithIdempotencyKey. The caller needs
// apikeys:write and grants nothing beyond its own rights.
func (c *Client) ImportAPIKeys(ctx context.Context, lines []keyward.ImportLine) (*ImportResult, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for i := range lines {
		if err := enc.Encode(lines[i]); err != nil {
			return nil, fmt.Errorf("keyward client: encoding import line %d: %w", i+1, err)
		}
	}
	return c.ImportAPIKeysNDJSON(ctx, body.Bytes())
}

// ImportAPIKeysNDJSON is ImportAPIKeys with the body as it is: NDJSON,
// one keyward.ImportLine a line (blank lines are skipped but counted).
func (c *Client) ImportAPIKeysNDJSON(ctx context.Context, ndjson []byte) (*ImportResult, error) {
	var out struct {
		Items []struct {
			Line     int      `json:"line"`
			ID       string   `json:"id"`
			ClientID string   `json:"clientId"`
			Problem  *problem `json:"problem"`
		} `json:"items"`
		Created int `json:"created"`
		Failed  int `json:"failed"`
	}
	if ndjson == nil {
		ndjson = []byte{}
	}
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/apikeys:import", ndjson: ndjson}, &out); err != nil {
		return nil, err
	}
	res := &ImportResult{Items: make([]ImportItem, len(out.Items)), Created: out.Created, Failed: out.Failed}
	for i, it := range out.Items {
		res.Items[i] = ImportItem{Line: it.Line, ID: it.ID, ClientID: it.ClientID}
		if p := it.Problem; p != nil {
			e := &Error{StatusCode: p.Status, Code: p.Code, Type: p.Type, Title: clean(p.Title), Detail: clean(p.Detail)}
			for _, f := range p.Errors {
				e.Fields = append(e.Fields, keyward.FieldError{Field: clean(f.Field), Message: clean(f.Message)})
			}
			res.Items[i].Problem = e
		}
	}
	return res, nil
}
