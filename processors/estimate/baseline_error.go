package estimate

import "math"

// Intervals around the baseline's prediction.
//
// The level model's variance says how far the stations still out may stray from their
// stratum's ratio and how far each unreported area may depart from the level it borrowed.
// With a baseline, the projection of those stations is no longer the level but the level
// moved by the baseline's difference (baseline_model.go), so its error is how far tonight
// strays from *that*: the residual of the baseline-driven prediction. How much smaller the
// residual is than the level's own error is measured on the night, level by level, on what
// has reported:
//
//   - areas (strata, urban/rural groups, constituencies, provinces, regions): every reported
//     unit is predicted from its parent without it, tonight (departure δt) and on the shadow
//     night (δp, the previous election's votes of the same stations). The baseline-driven
//     prediction of the unit is off by δt − γ·δp; the level's by δt. Their weighted mean
//     squares (weights 1/noise of δt) give the ratio R = Σw(δt − γδp)² / Σwδt², a hold-out
//     check across areas, and the level's departure variance τ² is multiplied by R;
//   - stations: within strata, the scatter of tonight's votes per eligible voter around the
//     baseline-driven prediction (the stratum's ratio plus γ times the baseline's difference)
//     against the scatter around the ratio alone; the stations' scatter is multiplied by
//     that ratio.
//
// Each ratio is raised to a one-sided 95 % upper bound of a variance ratio measured on n
// pairs, R·(1 + 1.645·√(2/n)), capped at 1 and not used below baselineMinPairs pairs; both
// residuals carry the noise of δt (and δp), so R overstates what is left and the bound is
// conservative. Only the part of the voters still out that has a baseline gets the
// narrower variance (1 − F·(1 − R), F that part). A misleading baseline gets γ near 0, so
// δt − γδp ≈ δt and nothing narrows; a night that still moves more than the narrowed
// intervals say is caught by the drift of the night (honesty.go), measured on the adjusted
// estimate. The terms the hold-out cannot check (the kinds' and size classes' priors, the
// size and γ slopes, the reporting-order drift) are left as they are.

const (
	// baselineMinPairs is the fewest hold-out pairs a ratio is measured on.
	baselineMinPairs = 6
	// baselineRatioZ is the one-sided normal quantile of the upper bound on a ratio.
	baselineRatioZ = 1.645
)

// residualRatio collects per key the weighted squares of the baseline-driven prediction's
// residuals and of the level's.
type residualRatio struct {
	res, raw, n []float64
}

func newResidualRatio(K int) residualRatio {
	return residualRatio{res: make([]float64, K), raw: make([]float64, K), n: make([]float64, K)}
}

func (r residualRatio) add(k int, w, dt, dp, gamma float64) {
	if !(w > 0) || math.IsInf(w, 0) || math.IsNaN(dt) || math.IsNaN(dp) {
		return
	}
	e := dt - gamma*dp
	r.res[k] += w * e * e
	r.raw[k] += w * dt * dt
	r.n[k]++
}

// factor is the upper bound of the ratio for key k, in (0, 1]; 1 when unmeasured.
func (r residualRatio) factor(k int) float64 {
	if r.n[k] < baselineMinPairs || r.raw[k] <= 0 {
		return 1
	}
	return min(1, r.res[k]/r.raw[k]*(1+baselineRatioZ*math.Sqrt(2/r.n[k])))
}

