package consolidate

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"votestream/schemas"
)

// conflictAnomaly: the final forms of different volunteers disagree. The id depends only on
// the distinct figures in play, so another volunteer joining one side raises nothing new,
// while a new set of figures does.
func conflictAnomaly(st *Station, i int, groups [][]*Report, _ time.Time) *schemas.Anomaly {
	keys := make([]string, len(groups))
	var subs []string
	var at time.Time
	evidence := map[string]string{"figure_sets": strconv.Itoa(len(groups))}
	for g, rs := range groups {
		keys[g] = rs[0].fig.String()
		n := strconv.Itoa(g + 1)
		var ids, orgs []string
		for _, r := range rs {
			ids = append(ids, r.SubmissionID)
			orgs = append(orgs, r.Org)
			subs = append(subs, r.SubmissionID)
			at = later(at, r.ReceivedAt)
		}
		evidence["figures_"+n] = rs[0].fig.String()
		evidence["submissions_"+n] = strings.Join(ids, ",")
		evidence["orgs_"+n] = strings.Join(orgs, ",")
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	a := newAnomaly(schemas.AnomalyConflict, st, ballotName(i), at,
		strconv.Itoa(len(groups))+" different final counts from "+strconv.Itoa(len(subs))+" volunteers: "+strings.Join(keys, " | "),
		evidence, append([]string{st.ID, ballotName(i)}, sorted...)...)
	a.Submissions = subs
	return a
}
