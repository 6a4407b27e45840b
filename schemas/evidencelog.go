package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Evidence is the value of an evidence.v1 record: ingest holds the photo with this SHA-256
// (it stored it now, or already had it). Keyed by the digest. The transparency log turns
// each into a photo leaf; the same photo uploaded twice is one leaf.
type Evidence struct {
	Evidence    string    `json:"evidence"`     // "sha256:<hex>", as submissions cite it
	Bytes       int64     `json:"bytes"`        // the photo's size; 0 when it was already stored
	VolunteerID string    `json:"volunteer_id"` // who uploaded it (from the token)
	ReceivedAt  time.Time `json:"received_at"`
}

// Checkpoint is the value of a checkpoints.v1 record: a signed checkpoint of the
// transparency log (C2SP tlog-checkpoint), with the cosignatures of the witnesses gathered
// so far. The log publishes one per checkpoint, and again when a witness cosigns it, so the
// newest record of a size carries the most cosignatures. Keyed by origin.
type Checkpoint struct {
	Origin      string    `json:"origin"`    // the log's name, first line of the note
	Size        int64     `json:"size"`      // leaves committed to
	RootHash    string    `json:"root_hash"` // base64, as in the note
	Note        string    `json:"note"`      // the whole signed note, log signature and cosignatures
	Cosigners   []string  `json:"cosigners"` // key names of the witnesses whose cosignatures the log verified
	PublishedAt time.Time `json:"published_at"`
}

// Leaf kinds of the transparency log: the "kind" member that starts every leaf.
const (
	LeafReport   = "report.v1"   // an accepted report (submissions.v1)
	LeafPhoto    = "photo.v1"    // a stored photo (evidence.v1)
	LeafReview   = "review.v1"   // a review decision (reviews.v1)
	LeafOfficial = "official.v1" // an official figure (official.v1)
	LeafEstimate = "estimate.v1" // a published estimate (estimates.v1)
	LeafRecord   = "record.v1"   // a record of a logged topic that could not be decoded
)

// Log leaves. A leaf is the bytes the Merkle tree commits to (an entry of the C2SP
// tlog-tiles log); its hash is RFC 6962's leaf hash, SHA-256(0x00 || leaf). Every leaf is
// one JSON object without white space, members in the order each function lists, strings
// written as in CanonicalJSON (HTML escaping off), times in UTC as RFC 3339 with fractional
// seconds only when non-zero (Go's time.RFC3339Nano). The first member is always "kind".
// Anyone can rebuild a leaf from the record it stands for, and so its hash.

// ReportLeaf is the leaf of an accepted report: {"kind":"report.v1","hash",
// "station_id","ballot","stage","submission_id","received_at"}. hash is the report's
// CanonicalHash, which covers the figures and the evidence cited; the other members say
// which station it is about and when ingest acknowledged it, so the log itself can be read
// by station.
func ReportLeaf(r *Report) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"kind":"`+LeafReport+`","hash":`...)
	b = appendJSONString(b, false, r.Hash)
	b = append(b, `,"station_id":`...)
	b = appendJSONString(b, false, r.StationID)
	b = append(b, `,"ballot":`...)
	b = appendJSONString(b, false, r.Ballot)
	b = append(b, `,"stage":`...)
	b = appendJSONString(b, false, string(r.Stage))
	b = append(b, `,"submission_id":`...)
	b = appendJSONString(b, false, r.SubmissionID)
	b = append(b, `,"received_at":`...)
	b = appendLeafTime(b, r.ReceivedAt)
	return append(b, '}')
}

// PhotoLeaf is the leaf of a stored photo: {"kind":"photo.v1","evidence":"sha256:<hex>"}.
// It holds nothing but the digest, so anyone holding the photo file can compute it.
func PhotoLeaf(evidence string) []byte {
	b := make([]byte, 0, 100)
	b = append(b, `{"kind":"`+LeafPhoto+`","evidence":`...)
	b = appendJSONString(b, false, evidence)
	return append(b, '}')
}

// LeafField is one named member of a RecordLeaf after "kind" and "record".
type LeafField struct {
	Name  string
	Value string
}

// RecordLeaf is the leaf of a record logged by the hash of its exact value:
// {"kind":kind,"record":"sha256:<hex of value>", then fields in order}. Reviews, official
// figures and estimates are logged this way: the record's bytes as Kafka holds them, plus
// the fields that identify it. Fields with an empty value are left out.
func RecordLeaf(kind string, value []byte, fields ...LeafField) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"kind":`...)
	b = appendJSONString(b, false, kind)
	b = append(b, `,"record":`...)
	b = appendJSONString(b, false, SHA256Ref(value))
	for _, f := range fields {
		if f.Value == "" {
			continue
		}
		b = append(b, ',')
		b = appendJSONString(b, false, f.Name)
		b = append(b, ':')
		b = appendJSONString(b, false, f.Value)
	}
	return append(b, '}')
}

// ReviewLeaf is the RecordLeaf of a reviews.v1 record value: station_id, ballot,
// review_id, received_at.
func ReviewLeaf(value []byte, r *Review) []byte {
	return RecordLeaf(LeafReview, value,
		LeafField{"station_id", r.StationID}, LeafField{"ballot", r.Ballot},
		LeafField{"review_id", r.ReviewID}, LeafField{"received_at", LeafTime(r.ReceivedAt)})
}

// OfficialLeaf is the RecordLeaf of an official.v1 record value: station_id, ballot,
// official_id, received_at.
func OfficialLeaf(value []byte, o *Official) []byte {
	return RecordLeaf(LeafOfficial, value,
		LeafField{"station_id", o.StationID}, LeafField{"ballot", o.Ballot},
		LeafField{"official_id", o.OfficialID}, LeafField{"received_at", LeafTime(o.ReceivedAt)})
}

// SHA256Ref is "sha256:" and the lower-case hex SHA-256 of b.
func SHA256Ref(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// LeafTime formats t as leaves do: UTC, time.RFC3339Nano.
func LeafTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func appendLeafTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// LeafHash is RFC 6962's hash of a leaf: SHA-256(0x00 || leaf), the hash the log's tiles
// hold at level 0 and an inclusion proof starts from.
func LeafHash(leaf []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// LeafHashHex is LeafHash in lower-case hex, as receipts and proof URLs name it.
func LeafHashHex(leaf []byte) string {
	h := LeafHash(leaf)
	return hex.EncodeToString(h[:])
}

// ParseLeafHashHex reads 64 lower- or upper-case hex digits.
func ParseLeafHashHex(s string) ([32]byte, bool) {
	var out [32]byte
	if len(s) != 64 {
		return out, false
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return out, false
	}
	return out, true
}

// EstimateLeaf is the RecordLeaf of an estimates.v1 record value: estimate_id, data_time,
// and the estimator's version and configuration hash when the record carries them, so an
// auditor can prove what went on air and re-run the estimator that made it.
func EstimateLeaf(value []byte, estimateID string, dataTime time.Time, estimatorVersion, configHash string) []byte {
	var dt string
	if !dataTime.IsZero() {
		dt = LeafTime(dataTime)
	}
	return RecordLeaf(LeafEstimate, value,
		LeafField{"estimate_id", estimateID}, LeafField{"data_time", dt},
		LeafField{"estimator_version", estimatorVersion}, LeafField{"config_hash", configHash})
}