// holdOut measures, for each level of areas, the ratio above between the baseline-driven
// prediction's residuals and the level's, from rc (tonight) and src (the shadow night).
func (a *baselineAdj) holdOut(src *ratioCalc) [nLevels]residualRatio {
	rc, l, bs, sh, K := a.rc, a.rc.l, a.rc.bs, src.bs, a.rc.K
	var out [nLevels]residualRatio
	for lv := range nLevels {
		out[lv] = newResidualRatio(K)
	}
	gamma := a.gamma
	// Strata: from their group's level without them, times the profile.
	for h, st := range l.strata {
		if bs.n[h] < 2 || sh.n[h] < 2 {
			continue
		}
		x, xs := float64(bs.x[h]), float64(sh.x[h])
		for j, k := range l.options(bs.ballot, st.cons) {
			i := bs.optOff[h] + j
			et, ep := rc.prior[i]*x, src.prior[i]*xs
			if et <= 0 || ep <= 0 {
				continue
			}
			w := 1 / (rc.relNoise(k, et, x, bs.xx[h]) + rc.priorVar[i])
			out[levelStratum].add(k, w, float64(bs.y[i])/et-1, float64(sh.y[i])/ep-1, gamma[k])
		}
	}
	// Groups and constituencies: from their constituency (province) without them.
	for c := range l.cons {
		for j, k := range l.options(bs.ballot, c) {
			ci := rc.consOff[c] + j
			for g := range 2 {
				gi := ci*2 + g
				if rc.gn[gi] < 2 || src.gn[gi] < 2 {
					continue
				}
				et, ep := rc.gParent[gi]*rc.ge0[gi], src.gParent[gi]*src.ge0[gi]
				if et <= 0 || ep <= 0 {
					continue
				}
				w := 1 / (rc.relNoise(k, et, rc.gx[gi], rc.gxx[gi]) + rc.gVar[gi])
				out[levelGroup].add(k, w, rc.go_[gi]/et-1, src.go_[gi]/ep-1, gamma[k])
			}
			if rc.cn[ci] < 2 || src.cn[ci] < 2 {
				continue
			}
			et, ep := rc.parentA[ci]*rc.ce0[ci], src.parentA[ci]*src.ce0[ci]
			if et <= 0 || ep <= 0 {
				continue
			}
			w := 1 / (rc.relNoise(k, et, rc.cx2[ci], rc.cxx[ci]) + rc.parentVar[ci])
			out[levelConstituency].add(k, w, rc.co[ci]/et-1, src.co[ci]/ep-1, gamma[k])
		}
	}
	// Provinces from their region without them, regions from the nation without them.
	type sums struct{ o, e, x, xx, n float64 }
	np, nr := len(l.provinces), len(l.regions)
	agg := func(r *ratioCalc) (prov, reg []sums, nat []sums) {
		prov, reg, nat = make([]sums, np*K), make([]sums, nr*K), make([]sums, K)
		for c := range l.cons {
			p := l.cons[c].province
			g := l.provRegion[p]
			for j, k := range l.options(bs.ballot, c) {
				ci := r.consOff[c] + j
				s := sums{r.co[ci], r.ce0[ci], r.cx2[ci], r.cxx[ci], float64(r.cn[ci])}
				for _, t := range []*sums{&prov[p*K+k], &reg[g*K+k], &nat[k]} {
					t.o, t.e, t.x, t.xx, t.n = t.o+s.o, t.e+s.e, t.x+s.x, t.xx+s.xx, t.n+s.n
				}
			}
		}
		return prov, reg, nat
	}
	tp, tr, tn := agg(rc)
	sp, sr, sn := agg(src)
	dep := func(u, parent sums) (float64, float64, bool) {
		if u.n < 2 || u.e <= 0 || parent.e-u.e <= 0 || parent.o-u.o <= 0 {
			return 0, 0, false
		}
		et := u.e * (parent.o - u.o) / (parent.e - u.e)
		return u.o/et - 1, et, true
	}
	for p := range np {
		g := l.provRegion[p]
		for k := range K {
			dt, et, ok1 := dep(tp[p*K+k], tr[g*K+k])
			dp, _, ok2 := dep(sp[p*K+k], sr[g*K+k])
			if ok1 && ok2 {
				u := tp[p*K+k]
				out[levelProvince].add(k, 1/rc.relNoise(k, et, u.x, u.xx), dt, dp, gamma[k])
			}
		}
	}
	for g := range nr {
		for k := range K {
			dt, et, ok1 := dep(tr[g*K+k], tn[k])
			dp, _, ok2 := dep(sr[g*K+k], sn[k])
			if ok1 && ok2 {
				u := tr[g*K+k]
				out[levelRegion].add(k, 1/rc.relNoise(k, et, u.x, u.xx), dt, dp, gamma[k])
			}
		}
	}
	return out
}

