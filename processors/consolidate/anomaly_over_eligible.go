package consolidate

import (
	"strconv"

	"votestream/schemas"
)

// overEligibleAnomaly: more ballots cast than the station has eligible voters.
func overEligibleAnomaly(st *Station, rep *Report) *schemas.Anomaly {
	if rep.fig.BallotsCast <= st.EligibleVoters {
		return nil
	}
	a := newAnomaly(schemas.AnomalyOverEligible, st, rep.Ballot(), rep.ReceivedAt,
		"ballots cast "+strconv.Itoa(rep.fig.BallotsCast)+" above the station's "+strconv.Itoa(st.EligibleVoters)+" eligible voters",
		map[string]string{
			"ballots_cast":    strconv.Itoa(rep.fig.BallotsCast),
			"eligible_voters": strconv.Itoa(st.EligibleVoters),
			"excess":          strconv.Itoa(rep.fig.BallotsCast - st.EligibleVoters),
		},
		rep.SubmissionID)
	return withReport(a, rep)
}
