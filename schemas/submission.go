package schemas

import "time"

// Stage says whether a report is a progressive tally-board count or the final signed form.
type Stage string

const (
	StageProgress Stage = "progress"
	StageFinal    Stage = "final"
)

// Submission is what a volunteer sends (submission v1). The JSON names are the contract;
// the volunteer is known from the bearer token, never from the body.
type Submission struct {
	SubmissionID string         `json:"submission_id"` // client-made UUID, the idempotency key
	StationID    string         `json:"station_id"`
	Ballot       string         `json:"ballot"` // "constituency" or "partylist"
	Stage        Stage          `json:"stage"`
	CountedAt    time.Time      `json:"counted_at"` // RFC 3339, at the station
	BallotsCast  int            `json:"ballots_cast"`
	Invalid      int            `json:"invalid"`
	NoVote       int            `json:"no_vote"`
	Votes        map[string]int `json:"votes"`              // candidate_no or party_no (decimal string) -> votes
	Evidence     []string       `json:"evidence,omitempty"` // "sha256:<hex>" of photos
}

// Report is a Submission as ingest accepted it: the body plus who sent it and when.
// It is the value of a submissions.v1 record.
type Report struct {
	Submission
	VolunteerID string    `json:"volunteer_id"`
	Org         string    `json:"org"`
	Role        string    `json:"role"` // station, district_lead, war_room
	ReceivedAt  time.Time `json:"received_at"`
	Hash        string    `json:"hash"` // "sha256:<hex>" of the canonical submission body

	// Person is the token's person key (the roster's salted phone hash, 64 hex digits), set
	// by ingest from the token, never from the body; absent when the token has none. Two
	// reports with the same Person are one person, whatever their organisations.
	Person string `json:"person,omitempty"`
}
