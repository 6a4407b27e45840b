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
// voter are modelled as ρ·(1 + b_k·l): one relative slope b_k per party (key), pooled over
// every stratum with two reports or more (within-stratum weighted least squares, so the
// strata's levels cannot leak into it). A stratum's ratio was measured on stations whose
// mean l is known (its own reports, or for what it borrowed, the mean l of the reports of
// its size class nationally, weighted as the ratio weighed them); its stations still out
// have another mean l, and the ratio is moved by b_k times the difference. The slope's
// sampling variance (and what shrinking it towards 0 took away) enters the intervals as one
// national systematic term per party (sizeVariance), and per constituency in the leads.

// sizeSlopeMaxShift caps the factor by which the size covariate moves a stratum's ratio.
const sizeSlopeMaxShift = 0.5

// sizeTrend moves every stratum's ratios for the size of its stations still out, and keeps
// per stratum-option the derivative of its projected total by the slope (sizeG) and per key
// the slope's variance (sizeVar).
func (rc *ratioCalc) sizeTrend() {
	l, bs, K := rc.l, rc.bs, rc.K
	rc.sizeG = make([]float64, len(bs.y))
	rc.sizeVar = make([]float64, K)
	num, den, vden, ssr, df := make([]float64, K), make([]float64, K), make([]float64, K), make([]float64, K), make([]float64, K)
	// The reported stations' mean l per size class, nationally: the reference of what a
	// stratum borrowed.
	refX, refL := make([]float64, l.nSub), make([]float64, l.nSub)
	for h, st := range l.strata {
		if bs.n[h] == 0 {
			continue
		}
		x := float64(bs.x[h])
		refX[st.sub] += x
		refL[st.sub] += bs.xl[h]
		if bs.n[h] < 2 || x <= 0 {
			continue
		}
		vh := max(bs.xll[h]-bs.xl[h]*bs.xl[h]/x, 0)
		for j, k := range l.options(bs.ballot, st.cons) {
			i := bs.optOff[h] + j
			y := float64(bs.y[i])
			num[k] += bs.yl[i] - y*bs.xl[h]/x
			den[k] += y / x * vh
			vden[k] += vh
			ssr[k] += max(0, bs.s[i]-y*y/x)
			df[k] += float64(bs.n[h] - 1)
		}
	}
	b := make([]float64, K)
	for k := range K {
		if den[k] <= 0 || df[k] <= 0 {
			continue
		}
		raw := num[k] / den[k]
		v := ssr[k] / df[k] * vden[k] / (den[k] * den[k])
		// Shrunk towards no slope by its own noise, so a small party's noisy slope does not
		// move its projection; what the shrinking took away stays in the variance.
		if raw*raw > 0 {
			b[k] = raw * max(0, 1-v/(raw*raw))
		}
		rc.sizeVar[k] = v + (raw-b[k])*(raw-b[k])
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
			f := 1 + b[k]*d
			rc.r[i] *= min(max(f, 1-sizeSlopeMaxShift), 1+sizeSlopeMaxShift)
		}
	}
}

// sizeShareVariance adds to the variance of every z_k = votes_k - p_k·valid votes the
// uncertainty of the size slopes: the slope of party j moves every stratum's projection of
// j together, by sizeG·δb_j, and so z_k by that times (1{j=k} - p_k).
func (rc *ratioCalc) sizeShareVariance(variance, share []float64) {
	if rc.sizeG == nil {
		return
	}
	K := rc.K
	g := make([]float64, K)
	for h, st := range rc.l.strata {
		for j, k := range rc.l.options(rc.bs.ballot, st.cons) {
			g[k] += rc.sizeG[rc.bs.optOff[h]+j]
		}
	}
	var all float64
	own := make([]float64, K)
	for k := range K {
		own[k] = g[k] * g[k] * rc.sizeVar[k]
		all += own[k]
	}
	for k := range variance {
		p := share[k]
		variance[k] += max(0, own[k]*(1-2*p)+p*p*all)
	}
}

// sizePairVariance is the variance the size slopes add to the projected lead of option a
// over option b in constituency c.
func (rc *ratioCalc) sizePairVariance(c, a, b int) float64 {
	if rc.sizeG == nil {
		return 0
	}
	l, bs := rc.l, rc.bs
	keys := l.options(bs.ballot, c)
	var ga, gb float64
	for s := range l.nSub {
		h := c*l.nSub + s
		ga += rc.sizeG[bs.optOff[h]+a]
		gb += rc.sizeG[bs.optOff[h]+b]
	}
	va, vb := rc.sizeVar[keys[a]], rc.sizeVar[keys[b]]
	if keys[a] == keys[b] {
		return (ga - gb) * (ga - gb) * va
	}
	return ga*ga*va + gb*gb*vb
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
