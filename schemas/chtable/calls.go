package chtable

import "votestream/schemas"

// Calls is the call log (0014_calls.sql).
var Calls = Table{"calls", []string{
	"call_id", "race", "action", "state", "leader_no", "party_no", "by", "org", "role", "at", "at_ms", "reason",
	"estimate_id", "data_time", "recommendation", "win_probability", "margin_votes", "stations_reported",
	"stations_total", "decided", "seats_lo", "seats_hi"}}

// CallRow is the calls row of a calls.v1 record.
func CallRow(c schemas.Call) []any {
	e := c.Evidence
	var lo, hi *uint16
	if e.SeatsLo != nil {
		v := uint16(max(0, min(*e.SeatsLo, 65535)))
		lo = &v
	}
	if e.SeatsHi != nil {
		v := uint16(max(0, min(*e.SeatsHi, 65535)))
		hi = &v
	}
	return []any{
		c.CallID, c.Race, string(c.Action), string(c.State), clampU16(c.LeaderNo), clampU16(c.PartyNo),
		c.By, c.Org, c.Role, dateTime(c.At), uint64(max(0, c.At.UnixMilli())), c.Reason,
		e.EstimateID, dateTime(e.DataTime), string(e.Recommendation), e.WinProbability, e.MarginVotes,
		uint32(max(0, e.StationsReported)), uint32(max(0, e.StationsTotal)), flag(e.Decided), lo, hi,
	}
}

func clampU16(n int) uint16 { return uint16(max(0, min(n, 65535))) }
