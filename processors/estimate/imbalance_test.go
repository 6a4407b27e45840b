package estimate

import (
	"math"
	"testing"

	"votestream/election"
)

// One constituency, three subdistricts, every station rural (the label covariate has no
// spread and drops out): A has two stations of 100 eligible voters, B and C two of 400
// each (A's stations and the others fall in different size classes, so a stratum with
// nothing in takes its constituency's reported mean as its reference). With L = ln 4 and
// the constituency's mean ln size (200·ln 100 + 1600·ln 400)/1800, A's centred z is
// -8/9·L and B's and C's 1/9·L; their eligible-weighted spread is
// (200·64/81 + 1600·1/81)/1800·L² = 8/81·L².
//
//   - A reported, B and C out: the reference is A's z, so B's and C's own imbalances are
//     800·(1/9 + 8/9)·L = 800·L each and D = 1600·L. With q(v) = v²/Σ/d = v²·81/(16·L²):
//     q(D) = 160000·81 = 12,960,000, chance (B's and C's alone, already in the block
//     variance) 2·40000·81 = 6,480,000, and the term their difference, 6,480,000: the
//     cross term of two subdistricts out on the same side.
//   - One station of each reported: each stratum's reference is its own reported station's
//     z, which is the z of its station still out: in and out are alike, no term.
func TestImbalanceHandWorked(t *testing.T) {
	cases := []struct {
		name     string
		reported []bool
		want     float64
	}{
		{"small subdistrict in, large ones out", []bool{true, true, false, false, false, false}, 6.48e6},
		{"half of each in", []bool{true, false, true, false, true, false}, 0},
	}
	for _, tc := range cases {
		var rows []station
		for i, x := range []int{100, 100, 400, 400, 400, 400} {
			rows = append(rows, station{"C1", x, false, x / 4, x / 3, tc.reported[i]})
		}
		c := handCountry(t, rows)
		for i := range c.Stations {
			c.Stations[i].Subdistrict = []string{"ก", "ก", "ข", "ข", "ค", "ค"}[i]
		}
		e, err := NewEstimator(c, DefaultMethod())
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if r.reported {
				e.applyTally(int32(i), election.BallotPartyList, election.Tally{BallotsCast: r.a + r.b, Votes: map[int]int{1: r.a, 2: r.b}})
			}
		}
		nation, per := e.imbalance()
		if per == nil || len(per) != 1 {
			t.Fatalf("%s: per-constituency imbalance %v, want one value", tc.name, per)
		}
		if math.Abs(nation-tc.want) > 1e-6*max(tc.want, 1) || math.Abs(per[0]-tc.want) > 1e-6*max(tc.want, 1) {
			t.Errorf("%s: imbalance %v (constituency %v), want %v", tc.name, nation, per[0], tc.want)
		}
	}
}

// Nothing reported: no reference to be imbalanced against, no term.
func TestImbalanceNothingReported(t *testing.T) {
	rows := []station{{"C1", 100, false, 0, 0, false}, {"C1", 400, true, 0, 0, false}}
	c := handCountry(t, rows)
	c.Stations[1].Subdistrict = "ข"
	e, err := NewEstimator(c, DefaultMethod())
	if err != nil {
		t.Fatal(err)
	}
	if n, per := e.imbalance(); n != 0 || per != nil {
		t.Errorf("imbalance %v %v before any report, want 0 and nil", n, per)
	}
}

// Method.ImbalanceReported: when the reported subdistricts span far less size than the
// country's (two small ones in, two large ones out), the term takes their spread, up to
// ImbalanceReported times the one measured against the country's spread. Here the reported
// spread is so narrow that the cap binds: the term scales with the cap, and at 1 it is the
// country's.
func TestImbalanceReportedSpreadCapped(t *testing.T) {
	term := func(capFactor float64) float64 {
		t.Helper()
		var rows []station
		for i, x := range []int{100, 100, 110, 110, 400, 400, 400, 400} {
			rows = append(rows, station{"C1", x, false, x / 4, x / 3, i < 4})
		}
		c := handCountry(t, rows)
		for i := range c.Stations {
			c.Stations[i].Subdistrict = []string{"ก", "ก", "ข", "ข", "ค", "ค", "ง", "ง"}[i]
		}
		m := DefaultMethod()
		m.ImbalanceReported = capFactor
		e, err := NewEstimator(c, m)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if r.reported {
				e.applyTally(int32(i), election.BallotPartyList, election.Tally{BallotsCast: r.a + r.b, Votes: map[int]int{1: r.a, 2: r.b}})
			}
		}
		n, _ := e.imbalance()
		return n
	}
	country, two, wide := term(1), term(2), term(100)
	if country <= 0 {
		t.Fatalf("term %v with the country's spread, want > 0 (small subdistricts in, large out)", country)
	}
	if math.Abs(two-2*country) > 1e-9*two {
		t.Errorf("term %v with the cap at 2, want twice the country's %v", two, country)
	}
	if wide <= two {
		t.Errorf("term %v with the cap at 100, want above the capped %v (the reported spread is narrower)", wide, two)
	}
}
