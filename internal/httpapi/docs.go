package httpapi

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// The API reference at /docs is openapi.json rendered on the server into
// one HTML page with a stylesheet beside it: no script at all, nothing
// from elsewhere, so its Content-Security-Policy is stricter than the
// console's.
//
//go:embed docs/docs.html docs/docs.css
var docsFS embed.FS

const docsCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"

type docsPage struct {
	Title, Version, Description string
	Servers                     []string
	Schemes                     []docsScheme
	Tags                        []docsTag
	Schemas                     []docsSchema
}

type docsScheme struct{ Name, Kind, Description string }

type docsTag struct {
	Name, Description string
	Ops               []docsOp
}

type docsOp struct {
	ID, Method, Path, Summary, Description string
	Public                                 bool
	Params                                 []docsParam
	Body                                   []docsContent
	Responses                              []docsResponse
}

type docsParam struct {
	Name, In, Type, Description string
	Required                    bool
}

type docsContent struct{ MediaType, Schema, Example string }

type docsResponse struct {
	Status, Description string
	Headers             []string
	Contents            []docsContent
}

type docsSchema struct {
	Name, Description string
	Props             []docsProp
}

type docsProp struct {
	Name, Type, Description string
	Required                bool
}

// oaDoc is the part of an OpenAPI document the reference shows.
type oaDoc struct {
	Info struct {
		Title, Version, Description string
	}
	Servers []struct{ URL, Description string }
	Tags    []struct{ Name, Description string }
	Paths   map[string]map[string]json.RawMessage
	Compo   struct {
		Schemas         map[string]oaSchema
		Responses       map[string]oaResponse
		SecuritySchemes map[string]struct {
			Type, Scheme, Description, Name string
		} `json:"securitySchemes"`
	} `json:"components"`
}

type oaOp struct {
	Tags                              []string
	Summary, Description, OperationID string
	Security                          *[]map[string][]string
	Parameters                        []oaParam
	RequestBody                       *struct{ Content map[string]oaMedia }
	Responses                         map[string]oaResponse
	Deprecated                        bool
}

type oaParam struct {
	Name, In, Description string
	Required              bool
	Schema                oaSchema
}

type oaResponse struct {
	Ref         string `json:"$ref"`
	Description string
	Headers     map[string]json.RawMessage
	Content     map[string]oaMedia
}

type oaMedia struct {
	Schema  oaSchema
	Example json.RawMessage
}

type oaSchema struct {
	Ref         string `json:"$ref"`
	Type        json.RawMessage
	Format      string
	Description string
	Items       *oaSchema
	Properties  map[string]oaSchema
	Required    []string
	Enum        []any
	OneOf       []oaSchema `json:"oneOf"`
	Const       any
}

// typeOf describes a schema in a few words: a schema's name, or its type.
func (s oaSchema) typeOf() string {
	if s.Ref != "" {
		return s.Ref[strings.LastIndexByte(s.Ref, '/')+1:]
	}
	if s.Const != nil {
		return fmt.Sprintf("%v", s.Const)
	}
	if len(s.OneOf) > 0 {
		var parts []string
		for _, o := range s.OneOf {
			parts = append(parts, o.typeOf())
		}
		return strings.Join(parts, " | ")
	}
	var types []string
	if err := json.Unmarshal(s.Type, &types); err != nil {
		var one string
		json.Unmarshal(s.Type, &one)
		types = []string{one}
	}
	for i, t := range types {
		switch {
		case t == "array" && s.Items != nil:
			types[i] = s.Items.typeOf() + "[]"
		case t == "" && len(s.Properties) > 0:
			types[i] = "object"
		case s.Format != "" && t != "null":
			types[i] = t + " (" + s.Format + ")"
		}
	}
	out := strings.Join(types, " | ")
	if len(s.Enum) > 0 {
		var vals []string
		for _, v := range s.Enum {
			vals = append(vals, fmt.Sprint(v))
		}
		out += ": " + strings.Join(vals, ", ")
	}
	return out
}

var methodsInOrder = []string{"get", "post", "put", "patch", "delete"}

