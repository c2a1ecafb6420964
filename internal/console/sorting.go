package console

import "strings"

// sortHeader is a sortable column's header: a link that orders the list by
// the column, or reverses the order when the list is already ordered by it.
// It works without script and keeps the list's filters.
type sortHeader struct {
	Label, Class string
	Href         string
	AriaSort     string // "ascending" or "descending" on the column the list is ordered by
	Arrow        string // ▲ or ▼ there
	Action       string // what following the link does, for screen readers
}

// newSortHeader is the header of a column ordered by field; descFirst makes
// the first click order it descending (dates: newest first). cur is the
// list's order now; href gives the list's URL for an order.
func newSortHeader(label, class, field string, descFirst bool, cur string, href func(sort string) string) sortHeader {
	h := sortHeader{Label: label, Class: class}
	next := field
	if descFirst {
		next = "-" + field
	}
	switch cur {
	case field:
		h.AriaSort, h.Arrow, next = "ascending", "▲", "-"+field
	case "-" + field:
		h.AriaSort, h.Arrow, next = "descending", "▼", field
	}
	h.Href = href(next)
	h.Action = "sort ascending"
	if strings.HasPrefix(next, "-") {
		h.Action = "sort descending"
	}
	return h
}
