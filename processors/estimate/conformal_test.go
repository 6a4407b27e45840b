package estimate

import (
	"math"
	"testing"
)

// The factor is the finite-sample conformal quantile of the scores against χ²₁'s 95 %
// quantile (1.96²), never below 1, and 1 until enough constituencies are scored.
func TestConformalFactor(t *testing.T) {
	z2 := 1.959964 * 1.959964
	few := make([]float64, conformalMinAreas-1)
	for i := range few {
		few[i] = 100
	}
	if f := conformalFactor(few); f != 1 {
		t.Errorf("%d scores: factor %v, want 1 (too few to judge)", len(few), f)
	}
	calm := make([]float64, 19)
	for i := range calm {
		calm[i] = 0.5
	}
	if f := conformalFactor(calm); f != 1 {
		t.Errorf("scores all 0.5: factor %v, want 1 (never narrowed)", f)
	}
	// 19 scores: the quantile is the ceil(20·0.95) = 19th smallest, the largest.
	wild := make([]float64, 19)
	for i := range wild {
		wild[i] = float64(i+1) / 19 * 4 * z2
	}
	if f := conformalFactor(wild); math.Abs(f-4) > 1e-9 {
		t.Errorf("largest score 4·1.96²: factor %v, want 4", f)
	}
	// 39 scores: the 38th smallest, one above it.
	s := make([]float64, 39)
	for i := range s {
		s[i] = 2 * z2
	}
	s[38] = 100 * z2
	if f := conformalFactor(s); math.Abs(f-2) > 1e-9 {
		t.Errorf("38 of 39 scores at 2·1.96²: factor %v, want 2", f)
	}
}

// A constituency whose later reported stations favour B while the earlier favoured A
// scores far above what exchangeable stations would (χ²₁'s 95 % quantile, 3.84); one whose
// stations all split the same way scores about nothing.
func TestConformalScoresSeeLateStationsUnlikeEarly(t *testing.T) {
	score := func(turn bool) float64 {
		var rows []station
		for i := range 12 {
			x := 400 + 10*(i%3)
			a, b := int(0.42*float64(x))+i%2, int(0.28*float64(x))
			if turn && i >= 6 {
				a, b = b, a
			}
			rows = append(rows, station{"C1", x, false, a, b, true})
		}
		rows = append(rows, station{"C1", 400, false, 0, 0, false})
		c := handCountry(t, rows)
		e, _ := estimatorOn(t, c, rows, urbanRural())
		sc := e.conformalScores()
		if len(sc) != 1 {
			t.Fatalf("%d scores, want 1 (one constituency with 12 reports)", len(sc))
		}
		return sc[0]
	}
	calm, turned := score(false), score(true)
	t.Logf("scores: stations alike %.3f, later half turned %.1f", calm, turned)
	if calm > 1 {
		t.Errorf("stations alike score %.3f, want under 1", calm)
	}
	if turned < 10*3.84 {
		t.Errorf("later half turned scores %.1f, want far above 3.84", turned)
	}
}
