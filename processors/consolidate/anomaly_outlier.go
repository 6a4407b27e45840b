package consolidate

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"votestream/schemas"
)

// madScale makes the median absolute deviation estimate a standard deviation for normal data.
const madScale = 1.4826

// medianMAD returns the median of xs and the median absolute deviation from it. It sorts a
// copy; xs must not be empty.
func medianMAD(xs []float64) (med, mad float64) {
	return medianMADInto(xs, make([]float64, len(xs)))
}

// medianMADInto is medianMAD with a scratch slice of len(xs) for the copy.
func medianMADInto(xs, scratch []float64) (med, mad float64) {
	s := scratch[:len(xs)]
	copy(s, xs)
	med = selectMedian(s)
	for i, x := range s {
		s[i] = math.Abs(x - med)
	}
	return med, selectMedian(s)
}

// medianInto is the median of xs, with a scratch slice of len(xs) for the copy.
func medianInto(xs, scratch []float64) float64 {
	s := scratch[:len(xs)]
	copy(s, xs)
	return selectMedian(s)
}

// selectMedian returns the median of s, reordering s: quickselect, linear on average, so
// re-judging a whole constituency at every final stays cheap. s must not be empty.
func selectMedian(s []float64) float64 {
	n := len(s)
	hi := nth(s, n/2)
	if n%2 == 1 {
		return hi
	}
	// After nth, s[:n/2] holds the n/2 smallest: the lower middle is their maximum.
	return (slices.Max(s[:n/2]) + hi) / 2
}

