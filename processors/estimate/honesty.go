package estimate

import (
	"math"

	"votestream/schemas"
)

// This file holds what keeps the estimate honest when the reports so far are not like the
// stations still out in ways the strata do not capture: a publication guard, and a bias
// term measured on the night itself from how the estimate has moved as reports came in.
//
// The bias term is a hold-out check in the order of arrival. The estimate made when half of
// today's eligible voters had reported projected, among others, the stations that reported
// since; how far the estimate has moved since then, beyond what its own noise explains,
// is the drift of the reporting order that the model did not catch. Carried forward to the
// voters still out (linearly in the share of eligible voters still out: the drift is
// assumed to go on at the rate it went), it becomes one more variance term. On a night where
// early reports are like late ones it is close to zero; on one where they are not it grows
// at once, whatever the cause (size, turnout, a party's strongholds, a region last).

// snapshot is the stratified estimate at one point of the night.
type snapshot struct {
	u     float64 // share of eligible voters reported
	share []float64
	se    []float64
}

// trendHistory keeps snapshots on a geometric grid of the reported share, taken as stations
// arrive (not when someone asks for an estimate), so the history does not depend on how
// often the estimate is published, and a restarted runner that reads the whole topic at
// once builds it again in arrival order.
type trendHistory struct {
	snaps []snapshot
	next  float64 // the reported share at which the next snapshot is taken
}

const (
	// trendFirst is the reported share of the first snapshot, trendStep the growth of
	// the grid.
	trendFirst = 0.001
	trendStep  = 1.08
	// trendMaxInflation caps the constituencies' variance inflation (a factor on the
	// standard deviation of 5).
	trendMaxInflation = 25
)

// note takes a snapshot when u has passed the next grid point. stratified is only called
// then.
func (t *trendHistory) note(u float64, stratified func() (share, se []float64, ok bool)) {
	if u < max(t.next, trendFirst) || u >= 1 {
		return
	}
	share, se, ok := stratified()
	if !ok {
		return
	}
	t.snaps = append(t.snaps, snapshot{u: u, share: share, se: se})
	t.next = u * trendStep
}

// bias2 is, per party, the variance of the remaining drift of the estimate made at reported
// share u: how far it may still move, measured on how it has moved. Two shapes of drift
// are fitted to the snapshots of the last half of the night so far, by weighted least
// squares (weights 1/se², so noisy early snapshots count little), and the larger kept:
//
//   - the error shrinks like (1-u)/u, the unreported over the reported voters, as thin
//     strata fill (what dominates early): shares regressed on 1/u, and what is left to
//     move is the slope times (1/u - 1);
//   - the error shrinks like (1-u), a steady gap between the stations in and those out
//     (what dominates late: big stations, a late region): shares regressed on u, and what
//     is left is the slope times (1-u). Fitted only on snapshots from trendLinearFrom on,
//     since early the first shape's movement would be extrapolated as if it went on; and
//     fitted twice, weighted and unweighted, since the weights let the last, most precise
//     snapshots hide a drift that paused.
//
// Each slope counts squared plus its own sampling variance, and a party's own figure is
// weighed against the rate pooled over all parties (scaled by p(1-p)): the larger is kept,
// so one party drifting alone is not averaged away and a quiet one takes the night's. The
// model's own standard errors are not used to discount the movement: they measure what the
// stations still out may do, not how smoothly the estimate moves, and subtracting them hid
// a steady two-point drift in the backtests.
func (t *trendHistory) bias2(u float64, share, se []float64) []float64 {
	K := len(share)
	out := make([]float64, K)
	if u <= 0 || u >= 1 {
		return out
	}
	early := t.fit(u, share, se, max(u/2, trendMinShare), func(x float64) float64 { return 1 / x }, 1/u-1, true)
	lin := func(x float64) float64 { return x }
	late := t.fit(u, share, se, max(u/2, trendLinearFrom), lin, 1-u, true)
	lateEven := t.fit(u, share, se, max(u/2, trendLinearFrom), lin, 1-u, false)
	for k := range K {
		out[k] = max(early[k], late[k], lateEven[k])
	}
	return out
}

