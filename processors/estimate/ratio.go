package estimate

import "math"

// ratioCalc works out, for one ballot, the ratio (votes per eligible voter) at which every
// stratum's unreported stations are projected, and the pieces of its uncertainty.
//
// The model is two-way, party by party: the ratio of stratum h = (constituency c,
// sub-stratum s) is R = A_c · U_s, a geographic level A_c times a sub-stratum profile U_s
// (urban/rural x station size, the same across the country), plus the stratum's own
// departure from that product.
//
//   - The profile U is fitted by iterative proportional fitting over the constituencies
//     that have reported: each sub-stratum is compared with the other sub-strata of the same
//     constituencies, so which areas happen to have reported cannot leak into it (early
//     reports come from small rural stations in some places and not others).
//   - The geography A borrows top down: regions from the nation, provinces from their
//     region, constituencies from their province. A unit's prediction from above is its
//     parent's level computed without the unit's own stations; its observed votes O depart
//     from the expected E (prediction x profile x reported eligible voters) by δ = O/E - 1,
//     and its level moves from the prediction towards what it observed by an
//     empirical-Bayes weight w = τ²/(τ² + φ/E). τ² is how far units of that level truly
//     depart (the spread of δ among units that have reported, less its noise), φ/E the noise
//     of δ (φ, the party's overdispersion: votes scatter like an overdispersed Poisson count).
//   - A stratum's prior is its constituency's level (without the stratum) times the
//     profile, and it moves towards its own reports by the same kind of weight.
//
// So a constituency with nothing reported takes its province's level, one with many reports
// its own, and how fast it moves from one to the other is learned from the night itself.
//
// Every level's additive departure d = (O - E)/X and its 1-w are kept: the spread of
// departures measures how far a unit that has not reported may stray from its prediction,
// and 1-w how much of its own departure its reports have not yet measured (variance.go).
type ratioCalc struct {
	l  *layout
	bs *ballotState
	m  Method
	K  int

	keyCons [][]consOpt // per key: the constituencies where it is on the ballot
	phi     []float64   // per key: overdispersion, Var(y) ≈ φ·E[y]
	tauRel  [nLevels][]float64

	// Nation sub-strata per (s*K + k): profile u = U·S, its size part S and the size
	// part's 1-w, reported X.
	u, size, nb, nx []float64
	// Levels 1 (region) and 2 (province) per (unit*K + k): reported X and stations, 1-w.
	// Index 0 is unused.
	ux, ub [3][]float64
	un     [3][]int32

	// Per constituency-option (consOff[c]+j): observed votes, expected without geography
	// (Σ u·X), X, 1-w, reported stations.
	consOff        []int
	co, ce0        []float64
	cx2, cb        []float64
	cn             []int32
	parentA, prior []float64 // scratch: per constituency-option and per stratum-option

	// Per constituency-option-group ((consOff[c]+j)*2 + g, g = 1 urban): observed votes,
	// expected without geography, X, reported stations, the constituency's level without
	// the group, departure, 1-w.
	go_, ge0, gx, gParent, gd, gb []float64
	gn                            []int32

	// Per stratum-option (bs.optOff[h]+j): the ratio R and 1-w.
	r, sb []float64
}

type consOpt struct{ c, j int }

