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
	psi     []float64   // per key: stations' relative scatter, Var(y) ≈ E[y] + ψ·E[y]²
	tauRel  [nLevels][]float64

	// Nation sub-strata per (s*K + k): profile u = U·S, its size part S and the size
	// part's 1-w, reported X.
	u, size, nb, nx []float64
	// Levels 1 (region) and 2 (province) per (unit*K + k): reported X and stations, 1-w.
	// Index 0 is unused.
	ux, ub [3][]float64
	un     [3][]int32

	// Per constituency-option (consOff[c]+j): observed votes, expected without geography
	// (Σ u·X), X and Σx² of the reported stations, 1-w, reported stations.
	consOff      []int
	co, ce0      []float64
	cx2, cxx, cb []float64
	cn           []int32
	// scratch: per constituency-option the province's prediction without the constituency
	// and its relative variance; per stratum-option the prior and its relative variance.
	parentA, parentVar []float64
	prior, priorVar    []float64

	// Per constituency-option-group ((consOff[c]+j)*2 + g, g = 1 urban): observed votes,
	// expected without geography, X and Σx², reported stations, the constituency's level
	// without the group, 1-w.
	go_, ge0, gx, gxx, gParent, gVar, gb []float64
	gn                                   []int32

	// Per stratum-option (bs.optOff[h]+j): the ratio R and 1-w.
	r, sb []float64
	// The size covariate (size.go): per stratum-option the derivative of the projection
	// by the slope, and the slopes; nil when not used.
	sizeG  []float64
	sizeSl *sizeSlopes
	// The urban/rural contrast (kind.go): per key its variance and the urban share of
	// the reported eligible voters.
	kindVar, kindF1 []float64
	// nationPost: per sub-stratum (s*K + k) the variance left in its size class's
	// departure, under the same prior (kind.go).
	nationPost []float64
}

type consOpt struct{ c, j int }

func newRatioCalc(l *layout, bs *ballotState, m Method) *ratioCalc {
	K := l.nKeys(bs.ballot)
	rc := &ratioCalc{l: l, bs: bs, m: m, K: K}
	rc.keyCons = make([][]consOpt, K)
	for c := range l.cons {
		for j, k := range l.options(bs.ballot, c) {
			rc.keyCons[k] = append(rc.keyCons[k], consOpt{c, j})
		}
	}
	rc.psi = make([]float64, K)
	rc.kindVar, rc.kindF1 = make([]float64, K), make([]float64, K)
	for lv := range rc.tauRel {
		rc.tauRel[lv] = make([]float64, K)
	}
	ns := l.nSub * K
	rc.u, rc.size, rc.nb, rc.nx = make([]float64, ns), make([]float64, ns), make([]float64, ns), make([]float64, ns)
	rc.nationPost = make([]float64, ns)
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
	rc.co, rc.ce0, rc.cx2, rc.cxx, rc.cb = make([]float64, nc), make([]float64, nc), make([]float64, nc), make([]float64, nc), make([]float64, nc)
	rc.cn = make([]int32, nc)
	rc.parentA, rc.parentVar = make([]float64, nc), make([]float64, nc)
	rc.go_, rc.ge0, rc.gx, rc.gxx, rc.gParent = make([]float64, 2*nc), make([]float64, 2*nc), make([]float64, 2*nc), make([]float64, 2*nc), make([]float64, 2*nc)
	rc.gb, rc.gVar, rc.gn = make([]float64, 2*nc), make([]float64, 2*nc), make([]int32, 2*nc)
	rc.prior, rc.priorVar = make([]float64, len(bs.y)), make([]float64, len(bs.y))
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
	return min(max(num/wsum, floor), maxTau2)
}

// maxTau2 caps a relative departure variance (a standard deviation of 200 %). A party with
// a handful of votes in a few strata can make the method of moments return astronomically
// large values (1e40 was seen on a night with dozens of tiny parties), which turned every
// interval into [0, 100]. A stratum may still depart from its prediction by more than the
// cap for a tiny party; the stations' own scatter and the drift of the night are counted
// apart.
const maxTau2 = 4.0