// fit regresses the shares of the snapshots with u >= lo (and the current estimate) on
// f(u) and returns, per party, (slope² + its variance)·rest², pooled as bias2 says.
func (t *trendHistory) fit(u float64, share, se []float64, lo float64, f func(float64) float64, rest float64, weighted bool) []float64 {
	K := len(share)
	out := make([]float64, K)
	var xs []float64
	var ps, ses [][]float64
	for _, s := range t.snaps {
		if s.u >= lo && s.u < u && len(s.share) == K {
			xs = append(xs, f(s.u))
			ps, ses = append(ps, s.share), append(ses, s.se)
		}
	}
	xs = append(xs, f(u))
	ps, ses = append(ps, share), append(ses, se)
	n := len(xs)
	if n < 3 {
		return out
	}
	own := make([]float64, K)
	w := make([]float64, n)
	var num, den float64
	for k := range K {
		for i := range xs {
			w[i] = 1
			if weighted {
				w[i] = 1 / max(ses[i][k]*ses[i][k], 1e-10)
			}
		}
		slope, varSlope, ok := weightedSlope(xs, w, func(i int) float64 { return ps[i][k] })
		if !ok {
			continue
		}
		own[k] = slope*slope + varSlope
		num += own[k]
		den += share[k] * (1 - share[k])
	}
	beta2 := 0.0
	if den > 0 {
		beta2 = num / den
	}
	for k := range K {
		out[k] = rest * rest * max(own[k], beta2*share[k]*(1-share[k]))
	}
	return out
}

// weightedSlope fits y = a + b·x by weighted least squares and returns b and its variance
// from the weighted scatter around the line.
func weightedSlope(x, w []float64, y func(int) float64) (b, varB float64, ok bool) {
	n := len(x)
	var sw, mx, my float64
	for i := range n {
		sw += w[i]
		mx += w[i] * x[i]
		my += w[i] * y(i)
	}
	if sw <= 0 {
		return 0, 0, false
	}
	mx, my = mx/sw, my/sw
	var sxx, sxy float64
	for i := range n {
		sxx += w[i] * (x[i] - mx) * (x[i] - mx)
		sxy += w[i] * (x[i] - mx) * (y(i) - my)
	}
	if sxx <= 0 {
		return 0, 0, false
	}
	b = sxy / sxx
	var rss float64
	for i := range n {
		r := y(i) - my - b*(x[i]-mx)
		rss += w[i] * r * r
	}
	if n > 2 {
		varB = rss / float64(n-2) / sxx
	}
	return b, varB, true
}

// noiseRatio is how much more the estimate has moved from snapshot to snapshot, over the
// last half of the night so far, than its standard errors allow: successive estimates are
// nested, so between two of them a calibrated estimate moves by the difference of their
// variances, se_then² - se_now², and no more on average. Pooled over the parties with at
// least 1 % and kept between 1 and trendMaxInflation, it multiplies the model's variance.
// Reports that arrive in correlated blocks (a subdistrict voting as one and reporting
// together) make the estimate jump by more than station-by-station errors say; this is
// where the night shows it.
func (t *trendHistory) noiseRatio(u float64, share, se []float64) float64 {
	lo := max(u/2, trendMinShare)
	var prev *snapshot
	var moved, allowed float64
	pairs := 0
	step := func(a, b *snapshot) {
		for k := range b.share {
			if b.share[k] < 0.01 {
				continue
			}
			d := b.share[k] - a.share[k]
			moved += d * d
			allowed += max(a.se[k]*a.se[k]-b.se[k]*b.se[k], 0)
		}
		pairs++
	}
	for i := range t.snaps {
		s := &t.snaps[i]
		if s.u < lo || s.u >= u || len(s.share) != len(share) {
			continue
		}
		if prev != nil {
			step(prev, s)
		}
		prev = s
	}
	if prev != nil {
		step(prev, &snapshot{u: u, share: share, se: se})
	}
	if pairs < 3 || allowed <= 0 {
		return 1
	}
	return min(max(moved/allowed, 1), trendMaxInflation)
}

// trendMinShare: snapshots from before this share of eligible voters reported are too
// noisy (a handful of stations) to measure a drift with.
const trendMinShare = 0.005

// trendLinearFrom is the reported share from which snapshots enter the steady-gap fit.
const trendLinearFrom = 0.2