// renderDocs renders the reference page from an OpenAPI document.
func renderDocs(spec []byte) ([]byte, error) {
	var doc oaDoc
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, err
	}
	page := docsPage{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	for _, s := range doc.Servers {
		page.Servers = append(page.Servers, s.URL+" — "+s.Description)
	}
	for name, s := range doc.Compo.SecuritySchemes {
		kind := s.Type
		if s.Scheme != "" {
			kind += " " + s.Scheme
		}
		if s.Name != "" {
			kind += " (" + s.Name + ")"
		}
		page.Schemes = append(page.Schemes, docsScheme{name, kind, s.Description})
	}
	sort.Slice(page.Schemes, func(i, j int) bool { return page.Schemes[i].Name < page.Schemes[j].Name })
	tagIndex := map[string]int{}
	for _, t := range doc.Tags {
		tagIndex[t.Name] = len(page.Tags)
		page.Tags = append(page.Tags, docsTag{Name: t.Name, Description: t.Description})
	}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		for _, method := range methodsInOrder {
			raw, ok := doc.Paths[path][method]
			if !ok {
				continue
			}
			var op oaOp
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			d := docsOp{ID: op.OperationID, Method: strings.ToUpper(method), Path: path, Summary: op.Summary,
				Description: op.Description, Public: op.Security != nil && len(*op.Security) == 0}
			for _, p := range op.Parameters {
				d.Params = append(d.Params, docsParam{p.Name, p.In, p.Schema.typeOf(), p.Description, p.Required})
			}
			if op.RequestBody != nil {
				d.Body = contents(op.RequestBody.Content)
			}
			statuses := make([]string, 0, len(op.Responses))
			for st := range op.Responses {
				statuses = append(statuses, st)
			}
			sort.Strings(statuses)
			for _, st := range statuses {
				r := op.Responses[st]
				if r.Ref != "" {
					r = doc.Compo.Responses[r.Ref[strings.LastIndexByte(r.Ref, '/')+1:]]
				}
				resp := docsResponse{Status: st, Description: r.Description, Contents: contents(r.Content)}
				for h := range r.Headers {
					resp.Headers = append(resp.Headers, h)
				}
				sort.Strings(resp.Headers)
				d.Responses = append(d.Responses, resp)
			}
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			i, ok := tagIndex[tag]
			if !ok {
				i = len(page.Tags)
				tagIndex[tag] = i
				page.Tags = append(page.Tags, docsTag{Name: tag})
			}
			page.Tags[i].Ops = append(page.Tags[i].Ops, d)
		}
	}
	names := make([]string, 0, len(doc.Compo.Schemas))
	for n := range doc.Compo.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := doc.Compo.Schemas[n]
		ds := docsSchema{Name: n, Description: s.Description}
		required := map[string]bool{}
		for _, r := range s.Required {
			required[r] = true
		}
		props := make([]string, 0, len(s.Properties))
		for p := range s.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		for _, p := range props {
			ps := s.Properties[p]
			ds.Props = append(ds.Props, docsProp{p, ps.typeOf(), ps.Description, required[p]})
		}
		page.Schemas = append(page.Schemas, ds)
	}
	tmpl, err := template.New("docs.html").Funcs(template.FuncMap{
		"lower":  strings.ToLower,
		"text":   codeSpans,
		"anchor": func(s string) string { return strings.NewReplacer(" ", "-", "/", "-").Replace(strings.ToLower(s)) },
	}).ParseFS(docsFS, "docs/docs.html")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, page); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// codeSpans escapes s for HTML, showing its `backquoted` spans as code.
func codeSpans(s string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			b.WriteString("<code>" + html.EscapeString(part) + "</code>")
		} else {
			b.WriteString(html.EscapeString(part))
		}
	}
	return template.HTML(b.String())
}

// contents lists the media types of a body, each example indented.
func contents(m map[string]oaMedia) []docsContent {
	var out []docsContent
	for mt, media := range m {
		c := docsContent{MediaType: mt, Schema: media.Schema.typeOf()}
		if len(media.Example) > 0 {
			var v any
			if json.Unmarshal(media.Example, &v) == nil {
				if s, ok := v.(string); ok {
					c.Example = s
				} else {
					b, _ := json.MarshalIndent(v, "", "  ")
					c.Example = string(b)
				}
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MediaType < out[j].MediaType })
	return out
}

var docsPageOnce = sync.OnceValues(func() ([]byte, error) { return renderDocs(openapiJSON) })

// docs serves GET /docs: the rendered reference.
func (s *Server) docs(w http.ResponseWriter, r *http.Request) error {
	page, err := docsPageOnce()
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(page)
	return nil
}

// docsCSS serves GET /docs/docs.css.
func (s *Server) docsCSS(w http.ResponseWriter, r *http.Request) error {
	b, _ := docsFS.ReadFile("docs/docs.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
	return nil
}
