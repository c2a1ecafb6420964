package keyward_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestEveryCodeIsInTheTable: every error code the package declares (a
// constant named E… holding a string, in any file) is in keyward.Codes
// once, with a client or server error status and a meaning. A code added
// without its status fails here; the surfaces' tests then check that each
// of them answers every code of the table.
func TestEveryCodeIsInTheTable(t *testing.T) {
	declared := map[string]string{} // value → constant name
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^E[A-Z]+$`)
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !name.MatchString(id.Name) || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					declared[v] = id.Name
				}
			}
		}
	}
	if len(declared) < 30 {
		t.Fatalf("found only %d error codes: is the parse looking at the right package?", len(declared))
	}
	inTable := map[string]bool{}
	for _, c := range keyward.Codes {
		if inTable[c.Code] {
			t.Errorf("%s is in keyward.Codes twice", c.Code)
		}
		inTable[c.Code] = true
		if c.Status < 400 || c.Status > 599 || c.Meaning == "" {
			t.Errorf("%s: status %d, meaning %q: want a 4xx or 5xx status and a meaning", c.Code, c.Status, c.Meaning)
		}
		if _, ok := declared[c.Code]; !ok {
			t.Errorf("%s is in keyward.Codes but declared by no constant", c.Code)
		}
		if got := keyward.CodeStatus(c.Code); got != c.Status {
			t.Errorf("CodeStatus(%s) = %d, want %d", c.Code, got, c.Status)
		}
	}
	for v, n := range declared {
		if !inTable[v] {
			t.Errorf("%s (%q) has no entry, hence no status, in keyward.Codes", n, v)
		}
	}
	if got := keyward.CodeStatus("no_such_code"); got != 500 {
		t.Errorf("an unknown code is %d, want 500", got)
	}
}
