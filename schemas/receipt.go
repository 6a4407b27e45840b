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
}