// inflation is the factor on the variance of every constituency's projected lead: how much
// the drift widened the national intervals of the parties with at least 1 %, pooled. The
// constituencies' own errors cannot measure the reporting order's drift (most have a
// handful of reports); the national one can, and it moves their stations too.
func inflation(share, se, bias2 []float64) float64 {
	var v, b float64
	for k := range share {
		if share[k] < 0.01 {
			continue
		}
		v += se[k] * se[k]
		b += bias2[k]
	}
	if v <= 0 {
		return 1
	}
	return min(1+b/v, trendMaxInflation)
}

// guard decides whether the party-list shares may be published. It holds them back
// (too_early) until enough stations have reported (Method.GuardMinStations, or
// GuardMinFraction of the country if that is fewer, never fewer than 20 % of that), from
// enough of the regions (Method.GuardRegions of them, and two at least), and while any party's interval is
// wider than Method.GuardMaxWidth: a handful of stations must never give a narrow
// interval, and a useless one must not be dressed as an estimate.
func (e *Estimator) guard(prog Progress, parties []PartyResult) schemas.EstimateState {
	switch {
	case prog.StationsReported == 0:
		return schemas.StateTooEarly
	case prog.StationsReported == prog.StationsTotal:
		return schemas.StateCount
	}
	m := e.method
	need := min(m.GuardMinStations, int(math.Ceil(m.GuardMinFraction*float64(prog.StationsTotal))))
	need = max(need, guardFloor)
	if prog.StationsReported < need {
		return schemas.StateTooEarly
	}
	// One region alone never speaks for a country, whatever the setting.
	if covered, total := e.regionsReported(); covered < min(2, total) || float64(covered) < m.GuardRegions*float64(total) {
		return schemas.StateTooEarly
	}
	for _, p := range parties {
		if p.Share >= 0.05 && m.guardWidth(p) > m.GuardMaxWidth {
			return schemas.StateTooEarly
		}
	}
	return schemas.StateEstimate
}

// guardWidth is the width the guard and the likely rule judge a party's interval by: share
// ± IntervalZ·se within [0, 1], whatever the published interval's scale. The logit interval
// (estimate.go, interval) reshapes what is published, not when: where a mid-size party's
// linear interval stops at 0, its logit interval reaches further up, and judging that would
// withhold nights the rules were set on (region-surge's shares from 3 % to 22 % of stations).
func (m Method) guardWidth(p PartyResult) float64 {
	h := m.IntervalZ * p.ShareSE
	return min(1, p.Share+h) - max(0, p.Share-h)
}

// likelyAllowed says whether constituencies may be called likely: only while the national
// shares are published and no party with at least 5 % has an interval wider than
// Method.LikelyMaxWidth. A night that drifts so much that the national figure is that vague
// is one whose constituencies share the drift; its shares may still be published (with
// their wide intervals), its races stay leading.
func (e *Estimator) likelyAllowed(state schemas.EstimateState, parties []PartyResult) bool {
	if state == schemas.StateTooEarly {
		return false
	}
	if state == schemas.StateCount {
		return true
	}
	for _, p := range parties {
		if p.Share >= 0.05 && e.method.guardWidth(p) > e.method.LikelyMaxWidth {
			return false
		}
	}
	return true
}

// blocksReported is, per constituency, how many of its subdistricts have a party-list
// report.
func (e *Estimator) blocksReported() []int {
	l, b := e.lay, e.ballots[0].blk
	out := make([]int, len(l.cons))
	if b == nil {
		return out
	}
	for s, c := range l.blockCons {
		if b.n[s] > 0 {
			out[c]++
		}
	}
	return out
}

// leadDF is the degrees of freedom of a constituency's projected lead: one fewer than its
// stations reported, and, once subdistricts are measured to vote as blocks (blocks non-nil),
// no more than its subdistricts reported: ten stations from one subdistrict are one look
// at one block, not ten independent ones.
func leadDF(stations int, blocks []int, c int) float64 {
	df := stations - 1
	if blocks != nil {
		df = min(df, blocks[c])
	}
	return float64(max(df, 1))
}

// guardFloor: whatever the settings, shares are never published from fewer stations.
const guardFloor = 10

// regionsReported counts the regions with at least one party-list report.
func (e *Estimator) regionsReported() (covered, total int) {
	l, bs := e.lay, e.ballots[0]
	seen := make([]bool, len(l.regions))
	for h, st := range l.strata {
		if bs.n[h] > 0 {
			seen[l.provRegion[l.cons[st.cons].province]] = true
		}
	}
	for _, s := range seen {
		if s {
			covered++
		}
	}
	return covered, len(seen)
}
