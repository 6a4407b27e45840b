package estimate

// Drift: even within a stratum, reports do not arrive in random order. A station with more
// ballots takes longer to count, so among stations of one stratum the larger ones, and the
// ones with a higher turnout, report later; early and late reports may differ in other ways
// too.
//
// Each station is stamped with its arrival fraction q within its stratum (0 first, 1 last).
// Within strata, pooled over the country, a figure per eligible voter is regressed on q;
// the stations still out have a mean q of (1+f)/2 against the reported ones' q̄ (f the
// share reported), so a slope β moves their projection by β·((1+f)/2 - q̄) per eligible
// voter, in every stratum at once.
//
//   - Turnout (valid votes per eligible voter) is corrected that way when
//     Method.TurnoutOrder is set: one national slope, fitted on every report, scales all
//     parties of a stratum alike, so it cannot favour one party by itself; it fixes the
//     weights of strata whose outstanding stations will turn out more voters than their
//     early ones did. Backtests showed it helps late in the night.
//   - Each party's own drift is not corrected (a fitted slope per party, extrapolated, did
//     more harm than good in backtests); its expected square is added to the variance as a
//     systematic term. Early in the night a stratum's reports have q in [0, f], so the
//     slope's noise σ²/Σx(q-q̄)² grows like 1/f³ while the shift it is carried over stays
//     near 1/2: with a flat prior the term alone made a random order's intervals tens of
//     points wide at 5 % reported. Method.DriftPrior > 0 (off by default: bounded, the term
//     no longer holds back turnout-drift's first steps) gives the slope a prior, β ~ N(0, τ²) with
//     τ = Method.DriftPrior × the party's votes per eligible voter (the relative change of
//     its vote from a stratum's first station to its last, one standard deviation), and the
//     term is the posterior expected square m² + v: τ² while nothing measures the slope,
//     β̂² + σ²/Σx(q-q̄)² once the reports do (boundedSquare).

// driftShifts returns per stratum the gap (1+f)/2 - q̄ between the mean arrival fraction of
// its unreported and reported stations, and their sum weighted by unreported eligible voters
// over the given strata. A stratum with nothing reported leans on reports whose mean q is
// the nation's.
func (rc *ratioCalc) driftShifts() []float64 {
	l, bs := rc.l, rc.bs
	var xs, xqs float64
	for h := range l.strata {
		xs += float64(bs.x[h])
		xqs += bs.xq[h]
	}
	qNation := ratioOf(xqs, xs, 0.5)
	shift := make([]float64, len(l.strata))
	for h := range l.strata {
		shift[h] = 0.5 - qNation
		if x := float64(bs.x[h]); x > 0 {
			f := float64(bs.n[h]) / float64(max(l.strata[h].stations, 1))
			shift[h] = (1+f)/2 - bs.xq[h]/x
		}
	}
	return shift
}

// slopeAcc pools a within-stratum weighted regression slope on q: Σ(y·q) - Σy·Σ(x·q)/Σx over
// Σ(x·q²) - (Σ(x·q))²/Σx, the estimator under Var(y) ∝ x.
type slopeAcc struct{ num, den float64 }

func (a *slopeAcc) add(yq, y, xq, xq2, x float64) {
	a.num += yq - y*xq/x
	a.den += xq2 - xq*xq/x
}

// beta is the pooled slope, 0 without data.
func (a *slopeAcc) beta() float64 {
	if a.den <= 0 {
		return 0
	}
	return a.num / a.den
}

// noise is the slope's variance for a residual variance sigma2, 0 without data.
func (a *slopeAcc) noise(sigma2 float64) float64 {
	if a.den <= 0 {
		return 0
	}
	return sigma2 / a.den
}

// square is β² + Var(β) for a residual variance sigma2 (Var(y) = sigma2·x), the expected
// square of the true slope's effect, or 0 without data.
func (a *slopeAcc) square(sigma2 float64) float64 {
	if a.den <= 0 {
		return 0
	}
	b := a.num / a.den
	return b*b + sigma2/a.den
}

// posterior is the slope's posterior mean and variance under the prior β ~ N(0, tau2) and
// a residual variance sigma2 (Var(y) = sigma2·x): the precision-weighted mean of the fitted
// slope and 0. Without data, or without a prior (tau2 <= 0: the flat prior of old), it is
// the fit alone (0, 0 without data).
func (a *slopeAcc) posterior(sigma2, tau2 float64) (mean, v float64) {
	if tau2 <= 0 {
		return a.beta(), a.noise(sigma2)
	}
	if a.den <= 0 || sigma2 <= 0 {
		return 0, tau2
	}
	v = 1 / (a.den/sigma2 + 1/tau2)
	return a.num / sigma2 * v, v
}

