package estimate

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// twoParties is a country of n two-candidate races between party keys 0 and 1, each with
// the given means and sd, in one region, and a party-list share split evenly.
func twoParties(n int, meanA, meanB, sd float64) seatInput {
	in := seatInput{parties: 2, regions: 1, share: []float64{0.5, 0.5}, shareSE: []float64{0.01, 0.01}, listLoad: kindLoad(1, 1)}
	for range n {
		in.races = append(in.races, seatRace{load: kindLoad(1, 1), fixed: -1, cands: []seatCand{
			{key: 0, mean: meanA, sd: sd, idx: 0}, {key: 1, mean: meanB, sd: sd, idx: 1},
		}})
	}
	return in
}

// A certain race gives its winner probability 1 and its seat in every draw.
func TestSeatsCertainRace(t *testing.T) {
	in := twoParties(0, 0, 0, 0)
	in.races = append(in.races, seatRace{load: kindLoad(1, 0), fixed: 1, fixedKey: 1, cands: nil})
	in.share = []float64{0.7, 0.3}
	in.shareSE = []float64{0, 0}
	out := simulateSeats(in, DefaultSeatMethod())
	if got := out.wins[0]; len(got) != 2 || got[1] != 1 || got[0] != 0 {
		t.Fatalf("certain race's win probabilities %v, want [0 1]", got)
	}
	// Party 1 has the race in every draw and 30 list seats; party 0 has 70 list seats.
	if out.cons[1][1] != int32(DefaultSeatMethod().Draws) || out.list[0][70] != int32(DefaultSeatMethod().Draws) {
		t.Fatalf("seats not certain: cons %v list[0][70] %d", out.cons[1][:2], out.list[0][70])
	}
	if out.largest[0] != 1 {
		t.Errorf("largest-party probability of the certain leader %v, want 1", out.largest[0])
	}
}

// Two equal parties: each is largest about half the time.
func TestSeatsEqualParties(t *testing.T) {
	m := DefaultSeatMethod()
	out := simulateSeats(twoParties(41, 1000, 1000, 50), m)
	if d := math.Abs(out.largest[0] - 0.5); d > 0.05 {
		t.Errorf("largest-party probabilities %.3f and %.3f, want about 0.5 each", out.largest[0], out.largest[1])
	}
	if s := out.largest[0] + out.largest[1]; math.Abs(s-1) > 1e-9 {
		t.Errorf("largest-party probabilities add up to %v, want 1", s)
	}
	for c, w := range out.wins {
		if math.Abs(w[0]-0.5) > 0.06 {
			t.Fatalf("race %d of equal candidates: win probability %.3f", c, w[0])
		}
	}
}

// One uncertain race: the simulated win probability is the normal one of the lead over its
// spread, whatever share of the variance is national or regional (the marginal is kept).
func TestSeatsRaceMarginal(t *testing.T) {
	for _, shares := range [][2]float64{{0, 0}, {0.3, 0.3}, {1, 0}} {
		m := DefaultSeatMethod()
		m.Draws = 20000
		m.NationalShare, m.RegionShare = shares[0], shares[1]
		out := simulateSeats(twoParties(1, 110, 100, 10), m)
		want := 1 - 0.5*math.Erfc(-(10/(10*math.Sqrt2))/math.Sqrt2) // P(B - A > 0), sd of the lead 10√2
		if got := out.wins[0][1]; math.Abs(got-want) > 0.015 {
			t.Errorf("shares %v: trailing candidate wins %.4f, want %.4f", shares, got, want)
		}
	}
}

// Correlated errors widen the seat range: with all of the variance national, a party's seats
// move together; with none, they average out.
func TestSeatsCorrelationWidens(t *testing.T) {
	spread := func(national float64) int {
		m := DefaultSeatMethod()
		m.NationalShare, m.RegionShare = national, 0
		out := simulateSeats(twoParties(100, 1000, 1000, 50), m)
		ps := partySeats(1, out, 0, m.Draws)
		return ps.TotalHi90 - ps.TotalLo90
	}
	local, national := spread(0), spread(1)
	if national <= 2*local {
		t.Errorf("90 %% range %d seats with national errors, %d with local ones: correlation should widen it far more", national, local)
	}
}

// The same input and seed give the same draws.
func TestSeatsDeterministic(t *testing.T) {
	in := twoParties(30, 1000, 990, 40)
	a, b := simulateSeats(in, DefaultSeatMethod()), simulateSeats(in, DefaultSeatMethod())
	if a.largest[0] != b.largest[0] || !slices.Equal(a.total[0], b.total[0]) {
		t.Fatal("two runs with one seed differ")
	}
}

// Largest remainder, worked by hand: 45,000 / 30,500 / 24,500 votes for 100 seats: quota
// 1,000, full quotas 45 + 30 + 24 = 99, remainders 0, 500, 500; the one seat left goes to
// the tie's larger vote, 30,500.
func TestLargestRemainderByHand(t *testing.T) {
	out, order, rem := make([]int, 3), make([]int, 3), make([]float64, 3)
	largestRemainder([]float64{45000, 30500, 24500}, 100, out, order, rem)
	if !slices.Equal(out, []int{45, 31, 24}) {
		t.Fatalf("seats %v, want [45 31 24]", out)
	}
	// And it agrees with election.AllocatePartyList on random nights.
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		n := 2 + r.IntN(20)
		votes := make([]float64, n)
		byNo := map[int]int{}
		for k := range votes {
			v := r.IntN(200000)
			if r.IntN(4) == 0 {
				v = r.IntN(3000)
			}
			votes[k], byNo[k+1] = float64(v), v
		}
		want, err := election.AllocatePartyList(byNo, 100)
		if err != nil {
			continue
		}
		out, order, rem := make([]int, n), make([]int, n), make([]float64, n)
		largestRemainder(votes, 100, out, order, rem)
		for k := range votes {
			if out[k] != want[k+1] {
				t.Fatalf("votes %v: seats %v, election.AllocatePartyList %v", votes, out, want)
			}
		}
	}
}

