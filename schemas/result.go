package schemas

import "time"

// Status of a station result (DESIGN.md §4).
type Status string

const (
	StatusProvisional  Status = "provisional"  // one source
	StatusCorroborated Status = "corroborated" // independent sources from different organisations agree
	StatusDisputed     Status = "disputed"     // sources disagree, or a hard anomaly; counts as unreported
	StatusVerified     Status = "verified"     // a district lead or the war room confirmed it, or it matches the official figure
)

// Source is one report behind a station result.
type Source struct {
	SubmissionID string `json:"submission_id"`
	VolunteerID  string `json:"volunteer_id"`
	Org          string `json:"org"`
	Stage        Stage  `json:"stage"`
	Hash         string `json:"hash"`
}

// StationResult is consolidate's current best figures for one station and ballot: the value
// of a station-results.v1 record, keyed by station_id. Version only ever grows.
type StationResult struct {
	StationID      string         `json:"station_id"`
	ConstituencyID string         `json:"constituency_id"`
	Ballot         string         `json:"ballot"`
	Version        int64          `json:"version"`
	Status         Status         `json:"status"`
	Stage          Stage          `json:"stage"`
	BallotsCast    int            `json:"ballots_cast"`
	Invalid        int            `json:"invalid"`
	NoVote         int            `json:"no_vote"`
	Votes          map[string]int `json:"votes"`
	Sources        []Source       `json:"sources"`
	Anomalies      []string       `json:"anomalies,omitempty"`  // codes currently open on this result
	DecidedBy      string         `json:"decided_by,omitempty"` // reviewer or "official", when verified
	CountedAt      time.Time      `json:"counted_at"`
	UpdatedAt      time.Time      `json:"updated_at"` // data time: received_at of the newest input
}

// Severity of an anomaly: a hard one disputes the result; a soft one only flags it.
type Severity string

const (
	SeverityInfo Severity = "info"
	SeveritySoft Severity = "soft"
	SeverityHard Severity = "hard"
)

// Anomaly codes (DESIGN.md §4). Stable: dashboards, feeds and people rely on them.
const (
	AnomalyArith            = "ARITH"
	AnomalyOverEligible     = "OVER_ELIGIBLE"
	AnomalyConflict         = "CONFLICT"
	AnomalyRegression       = "REGRESSION"
	AnomalyBallotGap        = "BALLOT_GAP"
	AnomalyTurnoutOutlier   = "TURNOUT_OUTLIER"
	AnomalyShareOutlier     = "SHARE_OUTLIER"
	AnomalyNumberSwap       = "NUMBER_SWAP"
	AnomalyEarly            = "EARLY"
	AnomalySpread           = "SPREAD"
	AnomalyOfficialMismatch = "OFFICIAL_MISMATCH"
	AnomalyPhotoReuse       = "PHOTO_REUSE"
	AnomalyBlockShift       = "BLOCK_SHIFT"
)

// Anomaly is one flag raised by consolidate: the value of an anomalies.v1 record.
type Anomaly struct {
	AnomalyID string   `json:"anomaly_id"` // deterministic: the same input raises the same id
	Code      string   `json:"code"`
	Severity  Severity `json:"severity"`
	StationID string   `json:"station_id"`
	// ConstituencyID of the station, when known, so dashboards group anomalies without a join.
	ConstituencyID string            `json:"constituency_id,omitempty"`
	Ballot         string            `json:"ballot,omitempty"`
	VolunteerID    string            `json:"volunteer_id,omitempty"`
	Submissions    []string          `json:"submissions,omitempty"` // submission ids behind it
	Message        string            `json:"message"`               // for a person
	Evidence       map[string]string `json:"evidence,omitempty"`    // the numbers that triggered it
	DetectedAt     time.Time         `json:"detected_at"`
}

// Review is a district lead's or the war room's decision on one station and ballot: accept
// one source's figures (AcceptSubmissionID), enter corrected figures, or escalate (ask the
// war room to decide; it changes no figure), always with a reason.
type Review struct {
	ReviewID           string         `json:"review_id"`
	StationID          string         `json:"station_id"`
	Ballot             string         `json:"ballot"`
	AcceptSubmissionID string         `json:"accept_submission_id,omitempty"`
	BallotsCast        *int           `json:"ballots_cast,omitempty"`
	Invalid            *int           `json:"invalid,omitempty"`
	NoVote             *int           `json:"no_vote,omitempty"`
	Votes              map[string]int `json:"votes,omitempty"`
	// Escalate asks the war room to decide; such a review neither accepts nor enters figures.
	Escalate bool   `json:"escalate,omitempty"`
	Reason   string `json:"reason"`
	// Set by ingest from the token, never from the body.
	ReviewerID string    `json:"reviewer_id"`
	Role       string    `json:"role"`
	ReceivedAt time.Time `json:"received_at"`
}

// Official is the election commission's figure for one station and ballot, entered by a
// district lead or the war room.
type Official struct {
	OfficialID  string         `json:"official_id"`
	StationID   string         `json:"station_id"`
	Ballot      string         `json:"ballot"`
	BallotsCast int            `json:"ballots_cast"`
	Invalid     int            `json:"invalid"`
	NoVote      int            `json:"no_vote"`
	Votes       map[string]int `json:"votes"`
	// Set by ingest from the token, never from the body.
	EnteredBy  string    `json:"entered_by"`
	Role       string    `json:"role"`
	ReceivedAt time.Time `json:"received_at"`
}

// Roles a token can carry.
const (
	RoleStation      = "station"
	RoleDistrictLead = "district_lead"
	RoleWarRoom      = "war_room"
)
