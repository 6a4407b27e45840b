package estimate

import (
	"math"
	"testing"

	"votestream/schemas"
)

// A step's seats scored by hand: party 31 wins the one race and has 60 list seats (61 in
// all, the largest), party 29 has 40. 31's ranges hold 61; 29's 90 % range [41, 45] misses
// 40, its 95 % range [35, 50] holds it. Brier: (0.8 - 1)² + (0.2 - 0)² = 0.08.
func TestSeatScoreByHand(t *testing.T) {
	f := &finalResult{seats: []int{60, 40}, winners: []map[int]bool{{1: true}}}
	res := Result{
		Parties:        []PartyResult{{PartyNo: 31}, {PartyNo: 29}},
		Constituencies: []ConstituencyResult{{Candidates: []CandidateResult{{No: 1, PartyNo: 31}, {No: 2, PartyNo: 29}}}},
		Seats: SeatResult{State: schemas.StateEstimate, Parties: []PartySeats{
			{PartyNo: 31, TotalLo90: 55, TotalHi90: 65, TotalLo95: 50, TotalHi95: 70, LargestProbability: 0.8},
			{PartyNo: 29, TotalLo90: 41, TotalHi90: 45, TotalLo95: 35, TotalHi95: 50, LargestProbability: 0.2},
		}},
	}
	s := f.seatScore(res)
	if !s.Scored || s.Parties != 2 || s.In90 != 1 || s.In95 != 2 || math.Abs(s.Brier-0.08) > 1e-12 {
		t.Fatalf("score %+v, want 2 parties, 1 in the 90 %% range, 2 in the 95 %%, Brier 0.08", s)
	}
	var st SeatStats
	st.add(s)
	if st.Coverage90() != 0.5 || st.Coverage95() != 1 || math.Abs(st.Brier()-0.08) > 1e-12 {
		t.Errorf("pooled %v %v %v", st.Coverage90(), st.Coverage95(), st.Brier())
	}
	res.Seats.State = schemas.StateTooEarly
	if f.seatScore(res).Scored {
		t.Error("a too_early step was scored")
	}
}