// Through the estimator: too early withholds the seats; half a country publishes them, with
// ranges in order, 500 seats in every party's medians' reach, probabilities adding up to 1,
// and called races certain.
func TestSeatsFromEstimator(t *testing.T) {
	c, r := syntheticNight(t, 21, 16, 40)
	all := rand.New(rand.NewPCG(21, 1)).Perm(len(c.Stations))
	e, err := NewEstimator(c, DefaultMethod())
	if err != nil {
		t.Fatal(err)
	}
	feed(t, e, c, r, all[:2])
	res := e.Estimate()
	msg := res.ToSchema("x", res.DataTime)
	if res.Seats.State != schemas.StateTooEarly || msg.SeatsState != schemas.StateTooEarly || msg.SeatDraws != 0 {
		t.Fatalf("two stations: seats %q (message %q, %d draws), want too_early", res.Seats.State, msg.SeatsState, msg.SeatDraws)
	}
	for _, p := range msg.Parties {
		if p.SeatRange != nil {
			t.Fatalf("too early, yet party %d has a seat range %+v", p.PartyNo, *p.SeatRange)
		}
	}
	for _, ce := range msg.Constituencies {
		for _, d := range ce.Candidates {
			if d.WinProbability != 0 || d.Swing != nil {
				t.Fatalf("too early, yet %s candidate %d has %v / %v", ce.ConstituencyID, d.CandidateNo, d.WinProbability, d.Swing)
			}
		}
	}

	feed(t, e, c, r, all[2:len(all)/2])
	e.SetSwingBaseline(func(id string) (map[int]float64, bool) { return map[int]float64{c.Parties[0].No: 0.25}, true })
	res = e.Estimate()
	if res.Seats.State != schemas.StateEstimate {
		t.Fatalf("half the country: seats %q, want estimate", res.Seats.State)
	}
	msg = res.ToSchema("x", res.DataTime)
	var largest float64
	for _, p := range msg.Parties {
		s := p.SeatRange
		if s == nil {
			t.Fatalf("party %d has no seat range", p.PartyNo)
		}
		if !(s.TotalLo95 <= s.TotalLo90 && s.TotalLo90 <= s.Total && s.Total <= s.TotalHi90 && s.TotalHi90 <= s.TotalHi95) {
			t.Errorf("party %d: ranges out of order %+v", p.PartyNo, *s)
		}
		largest += s.LargestProbability
	}
	if math.Abs(largest-1) > 1e-6 {
		t.Errorf("largest-party probabilities add up to %v", largest)
	}
	swung := 0
	for i, ce := range msg.Constituencies {
		var sum float64
		for _, d := range ce.Candidates {
			sum += d.WinProbability
			if d.Swing != nil {
				swung++
			}
		}
		if len(ce.Candidates) > 0 && math.Abs(sum-1) > 1e-9 {
			t.Errorf("%s: win probabilities add up to %v", ce.ConstituencyID, sum)
		}
		if ce.Call == schemas.CallCalled {
			for j, d := range ce.Candidates {
				if (d.CandidateNo == ce.LeaderNo) != (d.WinProbability == 1) {
					t.Errorf("called race %s: candidate %d wins %v of the draws", ce.ConstituencyID, d.CandidateNo, res.Seats.WinProbability[i][j])
				}
			}
		}
	}
	if swung == 0 {
		t.Error("a baseline was given, yet no candidate has a swing")
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate("estimate.v1", raw); err != nil {
		t.Errorf("the message does not conform: %v", err)
	}
}

// BenchmarkSeats times one simulation of a 400-race night with the default 2,000 draws.
func BenchmarkSeats(b *testing.B) {
	c, r := syntheticNight(b, 5, 400, 8)
	e, err := NewEstimator(c, DefaultMethod())
	if err != nil {
		b.Fatal(err)
	}
	idx := rand.New(rand.NewPCG(5, 1)).Perm(len(c.Stations))
	for _, i := range idx[:len(idx)/3] {
		s := c.Stations[i]
		for _, bl := range election.Ballots {
			if tl, ok := r.Tallies[election.StationBallot{StationID: s.ID, Ballot: bl}]; ok {
				if err := e.Apply(resultOf(s, bl, tl, schemas.StatusVerified, 1)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	res := e.Estimate()
	if res.Seats.State != schemas.StateEstimate {
		b.Fatalf("seats %s", res.Seats.State)
	}
	b.ResetTimer()
	for range b.N {
		e.Seats(res)
	}
}

// A race whose inputs did not change keeps its simulated win probabilities when another race
// changes (its own draws come from its own stream), so the feed sees no change there.
func TestSeatsRaceStable(t *testing.T) {
	in := twoParties(10, 1000, 990, 40)
	a := simulateSeats(in, DefaultSeatMethod())
	in.races[3].cands = append(in.races[3].cands, seatCand{key: 1, mean: 995, sd: 40, idx: 2})
	in.races[5].fixed, in.races[5].fixedKey = 0, 0
	b := simulateSeats(in, DefaultSeatMethod())
	for c := range in.races {
		if c == 3 || c == 5 {
			continue
		}
		if !slices.Equal(a.wins[c], b.wins[c]) {
			t.Errorf("race %d moved from %v to %v when races 3 and 5 changed", c, a.wins[c], b.wins[c])
		}
	}
}
