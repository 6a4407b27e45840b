package consolidate

import (
	"slices"
	"time"

	"votestream/schemas"
)

// view is what the rules make of one ballot of a station: the figures to publish, the
// reports behind them, the status, the open codes, and the anomalies to raise.
type view struct {
	fig       *figures // nil: nothing to publish yet
	stage     schemas.Stage
	sources   []*Report   // the reports whose figures are the published ones
	live      []*Report   // each source's current report: finals if any source has one, else progress
	groups    [][]*Report // live finals grouped by figures, when they disagree (CONFLICT)
	lone      bool        // the disagreement is a lone dissent against corroborated figures
	decision  *decision   // the review or official figure in force, if any
	mismatch  *schemas.Anomaly
	decidedBy string
	countedAt time.Time
	codes     codeSet
	status    schemas.Status
	raise     []*schemas.Anomaly
}

// derive works out both ballots of a station. at is the data time of the input being
// applied, stamped on anomalies raised now.
func (r *Rules) derive(st *Station, at time.Time) [2]view {
	var vs [2]view
	for i := range vs {
		r.choose(st, i, &vs[i])
	}
	// Codes need both ballots' figures (BALLOT_GAP, NUMBER_SWAP), so they come second.
	gap := r.ballotGap(st, &vs, at)
	for i := range vs {
		v := &vs[i]
		if gap != nil {
			v.codes.add(schemas.AnomalyBallotGap)
			v.raise = append(v.raise, gap)
		}
		r.codes(st, i, &vs, at)
		v.status = status(v)
	}
	return vs
}

// choose selects the figures of ballot i: the decision in force if there is one, else the
// volunteers' consensus.
func (r *Rules) choose(st *Station, i int, v *view) {
	b := &st.ballots[i]
	v.live = liveReports(b.reports)
	final := len(v.live) > 0 && v.live[0].Stage() == schemas.StageFinal

	// The volunteers' consensus.
	var consensus []*Report
	if final {
		groups := groupByFigures(v.live)
		consensus = groups[0]
		if len(groups) > 1 {
			v.groups = groups
			consensus = slices.MaxFunc(groups, betterGroup)
			v.lone = loneDissent(v.live, consensus)
		}
	} else if len(v.live) > 0 {
		ahead := slices.MaxFunc(v.live, moreAdvanced)
		consensus = sameFigures(v.live, &ahead.fig)
	}
	if len(consensus) > 0 {
		v.fig = &consensus[0].fig
		v.stage = consensus[0].Stage()
		v.sources = consensus
		v.countedAt = consensus[0].CountedAt
	}

	// A decision, the newest in force, replaces it.
	d, fig := decisionInForce(b)
	if d == nil {
		return
	}
	v.decision = d
	v.fig = fig
	v.stage = schemas.StageFinal
	v.sources = sameFigures(v.live, fig)
	if d.review != nil {
		v.decidedBy = d.review.ReviewerID
		if id := d.review.AcceptSubmissionID; id != "" {
			k := slices.IndexFunc(b.reports, func(x *Report) bool { return x.SubmissionID == id })
			acc := b.reports[k]
			v.stage = acc.Stage()
			if !slices.Contains(v.sources, acc) {
				v.sources = append([]*Report{acc}, v.sources...)
			}
		}
	} else {
		v.decidedBy = "official"
	}
	if len(v.sources) > 0 {
		v.countedAt = v.sources[0].CountedAt
	} else {
		v.countedAt = d.at()
	}
}

// liveReports returns each volunteer's current report, in (received_at, submission_id)
// order. A volunteer's current report is their latest final form if they sent one (a later
// final with other figures is a correction and replaces it; one with the same figures is a
// re-send and changes nothing), else their most advanced tally-board report. If any
// volunteer has a final, only finals are live: a final form supersedes tally boards.
func liveReports(reports []*Report) []*Report {
	// A station has a handful of volunteers: slices beat maps here.
	var vols []string
	var current []int // index into reports, parallel to vols
	for k, r := range reports {
		j := slices.Index(vols, r.VolunteerID)
		if j < 0 {
			vols = append(vols, r.VolunteerID)
			current = append(current, k)
			continue
		}
		cur := reports[current[j]]
		switch {
		case cur.Stage() == schemas.StageFinal:
			if r.Stage() == schemas.StageFinal && !same(&r.fig, &cur.fig) {
				current[j] = k
			}
		case r.Stage() == schemas.StageFinal:
			current[j] = k
		case !same(&r.fig, &cur.fig) && moreAdvanced(r, cur) > 0:
			current[j] = k
		}
	}
	anyFinal := false
	for _, k := range current {
		anyFinal = anyFinal || reports[k].Stage() == schemas.StageFinal
	}
	slices.Sort(current)
	live := make([]*Report, 0, len(current))
	for _, k := range current {
		if !anyFinal || reports[k].Stage() == schemas.StageFinal {
			live = append(live, reports[k])
		}
	}
	return live
}