// ebWeight is the weight a unit's own departure gets: τ²/(τ² + noise).
func ebWeight(tau2, noise float64) float64 {
	if math.IsInf(noise, 1) {
		return 0
	}
	return tau2 / (tau2 + noise)
}

// relNoise is the relative variance of O/E for a unit with e expected votes on x reported
// eligible voters whose squares per station sum to xx: a Poisson count's 1/e, plus the
// stations' own relative scatter ψ averaged over about x²/xx stations of their size. The
// second part is what makes five large urban stations worth less than their votes suggest.
func (rc *ratioCalc) relNoise(k int, e, x, xx float64) float64 {
	if e <= 0 || x <= 0 {
		return math.Inf(1)
	}
	return 1/e + rc.psi[k]*xx/(x*x)
}

// level is a unit's level moved from its parent's prediction a towards its observed votes o
// against e0 expected without geography (x and xx its reported eligible voters and their
// squares per station), for party key k. The prediction is uncertain by aVar (relative
// variance) and the unit may truly depart from it by tau2 more; the weight of the unit's
// own figures is their share of the total, and v the relative variance left afterwards.
// A unit whose parent knows little about it (aVar large: nothing else reported nearby)
// thus follows its own reports, even a few of them.
func (rc *ratioCalc) level(k int, a, aVar, o, e0, x, xx, tau2 float64) (lv, w, v float64) {
	t := tau2 + aVar
	e := a * e0
	if e <= 0 {
		return a, 0, t
	}
	w = ebWeight(t, rc.relNoise(k, e, x, xx))
	return a * (1 + w*(o/e-1)), w, (1 - w) * t
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
	if rc.m.TurnoutOrder {
		rc.turnoutTrend()
	}
	if rc.m.SizeCovariate {
		rc.sizeTrend()
	}
}

func (rc *ratioCalc) y(c, s, j int) float64 {
	h := c*rc.l.nSub + s
	return float64(rc.bs.y[rc.bs.optOff[h]+j])
}

func (rc *ratioCalc) x(c, s int) float64 { return float64(rc.bs.x[c*rc.l.nSub+s]) }

// keyFit is the state one key's fit passes from phase to phase (computeKey).
type keyFit struct {
	rc    *ratioCalc
	k     int
	cons  []consOpt
	floor float64
	dep   departures

	// The profile's reported Σx² per sub-stratum.
	nxx [16]float64
	// Geography: observed votes, profile-expected votes and reported Σx² per province,
	// region and the nation.
	po, pe, pxx, ro, re, rxx []float64
	no, ne                   float64
	// Predictions without the unit: regions from the nation, provinces (and their
	// variance) from their region.
	regionParent, provParent, provVar []float64
	// Between-unit variances at the constituency and group levels.
	tauC, tauG float64
}

// computeKey fits key k in phases, each one level of the hierarchy: the stations' scatter,
// the nation's size and urban/rural profile, then regions, provinces, constituencies, their
// urban and rural groups and the strata, each shrunk towards the level above it.
func (rc *ratioCalc) computeKey(k int) {
	f := &keyFit{rc: rc, k: k, cons: rc.keyCons[k], floor: rc.m.MinDeparture * rc.m.MinDeparture}
	f.scatter()
	f.sizeProfile()
	f.groupProfile()
	f.geography()
	f.regions()
	f.provinces()
	f.constituencies()
	f.groups()
	f.strata()
}

func (f *keyFit) xxOf(c, s int) float64 { return f.rc.bs.xx[c*f.rc.l.nSub+s] }

// scatter estimates the stations' relative scatter ψ: within strata, Σ(y - R·x)²/x has
// expectation (n-1)/n·(R·n + ψ·R²·X) when Var(y) = R·x + ψ·(R·x)².
func (f *keyFit) scatter() {
	rc, bs, nSub := f.rc, f.rc.bs, f.rc.l.nSub
	var psiNum, psiDen float64
	for _, co := range f.cons {
		for s := range nSub {
			h := co.c*nSub + s
			i := bs.optOff[h] + co.j
			y, x, n := float64(bs.y[i]), float64(bs.x[h]), float64(bs.n[h])
			if n >= 2 && y > 0 {
				r := y / x
				psiNum += max(0, bs.s[i]-y*y/x) - (n-1)*r
				psiDen += (n - 1) / n * r * r * x
			}
		}
	}
	rc.psi[f.k] = 0.05 // a prudent guess (22 % per station) before any stratum has two reports
	if psiDen > 0 {
		rc.psi[f.k] = max(psiNum/psiDen, 0.001)
	}
}

