package estimate

import "math"

// Levels of the hierarchy whose departures make up a projection's uncertainty.
const (
	levelStratum      = iota
	levelGroup        // a constituency's urban or rural stations
	levelConstituency //
	levelProvince     //
	levelRegion       //
	levelNation       // a size class's departure within its urban or rural group, nationally
	nLevels
)

// groupAcc adds up, per area and party, the votes projected for unreported stations with a
// prior that still carries that area's unmeasured departure. One area's departure moves
// all of them together, so its variance enters as (Σ projected votes)²·τ², not as a sum of
// independent squares: this is what keeps an interval honest when a whole province, or the
// large urban stations of the country, have not reported yet.
//
// A level's departure reaches a stratum's projection through the (1-w) factors of the
// levels below it (the part of each that still leans on its prior), and is itself known up
// to its empirical-Bayes posterior variance (1-w)·τ².
type groupAcc struct {
	rc *ratioCalc
	// per level above the stratum: per (unit*K + key) the weighted projected votes
	g [nLevels][]float64
	// cls: per (size class*K + key) the votes projected from strata's priors, before any
	// level's 1-w: what leans on the national profile (kind.go).
	cls []float64
}

func newGroupAcc(rc *ratioCalc) *groupAcc {
	l, K := rc.l, rc.K
	g := &groupAcc{rc: rc}
	g.g[levelGroup] = make([]float64, 2*len(l.cons)*K)
	g.g[levelConstituency] = make([]float64, len(l.cons)*K)
	g.g[levelProvince] = make([]float64, len(l.provinces)*K)
	g.g[levelRegion] = make([]float64, len(l.regions)*K)
	g.g[levelNation] = make([]float64, l.nSub*K)
	g.cls = make([]float64, l.nSub*K)
	return g
}

// chain is stratum h's path up the hierarchy for option j (party key k): the unit at every
// level and the 1-w factor of each.
type chain struct {
	unit [nLevels]int
	b    [nLevels]float64
}

func (rc *ratioCalc) chainOf(h, j int) chain {
	l, K := rc.l, rc.K
	st := l.strata[h]
	k := l.options(rc.bs.ballot, st.cons)[j]
	p := l.cons[st.cons].province
	r := l.provRegion[p]
	grp := st.sub / (l.nSub / 2)
	ci := rc.consOff[st.cons] + j
	var ch chain
	ch.unit[levelGroup], ch.b[levelGroup] = st.cons*2+grp, rc.gb[ci*2+grp]
	ch.unit[levelConstituency], ch.b[levelConstituency] = st.cons, rc.cb[ci]
	ch.unit[levelProvince], ch.b[levelProvince] = p, rc.ub[2][p*K+k]
	ch.unit[levelRegion], ch.b[levelRegion] = r, rc.ub[1][r*K+k]
	ch.unit[levelNation], ch.b[levelNation] = st.sub, rc.nb[st.sub*K+k]
	return ch
}

// add takes stratum h's option j (party-list: j is the party key), whose unreported
// stations' votes projected from the prior, times the stratum's own 1-w, are a.
func (g *groupAcc) add(h, j int, a float64) {
	K := g.rc.K
	ch := g.rc.chainOf(h, j)
	g.cls[ch.unit[levelNation]*K+j] += a
	for lv := levelGroup; lv < nLevels; lv++ {
		g.g[lv][ch.unit[lv]*K+j] += a
		a *= ch.b[lv]
	}
}

// b returns the 1-w factor of (level, unit, key) on the party-list ballot.
func (g *groupAcc) b(lv, u, k int) float64 {
	rc, K := g.rc, g.rc.K
	switch lv {
	case levelGroup:
		return rc.gb[(rc.consOff[u/2]+k)*2+u%2]
	case levelConstituency:
		return rc.cb[rc.consOff[u]+k]
	case levelProvince:
		return rc.ub[2][u*K+k]
	case levelRegion:
		return rc.ub[1][u*K+k]
	}
	return rc.nb[u*K+k]
}

// addShareVariance adds to variance[k] the grouped part of the variance of z_k = y_k -
// p_k·v on the party-list ballot.
//
// Areas still out are not a random draw of areas: the order of reporting can follow the
// vote (a party's strongholds counting slowly), so the departures of the areas still out
// may lean the same way. Method.AreaCorrelation is that lean, a correlation between the
// unmeasured departures of the constituencies (and their groups, and provinces) of one
// level: it adds ρ·((Σ_u a_u)² - Σ_u a_u²) for the standard deviations a_u of every unit,
// which fades as areas report. That part goes into lean, not variance: it is a hedge, and
// the drift of the night is measured against the model's own variance without it.
func (g *groupAcc) addShareVariance(variance, lean, p []float64) {
	K := g.rc.K
	rho := g.rc.m.AreaCorrelation
	coh, diag := make([]float64, K), make([]float64, K)
	for lv := levelGroup; lv < nLevels; lv++ {
		tau := g.rc.tauRel[lv]
		acc := g.g[lv]
		part := make([]float64, K)
		clear(coh)
		clear(diag)
		for u := range len(acc) / K {
			for k := range K {
				x := acc[u*K+k]
				part[k] = x * x * g.b(lv, u, k) * tau[k]
				coh[k] += math.Sqrt(part[k])
				diag[k] += part[k]
			}
			addOwnShareVariance(variance, p, part)
		}
		if rho <= 0 || lv > levelProvince {
			continue
		}
		for k := range K {
			part[k] = rho * max(coh[k]*coh[k]-diag[k], 0)
		}
		addOwnShareVariance(lean, p, part)
	}
}

