package schemas

import "time"

// Receipt is ingest's answer to an accepted submission (and to a review or official figure,
// where SubmissionID carries that record's id). A retry with the same id gets the receipt
// of the first acceptance again, with Duplicate set.
type Receipt struct {
	SubmissionID string    `json:"submission_id"`
	Hash         string    `json:"hash"` // CanonicalHash of what was accepted
	ReceivedAt   time.Time `json:"received_at"`
	Duplicate    bool      `json:"duplicate,omitempty"`
	// LeafHash names the record's leaf in the transparency log: the lower-case hex RFC 6962
	// leaf hash of ReportLeaf (or ReviewLeaf, OfficialLeaf), known when the receipt is
	// written; the leaf is appended shortly after.
	LeafHash string `json:"leaf_hash,omitempty"`
	// ProofURL is where the inclusion proof of the leaf can be fetched once it is in the log
	// (404 NOT_IN_LOG until then); empty when ingest is not told the log's public address.
	ProofURL string `json:"proof_url,omitempty"`
}
