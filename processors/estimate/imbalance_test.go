package estimate

import (
	"math"
	"testing"

	"votestream/election"
)

// One constituency, two subdistricts, every station rural (the label covariate has no
// spread and drops out): A has two stations of 100 eligible voters, B two of 400 (A's and
// B's stations fall in different size classes, so B's stratum, with nothing in, takes its
// constituency's reported mean as its reference). Centred
// within the constituency (mean ln size 0.2·ln 100 + 0.8·ln 400), A's z is -0.8·ln 4 and
// B's 0.2·ln 4; their eligible-weighted spread is (0.2·0.64 + 0.8·0.04)·(ln 4)² =
// 0.16·(ln 4)².
//
//   - A reported, B out: the reported mean is A's z, D = 800·(0.2 + 0.8)·ln 4 = 800·ln 4,
//     and D²/Σ/d = 640000/0.16/2 = 2,000,000 eligible voters squared.
//   - One station of each reported: each stratum's reference is its own reported station's
//     z, which is the z of its station still out: in and out are alike, no term.
func TestImbalanceHandWorked(t *testing.T) {
	cases := []struct {
		name     string
		reported []bool
		want     float64
	}{
		{"small subdistrict in, large out", []bool{true, true, false, false}, 2e6},
		{"half of each in", []bool{true, false, true, false}, 0},
	}
	for _, tc := range cases {
		rows := []station{
			{"C1", 100, false, 30, 20, tc.reported[0]},
			{"C1", 100, false, 35, 15, tc.reported[1]},
			{"C1", 400, false, 100, 150, tc.reported[2]},
			{"C1", 400, false, 120, 130, tc.reported[3]},
		}
		c := handCountry(t, rows)
		for i := range c.Stations {
			c.Stations[i].Subdistrict = []string{"ก", "ก", "ข", "ข"}[i]
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