// groupByFigures splits reports into groups of equal figures, in order of first appearance.
func groupByFigures(rs []*Report) [][]*Report {
	var groups [][]*Report
outer:
	for _, r := range rs {
		for g := range groups {
			if same(&groups[g][0].fig, &r.fig) {
				groups[g] = append(groups[g], r)
				continue outer
			}
		}
		groups = append(groups, []*Report{r})
	}
	return groups
}

func sameFigures(rs []*Report, f *figures) []*Report {
	var out []*Report
	for _, r := range rs {
		if same(&r.fig, f) {
			out = append(out, r)
		}
	}
	return out
}

// betterGroup orders conflicting groups: more independent sources (organisations, one
// person counted once), then more volunteers, then the group seen first (the comparison is
// "a < b", and MaxFunc keeps the first maximum).
func betterGroup(a, b []*Report) int {
	if c := independent(a) - independent(b); c != 0 {
		return c
	}
	if c := len(a) - len(b); c != 0 {
		return c
	}
	return 0
}

// moreAdvanced orders tally-board reports: more ballots counted, then counted later. Ties
// keep the report seen first, so a re-send changes nothing.
func moreAdvanced(a, b *Report) int {
	if c := a.fig.BallotsCast - b.fig.BallotsCast; c != 0 {
		return c
	}
	return a.CountedAt.Compare(b.CountedAt)
}

// independent counts the independent sources behind reports: the most of them that can be
// picked with no two from one organisation and no two from one person (DESIGN.md §4). One
// person is reports joined by a shared volunteer id or a shared non-empty Person (the
// roster's phone hash, carried by the token), transitively: a volunteer re-issued a token
// is still the same person. A volunteer without an organisation stands alone as their own.
//
// Counting organisations alone let one person holding tokens of two organisations
// corroborate themselves. Picking sources is a matching of people to organisations (a
// person listed by OrgA and OrgB, and a second person of OrgA, are two independent sources:
// the second for OrgA, the first for OrgB), worked out by augmenting paths; a station has a
// handful of reports, so slices and quadratic loops beat maps.
func independent(rs []*Report) int {
	n := len(rs)
	if n < 2 {
		return n
	}
	person := personOf(rs)
	orgOf := func(r *Report) string {
		if r.Org == "" {
			return "\x00volunteer:" + r.VolunteerID
		}
		return r.Org
	}
	var orgs []string
	var people []int   // each person's root report
	var orgsOf [][]int // parallel to people: indexes into orgs
	for i, r := range rs {
		o := slices.Index(orgs, orgOf(r))
		if o < 0 {
			orgs = append(orgs, orgOf(r))
			o = len(orgs) - 1
		}
		p := slices.Index(people, person[i])
		if p < 0 {
			people = append(people, person[i])
			orgsOf = append(orgsOf, nil)
			p = len(people) - 1
		}
		if !slices.Contains(orgsOf[p], o) {
			orgsOf[p] = append(orgsOf[p], o)
		}
	}
	if len(people) == n {
		return len(orgs) // nobody twice: each organisation is one source of its own
	}
	holder := make([]int, len(orgs)) // person matched to each organisation, -1 for none
	for o := range holder {
		holder[o] = -1
	}
	seen := make([]bool, len(orgs))
	var augment func(p int) bool
	augment = func(p int) bool {
		for _, o := range orgsOf[p] {
			if seen[o] {
				continue
			}
			seen[o] = true
			if holder[o] < 0 || augment(holder[o]) {
				holder[o] = p
				return true
			}
		}
		return false
	}
	count := 0
	for p := range people {
		clear(seen)
		if augment(p) {
			count++
		}
	}
	return count
}

// personOf returns, for each report, the index of the first report of the same person:
// reports joined by a shared volunteer id or a shared non-empty Person (the roster's phone
// hash), transitively.
func personOf(rs []*Report) []int {
	n := len(rs)
	root := make([]int, n)
	for i := range root {
		root[i] = i
	}
	find := func(i int) int {
		for root[i] != i {
			root[i] = root[root[i]]
			i = root[i]
		}
		return i
	}
	for i := 1; i < n; i++ {
		for j := range i {
			if rs[i].VolunteerID == rs[j].VolunteerID || rs[i].Person != "" && rs[i].Person == rs[j].Person {
				if a, b := find(i), find(j); a != b {
					root[max(a, b)] = min(a, b)
				}
			}
		}
	}
	for i := range root {
		root[i] = find(i)
	}
	return root
}

// loneDissent reports whether a conflict among the live finals is a lone dissent that must
// not take the count away (docs/consolidation.md rule 5): every report outside lead
// (the leading figures) together is one independent source at most (one organisation, or
// one person), and lead is corroborated by two independent sources even without any person
// who is also among the dissenters (someone contradicting themselves corroborates nothing).
func loneDissent(live, lead []*Report) bool {
	var dissent []*Report
	for _, r := range live {
		if !slices.Contains(lead, r) {
			dissent = append(dissent, r)
		}
	}
	if len(dissent) == 0 || independent(dissent) > 1 {
		return false
	}
	person := personOf(live)
	var dissenters []int
	for k, r := range live {
		if !slices.Contains(lead, r) {
			dissenters = append(dissenters, person[k])
		}
	}
	var backing []*Report
	for k, r := range live {
		if slices.Contains(lead, r) && !slices.Contains(dissenters, person[k]) {
			backing = append(backing, r)
		}
	}
	return independent(backing) >= 2
}

