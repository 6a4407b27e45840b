package estimate

import (
	"math"
	"testing"
)

// One stratum, three stations of 100 eligible voters at q = 0, 0.5, 1 with 10, 20, 30 votes:
// the fitted slope is 0.2 votes per eligible voter over the stratum (Σyq - ΣyΣxq/Σx = 10 over
// Σxq² - (Σxq)²/Σx = 50). With σ² = 0.01 (precision 50/0.01 = 5,000) and DriftPrior 0.1 on
// 0.2 votes per eligible voter (τ² = 0.0004, precision 2,500), the posterior variance is
// 1/7,500 and the mean 0.2 × 5,000/7,500 = 0.1333: the expected square 0.1333² + 1/7,500.
func TestDriftSlopePosteriorHandWorked(t *testing.T) {
	var a slopeAcc
	a.add(40, 60, 150, 125, 300)
	if got := a.beta(); math.Abs(got-0.2) > 1e-12 {
		t.Fatalf("fitted slope %v, want 0.2", got)
	}
	m := Method{DriftPrior: 0.1}
	tau2 := m.driftPrior(0.2)
	if math.Abs(tau2-0.0004) > 1e-15 {
		t.Fatalf("prior variance %v, want 0.0004", tau2)
	}
	mean, v := a.posterior(0.01, tau2)
	if math.Abs(v-1.0/7500) > 1e-12 || math.Abs(mean-0.2*5000/7500) > 1e-12 {
		t.Errorf("posterior (%v, %v), want (%v, %v)", mean, v, 0.2*5000/7500, 1.0/7500)
	}
	want := (0.2*5000/7500)*(0.2*5000/7500) + 1.0/7500
	if got := a.boundedSquare(0.01, tau2); math.Abs(got-want) > 1e-12 {
		t.Errorf("bounded square %v, want %v", got, want)
	}
	// A flat prior keeps the old term: β̂² + σ²/den = 0.04 + 0.0002.
	if got := a.boundedSquare(0.01, 0); math.Abs(got-0.0402) > 1e-12 {
		t.Errorf("flat prior: square %v, want 0.0402", got)
	}
}

// Early in the night the reports of a stratum span a sliver of q, so the fitted slope's noise
// explodes; the bounded term stays at the prior, and without any data it is the prior.
func TestDriftSlopeBoundedEarly(t *testing.T) {
	var a slopeAcc
	// Two stations of 100 at q = 0.01 and 0.03 with 20 and 21 votes: den = 0.02, slope 0.5,
	// the flat square 0.25 + 0.01/0.02 = 0.75, nearly 2,000 times the prior.
	a.add(20*0.01+21*0.03, 41, 100*0.01+100*0.03, 100*(0.0001+0.0009), 200)
	sigma2, tau2 := 0.01, 0.0004
	flat := a.square(sigma2)
	bounded := a.boundedSquare(sigma2, tau2)
	if flat < 1000*tau2 {
		t.Fatalf("flat square %v: the example should explode", flat)
	}
	if bounded > tau2*1.0001 || bounded <= 0 {
		t.Errorf("bounded square %v, want at most the prior %v", bounded, tau2)
	}
	var empty slopeAcc
	if got := empty.boundedSquare(sigma2, tau2); got != tau2 {
		t.Errorf("no data: %v, want the prior %v", got, tau2)
	}
}

// One constituency of 40 rural stations of 500 eligible voters; the first 20 report, in
// order, each with 10 more valid votes than the one before (250, 260, ...). Station i has
// q = (i+0.5)/40, so its turnout 0.5 + 0.02i is exactly 0.49 + 0.8q: the turnout's slope
// on the order is 0.8 with no scatter about it, on a reported turnout of 0.69, and the
// order's measured selection is (0.8/0.69)². With a flat turnout it is 0.
func TestOrderSelectionFromTurnout(t *testing.T) {
	measure := func(step int) float64 {
		var rows []station
		for i := range 40 {
			v := 250 + step*i
			rows = append(rows, station{cons: "C1", eligible: 500, a: v / 2, b: v - v/2, reported: i < 20})
		}
		c := handCountry(t, rows)
		e, _ := estimatorOn(t, c, rows, urbanRural())
		return newRatioCalc(e.lay, e.ballots[0], e.method).orderSelection2()
	}
	want := (0.8 / 0.69) * (0.8 / 0.69)
	if got := measure(10); math.Abs(got-want) > 1e-6 {
		t.Errorf("turnout rising with the order: selection %v, want %v", got, want)
	}
	if got := measure(0); got != 0 {
		t.Errorf("flat turnout: selection %v, want 0", got)
	}
	m := urbanRural()
	m.DriftPrior = 0.1
	m.DriftFromTurnout = false
	rc := &ratioCalc{m: m}
	if got := rc.driftPriorRel2(); math.Abs(got-0.01) > 1e-15 {
		t.Errorf("without the turnout signal the prior is DriftPrior² = 0.01, got %v", got)
	}
}
