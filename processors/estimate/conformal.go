package estimate

import (
	"math"
	"slices"
)

// Conformal check of the leads. The model's variance of a projected lead is a sum of
// terms it knows of (the stations' scatter, borrowed departures, drift, size, kinds,
// blocks); whether their sum is enough on tonight's night is tested on the stations that
// have reported, as split-conformal prediction does. In every constituency with enough
// reports, the later half of its reported stations (by arrival within their stratum) is
// held out and predicted from the earlier half, stratum by stratum, and the error of the
// predicted lead of its two leading candidates is scored against the variance the model
// would give it: the variance a ratio estimate of those stations claims, times the ratio
// by which the model's own variance of the constituency's lead exceeded that exchangeable
// part at the previous recompute. The score s = error²/variance is about χ²₁ (at most)
// when the model is honest; the finite-sample 95 % quantile of the scores over
// constituencies, against 1.96², is the factor by which it was not. Every lead's variance
// is multiplied by that factor when it is above 1, never narrowed.
//
// The held-out half is later than the half it is predicted from, as the stations still
// out are later than those in: the score sees the drift of reporting order, which is what
// makes the stations out unlike the stations in. It cannot see what no reported station
// shows (a constituency whose urban stations have none of them in yet), except through
// the other constituencies where they have.

// conformalState carries, from one recompute to the next, the ratio of each
// constituency's model variance of its leading pair to that variance's exchangeable part.
type conformalState struct {
	rho []float64 // per constituency; 0 when not known
}

func (cs *conformalState) note(c int, model, exchangeable float64) {
	if exchangeable <= 0 {
		return
	}
	cs.rho[c] = max(model/exchangeable, 1)
}

const (
	// conformalMinStations: a constituency is scored once this many stations have reported.
	conformalMinStations = 8
	// conformalMinAreas: the factor is used once this many constituencies are scored;
	// before, it is 1 (the guard and the lead's degrees of freedom rule the early night).
	conformalMinAreas = 10
	// conformalMaxFactor caps the factor (a variance ratio).
	conformalMaxFactor = 25.0
	// conformalLevel is the coverage the scores are calibrated to.
	conformalLevel = 0.95
)

// conformalScores returns one nonconformity score per constituency with enough reports
// on the constituency ballot.
func (e *Estimator) conformalScores() []float64 {
	l, bs := e.lay, e.ballots[1]
	per := make([][]int32, len(l.cons))
	for si := range l.stations {
		if bs.votes[si] != nil {
			c := l.stations[si].cons
			per[c] = append(per[c], int32(si))
		}
	}
	scores := make([]float64, 0, len(l.cons))
	nSub := l.nSub
	zE, xE := make([]float64, nSub), make([]float64, nSub)
	for c, ss := range per {
		if len(ss) < conformalMinStations || len(l.cons[c].candNos) < 2 {
			continue
		}
		if s, ok := e.leadScore(c, ss, zE, xE); ok {
			scores = append(scores, s/max(e.conf.rho[c], 1))
		}
	}
	return scores
}