// nth puts the k-th smallest element of s at s[k], smaller ones before it, and returns it.
func nth(s []float64, k int) float64 {
	lo, hi := 0, len(s)-1
	for lo < hi {
		// Median of three as the pivot: the values are often already nearly sorted.
		mid := lo + (hi-lo)/2
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		pivot := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for s[j] > pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// robustZ is how many robust standard deviations x lies from the median; floor bounds the
// MAD from below so that a constituency of near-identical stations does not turn every
// small difference into an outlier.
func robustZ(x, med, mad, floor float64) float64 {
	return (x - med) / (madScale * max(mad, floor))
}

// outlierSample is one station of a constituency with final figures on a ballot.
type outlierSample struct {
	station     string
	subdistrict string // from the reference data; "" when it has none
	sub         int32  // the subdistrict's number (Ledger.subdistrictID), -1 for none
	urban       bool   // from the reference data
	part        int32
	turnout     float64
	fig         *figures
}

// share of the valid votes that number no has.
func (s *outlierSample) share(no int) float64 {
	if s.fig.total <= 0 {
		return 0
	}
	return float64(s.fig.vote(no)) / float64(s.fig.total)
}

// outlierVerdict is what the outlier detectors say about one station and ballot.
type outlierVerdict struct {
	turnout *schemas.Anomaly // nil: not an outlier
	share   *schemas.Anomaly
}

// localScale is a sample's values measured against what their neighbourhood expects: a
// station's expected value is the median of its subdistrict when at least minSub stations
// of the subdistrict are in the sample (a subdistrict shares a local politics: a canvasser,
// a temple, a factory, and a whole subdistrict leaning one way is not a falsified count),
// else the median of the whole constituency. The spread is the MAD of the residuals over
// the constituency, so a small subdistrict still gets a stable scale.
type localScale struct {
	expect []float64 // per station
	sub    []int     // per station: how many stations its expectation is the median of
	resMed float64
	resMAD float64
}

// newLocalScale measures vals against groups (coarse to fine: a later group overrides an
// earlier one). sub is each station's group size (shared by every scale of a sample),
// expect receives the expectations; scratch and res are len(vals) scratch space.
func newLocalScale(vals []float64, groups [][]int, sub []int, expect, scratch, res []float64) localScale {
	return newLocalScaleAround(vals, medianInto(vals, scratch), groups, sub, expect, scratch, res)
}

// newLocalScaleAround is newLocalScale given med, the median of vals, worked out already.
func newLocalScaleAround(vals []float64, med float64, groups [][]int, sub []int, expect, scratch, res []float64) localScale {
	ls := localScale{expect: expect, sub: sub}
	for i := range ls.expect {
		ls.expect[i] = med
	}
	for _, g := range groups {
		s := scratch[:len(g)]
		for j, i := range g {
			s[j] = vals[i]
		}
		m := selectMedian(s)
		for _, i := range g {
			ls.expect[i] = m
		}
	}
	for i, v := range vals {
		res[i] = v - ls.expect[i]
	}
	ls.resMed, ls.resMAD = medianMADInto(res, scratch)
	return ls
}

func (ls *localScale) z(i int, x, floor float64) float64 {
	return robustZ(x-ls.expect[i], ls.resMed, ls.resMAD, floor)
}

// where says what a station was compared with, for the anomaly's message.
func (ls *localScale) where(i, stations int) string {
	if ls.sub[i] < stations {
		return "a median of " + pct(ls.expect[i]) + " over the " + strconv.Itoa(ls.sub[i]) + " stations of its subdistrict, or its constituency's urban or rural ones"
	}
	return "a constituency median of " + pct(ls.expect[i])
}

// judgeOutliers works out TURNOUT_OUTLIER and SHARE_OUTLIER for every station of a sample
// (one constituency, one ballot): each station's turnout and each number's share against
// what its subdistrict (or constituency) expects, in units of the constituency's robust
// spread of those residuals. A station's verdict can change as other stations report: the
// caller applies the changes. The map holds the outliers only.
func (r *Rules) judgeOutliers(ballot int, sample []outlierSample, at time.Time, st func(*outlierSample) *Station) map[string]outlierVerdict {
	return r.judgeOutliersIn(&judgeBuf{}, ballot, sample, at, st)
}

// judgeBuf is judgeOutliers' scratch space, which a Ledger reuses from one judgement to the
// next: a judgement runs at every change of a final, and allocating its slices and maps
// anew each time made a good part of its cost and of the collector's.
type judgeBuf struct {
	strata [2][]int
	bySub  [][]int  // the stations of each subdistrict in the sample, in order of first sight
	names  []string // their names, parallel to bySub
	slot   []int32  // subdistrict id (outlierSample.sub) -> 1 + its index in bySub; all 0 between calls
	order  []int    // indexes into bySub
	groups [][]int  // what newLocalScale compares with, coarse to fine
	sub    []int    // per station: the size of its finest group
	lists  []nosUse // the distinct lists of numbers with votes in the sample
	count  map[int]int
	arena  []float64
	cands  []judged
}

// nosUse is a list of numbers with votes and how many stations of a sample have it: the
// stations of a constituency nearly all have the same few lists.
type nosUse struct {
	nos []int32
	n   int
}

type judged struct {
	no   int
	ls   localScale
	vals []float64
}

// maxNosLists bounds the distinct lists judgeOutliersIn looks through for a station's:
// beyond it a list is counted on its own, so a sample of all-different lists stays linear.
const maxNosLists = 16

// judgeOutliersIn is judgeOutliers with its scratch space.
func (r *Rules) judgeOutliersIn(buf *judgeBuf, ballot int, sample []outlierSample, at time.Time, st func(*outlierSample) *Station) map[string]outlierVerdict {
	var out map[string]outlierVerdict // the outliers only: a station missing has none
	if len(sample) < r.OutlierMinStations+1 {
		return out
	}
	// Coarse to fine: a later group's median overrides an earlier one's (newLocalScale).
	strata := [2][]int{buf.strata[0][:0], buf.strata[1][:0]}
	bySub, names := buf.bySub[:0], buf.names[:0]
	for i := range sample {
		s := &sample[i]
		if s.urban {
			strata[1] = append(strata[1], i)
		} else {
			strata[0] = append(strata[0], i)
		}
		if s.sub < 0 {
			continue
		}
		if int(s.sub) >= len(buf.slot) {
			buf.slot = slices.Grow(buf.slot, int(s.sub)+1-len(buf.slot))[:int(s.sub)+1]
		}
		k := buf.slot[s.sub]
		if k == 0 {
			if len(bySub) < cap(bySub) {
				bySub = bySub[:len(bySub)+1]
				bySub[len(bySub)-1] = bySub[len(bySub)-1][:0]
			} else {
				bySub = append(bySub, nil)
			}
			names = append(names, s.subdistrict)
			k = int32(len(bySub))
			buf.slot[s.sub] = k
		}
		bySub[k-1] = append(bySub[k-1], i)
	}
	for i := range sample {
		if s := sample[i].sub; s >= 0 {
			buf.slot[s] = 0
		}
	}
	buf.strata, buf.bySub, buf.names = strata, bySub, names
	groups := buf.groups[:0]
	for _, g := range strata {
		if len(g) >= r.OutlierSubdistrictMin && len(g) < len(sample) {
			groups = append(groups, g)
		}
	}
	// Subdistricts in the order of their names: they do not overlap, so the order changes no
	// figure, but it is the order they have always been compared in.
	order := buf.order[:0]
	for k, g := range bySub {
		if len(g) >= r.OutlierSubdistrictMin {
			order = append(order, k)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	for _, k := range order {
		groups = append(groups, bySub[k])
	}
	buf.order, buf.groups = order, groups
	n := len(sample)
	sub := slices.Grow(buf.sub[:0], n)[:n]
	buf.sub = sub
	for i := range sub {
		sub[i] = n
	}
	for _, g := range groups {
		for _, i := range g {
			sub[i] = len(g)
		}
	}
	// How many stations have votes for each number: counted over the distinct lists of
	// numbers, most stations of a constituency sharing one, rather than station by station.
	if buf.count == nil {
		buf.count = map[int]int{}
	}
	count := buf.count
	lists := buf.lists[:0]
	for i := range sample {
		nos := sample[i].fig.nos()
		j := slices.IndexFunc(lists, func(u nosUse) bool { return slices.Equal(u.nos, nos) })
		switch {
		case j >= 0:
			lists[j].n++
		case len(lists) < maxNosLists:
			lists = append(lists, nosUse{nos, 1})
		default:
			for _, no := range nos {
				count[int(no)]++
			}
		}
	}
	for _, u := range lists {
		for _, no := range u.nos {
			count[int(no)] += u.n
		}
	}
	clear(lists)
	buf.lists = lists[:0]
	// One arena for every slice of the judgement: scratch, residuals, the turnouts and
	// their expectations, and each number's shares and expectations. Zeroed: a share a
	// station has no votes for is the arena's zero.
	size := n * (4 + 2*len(count))
	arena := slices.Grow(buf.arena[:0], size)[:size]
	clear(arena)
	buf.arena = arena
	take := func() []float64 { x := arena[:n:n]; arena = arena[n:]; return x }
	scratch, res := take(), take()
	turnouts := take()
	for i, s := range sample {
		turnouts[i] = s.turnout
	}
	tl := newLocalScale(turnouts, groups, sub, take(), scratch, res)

	// Numbers worth judging: a median share of at least ShareMinMedian. A number missing at
	// more than half the stations has median share 0 and is skipped without sorting.
	cands := buf.cands[:0]
	for no, c := range count {
		if 2*c >= n {
			cands = append(cands, judged{no: no, vals: take()})
		}
	}
	clear(count)
	defer func() { clear(cands); buf.cands = cands[:0] }()
	slices.SortFunc(cands, func(a, b judged) int { return cmp.Compare(a.no, b.no) })
	// The shares, station by station: nos and cands both increase, so one walk finds each
	// candidate's votes (the first of a clamped duplicate, as figures.vote would). A
	// candidate a station has no votes for keeps the arena's zero, its share as s.share gives.
	for i := range sample {
		f := sample[i].fig
		if f.total <= 0 {
			continue
		}
		c := 0
		for j, no := range f.nos() {
			for c < len(cands) && cands[c].no < int(no) {
				c++
			}
			if c == len(cands) {
				break
			}
			if cands[c].no == int(no) {
				cands[c].vals[i] = float64(int(f.votes()[j])) / float64(f.total)
				c++
			}
		}
	}
	stats := cands[:0]
	for _, cd := range cands {
		med := medianInto(cd.vals, scratch)
		if r.ShareMinMedian == 0 || med >= r.ShareMinMedian {
			stats = append(stats, judged{cd.no, newLocalScaleAround(cd.vals, med, groups, sub, take(), scratch, res), cd.vals})
		}
	}

	for i := range sample {
		s := &sample[i]
		var v outlierVerdict
		var station *Station // read only for an outlier: copying every station's state costs
		if z := tl.z(i, s.turnout, r.TurnoutMADFloor); math.Abs(z) > r.OutlierZ {
			station = st(s)
			v.turnout = newAnomaly(schemas.AnomalyTurnoutOutlier, station, ballotName(ballot), at,
				"turnout "+pct(s.turnout)+" against "+tl.where(i, len(sample))+" (robust z "+fmtZ(z)+")",
				map[string]string{
					"turnout":         pct(s.turnout),
					"ballots_cast":    strconv.Itoa(s.fig.BallotsCast),
					"eligible_voters": strconv.Itoa(station.EligibleVoters),
					"median":          pct(tl.expect[i]),
					"compared_with":   strconv.Itoa(tl.sub[i]),
					"mad":             pct(tl.resMAD),
					"z":               fmtZ(z),
					"stations":        strconv.Itoa(len(sample)),
				},
				s.station, ballotName(ballot), s.fig.String())
		}
		worst, worstNo, worstAt := 0.0, 0, 0
		for j := range stats {
			z := stats[j].ls.z(i, stats[j].vals[i], r.ShareMADFloor)
			if math.Abs(z) > r.OutlierZ && math.Abs(z) > math.Abs(worst) {
				worst, worstNo, worstAt = z, stats[j].no, j
			}
		}
		if worstNo != 0 {
			if station == nil {
				station = st(s)
			}
			ls := &stats[worstAt].ls
			v.share = newAnomaly(schemas.AnomalyShareOutlier, station, ballotName(ballot), at,
				"number "+strconv.Itoa(worstNo)+" has "+pct(s.share(worstNo))+" of the valid votes against "+
					ls.where(i, len(sample))+" (robust z "+fmtZ(worst)+")",
				map[string]string{
					"number":        strconv.Itoa(worstNo),
					"share":         pct(s.share(worstNo)),
					"votes":         strconv.Itoa(s.fig.vote(worstNo)),
					"median":        pct(ls.expect[i]),
					"compared_with": strconv.Itoa(ls.sub[i]),
					"mad":           pct(ls.resMAD),
					"z":             fmtZ(worst),
					"stations":      strconv.Itoa(len(sample)),
				},
				s.station, ballotName(ballot), s.fig.String())
		}
		if v.turnout != nil || v.share != nil {
			if out == nil {
				out = map[string]outlierVerdict{}
			}
			out[s.station] = v
		}
	}
	return out
}

func pct(x float64) string  { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }
func fmtZ(z float64) string { return strconv.FormatFloat(z, 'f', 1, 64) }

// outlierGroup is the group whose statistics a change of station figures in partition p
// moves: the constituency in p, or in every partition held (OutlierAcrossPartitions).
func (l *Ledger) outlierGroup(p int32, constituency string, b int) groupKey {
	if l.rules.OutlierAcrossPartitions {
		p = -1
	}
	return groupKey{p, constituency, b}
}

// outliers re-judges one group's stations (a constituency's in one partition, or in every
// partition held) and applies the verdicts that changed. Across partitions the flags are
// not local: during a replay they wait for Drain unless already published (see flag).
//
// It runs at every change of a final, over the whole group, so it reads the group's member
// entries (kept in step with the states, see member) rather than the states, and reuses its
// slices from the call before.
func (l *Ledger) outliers(k groupKey, at time.Time) []Output {
	parts := []int32{k.part}
	if k.part < 0 {
		parts = l.Partitions()
	}
	b := k.ballot
	// Taken, not shared: were a flag below to re-judge a group, that call would allocate.
	buf := l.outlierBuf
	l.outlierBuf = nil
	if buf == nil {
		buf = &outlierBuf{}
	}
	members, sample := buf.members[:0], buf.sample[:0]
	for _, p := range parts {
		part := l.parts[p]
		if part == nil {
			continue
		}
		for i := range part.members[k.constituency] {
			m := &part.members[k.constituency][i]
			mb := &m.ballots[b]
			members = append(members, outlierMember{part: p, id: m.id, turnoutOn: mb.turnoutOn, shareOn: mb.shareOn})
			if mb.fig == nil {
				continue
			}
			sample = append(sample, outlierSample{station: m.id, subdistrict: l.subdistrictName(m.sub), sub: m.sub, urban: m.urban,
				turnout: float64(mb.fig.BallotsCast) / float64(m.eligible), fig: mb.fig, part: p})
		}
	}
	verdicts := l.rules.judgeOutliersIn(&buf.judge, b, sample, at, func(s *outlierSample) *Station {
		st := l.parts[s.part].stations[s.station]
		return &st
	})
	var out []Output
	ballot := ballotOf(b)
	local := k.part >= 0
	for _, m := range members {
		v := verdicts[m.id]
		if v.turnout != nil || v.share != nil {
			// Its own state, unchanged so far: flags below changed earlier members' only.
			st := l.parts[m.part].stations[m.id]
			if published := st.ballots[b].published; published != nil {
				for _, a := range []*schemas.Anomaly{v.turnout, v.share} {
					if a == nil {
						continue
					}
					for _, s := range published.Sources {
						a.Submissions = append(a.Submissions, s.SubmissionID)
					}
				}
			}
		}
		// Outside a replay, flag does nothing to a flag that is off and stays off: skip the
		// call and its two lookups. A flag on one station changes no other station's flags
		// (nor, being no code of explainedBy, anyone's figures), so the states read above hold.
		if v.turnout != nil || m.turnoutOn || l.replaying >= 0 {
			out = append(out, l.flag(m.part, m.id, Flag{Ballot: ballot, Code: schemas.AnomalyTurnoutOutlier, On: v.turnout != nil, Anomaly: v.turnout, At: at}, local)...)
		}
		if v.share != nil || m.shareOn || l.replaying >= 0 {
			out = append(out, l.flag(m.part, m.id, Flag{Ballot: ballot, Code: schemas.AnomalyShareOutlier, On: v.share != nil, Anomaly: v.share, At: at}, local)...)
		}
	}
	clear(members)
	clear(sample)
	buf.members, buf.sample = members[:0], sample[:0]
	l.outlierBuf = buf
	return out
}

// member is a station held in a partition, with what the outlier detectors read of its
// state: partition.setStation keeps it in step with the state, so judging a group reads its
// stations from one slice instead of copying each station's state out of the map.
// It is kept small (64 bytes): a national night holds one per station.
type member struct {
	id       string
	eligible int   // the state's EligibleVoters
	sub      int32 // the subdistrict's number (Ledger.subdistrictID), -1 for none
	urban    bool  // from the reference data
	ballots  [2]memberBallot
}

type memberBallot struct {
	fig       *figures // its final figures when the station is in the sample, else nil
	turnoutOn bool     // TURNOUT_OUTLIER is on
	shareOn   bool     // SHARE_OUTLIER is on
}

// read takes what the outlier detectors read from st, the member's state. A ballot is in
// the sample when it has final figures, the station eligible voters, and its published
// result no code of explainedBy.
func (m *member) read(st *Station) {
	m.eligible = st.EligibleVoters
	for b := range m.ballots {
		bs := &st.ballots[b]
		mb := &m.ballots[b]
		_, mb.turnoutOn = bs.flags[schemas.AnomalyTurnoutOutlier]
		_, mb.shareOn = bs.flags[schemas.AnomalyShareOutlier]
		mb.fig = nil
		if finalFigures(st, b) != nil && st.EligibleVoters > 0 && !explained(bs.published) {
			mb.fig = bs.fig
		}
	}
}

// outlierBuf is the slices outliers reuses from one call to the next.
type outlierBuf struct {
	members []outlierMember
	sample  []outlierSample
	judge   judgeBuf
}

// subdistrictID numbers a subdistrict, "" as -1, for judgeOutliers to group stations by
// without a map. The numbers only grow: a rolled-back station's stays, harmlessly.
func (l *Ledger) subdistrictID(name string) int32 {
	if name == "" {
		return -1
	}
	id, ok := l.subdistricts[name]
	if !ok {
		if l.subdistricts == nil {
			l.subdistricts = map[string]int32{}
		}
		id = int32(len(l.subdistrictNames))
		l.subdistricts[name] = id
		l.subdistrictNames = append(l.subdistrictNames, name)
	}
	return id
}

// subdistrictName is the name subdistrictID numbered id.
func (l *Ledger) subdistrictName(id int32) string {
	if id < 0 {
		return ""
	}
	return l.subdistrictNames[id]
}

// outlierMember is a station of the group being judged, as read before any verdict applies.
type outlierMember struct {
	part      int32
	id        string
	turnoutOn bool // TURNOUT_OUTLIER is on
	shareOn   bool // SHARE_OUTLIER is on
}

// explainedBy are the station's own codes that already send its figures to a person: an
// outlier flag on the same figures would add an item to the queue and nothing to know, and
// such figures (a typo, votes keyed by the wrong numbers) would pull the statistics about.
var explainedBy = []string{schemas.AnomalyArith, schemas.AnomalyOverEligible, schemas.AnomalyConflict,
	schemas.AnomalyNumberSwap, schemas.AnomalyRegression, schemas.AnomalyOfficialMismatch}

// explained reports whether a published result carries one of explainedBy.
func explained(res *schemas.StationResult) bool {
	return slices.ContainsFunc(res.Anomalies, func(c string) bool { return slices.Contains(explainedBy, c) })
}

// settleOutliers judges every group a replay changed, publishing nothing: a partition's
// own flags as the replay of that partition; flags across partitions wait for Drain unless
// already published.
func (l *Ledger) settleOutliers() {
	keys := make([]groupKey, 0, len(l.unjudged))
	for k := range l.unjudged {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.part, b.part), strings.Compare(a.constituency, b.constituency), cmp.Compare(a.ballot, b.ballot))
	})
	for _, k := range keys {
		if k.part >= 0 && l.parts[k.part] == nil {
			continue
		}
		l.replaying = max(k.part, 0)
		l.outliers(k, time.Time{})
		l.replaying = -1
	}
	l.unjudged = nil
}
