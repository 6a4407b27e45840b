package consolidate

import (
	"slices"
	"testing"

	"votestream/schemas"
)

// TestCodeSetHoldsTheWholeCatalogue: every code fits, in catalogue order, and hard() follows
// the catalogue's severities.
func TestCodeSetHoldsTheWholeCatalogue(t *testing.T) {
	var all codeSet
	for _, c := range schemas.AnomalyCodes {
		all.add(c)
	}
	if got := all.list(); !slices.Equal(got, schemas.AnomalyCodes) {
		t.Fatalf("set of every code lists %v", got)
	}
	for _, k := range schemas.AnomalyCatalogue {
		var one codeSet
		one.add(k.Code)
		if got := one.list(); !slices.Equal(got, []string{k.Code}) {
			t.Fatalf("%s: set lists %v", k.Code, got)
		}
		if one.hard() != (k.Severity == schemas.SeverityHard) {
			t.Fatalf("%s: hard() %v with severity %s", k.Code, one.hard(), k.Severity)
		}
	}
	var none codeSet
	none.add("NOT_A_CODE")
	if none.list() != nil || none.hard() {
		t.Fatal("an unknown code entered the set")
	}
}