// boundedSquare is the expected square of the true slope, m² + v from posterior: never more
// than the prior's tau2 plus what the data have shown of the slope, and β̂² + σ²/den as the
// reports' spread in q grows (square).
func (a *slopeAcc) boundedSquare(sigma2, tau2 float64) float64 {
	m, v := a.posterior(sigma2, tau2)
	return m*m + v
}

// driftPrior is the prior variance τ² of the drift slope of a figure with r votes per
// eligible voter (Method.DriftPrior relative); 0 (a flat prior) when DriftPrior is 0.
func (m Method) driftPrior(r float64) float64 {
	t := m.DriftPrior * max(r, 0)
	return t * t
}

// driftPriorAt is driftPrior with a squared relative prior rel2 (driftPriorRel2).
func driftPriorAt(rel2, r float64) float64 {
	return rel2 * max(r, 0) * max(r, 0)
}

// turnoutTrend scales each stratum's projected ratios by the turnout its outstanding
// stations are expected to have over its reported ones: 1 + β·shift/t, t the stratum's
// reported valid votes per eligible voter (the nation's for a stratum with no report).
func (rc *ratioCalc) turnoutTrend() {
	l, bs := rc.l, rc.bs
	var acc slopeAcc
	var xs, vs float64
	for h := range l.strata {
		xs += float64(bs.x[h])
		vs += float64(bs.v[h])
		if bs.n[h] >= 2 {
			acc.add(bs.vq[h], float64(bs.v[h]), bs.xq[h], bs.xq2[h], float64(bs.x[h]))
		}
	}
	if acc.den <= 0 || xs <= 0 || vs <= 0 {
		return
	}
	beta := acc.num / acc.den
	tNation := vs / xs
	shift := rc.driftShifts()
	for h := range l.strata {
		t := tNation
		if x := float64(bs.x[h]); x > 0 && bs.v[h] > 0 {
			t = float64(bs.v[h]) / x
		}
		f := max(0, 1+beta*shift[h]/t)
		for j := range bs.optN[h] {
			rc.r[bs.optOff[h]+j] *= f
		}
	}
}

// orderSelection2 is the squared relative drift of turnout over a stratum's arrival order
// that the reports have shown beyond doubt: (β̂² - 4·Var β̂)/t², 0 when the slope is within
// two standard errors of 0. Turnout is measured on every report, so an order that follows
// something hidden (a factor that raises turnout and slows the count; towns after villages)
// shows in it before the parties' own slopes are measurable; the parties' drift prior is
// then taken to be at least as large (Method.DriftFromTurnout). A random order leaves it 0.
func (rc *ratioCalc) orderSelection2() float64 {
	l, bs := rc.l, rc.bs
	var acc slopeAcc
	var xs, vs, ssr, df float64
	for h := range l.strata {
		x := float64(bs.x[h])
		xs += x
		vs += float64(bs.v[h])
		if bs.n[h] < 2 || x <= 0 {
			continue
		}
		v := float64(bs.v[h])
		acc.add(bs.vq[h], v, bs.xq[h], bs.xq2[h], x)
		ssr += max(0, bs.vv[h]-v*v/x)
		df += float64(bs.n[h] - 1)
	}
	if acc.den <= 0 || df <= 0 || xs <= 0 || vs <= 0 {
		return 0
	}
	b := acc.beta()
	t := vs / xs
	// The scatter about the fitted line, not about the strata's ratios: the slope's own
	// part of it is no noise.
	ssr = max(0, ssr-acc.num*acc.num/acc.den)
	sigma2 := ssr / max(df-1, 1)
	return max(0, b*b-driftTurnoutZ2*acc.noise(sigma2)) / (t * t)
}

// driftPriorRel2 is the squared relative drift prior of the parties' slopes: DriftPrior²,
// or the turnout's measured drift when that is larger and Method.DriftFromTurnout is set.
func (rc *ratioCalc) driftPriorRel2() float64 {
	p := rc.m.DriftPrior * rc.m.DriftPrior
	if rc.m.DriftFromTurnout && p > 0 {
		p = max(p, rc.orderSelection2())
	}
	return p
}

// driftTurnoutZ2 is the squared number of standard errors the turnout's slope must clear
// before it counts as the order's selection (orderSelection2).
const driftTurnoutZ2 = 4.0
