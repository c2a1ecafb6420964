package httpapi

import "github.com/keyward/keyward"

// keyList is the answer of GET /v1/apikeys: the shared list envelope, and
// keyset paging.
type keyList struct {
	ListEnvelope[*keyward.APIKey]
	// TotalCountEstimated says totalCount (and so totalPages) is an
	// estimate: more keys match than are counted exactly.
	TotalCountEstimated bool `json:"totalCountEstimated"`
	// NextCursor, when more keys follow, is the cursor of the next page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// keyListOf wraps a page of keys. When the page followed a cursor, or the
// count is an estimate, hasNextPage says whether a next cursor is given,
// and a cursor's page has no index (pageIndex 0) but a previous page.
func keyListOf(l keyward.List[*keyward.APIKey], cursor bool) keyList {
	e := envelope(l)
	if cursor || l.TotalEstimated {
		e.HasNextPage = l.NextCursor != ""
	}
	if cursor {
		e.PageIndex, e.HasPreviousPage = 0, true
	}
	return keyList{ListEnvelope: e, TotalCountEstimated: l.TotalEstimated, NextCursor: l.NextCursor}
}
