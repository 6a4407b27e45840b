package consolidate

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"votestream/schemas"
)

// conflictAnomaly: the final forms of different volunteers disagree. The id depends only on
// the distinct figures in play and on lone, so another volunteer joining one side raises
// nothing new, while a new set of figures does. lone says the disagreement is a lone dissent
// against corroborated figures (loneDissent): the anomaly is raised all the same, for the war
// room, and says the result stands. A lone dissent that a second independent source joins
// becomes a dispute and raises a second CONFLICT under its own id, so the record of each
// moment stays true.
func conflictAnomaly(st *Station, i int, groups [][]*Report, lone bool, _ time.Time) *schemas.Anomaly {
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
	msg := strconv.Itoa(len(groups)) + " different final counts from " + strconv.Itoa(len(subs)) + " volunteers: " + strings.Join(keys, " | ")
	evidence["disputes_result"] = strconv.FormatBool(!lone)
	if lone {
		evidence["dissent"] = "lone"
		msg += "; a lone dissenting source (one organisation or one person) against figures corroborated by independent sources: the result stands, review the dissent"
	}
	parts := append([]string{st.ID, ballotName(i)}, sorted...)
	if lone {
		parts = append(parts, "lone dissent")
	}
	a := newAnomaly(schemas.AnomalyConflict, st, ballotName(i), at, msg, evidence, parts...)
	a.Submissions = subs
	return a
}
