package estimate

import (
	"math"

	"votestream/election"
)

// The previous election as live models use history: project the change from the baseline
// rather than the level.
//
// The level model (ratio.go) projects a stratum's stations still out at a ratio measured on
// its own reports and borrowed from its constituency, province, region. Where those stations
// differ from the ones that informed the ratio (bigger towns, the capital, a party's
// strongholds), it is wrong by as much as they differ. The baseline says how much they
// differed last time: the same level model is run on a shadow state holding the previous
// election's votes of exactly the stations that have reported tonight (baseline_state.go),
// and projects the previous election's stations still out. Their true previous votes are
// known, so the shadow's error is known, stratum by stratum and party by party:
//
//	c = (baseline votes of the stations still out) / (the shadow's projection of them) - 1
//
// Tonight's ratio for those stations is moved by γ_k·c, where γ_k says how far the
// baseline's differences carry over to tonight, measured on the night itself: the slope of
// tonight's votes per eligible voter on the baseline's, within strata (weighted least
// squares, so the strata's levels cannot leak into it), relative (γ = 1: a party's vote
// changes in proportion everywhere, a uniform relative swing; γ = 0: the baseline says
// nothing), pooled over every stratum with two reported stations with a baseline, shrunk
// towards 0 by its own noise (as the size slope, size.go) and capped at 1.5. So a
// misleading baseline is measured to mislead and is not used, and a station or party without
// a baseline (new, renumbered, a new party) keeps the level model's projection.
//
// The slope's variance, and what the shrinking took away, enters the intervals as one
// national systematic term per party (it moves every stratum of the party together), and
// the leads of every constituency; the night's drift (honesty.go) is measured on the
// adjusted estimate, so it calibrates what the baseline leaves wrong.

// baselineMaxShift bounds the factor by which the baseline moves a stratum's ratio
// (between 1/4 and 4 times the level model's).
const baselineMaxShift = 4.0

// baselineMaxSlope caps γ: above 1 the baseline's differences are amplified.
const baselineMaxSlope = 1.5

// baselineAdj is what the baseline did to one ratioCalc: per stratum-option the derivative
// of the projected total by γ (g), per key γ's variance.
type baselineAdj struct {
	rc         *ratioCalc
	g          []float64
	gamma, vg  []float64
	correction []float64 // per stratum-option c, for tests and docs
	// levelFactor (per level below the nation, per key) and scatter (per key) are what the
	// hold-out check multiplied the departures' and the stations' variances by
	// (baseline_error.go).
	levelFactor [nLevels][]float64
	scatter     []float64
	contrast    []float64 // per key, on the kinds' and size classes' terms
}

// baselineAdjust moves rc's ratios (already computed) by the baseline; nil without one.
func (e *Estimator) baselineAdjust(rc *ratioCalc) *baselineAdj {
	bl := e.bl
	if bl == nil {
		return nil
	}
	bi := 0
	if rc.bs.ballot == election.BallotConstituency {
		bi = 1
	}
	l, bs, sh, K := rc.l, rc.bs, bl.shadow[bi], rc.K
	src := newRatioCalc(l, sh, rc.m)
	src.compute()

	adj := &baselineAdj{rc: rc, g: make([]float64, len(bs.y)), gamma: make([]float64, K), vg: make([]float64, K),
		correction: make([]float64, len(bs.y))}
	// γ per key: within-stratum slope of y on β = b/x (weights 1/x), relative to the
	// stratum's ratio over its mean β.
	num, den, vden := make([]float64, K), make([]float64, K), make([]float64, K)
	ssr, df := make([]float64, K), make([]float64, K)
	for h, st := range l.strata {
		if bs.n[h] >= 2 {
			x := float64(bs.x[h])
			for j, k := range l.options(bs.ballot, st.cons) {
				i := bs.optOff[h] + j
				y := float64(bs.y[i])
				ssr[k] += max(0, bs.s[i]-y*y/x)
				df[k] += float64(bs.n[h] - 1)
			}
		}
		xb := float64(sh.x[h])
		if sh.n[h] < 2 || xb <= 0 {
			continue
		}
		for j, k := range l.options(bs.ballot, st.cons) {
			i := bs.optOff[h] + j
			bsum, yB := float64(sh.y[i]), bl.yb[bi][i]
			if bsum <= 0 || yB <= 0 {
				continue
			}
			mean, rho := bsum/xb, yB/xb
			vb := max(sh.s[i]-bsum*bsum/xb, 0) // Σx(β - mean)²
			num[k] += bl.yxb[bi][i] - yB*mean
			den[k] += rho / mean * vb
			vden[k] += vb
		}
	}
	ga, va := areaSlopes(rc, src)
	for k := range K {
		if den[k] <= 0 || df[k] <= 0 {
			continue
		}
		raw := num[k] / den[k]
		v := ssr[k] / df[k] * vden[k] / (den[k] * den[k])
		gm, vg := shrinkSlope(raw, v)
		// Stations' differences may carry over while areas' do not (a region that swung
		// apart): the smaller of the two slopes is used, with the larger variance.
		adj.gamma[k] = min(gm, ga[k])
		adj.vg[k] = max(vg, va[k])
	}

	var xuAll, xubAll float64
	for h, st := range l.strata {
		xu := rc.unreported(h)
		xub := bl.xAll[bi][h] - float64(sh.x[h]) // still out, with a baseline
		if xu > 0 && xub > 0 {
			xuAll += xu
			xubAll += min(xub, xu)
		} else {
			xuAll += max(xu, 0)
		}
		if xu <= 0 || xub <= 0 {
			continue
		}
		frac := min(xub/xu, 1)
		for j, k := range l.options(bs.ballot, st.cons) {
			i := bs.optOff[h] + j
			bu := bl.bAll[bi][i] - float64(sh.y[i])
			bhat := src.r[i] * xub
			if bhat <= 0 || bu < 0 {
				continue
			}
			c := min(max(bu/bhat-1, 1/baselineMaxShift-1), baselineMaxShift-1)
			d := c * frac
			adj.correction[i] = c
			adj.g[i] = rc.r[i] * xu * d
			f := 1 + adj.gamma[k]*d
			rc.r[i] *= min(max(f, 1/baselineMaxShift), baselineMaxShift)
		}
	}
	if xuAll > 0 {
		adj.narrow(adj.holdOut(src), adj.scatterRatio(bl, bi, src), adj.contrastRatio(src), xubAll/xuAll)
	}
	return adj
}

