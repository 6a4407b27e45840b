package estimate

import "math"

// The urban/rural contrast. The profile's urban/rural part U (groupProfile) says how a
// party's votes per eligible voter differ between urban and rural stations of the same
// constituencies. Measured on a handful of urban stations, or on none (every rural station
// first, then the towns), it is a guess, and every urban stratum still out leans on it
// together. So what the contrast has not measured, by an empirical-Bayes weight of its
// noise against a prior (Method.KindPrior), is one more systematic term of every interval
// and every projected lead, which fades as both kinds report.

// kindContrast keeps the variance left in key k's urban/rural contrast (fitted by
// groupProfile as measured, 1 when a kind has not reported) after weighing what it was
// measured on (gdn: expected votes per kind) against the prior, and the urban share of the
// reported eligible voters. The contrast itself is not moved: the hand-worked cases of the
// tests project each kind at its own measured ratio.
func (f *keyFit) kindContrast(gdn [2]float64) {
	rc, k, K := f.rc, f.k, f.rc.K
	sizeClasses := rc.l.nSub / 2
	var x, xx [2]float64
	for s := range rc.l.nSub {
		g := s / sizeClasses
		x[g] += rc.nx[s*K+k]
		xx[g] += f.nxx[s]
	}
	prior := rc.m.KindPrior * rc.m.KindPrior
	noise := rc.relNoise(k, gdn[0], x[0], xx[0]) + rc.relNoise(k, gdn[1], x[1], xx[1])
	w := ebWeight(prior, noise)
	if prior <= 0 {
		w = 1
	}
	rc.kindVar[k] = (1 - w) * prior
	rc.kindF1[k] = 0
	if x[0]+x[1] > 0 {
		rc.kindF1[k] = x[1] / (x[0] + x[1])
	}
}

// kindReliance is how much of the votes projected for a constituency group (urban when
// urban) rest on the contrast: the group's prior part times the share of the contrast's
// error it takes (the urban side when urban reports are few, the rural side otherwise),
// signed.
func (rc *ratioCalc) kindReliance(k int, urban bool, a, b float64) float64 {
	if urban {
		return a * b * (1 - rc.kindF1[k])
	}
	return -a * b * rc.kindF1[k]
}

// addKindShareVariance adds the contrast's variance, and the size classes' (every stratum
// of a class still out leans on the class's profile together), to the variance of every
// z_k = y_k - p_k·v on the party-list ballot, from the grouped projections of acc.
func (g *groupAcc) addKindShareVariance(variance, p []float64) {
	rc, K := g.rc, g.rc.K
	acc := g.g[levelGroup]
	rel := make([]float64, K)
	for u := range len(acc) / K {
		for k := range K {
			rel[k] += rc.kindReliance(k, u%2 == 1, acc[u*K+k], g.b(levelGroup, u, k))
		}
	}
	var sum float64
	part := make([]float64, K)
	for k := range K {
		part[k] = rel[k] * rel[k] * rc.kindVar[k]
		for s := range rc.l.nSub {
			x := g.cls[s*K+k]
			part[k] += x * x * rc.nationPost[s*K+k]
		}
		sum += part[k]
	}
	for k := range K {
		variance[k] += part[k]*(1-2*p[k]) + p[k]*p[k]*sum
	}
}

// kindPairVariance is the contrast's part of the variance of the lead of option a over b in
// constituency c, from the two options' grouped projections (per group, urban second), the
// two departures taken as opposed.
func (rc *ratioCalc) kindPairVariance(c, a, b int, ga, gb []float64) float64 {
	ka, kb := rc.l.options(rc.bs.ballot, c)[a], rc.l.options(rc.bs.ballot, c)[b]
	var ra, rb float64
	for u := range 2 {
		ra += rc.kindReliance(ka, u == 1, ga[u], rc.gb[(rc.consOff[c]+a)*2+u])
		rb += rc.kindReliance(kb, u == 1, gb[u], rc.gb[(rc.consOff[c]+b)*2+u])
	}
	x := math.Abs(ra)*math.Sqrt(rc.kindVar[ka]) + math.Abs(rb)*math.Sqrt(rc.kindVar[kb])
	return x * x
}

// classPost is the variance left in a size class's departure measured with relative noise
// noise: τ²·noise/(τ² + noise), with τ² the larger of the spread measured between the
// classes (three of them per kind: a poor measure of how far the one still thin may
// depart) and the prior. A class with many reports has little left whatever the prior; one
// with none keeps the prior, and every stratum of the class still out leans on it together.
func (rc *ratioCalc) classPost(tau2, noise float64) float64 {
	t := max(tau2, rc.m.KindPrior*rc.m.KindPrior)
	if math.IsInf(noise, 1) {
		return t
	}
	return t * noise / (t + noise)
}

// classPairVariance is the size classes' part of the variance of a lead of option keys ka
// over kb: per class, the two options' votes projected from priors (clsA, clsB), their
// departures taken as opposed.
func (rc *ratioCalc) classPairVariance(ka, kb int, clsA, clsB []float64) float64 {
	var v float64
	for s := range clsA {
		x := clsA[s]*math.Sqrt(rc.nationPost[s*rc.K+ka]) + clsB[s]*math.Sqrt(rc.nationPost[s*rc.K+kb])
		v += x * x
	}
	return v
}
