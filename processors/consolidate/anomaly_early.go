package consolidate

import (
	"votestream/schemas"
)

// early reports whether a report says it was counted before polls closed.
func (r *Rules) early(rep *Report) bool {
	return rep.CountedAt.Before(r.PollsClose.Add(-r.EarlyTolerance))
}

// earlyAnomaly: counted_at before polls closed (less the tolerance for phone clocks). Soft:
// a wrong phone clock is the usual cause, a count started early the rare one.
func (r *Rules) earlyAnomaly(st *Station, rep *Report) *schemas.Anomaly {
	if !r.early(rep) {
		return nil
	}
	a := newAnomaly(schemas.AnomalyEarly, st, rep.Ballot(), rep.ReceivedAt,
		"counted at "+formatTime(rep.CountedAt)+", before polls closed at "+formatTime(r.PollsClose),
		map[string]string{
			"counted_at":  formatTime(rep.CountedAt),
			"polls_close": formatTime(r.PollsClose),
			"tolerance":   r.EarlyTolerance.String(),
			"received_at": formatTime(rep.ReceivedAt),
		},
		rep.SubmissionID)
	return withReport(a, rep)
}
