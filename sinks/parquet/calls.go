package parquet

import (
	"time"

	"votestream/schemas"
)

// FileCalls is the call log: every recommendation and decision of the decision desk.
const FileCalls = "calls.parquet"

// CallRow is one row of calls.parquet: a calls.v1 record (docs/calls.md) without the desk
// member's organisation and role, as in the newsrooms' database. Only rows with
// action approve and retract are calls; a race's standing call is its latest approval not
// followed by a retraction.
type CallRow struct {
	CallID           string    `parquet:"call_id"`
	Race             string    `parquet:"race"`
	Action           string    `parquet:"action"`
	State            string    `parquet:"state"`
	LeaderNo         int32     `parquet:"leader_no"`
	PartyNo          int32     `parquet:"party_no"`
	By               string    `parquet:"by"` // the desk member who made it, cited by newsrooms
	At               time.Time `parquet:"at,timestamp(millisecond:utc)"`
	Reason           string    `parquet:"reason"`
	EstimateID       string    `parquet:"estimate_id"`
	Recommendation   string    `parquet:"recommendation"`
	WinProbability   *float64  `parquet:"win_probability,optional"`
	MarginVotes      int64     `parquet:"margin_votes"`
	StationsReported int64     `parquet:"stations_reported"`
	StationsTotal    int64     `parquet:"stations_total"`
	Decided          bool      `parquet:"decided"`
}

// callRows are the calls in topic order (the order of decisions); a re-delivered record
// (same call_id) is one row.
func callRows(calls []*schemas.Call) []CallRow {
	rows := make([]CallRow, 0, len(calls))
	seen := map[string]bool{}
	for _, c := range calls {
		if seen[c.CallID] {
			continue
		}
		seen[c.CallID] = true
		e := c.Evidence
		rows = append(rows, CallRow{CallID: c.CallID, Race: c.Race, Action: string(c.Action), State: string(c.State),
			LeaderNo: int32(c.LeaderNo), PartyNo: int32(c.PartyNo), By: c.By, At: c.At.UTC(), Reason: c.Reason,
			EstimateID: e.EstimateID, Recommendation: string(e.Recommendation), WinProbability: e.WinProbability,
			MarginVotes: e.MarginVotes, StationsReported: int64(e.StationsReported), StationsTotal: int64(e.StationsTotal),
			Decided: e.Decided})
	}
	return rows
}