// leadScore scores constituency c's reported stations ss: the later half predicted from
// the earlier. zE and xE are scratch of nSub entries.
func (e *Estimator) leadScore(c int, ss []int32, zE, xE []float64) (float64, bool) {
	l, bs := e.lay, e.ballots[1]
	nSub := l.nSub
	// The two leading candidates by their votes on the reported stations.
	nk := len(l.cons[c].candNos)
	tot := make([]int64, nk)
	for _, si := range ss {
		for j, v := range bs.votes[si] {
			tot[j] += int64(v)
		}
	}
	a, b := 0, 1
	if tot[b] > tot[a] {
		a, b = b, a
	}
	for j := 2; j < nk; j++ {
		switch {
		case tot[j] > tot[a]:
			a, b = j, a
		case tot[j] > tot[b]:
			b = j
		}
	}
	slices.SortFunc(ss, func(p, q int32) int {
		if d := bs.arrival[p] - bs.arrival[q]; d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
		return int(p - q)
	})
	half := len(ss) / 2
	early, late := ss[:half], ss[half:]
	clear(zE)
	clear(xE)
	var zC, xC float64
	for _, si := range early {
		s := int(l.stations[si].stratum) - c*nSub
		z, x := float64(bs.votes[si][a]-bs.votes[si][b]), float64(l.stations[si].eligible)
		zE[s] += z
		xE[s] += x
		zC += z
		xC += x
	}
	if xC <= 0 {
		return 0, false
	}
	ratio := func(s int) float64 {
		if xE[s] > 0 {
			return zE[s] / xE[s]
		}
		return zC / xC
	}
	// The stations' scatter of z about their stratum's ratio, per eligible voter, from the
	// earlier half.
	var ssr, df float64
	var used [16]bool
	for _, si := range early {
		s := int(l.stations[si].stratum) - c*nSub
		z, x := float64(bs.votes[si][a]-bs.votes[si][b]), float64(l.stations[si].eligible)
		if x > 0 {
			d := z - ratio(s)*x
			ssr += d * d / x
			df++
		}
		used[s] = true
	}
	for s := range nSub {
		if used[s] {
			df--
		}
	}
	if df < 2 {
		return 0, false
	}
	s2 := ssr / df
	var err, xl float64
	var xlS [16]float64
	var xlC float64 // late eligible voters predicted from the constituency's ratio
	for _, si := range late {
		s := int(l.stations[si].stratum) - c*nSub
		z, x := float64(bs.votes[si][a]-bs.votes[si][b]), float64(l.stations[si].eligible)
		err += z - ratio(s)*x
		xl += x
		if xE[s] > 0 {
			xlS[s] += x
		} else {
			xlC += x
		}
	}
	// Variance of the error: the held-out stations' own scatter, and that of the ratios
	// they were predicted with.
	v := s2 * xl
	for s := range nSub {
		if xE[s] > 0 {
			v += s2 * xlS[s] * xlS[s] / xE[s]
		}
	}
	v += s2 * xlC * xlC / xC
	if v <= 0 {
		return 0, false
	}
	return err * err / v, true
}

// conformalFactor is the factor (>= 1) by which the leads' variances are widened: the
// finite-sample conformal quantile of the scores at conformalLevel, against that of χ²₁.
func conformalFactor(scores []float64) float64 {
	n := len(scores)
	if n < conformalMinAreas {
		return 1
	}
	s := slices.Clone(scores)
	slices.Sort(s)
	k := int(math.Ceil(float64(n+1)*conformalLevel)) - 1
	q := s[min(k, n-1)]
	z := 1.959964
	return min(max(q/(z*z), 1), conformalMaxFactor)
}

// leadConformal is the factor for tonight's leads, 1 when Method.LeadConformal is off.
func (e *Estimator) leadConformal() float64 {
	if len(e.conf.rho) != len(e.lay.cons) {
		e.conf.rho = make([]float64, len(e.lay.cons))
	}
	if !e.method.LeadConformal {
		return 1
	}
	return conformalFactor(e.conformalScores())
}

// exchangeableVariance is the part of the variance of the lead of option a over b in
// constituency c that treats the stations still out as exchangeable with those in: their
// own scatter and that of the ratios they are projected with (the first terms of
// pairVariance). The conformal factor scales it: the model's variance stands where it
// is already larger.
func (rc *ratioCalc) exchangeableVariance(c, a, b int, sigma2 func(h int) float64) float64 {
	l, bs := rc.l, rc.bs
	var v float64
	for s := range l.nSub {
		h := c*l.nSub + s
		xu := rc.unreported(h)
		if xu <= 0 {
			continue
		}
		s2 := sigma2(h)
		v += s2 * xu
		if x := float64(bs.x[h]); x > 0 {
			w := 1 - max(rc.sb[bs.optOff[h]+a], rc.sb[bs.optOff[h]+b])
			v += xu * xu * w * w * s2 / x
		}
	}
	return v
}