// shrinkSlope shrinks a slope towards 0 by its own noise v and caps it; it returns the
// slope and its variance with what the shrinking took away.
func shrinkSlope(raw, v float64) (float64, float64) {
	gm := 0.0
	if raw > 0 {
		gm = raw * max(0, 1-v/(raw*raw))
	}
	gm = min(gm, baselineMaxSlope)
	return gm, v + (raw-gm)*(raw-gm)
}

// areaSlopes measures, per key, how far the shadow's error about a reported constituency
// predicts tonight's: both models predict each constituency with two reports or more from
// its province without it (ratio.go), so the departure tonight (δt) and the previous
// election's (δp) are a hold-out pair. The slope of δt on δp (weighted by δt's precision)
// is the area-level γ; few such constituencies give a noisy slope, shrunk to 0.
func areaSlopes(rc, src *ratioCalc) (gamma, variance []float64) {
	K := rc.K
	num, den, n := make([]float64, K), make([]float64, K), make([]float64, K)
	type pair struct{ k, w, dt, dp float64 }
	var pairs []pair
	for c := range rc.l.cons {
		for j, k := range rc.l.options(rc.bs.ballot, c) {
			ci := rc.consOff[c] + j
			if rc.cn[ci] < 2 || src.cn[ci] < 2 {
				continue
			}
			et, ep := rc.parentA[ci]*rc.ce0[ci], src.parentA[ci]*src.ce0[ci]
			if et <= 0 || ep <= 0 {
				continue
			}
			dt, dp := rc.co[ci]/et-1, src.co[ci]/ep-1
			w := 1 / (rc.relNoise(k, et, rc.cx2[ci], rc.cxx[ci]) + rc.parentVar[ci])
			num[k] += w * dt * dp
			den[k] += w * dp * dp
			n[k]++
			pairs = append(pairs, pair{float64(k), w, dt, dp})
		}
	}
	gamma, variance = make([]float64, K), make([]float64, K)
	raw := make([]float64, K)
	ssr := make([]float64, K)
	for k := range K {
		if den[k] > 0 {
			raw[k] = num[k] / den[k]
		}
	}
	for _, p := range pairs {
		k := int(p.k)
		r := p.dt - raw[k]*p.dp
		ssr[k] += p.w * r * r
	}
	for k := range K {
		if den[k] <= 0 || n[k] < 3 {
			continue
		}
		gamma[k], variance[k] = shrinkSlope(raw[k], ssr[k]/(n[k]-1)/den[k])
	}
	return gamma, variance
}

// shareVariance adds γ's uncertainty to the variance of every z_k = votes_k - p_k·valid
// votes, as sizeShareVariance does for the size slope.
func (a *baselineAdj) shareVariance(variance, share []float64) {
	if a == nil {
		return
	}
	addShareVariance(variance, share, a.rc.sumByKey(a.g), a.vg)
}

// pairVariance is the variance γ's uncertainty adds to the projected lead of option x over
// option y in constituency c.
func (a *baselineAdj) pairVariance(c, x, y int) float64 {
	if a == nil {
		return 0
	}
	return a.rc.leadVariance(c, x, y, a.g, func(k int) float64 { return a.vg[k] })
}

// baselineSlopes returns γ per party-list key of the current state (NaN without a baseline),
// for tests and the log.
func (e *Estimator) baselineSlopes() []float64 {
	rc := newRatioCalc(e.lay, e.ballots[0], e.method)
	rc.compute()
	a := e.baselineAdjust(rc)
	if a == nil {
		out := make([]float64, len(e.lay.parties))
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	return a.gamma
}
