package estimate

import "math"

// prioritySums are the party-list sums of the reported priority stations per priority cell
// (region x sub-stratum). The priority sample is a random sample drawn before the night, so
// its ratio within a cell does not depend on which stations happen to report first.
type prioritySums struct {
	K         int
	reported  int
	n         []int32
	x, v, vv  []float64
	y, s, cvs []float64 // per cell-party
}

func newPrioritySums(l *layout) *prioritySums {
	nc := len(l.cellEligible)
	K := len(l.parties)
	return &prioritySums{
		K: K, n: make([]int32, nc), x: make([]float64, nc), v: make([]float64, nc), vv: make([]float64, nc),
		y: make([]float64, nc*K), s: make([]float64, nc*K), cvs: make([]float64, nc*K),
	}
}

func (ps *prioritySums) add(st stationLayout, votes []int32, valid int64, sign int) {
	g := int(st.cell)
	fs := float64(sign)
	x := float64(st.eligible)
	xd := max(x, 1)
	vf := float64(valid)
	ps.reported += sign
	ps.n[g] += int32(sign)
	ps.x[g] += fs * x
	ps.v[g] += fs * vf
	ps.vv[g] += fs * vf * vf / xd
	for k, y := range votes {
		yf := float64(y)
		i := g*ps.K + k
		ps.y[i] += fs * yf
		ps.s[i] += fs * yf * yf / xd
		ps.cvs[i] += fs * yf * vf / xd
	}
}

func (e *Estimator) priorityStatus(bs *ballotState, used bool) PriorityStatus {
	return PriorityStatus{Reported: bs.pri.reported, Total: e.lay.priorityTotal, Used: used}
}

// priorityShares is the party-list estimate from the priority sample alone: per cell the
// sample's ratio applied to all the cell's eligible voters, with the ratio estimator's
// model variance. ok is false until enough of the sample has reported.
func (e *Estimator) priorityShares(bs *ballotState) (share, se []float64, ok bool) {
	ps, l, m := bs.pri, e.lay, e.method
	if l.priorityTotal == 0 || ps.reported < m.PriorityMinStations ||
		float64(ps.reported) < m.PriorityMinFraction*float64(l.priorityTotal) {
		return nil, nil, false
	}
	K := ps.K
	nCells := len(l.cellEligible)
	// A cell with no reported sample station borrows the national sample ratio (of its
	// sub-stratum when it has one); with a stratified sample that is rare and small.
	natY := make([]float64, K)
	var natX float64
	for g := range nCells {
		natX += ps.x[g]
		for k := range K {
			natY[k] += ps.y[g*K+k]
		}
	}
	if natX <= 0 {
		return nil, nil, false
	}
	proj := make([]float64, K)
	for g := range nCells {
		xt := l.cellEligible[g]
		for k := range K {
			if ps.x[g] > 0 {
				proj[k] += xt * ps.y[g*K+k] / ps.x[g]
			} else {
				proj[k] += xt * natY[k] / natX
			}
		}
	}
	var total float64
	for _, t := range proj {
		total += t
	}
	if total <= 0 {
		return nil, nil, false
	}
	share = make([]float64, K)
	for k := range K {
		share[k] = proj[k] / total
	}
	// Pooled scatter of z_k = y_k - p_k·v for cells too thin to have their own.
	ssr := func(g, k int) float64 {
		i := g*K + k
		p := share[k]
		z := ps.y[i] - p*ps.v[g]
		return max(0, ps.s[i]-2*p*ps.cvs[i]+p*p*ps.vv[g]-z*z/ps.x[g])
	}
	pool := make([]float64, K)
	var df float64
	for g := range nCells {
		if ps.n[g] < 2 {
			continue
		}
		df += float64(ps.n[g] - 1)
		for k := range K {
			pool[k] += ssr(g, k)
		}
	}
	se = make([]float64, K)
	for k := range K {
		if df > 0 {
			pool[k] /= df
		} else {
			pool[k] = fallbackSigma2(share[k], 0.75)
		}
		var variance float64
		for g := range nCells {
			xt := l.cellEligible[g]
			x := ps.x[g]
			sigma2 := pool[k]
			if ps.n[g] >= 2 {
				sigma2 = (ssr(g, k) + m.VarianceDF*pool[k]) / (float64(ps.n[g]-1) + m.VarianceDF)
			}
			if x > 0 {
				variance += sigma2 * xt * (xt - x) / x
			} else {
				variance += sigma2 * xt * xt / natX
			}
		}
		se[k] = math.Sqrt(variance) / total
	}
	return share, se, true
}
