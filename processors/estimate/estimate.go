package estimate

import (
	"cmp"
	"math"
	"slices"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// Result is one estimate in the estimator's own terms; ToSchema turns it into the
// estimates.v1 message.
type Result struct {
	DataTime       time.Time
	PartyList      Progress // party-list ballot, whole country
	Constituency   Progress // constituency ballot, whole country
	Parties        []PartyResult
	Constituencies []ConstituencyResult
	Priority       PriorityStatus
	// SharesState is whether the party-list shares, their intervals and the seats are
	// published (StateEstimate, StateCount) or withheld (StateTooEarly).
	SharesState schemas.EstimateState
	// Inflation is the factor (>= 1) by which the night's measured drift multiplied the
	// variance of the projected leads (honesty.go).
	Inflation float64
	Seats     SeatResult // seats.go
}

// Progress counts reported stations and their eligible voters. A station is reported when
// its current result is final and not disputed.
type Progress struct {
	StationsReported int
	StationsTotal    int
	EligibleReported int64
	EligibleTotal    int64
}

// PartyResult is the national party-list estimate of one party. Shares are fractions of
// the valid party-list votes.
type PartyResult struct {
	PartyNo   int
	Counted   int64   // votes on the reported stations
	Projected float64 // projected national votes
	Share     float64
	ShareLo   float64 // 95 % interval (Method.IntervalZ)
	ShareHi   float64
	ShareSE   float64 // standard error of Share
	Seats     int     // projected party-list seats by largest remainder
}

// ConstituencyResult is the projected result of one constituency's ballot.
type ConstituencyResult struct {
	ID             string
	Progress       Progress
	LeaderNo       int // 0 when nothing has been reported
	WinProbability float64
	Call           schemas.CallState
	Candidates     []CandidateResult // by candidate number
}

// CandidateResult is one candidate's figures in a ConstituencyResult. WinProbability is a
// lower bound for the leader and an upper bound for the others (see docs/estimation.md).
type CandidateResult struct {
	No             int
	PartyNo        int
	Counted        int64
	Projected      float64
	WinProbability float64
}

// PriorityStatus says how far the priority sample has reported and whether the party-list
// estimate used it.
type PriorityStatus struct {
	Reported int
	Total    int
	Used     bool
}

// Estimate works out the estimate from the current state. It does not change the state and
// its cost depends on the number of strata and parties, not stations.
func (e *Estimator) Estimate() Result {
	res := Result{DataTime: e.dataTime}
	var infl float64
	var tauY []float64
	res.Parties, res.PartyList, res.Priority, infl, tauY = e.partyList()
	res.SharesState = e.guard(res.PartyList, res.Parties)
	res.Inflation = infl
	// A night whose national shares cannot be published yet (too few stations, or a drift
	// so large the intervals are useless) is one whose constituencies' projections share
	// that drift: no race is called likely on it, only leading (or called, on arithmetic).
	res.Constituencies, res.Constituency = e.constituencies(infl, tauY, e.likelyAllowed(res.SharesState, res.Parties))
	res.Seats = e.Seats(res)
	return res
}

func (e *Estimator) progress(bs *ballotState, strata []int) Progress {
	var p Progress
	for _, h := range strata {
		p.StationsReported += int(bs.n[h])
		p.StationsTotal += e.lay.strata[h].stations
		p.EligibleReported += bs.x[h]
		p.EligibleTotal += e.lay.strata[h].eligible
	}
	return p
}

func (e *Estimator) allStrata() []int {
	hs := make([]int, len(e.lay.strata))
	for i := range hs {
		hs[i] = i
	}
	return hs
}

// fallbackSigma2 is the scatter assumed for a party before any stratum has two reports:
// binomial scatter of a share p at a turnout t, times a generous overdispersion.
func fallbackSigma2(p, t float64) float64 {
	const overdispersion = 4
	return overdispersion * t * max(p*(1-p), 1e-4)
}

// stratifiedEstimate is the stratified ratio estimate of the party-list shares, before the
// night's drift and the priority sample are taken into account.
type stratifiedEstimate struct {
	counted   []int64
	proj      []float64
	total     float64
	share, se []float64
	ok        bool // something is projected
	// lean is the variance of each share from the areas still out leaning together
	// (variance.go), kept apart from se: the drift of the night is measured against the
	// model's own variance, and the lean is added to the published one.
	lean []float64
	// tauY is the subdistricts' block variance of each party's votes per eligible voter
	// (blocks.go), nil until measured.
	tauY []float64
}

func (e *Estimator) partyList() ([]PartyResult, Progress, PriorityStatus, float64, []float64) {
	l, bs := e.lay, e.ballots[0]
	K := len(l.parties)
	prog := e.progress(bs, e.allStrata())
	st := e.stratified()
	out := make([]PartyResult, K)
	for k := range K {
		out[k] = PartyResult{PartyNo: l.parties[k], Counted: st.counted[k], Projected: st.proj[k], ShareHi: 1}
	}
	if !st.ok {
		return out, prog, e.priorityStatus(bs, false), 1, nil
	}
	share, se := st.share, slices.Clone(st.se)
	infl := e.driftWiden(prog, share, se)
	sel := e.method.selectionShareVariance(share, st.counted) // selection.go
	for k := range K {
		se[k] = math.Sqrt(se[k]*se[k] + st.lean[k] + sel[k])
	}
	pri := e.priorityStatus(bs, false)
	share, se = e.priorityBlend(prog, &pri, share, se)
	e.publishShares(out, share, se, st.total)
	return out, prog, pri, infl, st.tauY
}

// driftWiden widens se in place by the drift of the estimate over the night so far
// (honesty.go), carried to the stations still out, and returns the factor by which it
// inflates the leads' variance.
func (e *Estimator) driftWiden(prog Progress, share, se []float64) float64 {
	infl := 1.0
	if !e.method.Drift || prog.StationsReported >= prog.StationsTotal {
		return infl
	}
	u := float64(prog.EligibleReported) / float64(max(prog.EligibleTotal, 1))
	b2 := e.trend.bias2(u, share, se)
	ratio := e.trend.noiseRatio(u, share, se)
	infl = min(ratio*inflation(share, se, b2), trendMaxInflation)
	for k := range se {
		se[k] = math.Sqrt(ratio*se[k]*se[k] + b2[k])
	}
	return infl
}

// priorityBlend blends the shares with the priority sample's once it has something to say,
// and marks pri used. Once every station is in, the count is the answer: the sample has
// nothing to add.
func (e *Estimator) priorityBlend(prog Progress, pri *PriorityStatus, share, se []float64) ([]float64, []float64) {
	pp, pse, ok := e.priorityShares(e.ballots[0])
	if !ok || prog.StationsReported >= prog.StationsTotal {
		return share, se
	}
	pri.Used = true
	// The sample's stations still out are late ones too, projected from the sample's
	// reported stations of their region and kind: the sample is a random one only as far
	// as it has reported. Its estimate carries the stratified estimate's error (drift
	// included) in proportion to the part of the sample still out against the part of the
	// country still out.
	u := float64(prog.EligibleReported) / float64(max(prog.EligibleTotal, 1))
	if u < 1 {
		f := min((1-float64(pri.Reported)/float64(max(pri.Total, 1)))/(1-u), 1)
		for k := range pse {
			pse[k] = math.Sqrt(pse[k]*pse[k] + f*f*se[k]*se[k])
		}
	}
	unreported := 1 - float64(prog.EligibleReported)/float64(max(prog.EligibleTotal, 1))
	return blend(share, se, pp, pse, unreported)
}

// publishShares fills out's shares, intervals, projected votes and party-list seats.
func (e *Estimator) publishShares(out []PartyResult, share, se []float64, total float64) {
	l, m := e.lay, e.method
	votes := make(map[int]int, len(out))
	for k := range out {
		p := share[k]
		out[k].Share = p
		out[k].ShareSE = se[k]
		out[k].ShareLo, out[k].ShareHi = m.interval(p, se[k])
		out[k].Projected = p * total
		votes[l.parties[k]] = int(math.Round(p * total))
	}
	if seats, err := election.AllocatePartyList(votes, election.PartyListSeats); err == nil {
		for k := range out {
			out[k].Seats = seats[l.parties[k]]
		}
	}
}

// interval is the 95 % interval (IntervalZ) of a share p with standard error se. With
// LogitIntervals it reaches as far as p's logit ± IntervalZ·se/(p(1-p)), turned back into
// shares: the errors that dominate early are extrapolations of votes per eligible voter,
// which scale multiplicatively, so a party projected small from where the reports came
// from (the towns' party after the villages, a party whose strongholds count last) may be
// far larger and not far smaller, and a large one the reverse. On the side towards 0 (or
// 1) it keeps share ± IntervalZ·se, which reaches further there: errors of the other sign
// happen too (a party over-projected), and widening one side is no reason to narrow the
// other. The delta method is a local approximation: where se is not small against p (a
// tiny party early) the far side goes no further than twice IntervalZ·se.
func (m Method) interval(p, se float64) (lo, hi float64) {
	half := m.IntervalZ * se
	lo, hi = max(0, p-half), min(1, p+half)
	if !m.LogitIntervals || p <= 0 || p >= 1 || se <= 0 {
		return lo, hi
	}
	l, ls := math.Log(p/(1-p)), half/(p*(1-p))
	return min(lo, max(logistic(l-ls), p-2*half)), max(hi, min(logistic(l+ls), p+2*half))
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// stratified works out the stratified estimate from the current state, in phases: the
// projected shares, the stations' pooled scatter, the model's variance (stations, ratios,
// borrowed departures, kinds, size slopes, baseline), the reporting-order drift, and the
// subdistricts' blocks.
func (e *Estimator) stratified() stratifiedEstimate {
	rc := newRatioCalc(e.lay, e.ballots[0], e.method)
	rc.compute()
	bla := e.baselineAdjust(rc) // nil without a baseline (baseline_model.go)
	st, turnout := e.projectShares(rc)
	if st.total <= 0 {
		return st
	}
	sc := e.pooledScatter(st.share, turnout)
	variance, lean := e.modelVariance(rc, bla, st.share, sc)
	e.driftVariance(rc, st.share, sc.pool, variance)
	total := st.total
	K := len(variance)
	se := make([]float64, K)
	for k := range K {
		se[k] = math.Sqrt(variance[k]) / total
		lean[k] /= total * total
	}
	st.se, st.lean, st.ok = se, lean, true
	if e.method.Blocks {
		e.blockVariance(&st, variance, sc)
	}
	return st
}

// projectShares sums the counted and projected votes and the shares, and returns the
// turnout of the reported stations (0.75 before any).
func (e *Estimator) projectShares(rc *ratioCalc) (stratifiedEstimate, float64) {
	l, bs := e.lay, e.ballots[0]
	K := len(l.parties)
	prog := e.progress(bs, e.allStrata())
	counted := make([]int64, K)
	proj := make([]float64, K)
	for h := range l.strata {
		for k := range K {
			counted[k] += bs.y[bs.optOff[h]+k]
			proj[k] += rc.projected(h, k)
		}
	}
	var total float64
	for _, t := range proj {
		total += t
	}
	st := stratifiedEstimate{counted: counted, proj: proj, total: total}
	if total <= 0 {
		return st, 0
	}
	st.share = make([]float64, K)
	for k := range K {
		st.share[k] = proj[k] / total
	}
	turnout := 0.75
	if prog.EligibleReported > 0 {
		var v int64
		for h := range l.strata {
			v += bs.v[h]
		}
		turnout = float64(v) / float64(prog.EligibleReported)
	}
	return st, turnout
}

// scatterFit is the stations' scatter of every z_k = y_k - p_k·v within strata.
type scatterFit struct {
	share []float64
	pool  []float64 // per key, pooled over strata with two reports or more
	df    float64   // the pool's degrees of freedom
	e     *Estimator
}

// ssr is stratum h's sum of squared residuals of z_k about its ratio. The share p_k = T_k /
// T_V is linearised: its error is that of the total of z = y_k - p_k·v (votes less p_k
// times the valid votes), divided by T_V.
func (sc *scatterFit) ssr(h, k int) float64 {
	bs := sc.e.ballots[0]
	i := bs.optOff[h] + k
	p := sc.share[k]
	x := float64(bs.x[h])
	z := float64(bs.y[i]) - p*float64(bs.v[h])
	return max(0, bs.s[i]-2*p*bs.cv[i]+p*p*bs.vv[h]-z*z/x)
}

// pooledScatter pools the scatter of every z_k over strata with two reports or more
// (fallbackSigma2 before any).
func (e *Estimator) pooledScatter(share []float64, turnout float64) *scatterFit {
	l, bs := e.lay, e.ballots[0]
	K := len(l.parties)
	sc := &scatterFit{share: share, pool: make([]float64, K), e: e}
	for h := range l.strata {
		if bs.n[h] < 2 {
			continue
		}
		sc.df += float64(bs.n[h] - 1)
		for k := range K {
			sc.pool[k] += sc.ssr(h, k)
		}
	}
	for k := range K {
		if sc.df > 0 {
			sc.pool[k] /= sc.df
		} else {
			sc.pool[k] = fallbackSigma2(share[k], turnout)
		}
	}
	return sc
}

// modelVariance is the variance of each z_k total over the unreported stations: their own
// scatter, the error of the stratum's ratio from its reports, and the departures the ratio
// borrowed from above and has not measured yet (variance.go). A departure δ_j is relative
// to party j's ratio R_j, so it moves z_k by R_j·δ_j·(1{j=k} - p_k); departures of
// different parties are taken as independent. lean is the part from the areas still out
// leaning together.
func (e *Estimator) modelVariance(rc *ratioCalc, bla *baselineAdj, share []float64, sc *scatterFit) (variance, lean []float64) {
	l, bs, m := e.lay, e.ballots[0], e.method
	K := len(l.parties)
	nu := m.VarianceDF
	variance = make([]float64, K)
	acc := newGroupAcc(rc)
	own := make([]float64, K)
	for h := range l.strata {
		xu := rc.unreported(h)
		if xu <= 0 {
			continue
		}
		x := float64(bs.x[h])
		dfh := float64(max(bs.n[h]-1, 0))
		off := bs.optOff[h]
		var ownSum float64
		for j := range K {
			a := xu * rc.sb[off+j] * rc.r[off+j]
			own[j] = a * a * rc.tauRel[levelStratum][j]
			ownSum += own[j]
			acc.add(h, j, a)
		}
		for k := range K {
			p := share[k]
			sigma2 := nu * sc.pool[k] / (dfh + nu)
			if bs.n[h] >= 2 {
				sigma2 = (sc.ssr(h, k) + nu*sc.pool[k]) / (dfh + nu)
			}
			sigma2 *= bla.scatterFactor(k) // around the baseline's prediction (baseline_error.go)
			v := sigma2*xu + own[k]*(1-2*p) + p*p*ownSum
			if x > 0 {
				w := 1 - rc.sb[off+k]
				v += xu * xu * w * w * sigma2 / x
			}
			variance[k] += v
		}
	}
	lean = make([]float64, K)
	acc.addShareVariance(variance, lean, share)
	e.kindShiftVariance(rc, lean, share) // kindshift.go
	acc.addKindShareVariance(variance, share)
	rc.sizeShareVariance(variance, share)
	bla.shareVariance(variance, share)
	return variance, lean
}

// driftVariance adds the reporting-order drift's variance (drift.go) to every z_k.
func (e *Estimator) driftVariance(rc *ratioCalc, share, pool, variance []float64) {
	l, bs := e.lay, e.ballots[0]
	K := len(l.parties)
	shift := rc.driftShifts()
	var shifted float64
	for h := range l.strata {
		shifted += rc.unreported(h) * shift[h]
	}
	slopes := make([]slopeAcc, K)
	var xs, vs float64
	for h := range l.strata {
		xs += float64(bs.x[h])
		vs += float64(bs.v[h])
		if bs.n[h] < 2 {
			continue
		}
		x, v, vq := float64(bs.x[h]), float64(bs.v[h]), bs.vq[h]
		for k := range K {
			i := bs.optOff[h] + k
			p := share[k]
			slopes[k].add(bs.yq[i]-p*vq, float64(bs.y[i])-p*v, bs.xq[h], bs.xq2[h], x)
		}
	}
	rel2 := rc.driftPriorRel2()
	for k := range K {
		variance[k] += shifted * shifted * slopes[k].boundedSquare(pool[k], driftPriorAt(rel2, share[k]*ratioOf(vs, xs, 0.75)))
	}
}

// blockVariance: the subdistricts still out move as blocks (blocks.go), nationally for the
// shares, and per constituency (of the votes themselves) for the leads.
func (e *Estimator) blockVariance(st *stratifiedEstimate, variance []float64, sc *scatterFit) {
	l, bs := e.lay, e.ballots[0]
	K := len(l.parties)
	var u2 float64
	for _, x := range e.blockOutstanding() {
		u2 += x
	}
	if tau2 := e.blockTau2(st.share, sc.pool); tau2 != nil {
		d2, _ := e.imbalance() // imbalance.go
		for k := range K {
			st.se[k] = math.Sqrt(variance[k]+tau2[k]*(u2+e.method.Imbalance*d2)) / st.total
		}
	}
	poolY := make([]float64, K)
	for h := range l.strata {
		if bs.n[h] < 2 {
			continue
		}
		x := float64(bs.x[h])
		for k := range K {
			i := bs.optOff[h] + k
			y := float64(bs.y[i])
			poolY[k] += max(0, bs.s[i]-y*y/x) / sc.df
		}
	}
	st.tauY = e.blockTau2(make([]float64, K), poolY)
}

// blend combines the stratified shares s with the priority sample's p by their precision.
// The stratified estimate can be biased when the reports so far are not like the stations
// still out; the priority sample, drawn at random before the night, cannot. Their
// disagreement beyond what both errors explain is taken as that bias, pooled over all parties
// (one scale β for the night, far steadier than a party-by-party guess) and assumed to
// shrink with the unreported share u of eligible voters: bias_k ~ β·u·sqrt(p_k(1-p_k)).
func blend(s, sse, p, pse []float64, u float64) ([]float64, []float64) {
	var excess, scale float64
	g := make([]float64, len(s))
	for k := range s {
		d := s[k] - p[k]
		excess += d*d - sse[k]*sse[k] - pse[k]*pse[k]
		g[k] = u * u * max(s[k]*(1-s[k]), 0)
		scale += g[k]
	}
	beta2 := 0.0
	if excess > 0 && scale > 0 {
		beta2 = excess / scale
	}
	out := make([]float64, len(s))
	outSE := make([]float64, len(s))
	var sum float64
	for k := range s {
		vs, vp := sse[k]*sse[k]+beta2*g[k], pse[k]*pse[k]
		switch {
		case vs == 0:
			out[k], outSE[k] = s[k], 0
		case vp == 0:
			out[k], outSE[k] = p[k], 0
		default:
			out[k] = (s[k]*vp + p[k]*vs) / (vs + vp)
			outSE[k] = math.Sqrt(vs * vp / (vs + vp))
		}
		sum += out[k]
	}
	if sum > 0 {
		for k := range out {
			out[k] /= sum
		}
	}
	return out, outSE
}

func (e *Estimator) constituencies(infl float64, tauY []float64, likelyOK bool) ([]ConstituencyResult, Progress) {
	conf := e.leadConformal() // conformal.go
	l, bs, m := e.lay, e.ballots[1], e.method
	K := l.nKeys(bs.ballot)
	rc := newRatioCalc(l, bs, m)
	rc.compute()
	bla := e.baselineAdjust(rc)
	prog := e.progress(bs, e.allStrata())
	nu := m.VarianceDF

	// Scatter and departures per party, pooled over the country: a candidate's own
	// constituency rarely has enough reports to measure them alone.
	pool := make([]float64, K)
	poolDF := make([]float64, K)
	for h := range l.strata {
		if bs.n[h] < 2 {
			continue
		}
		x := float64(bs.x[h])
		for j, k := range l.options(bs.ballot, l.strata[h].cons) {
			i := bs.optOff[h] + j
			y := float64(bs.y[i])
			pool[k] += max(0, bs.s[i]-y*y/x)
			poolDF[k] += float64(bs.n[h] - 1)
		}
	}
	for k := range K {
		if poolDF[k] > 0 {
			pool[k] /= poolDF[k]
		} else {
			pool[k] = fallbackSigma2(0.3, 0.75)
		}
	}
	shift := rc.driftShifts()
	slopes := make([]slopeAcc, K)
	keyY, keyX := make([]float64, K), make([]float64, K)
	for h := range l.strata {
		if bs.n[h] < 2 {
			continue
		}
		x := float64(bs.x[h])
		for j, k := range l.options(bs.ballot, l.strata[h].cons) {
			i := bs.optOff[h] + j
			slopes[k].add(bs.yq[i], float64(bs.y[i]), bs.xq[h], bs.xq2[h], x)
			keyY[k] += float64(bs.y[i])
			keyX[k] += x
		}
	}
	slopeM, slopeV := make([]float64, K), make([]float64, K)
	rel2 := rc.driftPriorRel2()
	for k := range K {
		slopeM[k], slopeV[k] = slopes[k].posterior(pool[k], driftPriorAt(rel2, ratioOf(keyY[k], keyX[k], 0)))
	}

	// The subdistricts' block variance of a candidate's votes, taken from their party's on
	// the party-list ballot (the largest for a candidate without a party-list number).
	var blockU2 []float64
	var blocksIn []int
	tauKey := make([]float64, K)
	if tauY != nil {
		blockU2 = e.blockOutstanding()
		if _, d2 := e.imbalance(); d2 != nil { // imbalance.go
			for c := range blockU2 {
				blockU2[c] += e.method.Imbalance * d2[c]
			}
		}
		blocksIn = e.blocksReported() // honesty.go
		for k := range K {
			if k < len(tauY) {
				tauKey[k] = tauY[k]
			} else {
				tauKey[k] = slices.Max(tauY)
			}
		}
	}
	seenPlaces := e.seenBlocks() // likely.go
	out := make([]ConstituencyResult, len(l.cons))
	for c := range l.cons {
		cl := &l.cons[c]
		strata := make([]int, l.nSub)
		for s := range strata {
			strata[s] = c*l.nSub + s
		}
		cr := ConstituencyResult{ID: cl.id, Progress: e.progress(bs, strata), Call: schemas.CallTooEarly}
		// The arithmetic of a call uses the published roll when it is larger than the
		// stations listed.
		cr.Progress.EligibleTotal = cl.eligible
		nk := len(cl.candNos)
		cands := make([]CandidateResult, nk)
		for j := range nk {
			cands[j] = CandidateResult{No: cl.candNos[j], PartyNo: l.partyNo(cl.candKeys[j])}
			for _, h := range strata {
				cands[j].Counted += bs.y[bs.optOff[h]+j]
				cands[j].Projected += rc.projected(h, j)
			}
		}
		cr.Candidates = cands
		out[c] = cr
		if nk == 0 || cr.Progress.StationsReported == 0 {
			continue
		}
		order := make([]int, nk)
		for j := range order {
			order[j] = j
		}
		slices.SortFunc(order, func(a, b int) int {
			return cmp.Or(cmp.Compare(cands[b].Projected, cands[a].Projected),
				cmp.Compare(cands[b].Counted, cands[a].Counted),
				cmp.Compare(cands[a].No, cands[b].No))
		})
		lead := order[0]
		var shiftedC, consEligible float64
		for _, h := range strata {
			shiftedC += rc.unreported(h) * shift[h]
			consEligible += float64(l.strata[h].eligible)
		}

		// Arithmetic certainty: even if every outstanding eligible voter backed the
		// runner-up in the count so far, the counted leader stays ahead. Only checked
		// figures (corroborated or verified) count here; a provisional station is
		// outstanding.
		checked := make([]int64, nk)
		var checkedX int64
		for _, h := range strata {
			checkedX += bs.chkX[h]
			for j := range nk {
				checked[j] += bs.chkY[bs.optOff[h]+j]
			}
		}
		byCount := slices.Clone(order)
		slices.SortStableFunc(byCount, func(a, b int) int { return cmp.Compare(checked[b], checked[a]) })
		outstanding := cl.eligible - checkedX
		called := nk == 1 || checked[byCount[0]]-checked[byCount[1]] > outstanding
		if called {
			lead = byCount[0]
		}

		// P(leader ahead of j) from the projected lead and its variance, summed over strata.
		loss := 0.0
		for _, j := range order[1:] {
			if j == lead {
				continue
			}
			d := cands[lead].Projected - cands[j].Projected
			kl, kj := cl.candKeys[lead], cl.candKeys[j]
			// The pooled scatter of the difference: the constituency's own, leaning on the
			// parties' national scatter until it has the degrees of freedom.
			fb := math.Sqrt(pool[kl]) + math.Sqrt(pool[kj])
			fb *= fb
			ssr := func(h int) float64 {
				if bs.n[h] < 2 {
					return 0
				}
				a, b := bs.optOff[h]+lead, bs.optOff[h]+j
				kk := bs.optN[h]
				z := float64(bs.y[a] - bs.y[b])
				return max(0, bs.s[a]+bs.s[b]-2*bs.cross[h][lead*kk+j]-z*z/float64(bs.x[h]))
			}
			var cSSR, cDF float64
			for _, h := range strata {
				cSSR += ssr(h)
				cDF += float64(max(bs.n[h]-1, 0))
			}
			cPool := (cSSR + nu*fb) / (cDF + nu)
			sf := max(bla.scatterFactor(kl), bla.scatterFactor(kj)) // baseline_error.go
			sigma2 := func(h int) float64 {
				return sf * (ssr(h) + nu*cPool) / (float64(max(bs.n[h]-1, 0)) + nu)
			}
			variance := rc.pairVariance(c, lead, j, sigma2)
			// Reporting-order drift of the two parties' candidates (drift.go).
			if shiftedC != 0 {
				db := slopeM[kl] - slopeM[kj]
				variance += shiftedC * shiftedC * (db*db + slopeV[kl] + slopeV[kj])
			}
			if blockU2 != nil {
				// The two candidates' block departures taken as opposed, as above.
				b := math.Sqrt(tauKey[kl]) + math.Sqrt(tauKey[kj])
				variance += blockU2[c] * b * b
			}
			variance += e.method.selectionPairVariance(d, float64(cands[lead].Counted-cands[j].Counted),
				ratioOf(consEligible, float64(cr.Progress.EligibleReported), 0)) // selection.go
			variance += rc.sizePairVariance(c, lead, j)
			variance += bla.pairVariance(c, lead, j)
			variance *= infl
			if j == order[1] {
				e.conf.note(c, variance, rc.exchangeableVariance(c, lead, j, sigma2)) // conformal.go
			}
			variance *= conf
			var ahead float64
			switch {
			case variance > 0:
				// Student's t with one degree of freedom fewer than the stations
				// reported: a lead seen on three stations is not yet a lead seen on thirty.
				ahead = studentCDF(d/math.Sqrt(variance), leadDF(cr.Progress.StationsReported, blocksIn, c))
			case d > 0:
				ahead = 1
			case d == 0:
				ahead = 0.5
			}
			cands[j].WinProbability = 1 - ahead
			loss += 1 - ahead
		}
		cands[lead].WinProbability = max(0, 1-loss)
		if called {
			cands[lead].WinProbability = 1
		}
		cr.LeaderNo = cands[lead].No
		cr.WinProbability = cands[lead].WinProbability
		switch {
		case called:
			cr.Call = schemas.CallCalled
		case cr.Progress.StationsReported < m.MinStationsLeading:
			cr.Call = schemas.CallTooEarly
		case likelyOK && cr.WinProbability >= m.LikelyProbability && e.likelyCovered(c, lead, seenPlaces): // likely.go
			cr.Call = schemas.CallLikely
		default:
			cr.Call = schemas.CallLeading
		}
		out[c] = cr
	}
	return out, prog
}