// pairVariance is the variance of the projected lead of option a over option b in
// constituency c: the scatter of the unreported stations (sigma2(h) per stratum, for the
// difference of the two), the error of each stratum's ratio from its reports, and the
// unmeasured departures of every level. The two candidates' departures are taken as
// perfectly opposed (what one gains the other loses), the cautious bound.
func (rc *ratioCalc) pairVariance(c, a, b int, sigma2 func(h int) float64) float64 {
	l, bs := rc.l, rc.bs
	sq := func(x float64) float64 { return x * x }
	var variance float64
	var ga, gb [nLevels][]float64 // per level: accumulated projected votes per unit
	units := [nLevels]int{levelGroup: 2, levelConstituency: 1, levelProvince: 1, levelRegion: 1, levelNation: l.nSub}
	for lv := levelGroup; lv < nLevels; lv++ {
		ga[lv], gb[lv] = make([]float64, units[lv]), make([]float64, units[lv])
	}
	var chA, chB chain
	ka, kb := l.options(bs.ballot, c)[a], l.options(bs.ballot, c)[b]
	clsA, clsB := make([]float64, l.nSub), make([]float64, l.nSub) // kind.go
	for s := range l.nSub {
		h := c*l.nSub + s
		xu := rc.unreported(h)
		if xu <= 0 {
			continue
		}
		ia, ib := bs.optOff[h]+a, bs.optOff[h]+b
		s2 := sigma2(h)
		variance += s2 * xu
		if x := float64(bs.x[h]); x > 0 {
			w := 1 - max(rc.sb[ia], rc.sb[ib])
			variance += xu * xu * w * w * s2 / x
		}
		pa, pb := xu*rc.sb[ia]*rc.r[ia], xu*rc.sb[ib]*rc.r[ib]
		clsA[s], clsB[s] = clsA[s]+pa, clsB[s]+pb
		variance += sq(pa*math.Sqrt(rc.tauRel[levelStratum][ka]) + pb*math.Sqrt(rc.tauRel[levelStratum][kb]))
		chA, chB = rc.chainOf(h, a), rc.chainOf(h, b)
		for lv := levelGroup; lv < nLevels; lv++ {
			u := 0
			switch lv {
			case levelGroup:
				u = chA.unit[lv] % 2
			case levelNation:
				u = s
			}
			ga[lv][u] += pa
			gb[lv][u] += pb
			pa *= chA.b[lv]
			pb *= chB.b[lv]
		}
	}
	// The 1-w of a level is the same for every unit of the constituency's path except
	// the urban/rural groups and the national size classes, which the chains carry.
	for lv := levelGroup; lv < nLevels; lv++ {
		for u := range units[lv] {
			ba, bb := chA.b[lv], chB.b[lv]
			switch lv {
			case levelGroup:
				ba, bb = rc.gb[(rc.consOff[c]+a)*2+u], rc.gb[(rc.consOff[c]+b)*2+u]
			case levelNation:
				ba, bb = rc.nb[u*rc.K+ka], rc.nb[u*rc.K+kb]
			}
			variance += sq(ga[lv][u]*math.Sqrt(ba*rc.tauRel[lv][ka]) + gb[lv][u]*math.Sqrt(bb*rc.tauRel[lv][kb]))
		}
	}
	return variance + rc.kindPairVariance(c, a, b, ga[levelGroup], gb[levelGroup]) + rc.classPairVariance(ka, kb, clsA, clsB)
}

// addShareVariance adds to variance[k], the variance of z_k = votes_k - p_k·valid votes, the
// uncertainty of one slope per key that moves every stratum of that key together (the size
// slopes, size.go; the baseline's γ, baseline_model.go): g[k] is the derivative of key k's
// projected total by its slope and v[k] the slope's variance.
func addShareVariance(variance, share, g, v []float64) {
	own := make([]float64, len(g))
	for k := range g {
		own[k] = g[k] * g[k] * v[k]
	}
	addOwnShareVariance(variance, share, own)
}

// addOwnShareVariance adds to variance[k] what independent errors of each key's projected
// votes, own[j] the variance of key j's, do to z_k = votes_k - p_k·valid votes: key j's
// error moves z_k by (1{j=k} - p_k) times itself.
func addOwnShareVariance(variance, share, own []float64) {
	var all float64
	for _, o := range own {
		all += o
	}
	for k := range variance {
		p := share[k]
		variance[k] += max(0, own[k]*(1-2*p)+p*p*all)
	}
}

// sumByKey adds up a per stratum-option quantity over every stratum, per key.
func (rc *ratioCalc) sumByKey(perOption []float64) []float64 {
	out := make([]float64, rc.K)
	for h, st := range rc.l.strata {
		for j, k := range rc.l.options(rc.bs.ballot, st.cons) {
			out[k] += perOption[rc.bs.optOff[h]+j]
		}
	}
	return out
}

// leadVariance is what independent errors of the options' keys add to the projected lead of
// option x over option y in constituency c: g the gradient per stratum-option, v(key) the
// variance. Two options of one key move together, so only their gradients' difference counts.
func (rc *ratioCalc) leadVariance(c, x, y int, g []float64, v func(key int) float64) float64 {
	l, bs := rc.l, rc.bs
	keys := l.options(bs.ballot, c)
	var gx, gy float64
	for s := range l.nSub {
		h := c*l.nSub + s
		gx += g[bs.optOff[h]+x]
		gy += g[bs.optOff[h]+y]
	}
	vx, vy := v(keys[x]), v(keys[y])
	if keys[x] == keys[y] {
		return (gx - gy) * (gx - gy) * vx
	}
	return gx*gx*vx + gy*gy*vy
}
