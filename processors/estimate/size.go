package estimate

import "math"

// Size within the stratum as a covariate. Strata split each constituency's stations into a
// few national size classes, but within a class the stations still out are not like the
// reported ones: larger stations count longer, and where a party's vote changes with
// station size (towns inside a rural constituency, a stations.csv without an urban column)
// the early, smaller stations of every stratum lean one way. Unlike the arrival order
// (drift.go), a station's size is known before it reports, so the gap between the stations
// in and those out can be measured exactly rather than extrapolated.
//
// Each station carries l = ln(eligible voters) less the eligible-weighted mean of ln over
// every station of its stratum (so Σx·l = 0 over a stratum). A party's votes per eligible
// voter are modelled as ρ·(1 + b·l), the relative slope b measured by within-stratum
// weighted least squares (so the strata's levels cannot leak into it) and hierarchical:
// per party nationally, per region and per constituency, each shrunk towards the level
// above (sizeSlopes). A stratum's ratio was measured on stations whose mean l is known (its
// own reports, or for what it borrowed, the mean l of the reports of its size class
// nationally, weighted as the ratio weighed them); its stations still out have another mean
// l, and the ratio is moved by its constituency's slope times the difference. The slopes'
// errors enter the intervals (sizeShareVariance) and the leads (sizePairVariance).

// sizeSlopeMaxShift caps the factor by which the size covariate moves a stratum's ratio.
const sizeSlopeMaxShift = 0.5

// sizeTrend moves every stratum's ratios for the size of its stations still out, and keeps
// per stratum-option the derivative of its projected total by the slope (sizeG) and the
// slopes' uncertainty (sizeSlopes).
func (rc *ratioCalc) sizeTrend() {
	l, bs := rc.l, rc.bs
	rc.sizeG = make([]float64, len(bs.y))
	ss := newSizeSlopes(rc)
	rc.sizeSl = ss
	// The reported stations' mean l per size class, nationally: the reference of what a
	// stratum borrowed.
	refX, refL := make([]float64, l.nSub), make([]float64, l.nSub)
	for h, st := range l.strata {
		if bs.n[h] == 0 {
			continue
		}
		refX[st.sub] += float64(bs.x[h])
		refL[st.sub] += bs.xl[h]
	}
	for s := range refX {
		if refX[s] > 0 {
			refL[s] /= refX[s]
		}
	}
	for h, st := range l.strata {
		xu := rc.unreported(h)
		if xu <= 0 {
			continue
		}
		lu := (st.xl - bs.xl[h]) / xu // mean l of the stations still out
		own := 0.0
		if x := float64(bs.x[h]); x > 0 {
			own = bs.xl[h] / x
		}
		for j, k := range l.options(bs.ballot, st.cons) {
			i := bs.optOff[h] + j
			w := 1 - rc.sb[i] // the weight of the stratum's own reports in its ratio
			d := lu - (w*own + (1-w)*refL[st.sub])
			rc.sizeG[i] = rc.r[i] * xu * d
			f := 1 + ss.slope(st.cons, k)*d
			rc.r[i] *= min(max(f, 1-sizeSlopeMaxShift), 1+sizeSlopeMaxShift)
		}
	}
}

// sizeSlopes are the size slopes of one ballot, per party nationally, per region and per
// constituency. A constituency's slope is its own measured slope shrunk towards its
// region's, a region's towards the nation's, and the nation's towards none, each by an
// empirical-Bayes weight w = τ²/(τ² + noise): τ² the spread of the true slopes between the
// units of that level (measured on the night, never below Method.SizeSlopeSpread²), noise
// the sampling variance of the unit's own slope. A slope's error is then
// (1-w)·(its parent's error) + its own part η, with Var η = w·noise; the parts are
// independent, so a unit with nothing reported carries its parent's error and the whole
// spread τ², and the nation's error moves every stratum of a party together.
type sizeSlopes struct {
	K, nCons, nReg int
	regionOf       []int // constituency -> region
	// Per key: the national slope and its variance (with what shrinking towards 0 took).
	b0, v0 []float64
	// Per (region*K + k) and (constituency*K + k): the slope, 1-w, Var η and the whole
	// variance of the slope's error.
	br, rw, reta, rvar []float64
	bc, cw, ceta, cvar []float64
}

