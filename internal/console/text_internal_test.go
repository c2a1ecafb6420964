package console

import "testing"

// TestErrorSummaryLinksToEachKeyField: every field of the key form that
// can be wrong has its own line in the summary, linked to its control, in
// page order.
func TestErrorSummaryLinksToEachKeyField(t *testing.T) {
	errs := map[string]string{"credits": "c", "audiences": "a", "allowedCidrs": "i", "rateLimits": "r", "name": "n"}
	got := errorList(errs, "key")
	want := []errItem{{"name", "Name", "n"}, {"audiences", "Token audiences", "a"}, {"rateLimits", "Named rate limits", "r"},
		{"allowedCidrs", "Allowed addresses", "i"}, {"credits", "Usage credits", "c"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
