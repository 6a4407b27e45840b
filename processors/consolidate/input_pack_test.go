package consolidate

import (
	"slices"
	"testing"
	"unsafe"

	"votestream/schemas"
)

// A report's own strings keep their values and end up in one allocation.
func TestPackStrings(t *testing.T) {
	ev := make([]string, 2, 8)
	ev[0], ev[1] = "sha256:"+string(make([]byte, 64)), "sha256:ff"
	r := schemas.Report{Submission: schemas.Submission{SubmissionID: "0b0e6d3c-0000-4000-8000-000000000001", Evidence: ev}, Hash: "sha256:ab"}
	want := r
	want.Evidence = slices.Clone(ev)
	packStrings(&r)
	if r.SubmissionID != want.SubmissionID || r.Hash != want.Hash || !slices.Equal(r.Evidence, want.Evidence) {
		t.Fatalf("packed %+v, want the values of %+v", r, want)
	}
	if cap(r.Evidence) != len(r.Evidence) {
		t.Errorf("evidence keeps room for %d, want none", cap(r.Evidence))
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(r.SubmissionID)))
	total := len(r.SubmissionID) + len(r.Hash) + len(r.Evidence[0]) + len(r.Evidence[1])
	for _, s := range append([]string{r.Hash}, r.Evidence...) {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		if p < base || p+uintptr(len(s)) > base+uintptr(total) {
			t.Errorf("%q lies outside the packed block", s[:9])
		}
	}
}