func newRatioCalc(l *layout, bs *ballotState, m Method) *ratioCalc {
	K := len(l.parties)
	rc := &ratioCalc{l: l, bs: bs, m: m, K: K}
	rc.keyCons = make([][]consOpt, K)
	for c := range l.cons {
		for j, k := range l.options(bs.ballot, c) {
			rc.keyCons[k] = append(rc.keyCons[k], consOpt{c, j})
		}
	}
	rc.phi = make([]float64, K)
	for lv := range rc.tauRel {
		rc.tauRel[lv] = make([]float64, K)
	}
	ns := l.nSub * K
	rc.u, rc.size, rc.nb, rc.nx = make([]float64, ns), make([]float64, ns), make([]float64, ns), make([]float64, ns)
	units := [3]int{0, len(l.regions), len(l.provinces)}
	for lv := 1; lv <= 2; lv++ {
		n := units[lv] * K
		rc.ux[lv], rc.ub[lv] = make([]float64, n), make([]float64, n)
		rc.un[lv] = make([]int32, n)
	}
	rc.consOff = make([]int, len(l.cons)+1)
	for c := range l.cons {
		rc.consOff[c+1] = rc.consOff[c] + len(l.options(bs.ballot, c))
	}
	nc := rc.consOff[len(l.cons)]
	rc.co, rc.ce0, rc.cx2, rc.cb = make([]float64, nc), make([]float64, nc), make([]float64, nc), make([]float64, nc)
	rc.cn = make([]int32, nc)
	rc.parentA = make([]float64, nc)
	rc.go_, rc.ge0, rc.gx, rc.gParent = make([]float64, 2*nc), make([]float64, 2*nc), make([]float64, 2*nc), make([]float64, 2*nc)
	rc.gb, rc.gn = make([]float64, 2*nc), make([]int32, 2*nc)
	rc.prior = make([]float64, len(bs.y))
	rc.r, rc.sb = make([]float64, len(bs.y)), make([]float64, len(bs.y))
	return rc
}

// Iterative proportional fitting stops once no profile moves by more than fitTolerance
// (relative), or after maxFitIterations.
const (
	maxFitIterations = 50
	fitTolerance     = 1e-9
)

// converged reports whether this key's entries of cur (cur[s*K+k]) differ from prev by no
// more than fitTolerance, relatively.
func converged(prev, cur []float64, k, K int) bool {
	for s, p := range prev {
		if math.Abs(cur[s*K+k]-p) > fitTolerance*max(math.Abs(p), 1e-12) {
			return false
		}
	}
	return true
}

// departures collects one level's relative departures of one party and estimates the
// variance of true departures by the method of moments: the mean of δ² less its noise,
// weighted by the usual 1/(τ²+noise)², and never below floor.
type departures struct {
	delta, noise []float64
}

func (d *departures) reset() { d.delta, d.noise = d.delta[:0], d.noise[:0] }

func (d *departures) add(delta, noise float64) {
	d.delta = append(d.delta, delta)
	d.noise = append(d.noise, noise)
}

func (d *departures) tau2(floor float64) float64 {
	if len(d.delta) == 0 {
		return floor
	}
	var num float64
	for i, x := range d.delta {
		num += x*x - d.noise[i]
	}
	t := max(num/float64(len(d.delta)), floor)
	var wsum float64
	num = 0
	for i, x := range d.delta {
		w := 1 / ((t + d.noise[i]) * (t + d.noise[i]))
		num += w * (x*x - d.noise[i])
		wsum += w
	}
	return max(num/wsum, floor)
}

// ebWeight is the weight a unit's own departure gets: τ²/(τ² + φ/E).
func ebWeight(tau2, phi, e float64) float64 {
	if e <= 0 {
		return 0
	}
	return tau2 / (tau2 + phi/e)
}

// level is a unit's level moved from its parent's prediction a towards its observed votes o
// against e0 expected without geography, with departures' variance tau2.
func level(a, o, e0, tau2, phi float64) (lv, w float64) {
	e := a * e0
	if e <= 0 {
		return a, 0
	}
	w = ebWeight(tau2, phi, e)
	return a * (1 + w*(o/e-1)), w
}

// ratioOf is o/e, or fallback when nothing is expected.
func ratioOf(o, e, fallback float64) float64 {
	if e <= 0 {
		return fallback
	}
	return o / e
}

func (rc *ratioCalc) compute() {
	for k := range rc.K {
		rc.computeKey(k)
	}
}

