package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/client"
)

// apikeysImportCommand is "keyward apikeys import FILE".
var apikeysImportCommand = command{args: "FILE", about: `Imports API keys with the secrets they already have, so that keys moved from
Unkey, Talos or a table of your own keep working without being re-issued.
FILE ("-": standard input) is NDJSON: one JSON object a line, each a create
body (name, ownerId, level, permissions, expiresAt, meta, rateLimit, clientId,
...) plus either "secret" (the key's secret in clear, 16 to 512 printable
characters) or "secretHash" (the hex SHA-256 of the secret). Blank lines are
skipped. The file is sent in requests of at most 10,000 lines (--batch); each line is
created or refused on its own, under the rules of create: you grant nothing
you do not hold. A progress bar shows on a terminal (plain progress lines
otherwise); every refused line is printed with its file line number to
standard error. No secret is ever printed. With --json, one JSON object a
line goes to standard output: {"line", "id", "clientId"} or {"line",
"problem"}.

Exit status: 0 when every line was imported, 1 when any was refused or a
request failed, 2 on bad usage.`, flags: apikeysImportFlags}

// importChunkBytes bounds the body of one import request, under the
// server's 32 MiB.
const importChunkBytes = 30 << 20

func apikeysImportFlags(fs *flag.FlagSet) commandPrepare {
	batch := fs.Int("batch", keyward.MaxImportLines, "send at most this `number` of lines a request (1 to 10000; fewer when a large import outlasts the server's --db-timeout)")
	idem := fs.String("idempotency-key", "", "send each request with an Idempotency-Key made of this `key` and the request's number, so that running the same import again within 24 hours creates nothing twice")
	return func(cli *runner, file string) (commandAction, error) {
		if *batch < 1 || *batch > keyward.MaxImportLines {
			return nil, fmt.Errorf("--batch must be between 1 and %d", keyward.MaxImportLines)
		}
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(cli.stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, errors.Unwrap(err))
		}
		chunks := importChunks(data, *batch)
		if len(chunks) == 0 {
			return nil, fmt.Errorf("%s holds no line to import", file)
		}
		return func(ctx context.Context, c *client.Client) int {
			return cli.importKeys(ctx, c, chunks, *idem)
		}, nil
	}
}

// importChunk is one request's lines: the body and each line's number in
// the file.
type importChunk struct {
	body  []byte
	lines []int
}

// importChunks splits an NDJSON file into requests of at most batch
// non-blank lines and importChunkBytes.
func importChunks(data []byte, batch int) []importChunk {
	var chunks []importChunk
	var cur importChunk
	n := 0
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		n++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(cur.lines) == batch || len(cur.body)+len(line)+1 > importChunkBytes && len(cur.lines) > 0 {
			chunks, cur = append(chunks, cur), importChunk{}
		}
		cur.body = append(append(cur.body, line...), '\n')
		cur.lines = append(cur.lines, n)
	}
	if len(cur.lines) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// importKeys sends the chunks in turn, showing progress on standard
// error, and prints every refused line.
func (cli *runner) importKeys(ctx context.Context, c *client.Client, chunks []importChunk, idem string) int {
	total := 0
	for _, ch := range chunks {
		total += len(ch.lines)
	}
	bar := newProgress(cli.stderr, total)
	done, created, failed := 0, 0, 0
	for i, ch := range chunks {
		rctx := ctx
		if idem != "" {
			rctx = client.WithIdempotencyKey(ctx, idem+"-"+strconv.Itoa(i+1))
		}
		res, err := c.ImportAPIKeysNDJSON(rctx, ch.body)
		if err != nil {
			bar.end()
			fmt.Fprintf(cli.stderr, "keyward: lines %d to %d were not imported:\n", ch.lines[0], ch.lines[len(ch.lines)-1])
			return cli.failc(c, err)
		}
		for _, it := range res.Items {
			line := it.Line
			if it.Line >= 1 && it.Line <= len(ch.lines) {
				line = ch.lines[it.Line-1]
			}
			if cli.json {
				cli.printImportItem(line, it)
			}
			if it.Problem != nil {
				failed++
				bar.clear()
				fmt.Fprintf(cli.stderr, "line %d: %s\n", line, it.Problem.Error())
			} else {
				created++
			}
		}
		done += len(ch.lines)
		bar.show(done, created, failed)
	}
	bar.end()
	fmt.Fprintf(cli.stderr, "Imported %d of %d keys; %d lines refused.\n", created, total, failed)
	if failed > 0 {
		return exitError
	}
	return exitOK
}

// printImportItem writes one line's outcome as a JSON line.
func (cli *runner) printImportItem(line int, it client.ImportItem) {
	out := map[string]any{"line": line}
	if it.Problem != nil {
		out["problem"] = map[string]any{"status": it.Problem.StatusCode, "code": it.Problem.Code,
			"detail": it.Problem.Detail, "errors": it.Problem.Fields}
	} else {
		out["id"], out["clientId"] = it.ID, it.ClientID
	}
	b, _ := json.Marshal(out)
	cli.stdout.Write(append(b, '\n'))
}

// progress shows how far an import got: a bar redrawn in place on a
// terminal, a line per request elsewhere.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	drawn bool
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) show(done, created, failed int) {
	if !p.tty {
		fmt.Fprintf(p.w, "imported %d/%d lines: %d created, %d refused\n", done, p.total, created, failed)
		return
	}
	const width = 30
	fill := width * done / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d lines (%d%%), %d refused", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		done, p.total, 100*done/max(p.total, 1), failed)
	p.drawn = true
}

// clear erases the bar before a line is printed under it.
func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// end finishes the bar's line.
func (p *progress) end() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
