package schemas

import "time"

// CallState is how sure an estimate is of a constituency's winner.
type CallState string

const (
	// CallTooEarly: too few stations reported to name a leader with any confidence.
	CallTooEarly CallState = "too_early"
	// CallLeading: a leader is named, but the race can still turn.
	CallLeading CallState = "leading"
	// CallLikely: the leader wins with high probability.
	CallLikely CallState = "likely"
	// CallCalled: no remaining ballots can change the winner, whatever they contain.
	CallCalled CallState = "called"
)

// CallStates lists every call state, from least to most certain.
var CallStates = []CallState{CallTooEarly, CallLeading, CallLikely, CallCalled}

// EstimateState says whether a part of an estimate (the party-list shares and seats, a
// constituency's projection) is published.
type EstimateState string

const (
	// StateTooEarly: the reports so far cannot support an estimate (too few stations, or
	// too few places); only the counted figures mean anything.
	StateTooEarly EstimateState = "too_early"
	// StateEstimate: a projection with its 95 % interval.
	StateEstimate EstimateState = "estimate"
	// StateCount: every station has reported; the figures are the count.
	StateCount EstimateState = "count"
)

// EstimateStates lists every state, from least to most certain.
var EstimateStates = []EstimateState{StateTooEarly, StateEstimate, StateCount}

// Estimate is one run of the estimator: the value of an estimates.v1 record. Every figure
// reflects the station results known at DataTime; ComputedAt is when it was worked out.
// Stations and eligible voters count only reported, non-disputed stations as reported.
type Estimate struct {
	EstimateID       string    `json:"estimate_id"` // unique per run; re-publishing the same run reuses it
	DataTime         time.Time `json:"data_time"`   // newest station-result updated_at taken into account
	ComputedAt       time.Time `json:"computed_at"`
	StationsReported int       `json:"stations_reported"` // party-list ballot, whole country
	StationsTotal    int       `json:"stations_total"`
	EligibleReported int64     `json:"eligible_reported"` // eligible voters of the reported stations
	EligibleTotal    int64     `json:"eligible_total"`
	// SharesState says whether the parties' shares, intervals, projected votes and seats
	// are published: too_early (then they are all 0 and only counted_votes means
	// anything), estimate, or count. Empty in messages from before it existed.
	SharesState EstimateState `json:"shares_state,omitempty"`
	// PriorityUsed: the priority sample entered the shares.
	PriorityUsed bool `json:"priority_used,omitempty"`
	// SeatsState says whether the seat ranges, the largest-party probabilities and the
	// candidates' simulated win probabilities are published; it follows shares_state.
	// SeatDraws is the number of simulated nights behind them. Absent in older messages.
	SeatsState     EstimateState          `json:"seats_state,omitempty"`
	SeatDraws      int                    `json:"seat_draws,omitempty"`
	Parties        []PartyEstimate        `json:"parties"`
	Constituencies []ConstituencyEstimate `json:"constituencies"`
	// EstimatorVersion is the build of the estimator that made the estimate (module version
	// and VCS revision), and ConfigHash the "sha256:<hex>" of its statistical settings as
	// JSON, so an auditor can re-run what went on air. Absent from older records.
	EstimatorVersion string `json:"estimator_version,omitempty"`
	ConfigHash       string `json:"config_hash,omitempty"`
}

// PartyEstimate is the national party-list estimate for one party. Shares are fractions of
// the valid party-list votes (0..1), with a 95 % interval ShareLo <= Share <= ShareHi.
type PartyEstimate struct {
	PartyNo        int     `json:"party_no"`
	CountedVotes   int64   `json:"counted_votes"`   // votes on the reported stations
	ProjectedVotes int64   `json:"projected_votes"` // estimate for the whole country, rounded
	Share          float64 `json:"share"`
	ShareLo        float64 `json:"share_lo"`
	ShareHi        float64 `json:"share_hi"`
	Seats          int     `json:"seats"` // projected party-list seats (of 100)
	// SeatRange is the party's share of the 500 seats from the joint simulation of every
	// race; absent while seats_state is too_early and in older messages.
	SeatRange *SeatRange `json:"seat_range,omitempty"`
}

// SeatRange is one party's seats over the simulated nights: medians of its constituency,
// party-list and total seats, central 90 % and 95 % ranges of the total, and the share of
// nights in which it had the most seats (ties shared).
type SeatRange struct {
	ConstituencySeats  int     `json:"constituency_seats"`
	ListSeats          int     `json:"list_seats"`
	Total              int     `json:"total"`
	TotalLo90          int     `json:"total_lo90"`
	TotalHi90          int     `json:"total_hi90"`
	TotalLo95          int     `json:"total_lo95"`
	TotalHi95          int     `json:"total_hi95"`
	LargestProbability float64 `json:"largest_probability"`
}

// ConstituencyEstimate is the projected result of one constituency (constituency ballot).
// LeaderNo is 0 when no station has reported.
type ConstituencyEstimate struct {
	ConstituencyID   string              `json:"constituency_id"`
	LeaderNo         int                 `json:"leader_no"`       // candidate_no of the projected winner
	WinProbability   float64             `json:"win_probability"` // of the leader, 0..1
	Call             CallState           `json:"call"`
	StationsReported int                 `json:"stations_reported"`
	StationsTotal    int                 `json:"stations_total"`
	EligibleReported int64               `json:"eligible_reported"`
	EligibleTotal    int64               `json:"eligible_total"`
	Candidates       []CandidateEstimate `json:"candidates"` // by candidate_no
}

// CandidateEstimate is one candidate's votes in a ConstituencyEstimate.
type CandidateEstimate struct {
	CandidateNo    int   `json:"candidate_no"`
	CountedVotes   int64 `json:"counted_votes"`
	ProjectedVotes int64 `json:"projected_votes"`
	// WinProbability is the share of simulated nights the candidate won (absent: 0 or
	// seats_state too_early). Swing is the projected share of the valid votes less the
	// party's share in the baseline election, present only when a baseline knows it.
	WinProbability float64  `json:"win_probability,omitempty"`
	Swing          *float64 `json:"swing,omitempty"`
}
