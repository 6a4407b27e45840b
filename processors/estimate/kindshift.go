package estimate

// Selection within a kind of station. The urban/rural profile (kind.go) is measured on the
// stations of each kind that have reported, and every station of that kind still out is
// projected from them: the contrast's error is one error of every urban (or rural)
// stratum in the country at once, so it does not average out over constituencies. kind.go
// counts what the contrast's own noise leaves unmeasured; it takes the reported stations of
// a kind as a fair sample of the kind. When they are not, it shows in what is known of
// them: the urban stations in so far sit in subdistricts where few stations are urban (a
// rural station with an urban label, the least urban of the towns), those still out in the
// towns and cities. The urban/rural contrast is the difference between a subdistrict that
// is all urban and one that is all rural, and Method.KindPrior is how far it may be (one
// standard deviation, relative); so stations whose subdistricts' urban shares differ by Δ
// may differ by KindPrior·Δ, one shift per kind and party that moves all its stations
// still out together:
//
//	variance of party k's total += Σ_g (KindPrior·Δ_g)²·(P_gk)²
//
// Δ_g the difference in the subdistrict's urban share (eligible-weighted) between the
// stations of kind g still out and those reported, P_gk party k's projected votes on the
// stations of kind g still out. On a random order Δ is about 0 and so is the term.

// setBlockUrban keeps the urban-labelled share of every subdistrict's eligible voters.
func (l *layout) setBlockUrban(urban []bool) {
	x := make([]float64, len(l.blockCons))
	l.blockUrban = make([]float64, len(l.blockCons))
	for i, s := range l.stations {
		x[s.block] += float64(s.eligible)
		if urban[i] {
			l.blockUrban[s.block] += float64(s.eligible)
		}
	}
	for b := range x {
		if x[b] > 0 {
			l.blockUrban[b] /= x[b]
		}
	}
}

// kindShift returns, per kind (0 rural, 1 urban), Δ_g: the mean urban share of the
// subdistricts of the kind's eligible voters still out less that of those reported on the
// party-list ballot; 0 for a kind with nothing reported or nothing out.
func (e *Estimator) kindShift() [2]float64 {
	l, b := e.lay, e.ballots[0].blk
	var out [2]float64
	if b == nil || l.blockUrban == nil {
		return out
	}
	nSub := l.nSub
	var rx, ru, ox, ou [2]float64
	for blk := range l.blockCons {
		u := l.blockUrban[blk]
		for sub := range nSub {
			g := 0
			if sub >= nSub/2 {
				g = 1
			}
			rep := float64(b.xs[blk*nSub+sub])
			all := float64(l.blockCov.elig[blk*nSub+sub])
			rx[g] += rep
			ru[g] += rep * u
			ox[g] += all - rep
			ou[g] += (all - rep) * u
		}
	}
	for g := range 2 {
		if rx[g] > 0 && ox[g] > 0 {
			out[g] = ou[g]/ox[g] - ru[g]/rx[g]
		}
	}
	return out
}

// kindShiftVariance adds the term to lean (a hedge on what the reports may not show, kept
// apart from the model's variance as the areas' lean is: the drift of the night is measured
// against the model's own).
func (e *Estimator) kindShiftVariance(rc *ratioCalc, lean, share []float64) {
	if !e.method.KindShift || e.method.KindPrior <= 0 {
		return
	}
	l, bs := e.lay, e.ballots[0]
	d := e.kindShift()
	K := len(share)
	var p [2][]float64
	p[0], p[1] = make([]float64, K), make([]float64, K)
	for h, st := range l.strata {
		xu := rc.unreported(h)
		if xu <= 0 {
			continue
		}
		g := 0
		if st.sub >= l.nSub/2 {
			g = 1
		}
		for k := range K {
			p[g][k] += xu * rc.r[bs.optOff[h]+k]
		}
	}
	own := make([]float64, K)
	for g := range 2 {
		s := e.method.KindPrior * d[g]
		for k := range K {
			own[k] += s * s * p[g][k] * p[g][k]
		}
	}
	addOwnShareVariance(lean, share, own)
}