// decisionInForce returns the newest decision that can apply and its figures: a review
// accepting a submission waits until that submission is held (reviews and reports travel on
// different topics and may arrive in either order).
func decisionInForce(b *ballotState) (*decision, *figures) {
	for k := len(b.decisions) - 1; k >= 0; k-- {
		d := &b.decisions[k]
		switch {
		case d.official != nil:
			return d, &d.official.fig
		case d.review.fig != nil:
			return d, d.review.fig
		default:
			id := d.review.AcceptSubmissionID
			if j := slices.IndexFunc(b.reports, func(x *Report) bool { return x.SubmissionID == id }); j >= 0 {
				return d, &b.reports[j].fig
			}
		}
	}
	return nil, nil
}

// latestOfficial returns the newest official figure of a ballot, or nil.
func latestOfficial(b *ballotState) *Official {
	for k := len(b.decisions) - 1; k >= 0; k-- {
		if o := b.decisions[k].official; o != nil {
			return o
		}
	}
	return nil
}

// codes works out the open codes of ballot i and the anomalies to raise on it.
func (r *Rules) codes(st *Station, i int, vs *[2]view, at time.Time) {
	v := &vs[i]
	b := &st.ballots[i]
	other := &vs[1-i]

	// Anomalies are raised on every report that shows them, whatever the result: the
	// anomalies topic is the evidence log. Codes on the result are those of its figures
	// and their sources.
	regressed := b.regressed
	for _, later := range b.reports { // in report order, so outputs come in a stable order
		if rg, ok := regressed[later]; ok {
			v.raise = append(v.raise, regressionAnomaly(st, rg))
		}
	}
	swapped := map[*Report]bool{}
	for _, rep := range b.reports {
		if rep.Stage() != schemas.StageFinal {
			continue
		}
		if a := r.numberSwap(st, rep, other.fig, at); a != nil {
			v.raise = append(v.raise, a)
			swapped[rep] = true
		}
	}

	if v.fig == nil {
		return
	}
	if !v.fig.consistent {
		v.codes.add(schemas.AnomalyArith)
	}
	if v.fig.BallotsCast > st.EligibleVoters {
		v.codes.add(schemas.AnomalyOverEligible)
	}
	for code := range b.flags {
		v.codes.add(code)
	}
	if o := latestOfficial(b); o != nil {
		if a := r.officialMismatch(st, o, v, at); a != nil {
			v.codes.add(schemas.AnomalyOfficialMismatch)
			v.raise = append(v.raise, a)
			if v.decision != nil && v.decision.official == o {
				v.mismatch = a
			}
		}
	}
	if v.groups != nil {
		// Raised whatever is decided, so the evidence log does not depend on whether a
		// review happened to arrive before the second final form.
		v.raise = append(v.raise, conflictAnomaly(st, i, v.groups, v.lone, at))
	}
	if v.decision != nil {
		// A person or the election commission decided: the volunteers' problems (conflict,
		// early clocks, regressions, keying) are resolved by that decision.
		return
	}

	inPlay := v.sources
	if v.groups != nil {
		v.codes.add(schemas.AnomalyConflict)
	}
	// A lone dissenter's figures are not in play: their own errors (ARITH, OVER_ELIGIBLE,
	// keying) must not dispute figures that independent sources corroborate either.
	if v.groups != nil && !v.lone {
		inPlay = v.live
		for _, rep := range v.live {
			if !rep.fig.consistent {
				v.codes.add(schemas.AnomalyArith)
			}
			if rep.fig.BallotsCast > st.EligibleVoters {
				v.codes.add(schemas.AnomalyOverEligible)
			}
		}
	}
	for _, rep := range inPlay {
		if r.early(rep) {
			v.codes.add(schemas.AnomalyEarly)
		}
		if _, ok := regressed[rep]; ok {
			v.codes.add(schemas.AnomalyRegression)
		}
		if swapped[rep] {
			v.codes.add(schemas.AnomalyNumberSwap)
		}
	}
}

// status of a ballot's result (DESIGN.md §4).
func status(v *view) schemas.Status {
	switch {
	case v.fig == nil:
		return ""
	case v.decision != nil && v.decision.review != nil:
		return schemas.StatusVerified
	case v.decision != nil:
		if v.mismatch != nil {
			v.decidedBy = "" // nobody decided: the official figure is itself in question
			return schemas.StatusDisputed
		}
		return schemas.StatusVerified
	case v.disputing().hard():
		return schemas.StatusDisputed
	case independent(v.sources) >= 2:
		return schemas.StatusCorroborated
	}
	return schemas.StatusProvisional
}

// disputing returns the open codes that can dispute the result: all of them, but for a
// CONFLICT that is a lone dissent, which flags the result for review and leaves it standing.
func (v *view) disputing() codeSet {
	s := v.codes
	if v.lone {
		s.remove(schemas.AnomalyConflict)
	}
	return s
}
