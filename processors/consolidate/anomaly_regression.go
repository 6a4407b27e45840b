package consolidate

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"votestream/schemas"
)

// regression is a progress report whose count went down from the same volunteer's previous
// progress report (by counted_at): a tally board only ever goes up.
type regression struct {
	later, earlier *Report
	what           string // the first count that went down: "ballots_cast" or a number
	from, to       int
}

// regressions finds, in each volunteer's progress reports ordered by counted_at, every
// report lower than the one before it. Keyed by the later report.
func regressions(reports []*Report) map[*Report]regression {
	var out map[*Report]regression
	// Most ballots have at most one tally board per volunteer: nothing to compare.
	repeated := false
	for i, r := range reports {
		if r.Stage() != schemas.StageProgress {
			continue
		}
		for _, q := range reports[:i] {
			if q.Stage() == schemas.StageProgress && q.VolunteerID == r.VolunteerID {
				repeated = true
				break
			}
		}
		if repeated {
			break
		}
	}
	if !repeated {
		return nil
	}
	byVolunteer := map[string][]*Report{}
	for _, r := range reports {
		if r.Stage() == schemas.StageProgress {
			byVolunteer[r.VolunteerID] = append(byVolunteer[r.VolunteerID], r)
		}
	}
	for _, rs := range byVolunteer {
		if len(rs) < 2 {
			continue
		}
		slices.SortStableFunc(rs, func(a, b *Report) int {
			return cmp.Or(a.CountedAt.Compare(b.CountedAt), a.ReceivedAt.Compare(b.ReceivedAt),
				strings.Compare(a.SubmissionID, b.SubmissionID))
		})
		for k := 1; k < len(rs); k++ {
			if g, ok := wentDown(rs[k-1], rs[k]); ok {
				if out == nil {
					out = map[*Report]regression{}
				}
				out[rs[k]] = g
			}
		}
	}
	return out
}

func wentDown(earlier, later *Report) (regression, bool) {
	g := regression{later: later, earlier: earlier}
	if later.fig.BallotsCast < earlier.fig.BallotsCast {
		g.what, g.from, g.to = "ballots_cast", earlier.fig.BallotsCast, later.fig.BallotsCast
		return g, true
	}
	for i, no := range earlier.fig.nos() {
		if v, was := later.fig.vote(int(no)), int(earlier.fig.votes()[i]); v < was {
			g.what, g.from, g.to = "number "+strconv.Itoa(int(no)), was, v
			return g, true
		}
	}
	return g, false
}

// regressionAnomaly is stamped with the newer of the two reports' data times, so a replay
// in another order raises the very same record.
func regressionAnomaly(st *Station, g regression) *schemas.Anomaly {
	a := newAnomaly(schemas.AnomalyRegression, st, g.later.Ballot(), later(g.later.ReceivedAt, g.earlier.ReceivedAt),
		g.what+" went down from "+strconv.Itoa(g.from)+" to "+strconv.Itoa(g.to)+" between two tally-board reports of one volunteer",
		map[string]string{
			"count":              g.what,
			"from":               strconv.Itoa(g.from),
			"to":                 strconv.Itoa(g.to),
			"earlier_submission": g.earlier.SubmissionID,
			"earlier_counted_at": formatTime(g.earlier.CountedAt),
			"later_counted_at":   formatTime(g.later.CountedAt),
			"earlier_figures":    g.earlier.fig.String(),
			"later_figures":      g.later.fig.String(),
		},
		g.later.SubmissionID, g.earlier.SubmissionID)
	a = withReport(a, g.later)
	a.Submissions = []string{g.later.SubmissionID, g.earlier.SubmissionID}
	return a
}