// slopeSums are one unit's within-stratum weighted least squares sums for a key.
type slopeSums struct{ num, den, vden float64 }

func (s *slopeSums) addTo(o slopeSums) { s.num += o.num; s.den += o.den; s.vden += o.vden }

// est is the unit's raw slope and its sampling variance given the stations' scatter s2
// (relative), ok false when nothing measures it.
func (s slopeSums) est(s2 float64) (b, v float64, ok bool) {
	if s.den <= 0 {
		return 0, math.Inf(1), false
	}
	return s.num / s.den, s2 * s.vden / (s.den * s.den), true
}

func newSizeSlopes(rc *ratioCalc) *sizeSlopes {
	l, bs, K := rc.l, rc.bs, rc.K
	nc, nr := len(l.cons), len(l.regions)
	ss := &sizeSlopes{K: K, nCons: nc, nReg: nr, regionOf: make([]int, nc),
		b0: make([]float64, K), v0: make([]float64, K),
		br: make([]float64, nr*K), rw: make([]float64, nr*K), reta: make([]float64, nr*K), rvar: make([]float64, nr*K),
		bc: make([]float64, nc*K), cw: make([]float64, nc*K), ceta: make([]float64, nc*K), cvar: make([]float64, nc*K)}
	for c := range nc {
		ss.regionOf[c] = l.provRegion[l.cons[c].province]
	}
	cs := make([]slopeSums, nc*K)
	ssr, df := make([]float64, K), make([]float64, K)
	for h, st := range l.strata {
		x := float64(bs.x[h])
		if bs.n[h] < 2 || x <= 0 {
			continue
		}
		vh := max(bs.xll[h]-bs.xl[h]*bs.xl[h]/x, 0)
		for j, k := range l.options(bs.ballot, st.cons) {
			i := bs.optOff[h] + j
			y := float64(bs.y[i])
			cs[st.cons*K+k].addTo(slopeSums{bs.yl[i] - y*bs.xl[h]/x, y / x * vh, vh})
			ssr[k] += max(0, bs.s[i]-y*y/x)
			df[k] += float64(bs.n[h] - 1)
		}
	}
	rs := make([]slopeSums, nr*K)
	ns := make([]slopeSums, K)
	for c := range nc {
		for k := range K {
			rs[ss.regionOf[c]*K+k].addTo(cs[c*K+k])
			ns[k].addTo(cs[c*K+k])
		}
	}
	hier := rc.m.SizeSlopeHierarchy
	floor := max(rc.m.SizeSlopeSpread*rc.m.SizeSlopeSpread, 1e-12)
	var dep departures
	for k := range K {
		s2 := 0.0
		if df[k] > 0 {
			s2 = ssr[k] / df[k]
		}
		if raw, v, ok := ns[k].est(s2); ok && df[k] > 0 {
			// Shrunk towards no slope by its own noise, so a small party's noisy slope does
			// not move its projection; what the shrinking took away stays in the variance.
			if raw*raw > 0 {
				ss.b0[k] = raw * max(0, 1-v/(raw*raw))
			}
			ss.v0[k] = v + (raw-ss.b0[k])*(raw-ss.b0[k])
		}
		// Regions from the nation.
		tauR := 0.0
		if hier {
			dep.reset()
			for r := range nr {
				if b, v, ok := rs[r*K+k].est(s2); ok {
					dep.add(b-ss.b0[k], v+ss.v0[k])
				}
			}
			tauR = dep.tau2(floor)
		}
		for r := range nr {
			i := r*K + k
			ss.br[i], ss.rw[i], ss.reta[i] = ss.b0[k], 1, 0
			if !hier {
				ss.rvar[i] = ss.v0[k]
				continue
			}
			ss.reta[i] = tauR
			if b, v, ok := rs[i].est(s2); ok {
				w := ebWeight(tauR, v)
				ss.br[i], ss.rw[i], ss.reta[i] = ss.b0[k]+w*(b-ss.b0[k]), 1-w, w*v
			}
			ss.rvar[i] = ss.reta[i] + ss.rw[i]*ss.rw[i]*ss.v0[k]
		}
		// Constituencies from their region.
		tauC := 0.0
		if hier {
			dep.reset()
			for c := range nc {
				if b, v, ok := cs[c*K+k].est(s2); ok {
					i := ss.regionOf[c]*K + k
					dep.add(b-ss.br[i], v+ss.rvar[i])
				}
			}
			tauC = dep.tau2(floor)
		}
		for c := range nc {
			i, ri := c*K+k, ss.regionOf[c]*K+k
			ss.bc[i], ss.cw[i], ss.ceta[i] = ss.br[ri], 1, 0
			if hier {
				ss.ceta[i] = tauC
				if b, v, ok := cs[i].est(s2); ok {
					w := ebWeight(tauC, v)
					ss.bc[i], ss.cw[i], ss.ceta[i] = ss.br[ri]+w*(b-ss.br[ri]), 1-w, w*v
				}
			}
			ss.cvar[i] = ss.ceta[i] + ss.cw[i]*ss.cw[i]*ss.rvar[ri]
		}
	}
	return ss
}

