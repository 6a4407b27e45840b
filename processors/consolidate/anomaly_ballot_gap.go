package consolidate

import (
	"strconv"
	"time"

	"votestream/schemas"
)

// ballotGap: the final party-list and constituency ballots cast of a station differ by more
// than the tolerance. Every voter is handed both ballots, so the two counts differ only by
// the few who decline one. Raised on the station (no ballot) and shown on both results.
func (r *Rules) ballotGap(st *Station, vs *[2]view, _ time.Time) *schemas.Anomaly {
	c, p := &vs[0], &vs[1]
	if c.fig == nil || p.fig == nil || c.stage != schemas.StageFinal || p.stage != schemas.StageFinal {
		return nil
	}
	bc, bp := c.fig.BallotsCast, p.fig.BallotsCast
	gap := bc - bp
	if gap < 0 {
		gap = -gap
	}
	tol := max(r.BallotGapAbs, int(r.BallotGapRel*float64(max(bc, bp))))
	if gap <= tol {
		return nil
	}
	at := later(st.ballots[0].updatedAt, st.ballots[1].updatedAt)
	a := newAnomaly(schemas.AnomalyBallotGap, st, "", at,
		"constituency ballots cast "+strconv.Itoa(bc)+" and party-list ballots cast "+strconv.Itoa(bp)+
			" differ by "+strconv.Itoa(gap)+", more than the tolerance of "+strconv.Itoa(tol),
		map[string]string{
			"constituency_ballots_cast": strconv.Itoa(bc),
			"partylist_ballots_cast":    strconv.Itoa(bp),
			"gap":                       strconv.Itoa(gap),
			"tolerance":                 strconv.Itoa(tol),
			"constituency_figures":      c.fig.String(),
			"partylist_figures":         p.fig.String(),
		},
		st.ID, c.fig.String(), p.fig.String())
	for _, s := range append(append([]*Report{}, c.sources...), p.sources...) {
		a.Submissions = append(a.Submissions, s.SubmissionID)
	}
	return a
}
