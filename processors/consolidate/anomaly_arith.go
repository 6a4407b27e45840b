package consolidate

import (
	"strconv"
	"time"

	"votestream/schemas"
)

// reportAnomalies are the checks one report allows on its own, raised once when it arrives:
// ARITH, OVER_ELIGIBLE and EARLY.
func (r *Rules) reportAnomalies(st *Station, rep *Report) []*schemas.Anomaly {
	var out []*schemas.Anomaly
	if a := arithAnomaly(st, rep); a != nil {
		out = append(out, a)
	}
	if a := overEligibleAnomaly(st, rep); a != nil {
		out = append(out, a)
	}
	if a := r.earlyAnomaly(st, rep); a != nil {
		out = append(out, a)
	}
	return out
}

// arithAnomaly: votes + invalid + no_vote differ from ballots cast. Every honest report,
// progress or final, adds up (a tally board counts ballots as it reads them).
func arithAnomaly(st *Station, rep *Report) *schemas.Anomaly {
	f := rep.fig
	if f.consistent {
		return nil
	}
	sum := f.valid() + f.Invalid + f.NoVote
	a := newAnomaly(schemas.AnomalyArith, st, rep.Ballot(), rep.ReceivedAt,
		"votes "+strconv.Itoa(f.valid())+" + invalid "+strconv.Itoa(f.Invalid)+" + no vote "+strconv.Itoa(f.NoVote)+
			" = "+strconv.Itoa(sum)+", but ballots cast "+strconv.Itoa(f.BallotsCast),
		map[string]string{
			"valid_votes":  strconv.Itoa(f.valid()),
			"invalid":      strconv.Itoa(f.Invalid),
			"no_vote":      strconv.Itoa(f.NoVote),
			"sum":          strconv.Itoa(sum),
			"ballots_cast": strconv.Itoa(f.BallotsCast),
			"difference":   strconv.Itoa(sum - f.BallotsCast),
			"figures":      f.String(),
		},
		rep.SubmissionID)
	return withReport(a, rep)
}

// withReport names the report behind an anomaly.
func withReport(a *schemas.Anomaly, rep *Report) *schemas.Anomaly {
	a.VolunteerID = rep.VolunteerID
	a.Submissions = []string{rep.SubmissionID}
	a.Evidence["stage"] = string(rep.Stage())
	a.Evidence["org"] = rep.Org
	return a
}

func formatTime(t time.Time) string { return t.In(BangkokTime).Format(time.RFC3339) }
