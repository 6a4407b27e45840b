package schemas

import "time"

// CallAction is what a calls.v1 record records: the estimator's recommendation changing,
// or a decision of the desk.
type CallAction string

const (
	// ActionRecommend: the estimator's recommendation for a race changed (state or leader).
	// Logged by the desk's console from estimates.v1; it decides nothing.
	ActionRecommend CallAction = "recommend"
	// ActionApprove: the desk approved a call; newsrooms receive it.
	ActionApprove CallAction = "approve"
	// ActionHold: the desk froze the race: no call can be approved until it is released.
	ActionHold CallAction = "hold"
	// ActionRelease: the desk lifted a hold.
	ActionRelease CallAction = "release"
	// ActionRetract: the desk took back the race's standing call; newsrooms receive it.
	ActionRetract CallAction = "retract"
)

// CallActions lists every action.
var CallActions = []CallAction{ActionRecommend, ActionApprove, ActionHold, ActionRelease, ActionRetract}

// RaceNational is the race of the national picture (the largest party); every other race
// is a constituency id.
const RaceNational = "national"

// RoleDesk is the role of the decision desk's members: they approve, hold and retract
// calls in the console, and nothing else.
const RoleDesk = "desk"

// Call is one calls.v1 record, keyed by race: a recommendation of the estimator or a
// decision of the desk, with who, when, why and the evidence it rests on. The topic has
// one partition, kept for ever: its order is the order of decisions.
type Call struct {
	CallID string     `json:"call_id"` // unique; a re-sent decision reuses it
	Race   string     `json:"race"`    // a constituency id, or "national"
	Action CallAction `json:"action"`
	// State is the call approved (called or likely), or the state recommended; empty for
	// a hold, release or retraction.
	State CallState `json:"state,omitempty"`
	// LeaderNo is the candidate_no called or recommended in a constituency; PartyNo the
	// party called or recommended as largest nationally. 0 when not applicable.
	LeaderNo int `json:"leader_no,omitempty"`
	PartyNo  int `json:"party_no,omitempty"`
	// Evidence is the recommendation the action was taken on.
	Evidence CallEvidence `json:"evidence"`
	// By, Org and Role come from the desk member's token ("estimator" for a
	// recommendation); At is when the record was made; Reason is required for decisions.
	By     string    `json:"by"`
	Org    string    `json:"org"`
	Role   string    `json:"role"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// CallEvidence is the estimator's recommendation for a race as the desk saw it.
type CallEvidence struct {
	EstimateID     string    `json:"estimate_id"`
	DataTime       time.Time `json:"data_time"`
	Recommendation CallState `json:"recommendation"`
	LeaderNo       int       `json:"leader_no,omitempty"`
	PartyNo        int       `json:"party_no,omitempty"`
	// WinProbability of the leader (constituency) or of the largest party (national),
	// when the estimate has it.
	WinProbability *float64 `json:"win_probability,omitempty"`
	// MarginVotes: counted votes of the leader minus the runner-up's (constituency), or
	// projected seats of the largest party minus the runner-up's (national).
	MarginVotes      int64 `json:"margin_votes"`
	StationsReported int   `json:"stations_reported"`
	StationsTotal    int   `json:"stations_total"`
	// Decided: no remaining ballots can change the winner (counted, checked figures only).
	Decided bool `json:"decided"`
	// SeatsLo and SeatsHi: the largest party's seat range, when the estimate has one.
	SeatsLo *int `json:"seats_lo,omitempty"`
	SeatsHi *int `json:"seats_hi,omitempty"`
}

// LeafCall is the transparency log's leaf kind of a calls.v1 record.
const LeafCall = "call.v1"

// CallLeaf is the RecordLeaf of a calls.v1 record value: race, action, call_id, at; so
// that every recommendation, approval, hold and retraction is in the public log.
func CallLeaf(value []byte, c *Call) []byte {
	return RecordLeaf(LeafCall, value,
		LeafField{"race", c.Race}, LeafField{"action", string(c.Action)},
		LeafField{"call_id", c.CallID}, LeafField{"at", LeafTime(c.At)})
}