// sizeProfile fits the size profile S within each urban or rural group, by iterative
// proportional fitting within (constituency, group) cells so that only stations of the same
// place and kind are compared. The profile is u_s = U_g·S_s (groupProfile fits U).
func (f *keyFit) sizeProfile() {
	rc, k, K, nSub := f.rc, f.k, f.rc.K, f.rc.l.nSub
	sizeClasses := nSub / 2
	sz := rc.size // this key's entries are [s*K+k]
	for s := range nSub {
		sz[s*K+k] = 1
		rc.nx[s*K+k] = 0
	}
	for _, co := range f.cons {
		for s := range nSub {
			rc.nx[s*K+k] += rc.x(co.c, s)
			f.nxx[s] += f.xxOf(co.c, s)
		}
	}
	var num, den [16]float64
	var before [16]float64
	for range maxFitIterations {
		for s := range nSub {
			before[s] = sz[s*K+k]
		}
		num, den = [16]float64{}, [16]float64{}
		for _, co := range f.cons {
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
		f.dep.reset()
		for s := range nSub {
			if den[s] > 0 {
				f.dep.add(num[s]/den[s]-1, rc.relNoise(k, den[s], rc.nx[s*K+k], f.nxx[s]))
			}
		}
		tau2 := f.dep.tau2(f.floor)
		rc.tauRel[levelNation][k] = tau2
		for g := range 2 {
			var wsum, xsum float64
			for s := g * sizeClasses; s < (g+1)*sizeClasses; s++ {
				i := s*K + k
				w := ebWeight(tau2, rc.relNoise(k, den[s], rc.nx[i], f.nxx[s]))
				sz[i] = 1
				if den[s] > 0 {
					sz[i] = 1 + w*(num[s]/den[s]-1)
				}
				rc.nb[i] = 1 - w
				rc.nationPost[i] = rc.classPost(tau2, rc.relNoise(k, den[s], rc.nx[i], f.nxx[s])) // kind.go
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
}

// groupProfile fits the urban/rural profile U within constituencies given S, and sets the
// profile u = U·S.
func (f *keyFit) groupProfile() {
	rc, k, K, nSub := f.rc, f.k, f.rc.K, f.rc.l.nSub
	sizeClasses := nSub / 2
	sz := rc.size
	ug := [2]float64{1, 1}
	var gdn [2]float64
	for range maxFitIterations {
		prev := ug
		var gn [2]float64
		gdn = [2]float64{}
		for _, co := range f.cons {
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
	f.kindContrast(gdn) // kind.go
	for s := range nSub {
		rc.u[s*K+k] = ug[s/sizeClasses] * sz[s*K+k]
	}
}

// geography sums observed votes, profile-expected votes, reported eligible voters and
// their squares per constituency, province, region and nation.
func (f *keyFit) geography() {
	rc, l, k, K, nSub := f.rc, f.rc.l, f.k, f.rc.K, f.rc.l.nSub
	np, nr := len(l.provinces), len(l.regions)
	for lv := 1; lv <= 2; lv++ {
		for uIdx := range len(rc.ub[lv]) / K {
			rc.ux[lv][uIdx*K+k], rc.un[lv][uIdx*K+k] = 0, 0
		}
	}
	f.po, f.pe, f.pxx = make([]float64, np), make([]float64, np), make([]float64, np)
	f.ro, f.re, f.rxx = make([]float64, nr), make([]float64, nr), make([]float64, nr)
	for _, co := range f.cons {
		ci := rc.consOff[co.c] + co.j
		o, e0, x, xx, n := f.sums(co, 0, nSub)
		rc.co[ci], rc.ce0[ci], rc.cx2[ci], rc.cxx[ci], rc.cn[ci] = o, e0, x, xx, n
		p := l.cons[co.c].province
		r := l.provRegion[p]
		f.po[p] += o
		f.pe[p] += e0
		f.pxx[p] += xx
		f.ro[r] += o
		f.re[r] += e0
		f.rxx[r] += xx
		f.no += o
		f.ne += e0
		rc.ux[2][p*K+k] += x
		rc.ux[1][r*K+k] += x
		rc.un[2][p*K+k] += n
		rc.un[1][r*K+k] += n
	}
}

// sums adds up, over sub-strata [from, to) of constituency-option co: observed votes,
// profile-expected votes, reported eligible voters and their squares, reported stations.
func (f *keyFit) sums(co consOpt, from, to int) (o, e0, x, xx float64, n int32) {
	rc, K, nSub := f.rc, f.rc.K, f.rc.l.nSub
	for s := from; s < to; s++ {
		o += rc.y(co.c, s, co.j)
		e0 += rc.u[s*K+f.k] * rc.x(co.c, s)
		x += rc.x(co.c, s)
		xx += f.xxOf(co.c, s)
		n += rc.bs.n[co.c*nSub+s]
	}
	return o, e0, x, xx, n
}

func (f *keyFit) px(p int) float64 { return f.rc.ux[2][p*f.rc.K+f.k] }
func (f *keyFit) rx(r int) float64 { return f.rc.ux[1][r*f.rc.K+f.k] }

// regions: each region from the nation without it.
func (f *keyFit) regions() {
	rc, k, K := f.rc, f.k, f.rc.K
	nr := len(rc.l.regions)
	nation := ratioOf(f.no, f.ne, 0)
	f.dep.reset()
	f.regionParent = make([]float64, nr)
	for r := range nr {
		f.regionParent[r] = ratioOf(f.no-f.ro[r], f.ne-f.re[r], nation)
		if e := f.regionParent[r] * f.re[r]; e > 0 && rc.un[1][r*K+k] >= 2 {
			f.dep.add(f.ro[r]/e-1, rc.relNoise(k, e, f.rx(r), f.rxx[r]))
		}
	}
	tauR := f.dep.tau2(f.floor)
	rc.tauRel[levelRegion][k] = tauR
	for r := range nr {
		_, w, _ := rc.level(k, f.regionParent[r], 0, f.ro[r], f.re[r], f.rx(r), f.rxx[r], tauR)
		rc.ub[1][r*K+k] = 1 - w
	}
}

// provinces: each province from its region without it.
func (f *keyFit) provinces() {
	rc, l, k, K := f.rc, f.rc.l, f.k, f.rc.K
	np := len(l.provinces)
	tauR := rc.tauRel[levelRegion][k]
	f.dep.reset()
	f.provParent, f.provVar = make([]float64, np), make([]float64, np)
	for p := range np {
		r := l.provRegion[p]
		f.provParent[p], _, f.provVar[p] = rc.level(k, f.regionParent[r], 0, f.ro[r]-f.po[p], f.re[r]-f.pe[p], f.rx(r)-f.px(p), f.rxx[r]-f.pxx[p], tauR)
		if e := f.provParent[p] * f.pe[p]; e > 0 && rc.un[2][p*K+k] >= 2 {
			f.dep.add(f.po[p]/e-1, rc.relNoise(k, e, f.px(p), f.pxx[p])+f.provVar[p])
		}
	}
	tauP := f.dep.tau2(f.floor)
	rc.tauRel[levelProvince][k] = tauP
	for p := range np {
		_, w, _ := rc.level(k, f.provParent[p], f.provVar[p], f.po[p], f.pe[p], f.px(p), f.pxx[p], tauP)
		rc.ub[2][p*K+k] = 1 - w
	}
}

// constituencies: each constituency from its province without it.
func (f *keyFit) constituencies() {
	rc, k := f.rc, f.k
	tauP := rc.tauRel[levelProvince][k]
	f.dep.reset()
	for _, co := range f.cons {
		ci := rc.consOff[co.c] + co.j
		p := rc.l.cons[co.c].province
		rc.parentA[ci], _, rc.parentVar[ci] = rc.level(k, f.provParent[p], f.provVar[p], f.po[p]-rc.co[ci], f.pe[p]-rc.ce0[ci], f.px(p)-rc.cx2[ci], f.pxx[p]-rc.cxx[ci], tauP)
		if e := rc.parentA[ci] * rc.ce0[ci]; e > 0 && rc.cn[ci] >= 2 {
			f.dep.add(rc.co[ci]/e-1, rc.relNoise(k, e, rc.cx2[ci], rc.cxx[ci])+rc.parentVar[ci])
		}
	}
	f.tauC = f.dep.tau2(f.floor)
	rc.tauRel[levelConstituency][k] = f.tauC
}

// groups: each constituency's urban and rural stations from the constituency's other
// group, so that an urban stratum with nothing reported leans on the urban stations of its
// own constituency before it leans on the country's urban profile.
func (f *keyFit) groups() {
	rc, k, nSub := f.rc, f.k, f.rc.l.nSub
	sizeClasses := nSub / 2
	f.dep.reset()
	for _, co := range f.cons {
		ci := rc.consOff[co.c] + co.j
		_, w, _ := rc.level(k, rc.parentA[ci], rc.parentVar[ci], rc.co[ci], rc.ce0[ci], rc.cx2[ci], rc.cxx[ci], f.tauC)
		rc.cb[ci] = 1 - w
		for g := range 2 {
			gi := ci*2 + g
			o, e0, x, xx, n := f.sums(co, g*sizeClasses, (g+1)*sizeClasses)
			rc.go_[gi], rc.ge0[gi], rc.gx[gi], rc.gxx[gi], rc.gn[gi] = o, e0, x, xx, n
			rc.gParent[gi], _, rc.gVar[gi] = rc.level(k, rc.parentA[ci], rc.parentVar[ci], rc.co[ci]-o, rc.ce0[ci]-e0, rc.cx2[ci]-x, rc.cxx[ci]-xx, f.tauC)
			if e := rc.gParent[gi] * e0; e > 0 && n >= 2 {
				f.dep.add(o/e-1, rc.relNoise(k, e, x, xx)+rc.gVar[gi])
			}
		}
	}
	f.tauG = f.dep.tau2(f.floor)
	rc.tauRel[levelGroup][k] = f.tauG
}

// strata: each stratum from its constituency-group's level without it, times the profile;
// then the stratum's own ratio, shrunk towards that prior.
func (f *keyFit) strata() {
	rc, bs, k, K, nSub := f.rc, f.rc.bs, f.k, f.rc.K, f.rc.l.nSub
	sizeClasses := nSub / 2
	f.dep.reset()
	for _, co := range f.cons {
		ci := rc.consOff[co.c] + co.j
		for g := range 2 {
			gi := ci*2 + g
			_, w, _ := rc.level(k, rc.gParent[gi], rc.gVar[gi], rc.go_[gi], rc.ge0[gi], rc.gx[gi], rc.gxx[gi], f.tauG)
			rc.gb[gi] = 1 - w
			for s := g * sizeClasses; s < (g+1)*sizeClasses; s++ {
				h := co.c*nSub + s
				i := bs.optOff[h] + co.j
				yh, xh, xxh := float64(bs.y[i]), float64(bs.x[h]), bs.xx[h]
				us := rc.u[s*K+k]
				aw, _, awVar := rc.level(k, rc.gParent[gi], rc.gVar[gi], rc.go_[gi]-yh, rc.ge0[gi]-us*xh, rc.gx[gi]-xh, rc.gxx[gi]-xxh, f.tauG)
				rc.prior[i], rc.priorVar[i] = aw*us, awVar
				if e := rc.prior[i] * xh; e > 0 && bs.n[h] >= 2 {
					f.dep.add(yh/e-1, rc.relNoise(k, e, xh, xxh)+awVar)
				}
			}
		}
	}
	tauS := f.dep.tau2(f.floor)
	rc.tauRel[levelStratum][k] = tauS
	for _, co := range f.cons {
		for s := range nSub {
			h := co.c*nSub + s
			i := bs.optOff[h] + co.j
			yh, xh := float64(bs.y[i]), float64(bs.x[h])
			w := ebWeight(tauS+rc.priorVar[i], rc.relNoise(k, rc.prior[i]*xh, xh, bs.xx[h]))
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