func (rc *ratioCalc) y(c, s, j int) float64 {
	h := c*rc.l.nSub + s
	return float64(rc.bs.y[rc.bs.optOff[h]+j])
}

func (rc *ratioCalc) x(c, s int) float64 { return float64(rc.bs.x[c*rc.l.nSub+s]) }

func (rc *ratioCalc) computeKey(k int) {
	l, bs, K, nSub := rc.l, rc.bs, rc.K, rc.l.nSub
	floor := rc.m.MinDeparture * rc.m.MinDeparture
	sizeClasses := nSub / 2
	cons := rc.keyCons[k]

	// Overdispersion: within-stratum scatter over what a Poisson count would have.
	var phiNum, phiDen float64
	for _, co := range cons {
		for s := range nSub {
			h := co.c*nSub + s
			i := bs.optOff[h] + co.j
			y, x := float64(bs.y[i]), float64(bs.x[h])
			if bs.n[h] >= 2 && y > 0 {
				phiNum += max(0, bs.s[i]-y*y/x)
				phiDen += float64(bs.n[h]-1) * y / x
			}
		}
	}
	phi := 3.0 // a prudent guess before any stratum has two reports
	if phiDen > 0 {
		phi = max(phiNum/phiDen, 1)
	}
	rc.phi[k] = phi

	// The profile u_s = U_g·S_s: a size profile S within each urban or rural group, fitted
	// by iterative proportional fitting within (constituency, group) cells so that only
	// stations of the same place and kind are compared; then the urban/rural profile U,
	// fitted within constituencies given S.
	sz, u := rc.size, rc.u // this key's entries are [s*K+k]
	for s := range nSub {
		sz[s*K+k] = 1
		rc.nx[s*K+k] = 0
	}
	for _, co := range cons {
		for s := range nSub {
			rc.nx[s*K+k] += rc.x(co.c, s)
		}
	}
	var num, den [16]float64
	var dep departures
	var before [16]float64
	for range maxFitIterations {
		for s := range nSub {
			before[s] = sz[s*K+k]
		}
		num, den = [16]float64{}, [16]float64{}
		for _, co := range cons {
			for g := range 2 {
				var o, e float64
				for s := g * sizeClasses; s < (g+1)*sizeClasses; s++ {
					o += rc.y(co.c, s, co.j)
					e += sz[s*K+k] * rc.x(co.c, s)
				}
				if e <= 0 {
					continue
				}
				for s := g * sizeClasses; s < (g+1)*sizeClasses; s++ {
					num[s] += rc.y(co.c, s, co.j)
					den[s] += o / e * rc.x(co.c, s)
				}
			}
		}
		dep.reset()
		for s := range nSub {
			if den[s] > 0 {
				dep.add(num[s]/den[s]-1, phi/den[s])
			}
		}
		tau2 := dep.tau2(floor)
		rc.tauRel[levelNation][k] = tau2
		for g := range 2 {
			var wsum, xsum float64
			for s := g * sizeClasses; s < (g+1)*sizeClasses; s++ {
				i := s*K + k
				w := ebWeight(tau2, phi, den[s])
				sz[i] = 1
				if den[s] > 0 {
					sz[i] = 1 + w*(num[s]/den[s]-1)
				}
				rc.nb[i] = 1 - w
				wsum += sz[i] * rc.nx[i]
				xsum += rc.nx[i]
			}
			// Sizes are relative within their group.
			if wsum > 0 {
				for s := g * sizeClasses; s < (g+1)*sizeClasses; s++ {
					sz[s*K+k] *= xsum / wsum
				}
			}
		}
		if converged(before[:nSub], sz, k, K) {
			break
		}
	}
	ug := [2]float64{1, 1}
	for range maxFitIterations {
		prev := ug
		var gn, gdn [2]float64
		for _, co := range cons {
			var o, e float64
			var og, eg [2]float64
			for s := range nSub {
				g := s / sizeClasses
				og[g] += rc.y(co.c, s, co.j)
				eg[g] += sz[s*K+k] * rc.x(co.c, s)
				o += rc.y(co.c, s, co.j)
				e += ug[g] * sz[s*K+k] * rc.x(co.c, s)
			}
			if e <= 0 {
				continue
			}
			for g := range 2 {
				gn[g] += og[g]
				gdn[g] += o / e * eg[g]
			}
		}
		for g := range 2 {
			ug[g] = ratioOf(gn[g], gdn[g], 1)
		}
		if ug[0] > 0 {
			ug[1] /= ug[0]
			ug[0] = 1
		}
		if ug[1] <= 0 {
			ug[1] = 1
		}
		if math.Abs(ug[1]-prev[1]) <= fitTolerance*max(ug[1], 1e-12) {
			break
		}
	}
	for s := range nSub {
		u[s*K+k] = ug[s/sizeClasses] * sz[s*K+k]
	}

	// Geography. Observed votes and profile-expected votes per constituency, province,
	// region and nation.
	np, nr := len(l.provinces), len(l.regions)
	for lv := 1; lv <= 2; lv++ {
		for uIdx := range len(rc.ub[lv]) / K {
			rc.ux[lv][uIdx*K+k], rc.un[lv][uIdx*K+k] = 0, 0
		}
	}
	po, pe := make([]float64, np), make([]float64, np)
	ro, re := make([]float64, nr), make([]float64, nr)
	var no, ne float64
	for _, co := range cons {
		ci := rc.consOff[co.c] + co.j
		var o, e0, x float64
		var n int32
		for s := range nSub {
			o += rc.y(co.c, s, co.j)
			e0 += u[s*K+k] * rc.x(co.c, s)
			x += rc.x(co.c, s)
			n += bs.n[co.c*nSub+s]
		}
		rc.co[ci], rc.ce0[ci], rc.cx2[ci], rc.cn[ci] = o, e0, x, n
		p := l.cons[co.c].province
		r := l.provRegion[p]
		po[p] += o
		pe[p] += e0
		ro[r] += o
		re[r] += e0
		no += o
		ne += e0
		rc.ux[2][p*K+k] += x
		rc.ux[1][r*K+k] += x
		rc.un[2][p*K+k] += n
		rc.un[1][r*K+k] += n
	}
	nation := ratioOf(no, ne, 0)

	// Regions from the nation without them.
	dep.reset()
	regionParent := make([]float64, nr)
	for r := range nr {
		regionParent[r] = ratioOf(no-ro[r], ne-re[r], nation)
		if e := regionParent[r] * re[r]; e > 0 && rc.un[1][r*K+k] >= 2 {
			dep.add(ro[r]/e-1, phi/e)
		}
	}
	tauR := dep.tau2(floor)
	rc.tauRel[levelRegion][k] = tauR
	for r := range nr {
		_, w := level(regionParent[r], ro[r], re[r], tauR, phi)
		rc.ub[1][r*K+k] = 1 - w
	}

	// Provinces from their region without them.
	dep.reset()
	provParent := make([]float64, np)
	for p := range np {
		r := l.provRegion[p]
		provParent[p], _ = level(regionParent[r], ro[r]-po[p], re[r]-pe[p], tauR, phi)
		if e := provParent[p] * pe[p]; e > 0 && rc.un[2][p*K+k] >= 2 {
			dep.add(po[p]/e-1, phi/e)
		}
	}
	tauP := dep.tau2(floor)
	rc.tauRel[levelProvince][k] = tauP
	for p := range np {
		_, w := level(provParent[p], po[p], pe[p], tauP, phi)
		rc.ub[2][p*K+k] = 1 - w
	}

	// Constituencies from their province without them.
	dep.reset()
	for _, co := range cons {
		ci := rc.consOff[co.c] + co.j
		p := l.cons[co.c].province
		r := l.provRegion[p]
		pParent, _ := level(regionParent[r], ro[r]-po[p], re[r]-pe[p], tauR, phi)
		rc.parentA[ci], _ = level(pParent, po[p]-rc.co[ci], pe[p]-rc.ce0[ci], tauP, phi)
		if e := rc.parentA[ci] * rc.ce0[ci]; e > 0 && rc.cn[ci] >= 2 {
			dep.add(rc.co[ci]/e-1, phi/e)
		}
	}
	tauC := dep.tau2(floor)
	rc.tauRel[levelConstituency][k] = tauC

	// Each constituency's urban and rural stations from the constituency's other group:
	// an urban stratum with nothing reported leans on the urban stations of its own
	// constituency before it leans on the country's urban profile.
	dep.reset()
	for _, co := range cons {
		ci := rc.consOff[co.c] + co.j
		_, w := level(rc.parentA[ci], rc.co[ci], rc.ce0[ci], tauC, phi)
		rc.cb[ci] = 1 - w
		for g := range 2 {
			gi := ci*2 + g
			var o, e0, x float64
			var n int32
			for s := g * sizeClasses; s < (g+1)*sizeClasses; s++ {
				o += rc.y(co.c, s, co.j)
				e0 += u[s*K+k] * rc.x(co.c, s)
				x += rc.x(co.c, s)
				n += bs.n[co.c*nSub+s]
			}
			rc.go_[gi], rc.ge0[gi], rc.gx[gi], rc.gn[gi] = o, e0, x, n
			rc.gParent[gi], _ = level(rc.parentA[ci], rc.co[ci]-o, rc.ce0[ci]-e0, tauC, phi)
			if e := rc.gParent[gi] * e0; e > 0 && n >= 2 {
				dep.add(o/e-1, phi/e)
			}
		}
	}
	tauG := dep.tau2(floor)
	rc.tauRel[levelGroup][k] = tauG

	// Strata: the constituency-group's level without the stratum, times the profile.
	dep.reset()
	for _, co := range cons {
		ci := rc.consOff[co.c] + co.j
		for g := range 2 {
			gi := ci*2 + g
			_, w := level(rc.gParent[gi], rc.go_[gi], rc.ge0[gi], tauG, phi)
			rc.gb[gi] = 1 - w
			for s := g * sizeClasses; s < (g+1)*sizeClasses; s++ {
				h := co.c*nSub + s
				i := bs.optOff[h] + co.j
				yh, xh := float64(bs.y[i]), float64(bs.x[h])
				us := u[s*K+k]
				aw, _ := level(rc.gParent[gi], rc.go_[gi]-yh, rc.ge0[gi]-us*xh, tauG, phi)
				rc.prior[i] = aw * us
				if e := rc.prior[i] * xh; e > 0 && bs.n[h] >= 2 {
					dep.add(yh/e-1, phi/e)
				}
			}
		}
	}
	tauS := dep.tau2(floor)
	rc.tauRel[levelStratum][k] = tauS
	for _, co := range cons {
		for s := range nSub {
			h := co.c*nSub + s
			i := bs.optOff[h] + co.j
			yh, xh := float64(bs.y[i]), float64(bs.x[h])
			w := ebWeight(tauS, phi, rc.prior[i]*xh)
			rc.sb[i] = 1 - w
			rc.r[i] = rc.prior[i]
			if xh > 0 {
				rc.r[i] = rc.prior[i] + w*(yh/xh-rc.prior[i])
			}
		}
	}
}

// projected returns stratum h's projected total for option j: its counted votes plus its
// ratio applied to its unreported eligible voters.
func (rc *ratioCalc) projected(h, j int) float64 {
	i := rc.bs.optOff[h] + j
	return float64(rc.bs.y[i]) + rc.unreported(h)*rc.r[i]
}

func (rc *ratioCalc) unreported(h int) float64 {
	return float64(rc.l.strata[h].eligible - rc.bs.x[h])
}
