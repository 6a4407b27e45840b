package schemas_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"votestream/schemas"
)

// The leaves, worked out by hand from the rules in evidencelog.go.
func TestLeavesByHand(t *testing.T) {
	r := sampleReport()
	r.ReceivedAt = time.Date(2023, 5, 14, 17, 53, 0, 120000000, time.FixedZone("ICT", 7*3600))
	r.SubmissionID = `id"<1>`
	want := `{"kind":"report.v1","hash":"sha256:` + repeat("5c", 32) + `","station_id":"BKK_1_0042","ballot":"constituency","stage":"final","submission_id":"id\"<1>","received_at":"2023-05-14T10:53:00.12Z"}`
	if got := string(schemas.ReportLeaf(&r)); got != want {
		t.Errorf("ReportLeaf\n got %s\nwant %s", got, want)
	}
	if got, want := string(schemas.PhotoLeaf(hashA)), `{"kind":"photo.v1","evidence":"`+hashA+`"}`; got != want {
		t.Errorf("PhotoLeaf\n got %s\nwant %s", got, want)
	}
	value := []byte(`{"x":1}`)
	sum := sha256.Sum256(value)
	want = `{"kind":"estimate.v1","record":"sha256:` + hex.EncodeToString(sum[:]) + `","estimate_id":"est-7","data_time":"2023-05-14T11:42:00Z","config_hash":"sha256:ab"}`
	if got := string(schemas.EstimateLeaf(value, "est-7", time.Date(2023, 5, 14, 11, 42, 0, 0, time.UTC), "", "sha256:ab")); got != want {
		t.Errorf("EstimateLeaf\n got %s\nwant %s", got, want)
	}
	// Every leaf is JSON, whatever its strings hold.
	for _, leaf := range [][]byte{schemas.ReportLeaf(&r), schemas.PhotoLeaf("\u2028\x01"), schemas.ReviewLeaf(value, &schemas.Review{ReviewID: "r\n"})} {
		if !json.Valid(leaf) {
			t.Errorf("not JSON: %s", leaf)
		}
	}
}

// RFC 6962's leaf hash: SHA-256 of a zero byte and the leaf.
func TestLeafHash(t *testing.T) {
	leaf := []byte(`{"kind":"photo.v1","evidence":"sha256:00"}`)
	sum := sha256.Sum256(append([]byte{0}, leaf...))
	if got := schemas.LeafHash(leaf); got != sum {
		t.Errorf("LeafHash = %x, want %x", got, sum)
	}
	if got := schemas.LeafHashHex(leaf); got != hex.EncodeToString(sum[:]) {
		t.Errorf("LeafHashHex = %s", got)
	}
	if h, ok := schemas.ParseLeafHashHex(hex.EncodeToString(sum[:])); !ok || h != sum {
		t.Errorf("ParseLeafHashHex round trip failed")
	}
	for _, bad := range []string{"", "zz" + hex.EncodeToString(sum[:])[2:], hex.EncodeToString(sum[:31])} {
		if _, ok := schemas.ParseLeafHashHex(bad); ok {
			t.Errorf("ParseLeafHashHex(%q) accepted", bad)
		}
	}
}