// contrastRatio is, per key, the ratio above for the contrasts between kinds of station:
// within each constituency, a size class's votes per eligible voter against the next class
// of its urban or rural group, and the urban group's against the rural, tonight (δt) and on
// the shadow night (δp). The kinds' and size classes' terms (kind.go) stand for how far a
// kind of station not yet measured may differ from the ones that have reported; with a
// baseline that difference is predicted by last time's, and this checks, on the contrasts
// that can be seen, how well.
func (a *baselineAdj) contrastRatio(src *ratioCalc) residualRatio {
	rc, l, bs, sh, K := a.rc, a.rc.l, a.rc.bs, src.bs, a.rc.K
	out := newResidualRatio(K)
	sizeClasses := l.nSub / 2
	pair := func(k int, ot, xt, xxt, op, xp, ot2, xt2, xxt2, op2, xp2 float64) {
		if ot <= 0 || ot2 <= 0 || op <= 0 || op2 <= 0 || xt <= 0 || xt2 <= 0 || xp <= 0 || xp2 <= 0 {
			return
		}
		w := 1 / (rc.relNoise(k, ot, xt, xxt) + rc.relNoise(k, ot2, xt2, xxt2))
		out.add(k, w, (ot/xt)/(ot2/xt2)-1, (op/xp)/(op2/xp2)-1, a.gamma[k])
	}
	for c := range l.cons {
		for j, k := range l.options(bs.ballot, c) {
			for g := range 2 {
				for s := g * sizeClasses; s+1 < (g+1)*sizeClasses; s++ {
					h, h2 := c*l.nSub+s, c*l.nSub+s+1
					if bs.n[h] < 2 || bs.n[h2] < 2 || sh.n[h] < 2 || sh.n[h2] < 2 {
						continue
					}
					i, i2 := bs.optOff[h]+j, bs.optOff[h2]+j
					pair(k, float64(bs.y[i]), float64(bs.x[h]), bs.xx[h], float64(sh.y[i]), float64(sh.x[h]),
						float64(bs.y[i2]), float64(bs.x[h2]), bs.xx[h2], float64(sh.y[i2]), float64(sh.x[h2]))
				}
			}
			ci := rc.consOff[c] + j
			r, u := ci*2, ci*2+1
			if rc.gn[r] < 2 || rc.gn[u] < 2 || src.gn[r] < 2 || src.gn[u] < 2 {
				continue
			}
			pair(k, rc.go_[u], rc.gx[u], rc.gxx[u], src.go_[u], src.gx[u], rc.go_[r], rc.gx[r], rc.gxx[r], src.go_[r], src.gx[r])
		}
	}
	return out
}

// scatterRatio is, per key, the ratio of the stations' scatter around the baseline-driven
// prediction to their scatter around the stratum's ratio, within strata with two reported
// stations with a baseline.
func (a *baselineAdj) scatterRatio(bl *baselineState, bi int, src *ratioCalc) residualRatio {
	l, bs, sh, K := a.rc.l, a.rc.bs, src.bs, a.rc.K
	out := newResidualRatio(K)
	df := make([]float64, K)
	for h, st := range l.strata {
		xb := float64(sh.x[h])
		if bs.n[h] < 2 || sh.n[h] < 2 || xb <= 0 {
			continue
		}
		x := float64(bs.x[h])
		for j, k := range l.options(bs.ballot, st.cons) {
			i := bs.optOff[h] + j
			bsum, yB := float64(sh.y[i]), bl.yb[bi][i]
			y := float64(bs.y[i])
			syy := max(0, bs.s[i]-y*y/x)
			if bsum <= 0 || yB <= 0 || syy <= 0 {
				continue
			}
			mean, rho := bsum/xb, yB/xb
			vb := max(sh.s[i]-bsum*bsum/xb, 0)
			num := bl.yxb[bi][i] - yB*mean
			s := a.gamma[k] * rho / mean // absolute slope of y/x on b/x
			out.res[k] += max(0, syy-2*s*num+s*s*vb)
			out.raw[k] += syy
			df[k] += float64(sh.n[h] - 1)
		}
	}
	copy(out.n, df)
	return out
}

// narrow multiplies rc's departure variances by the measured ratios (keeping the floor of
// Method.MinDeparture), weighted by the part f of the voters still out with a baseline, and
// keeps the scatter's factor for the stations' own scatter.
func (a *baselineAdj) narrow(levels [nLevels]residualRatio, scatter, contrast residualRatio, f float64) {
	rc := a.rc
	floor := rc.m.MinDeparture * rc.m.MinDeparture
	a.scatter = make([]float64, rc.K)
	for lv := range levelNation {
		a.levelFactor[lv] = make([]float64, rc.K)
		for k := range rc.K {
			r := 1 - f*(1-levels[lv].factor(k))
			a.levelFactor[lv][k] = r
			t := rc.tauRel[lv][k]
			rc.tauRel[lv][k] = max(t*r, min(t, floor))
		}
	}
	a.contrast = make([]float64, rc.K)
	for k := range rc.K {
		a.scatter[k] = 1 - f*(1-scatter.factor(k))
		r := 1 - f*(1-contrast.factor(k))
		a.contrast[k] = r
		rc.kindVar[k] *= r
		for s := range rc.l.nSub {
			rc.nationPost[s*rc.K+k] *= r
		}
	}
}

// scatterFactor is what multiplies the stations' own scatter of key k (1 without a
// baseline).
func (a *baselineAdj) scatterFactor(k int) float64 {
	if a == nil || a.scatter == nil {
		return 1
	}
	return a.scatter[k]
}
