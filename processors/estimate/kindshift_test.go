package estimate

import (
	"math"
	"testing"

	"votestream/election"
)

// Two subdistricts of one constituency. ก: one urban station and three rural ones of 100
// eligible voters each (urban share 100/400 = 0.25); ข: two urban stations of 200 (urban
// share 1).
//
//   - ก's urban station and two of its rural ones reported, the rest out: the urban voters
//     reported sit in subdistricts 0.25 urban, those out (ข's) in 1: Δ urban = 0.75; the
//     rural ones are all ก's, Δ rural = 0. The urban stations still out shift together by
//     KindPrior·0.75 = 0.3 (relative), so the shares' standard errors grow.
//   - ก's urban station and one of ข's reported: urban reported (100·0.25 + 200·1)/300 =
//     0.75 against 1 out, Δ urban = 0.25.
//   - every urban station in: nothing urban is out, Δ urban = 0, and the rural stations
//     are all ก's, Δ rural = 0: the term adds nothing.
func TestKindShiftHandWorked(t *testing.T) {
	elig := []int{100, 100, 100, 100, 200, 200}
	urban := []bool{true, false, false, false, true, true}
	sub := []string{"ก", "ก", "ก", "ก", "ข", "ข"}
	cases := []struct {
		name     string
		reported []bool
		want     [2]float64
	}{
		{"the rural subdistrict's urban station in, the town's out", []bool{true, true, true, false, false, false}, [2]float64{0, 0.75}},
		{"one of the town's in", []bool{true, true, false, false, true, false}, [2]float64{0, 0.25}},
		{"every urban station in", []bool{true, true, false, false, true, true}, [2]float64{0, 0}},
	}
	for _, tc := range cases {
		var rows []station
		for i, x := range elig {
			rows = append(rows, station{"C1", x, urban[i], x / 4, x / 3, tc.reported[i]})
		}
		c := handCountry(t, rows)
		for i := range c.Stations {
			c.Stations[i].Subdistrict = sub[i]
		}
		se := map[bool][]float64{}
		for _, on := range []bool{true, false} {
			m := DefaultMethod()
			m.KindShift = on
			e, err := NewEstimator(c, m)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rows {
				if r.reported {
					e.applyTally(int32(i), election.BallotPartyList, election.Tally{BallotsCast: r.a + r.b, Votes: map[int]int{1: r.a, 2: r.b}})
				}
			}
			if on {
				if got := e.kindShift(); math.Abs(got[0]-tc.want[0]) > 1e-12 || math.Abs(got[1]-tc.want[1]) > 1e-12 {
					t.Errorf("%s: shift %v, want %v", tc.name, got, tc.want)
				}
			}
			st := e.stratified()
			for k := range st.se {
				se[on] = append(se[on], math.Sqrt(st.se[k]*st.se[k]+st.lean[k]))
			}
		}
		for k := range se[true] {
			switch {
			case tc.want[1] > 0 && !(se[true][k] > se[false][k]):
				t.Errorf("%s: party %d's standard error %.5f with the term, %.5f without: want wider", tc.name, k+1, se[true][k], se[false][k])
			case tc.want[1] == 0 && se[true][k] != se[false][k]:
				t.Errorf("%s: party %d's standard error %.5f with the term, %.5f without: want the same", tc.name, k+1, se[true][k], se[false][k])
			}
		}
	}
}
