package consolidate

import (
	"slices"
	"strings"
	"time"

	"votestream/schemas"
)

// officialMismatch compares the newest official figure of a ballot with what the night
// produced: with the reviewed figures when a review is in force after it, else with the
// volunteers' final forms, of which at least one must match. Without final forms there is
// nothing to compare, and the official figure stands.
func (r *Rules) officialMismatch(st *Station, o *Official, v *view, _ time.Time) *schemas.Anomaly {
	var against []*figures
	var subs []string
	at := o.ReceivedAt
	evidence := map[string]string{
		"official_id":      o.OfficialID,
		"entered_by":       o.EnteredBy,
		"role":             o.Role,
		"official_figures": o.fig.String(),
	}
	if v.decision != nil && v.decision.review != nil {
		if same(v.fig, &o.fig) {
			return nil
		}
		against = append(against, v.fig)
		evidence["reviewed_figures"] = v.fig.String()
		evidence["reviewer"] = v.decision.review.ReviewerID
		at = later(at, v.decision.review.ReceivedAt)
	} else {
		var keys []string
		for _, rep := range v.live {
			if rep.Stage() != schemas.StageFinal {
				continue
			}
			if same(&rep.fig, &o.fig) {
				return nil
			}
			subs = append(subs, rep.SubmissionID)
			at = later(at, rep.ReceivedAt)
			if k := rep.fig.String(); !slices.Contains(keys, k) {
				keys = append(keys, k)
				against = append(against, &rep.fig)
			}
		}
		if len(against) == 0 {
			return nil
		}
		evidence["volunteer_figures"] = strings.Join(keys, " | ")
		evidence["submissions"] = strings.Join(subs, ",")
	}
	parts := []string{o.OfficialID}
	for _, f := range against {
		parts = append(parts, f.String())
	}
	slices.Sort(parts[1:])
	a := newAnomaly(schemas.AnomalyOfficialMismatch, st, o.Ballot, at,
		"the official figure "+o.fig.String()+" entered by "+o.EnteredBy+" matches none of "+describe(against),
		evidence, parts...)
	a.Submissions = subs
	return a
}

func describe(fs []*figures) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, " | ")
}
