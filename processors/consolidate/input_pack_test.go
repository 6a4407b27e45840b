package consolidate

import (
	"testing"
	"unsafe"

	"votestream/schemas"
)

// The strings a kept report holds of its own keep their values and end up in one
// allocation. (The evidence hashes are not kept: the photo index keys them as photoKey.)
func TestPackStrings(t *testing.T) {
	r := schemas.Report{Submission: schemas.Submission{SubmissionID: "0b0e6d3c-0000-4000-8000-000000000001"}, Hash: "sha256:ab"}
	want := r
	packStrings(&r)
	if r.SubmissionID != want.SubmissionID || r.Hash != want.Hash {
		t.Fatalf("packed %+v, want the values of %+v", r, want)
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(r.SubmissionID)))
	total := len(r.SubmissionID) + len(r.Hash)
	p := uintptr(unsafe.Pointer(unsafe.StringData(r.Hash)))
	if p < base || p+uintptr(len(r.Hash)) > base+uintptr(total) {
		t.Errorf("%q lies outside the packed block", r.Hash)
	}
}