// slope is the size slope of key k in constituency c.
func (ss *sizeSlopes) slope(c, k int) float64 { return ss.bc[c*ss.K+k] }

// sizeShareVariance adds to the variance of every z_k = votes_k - p_k·valid votes the
// uncertainty of the size slopes: the slope of party j moves every stratum's projection of
// j in a constituency together, by sizeG·δb, and so z_k by that times (1{j=k} - p_k). Each
// independent part of the slopes' errors (per constituency, per region, national) is
// summed over the strata it moves before squaring.
func (rc *ratioCalc) sizeShareVariance(variance, share []float64) {
	if rc.sizeG == nil {
		return
	}
	ss, K := rc.sizeSl, rc.K
	gc := make([]float64, ss.nCons*K)
	for h, st := range rc.l.strata {
		for j, k := range rc.l.options(rc.bs.ballot, st.cons) {
			gc[st.cons*K+k] += rc.sizeG[rc.bs.optOff[h]+j]
		}
	}
	own := make([]float64, K)
	gr := make([]float64, ss.nReg*K)
	for c := range ss.nCons {
		for k := range K {
			i := c*K + k
			own[k] += gc[i] * gc[i] * ss.ceta[i]
			gr[ss.regionOf[c]*K+k] += gc[i] * ss.cw[i]
		}
	}
	g0 := make([]float64, K)
	for r := range ss.nReg {
		for k := range K {
			i := r*K + k
			own[k] += gr[i] * gr[i] * ss.reta[i]
			g0[k] += gr[i] * ss.rw[i]
		}
	}
	for k := range K {
		own[k] += g0[k] * g0[k] * ss.v0[k]
	}
	addOwnShareVariance(variance, share, own)
}

// sizePairVariance is the variance the size slopes add to the projected lead of option a
// over option b in constituency c.
func (rc *ratioCalc) sizePairVariance(c, a, b int) float64 {
	if rc.sizeG == nil {
		return 0
	}
	ss := rc.sizeSl
	return rc.leadVariance(c, a, b, rc.sizeG, func(k int) float64 { return ss.cvar[c*ss.K+k] })
}

// centredLogSizes returns each station's ln(eligible) less its stratum's eligible-weighted
// mean of it, and per stratum Σx·l over all its stations (0 but for rounding).
func centredLogSizes(eligible []int32, stratum []int32, nStrata int) (ls []float32, xl []float64) {
	sx, sxl := make([]float64, nStrata), make([]float64, nStrata)
	logOf := func(x int32) float64 { return math.Log(float64(max(x, 1))) }
	for i, x := range eligible {
		sx[stratum[i]] += float64(x)
		sxl[stratum[i]] += float64(x) * logOf(x)
	}
	ls = make([]float32, len(eligible))
	xl = make([]float64, nStrata)
	for i, x := range eligible {
		h := stratum[i]
		mean := 0.0
		if sx[h] > 0 {
			mean = sxl[h] / sx[h]
		}
		ls[i] = float32(logOf(x) - mean)
		xl[h] += float64(x) * float64(ls[i])
	}
	return ls, xl
}
