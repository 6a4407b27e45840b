package estimate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// syntheticNight builds a small country and its true results for tests: two regions of
// two provinces, nCons constituencies of stationsPer stations, five parties whose strength
// depends on region, constituency and urban stations, four candidates per constituency
// (candidate numbers differ from party numbers), a 10 % priority sample, and report times
// in which small stations finish first. The same seed gives the same night.
func syntheticNight(t testing.TB, seed uint64, nCons, stationsPer int) (*election.Country, *election.Results) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	c := &election.Country{}
	for i, reg := range []string{"north", "north", "south", "south"} {
		c.Provinces = append(c.Provinces, election.Province{ID: fmt.Sprintf("P%d", i+1), NameTH: fmt.Sprintf("จังหวัด%d", i+1), Region: reg})
	}
	partyNos := []int{3, 7, 11, 15, 20}
	for i, no := range partyNos {
		c.Parties = append(c.Parties, election.Party{No: no, NameTH: fmt.Sprintf("พรรค%d", i+1)})
	}
	base := []float64{1.0, 0.8, 0.5, 0.3, 0.05}
	regionEff := [][]float64{{0.4, -0.3, 0, 0.1, 0}, {-0.3, 0.4, 0.1, -0.1, 0}}
	urbanEff := []float64{0.5, -0.4, 0, 0.2, 0}
	results := &election.Results{Tallies: map[election.StationBallot]election.Tally{}, ReportTimes: map[string]float64{}}
	for k := range nCons {
		prov := c.Provinces[k%len(c.Provinces)]
		region := k % 4 / 2
		id := fmt.Sprintf("%s_%d", prov.ID, k/len(c.Provinces)+1)
		consEff := make([]float64, len(partyNos))
		for p := range consEff {
			consEff[p] = 0.2 * r.NormFloat64()
		}
		urbanity := 0.1 + 0.6*r.Float64()
		// Candidates: four of the five parties, numbered 1..4 in a shuffled order.
		perm := r.Perm(len(partyNos))[:4]
		for j, p := range perm {
			c.Candidates = append(c.Candidates, election.Candidate{ConstituencyID: id, No: j + 1, Name: fmt.Sprintf("ผู้สมัคร %d", j+1), PartyNo: partyNos[p]})
		}
		eligible := 0
		for s := range stationsPer {
			st := election.Station{
				ID: fmt.Sprintf("%s_%04d", id, s+1), ConstituencyID: id, Subdistrict: "ตำบล", Number: s + 1,
				EligibleVoters: 150 + r.IntN(800), Urban: r.Float64() < urbanity, Priority: r.Float64() < 0.1,
			}
			eligible += st.EligibleVoters
			c.Stations = append(c.Stations, st)
			weights := make([]float64, len(partyNos))
			for p := range weights {
				u := 0.0
				if st.Urban {
					u = urbanEff[p]
				}
				weights[p] = base[p] * math.Exp(regionEff[region][p]+consEff[p]+u+0.15*r.NormFloat64())
			}
			turnout := 0.65 + 0.2*r.Float64()
			cast := int(math.Round(turnout * float64(st.EligibleVoters)))
			invalid := r.IntN(max(cast/30, 1))
			pl := election.Tally{BallotsCast: cast, Invalid: invalid, Votes: map[int]int{}}
			for p, v := range drawVotes(r, cast-invalid, weights) {
				if v > 0 {
					pl.Votes[partyNos[p]] = v
				}
			}
			cw := make([]float64, len(perm))
			for j, p := range perm {
				cw[j] = weights[p] * math.Exp(0.3*r.NormFloat64())
			}
			cons := election.Tally{BallotsCast: cast, Invalid: invalid, Votes: map[int]int{}}
			for j, v := range drawVotes(r, cast-invalid, cw) {
				if v > 0 {
					cons.Votes[j+1] = v
				}
			}
			results.Tallies[election.StationBallot{StationID: st.ID, Ballot: election.BallotPartyList}] = pl
			results.Tallies[election.StationBallot{StationID: st.ID, Ballot: election.BallotConstituency}] = cons
			results.ReportTimes[st.ID] = math.Round(10*(15+0.25*float64(cast)*math.Exp(0.2*r.NormFloat64()))) / 10
		}
		c.Constituencies = append(c.Constituencies, election.Constituency{ID: id, ProvinceID: prov.ID, Number: k/len(c.Provinces) + 1, EligibleVoters: eligible, Stations: stationsPer})
	}
	if err := c.Index(); err != nil {
		t.Fatalf("synthetic country: %v", err)
	}
	if err := results.Check(c); err != nil {
		t.Fatalf("synthetic results: %v", err)
	}
	return c, results
}

// drawVotes shares n ballots among options in proportion to weights, one ballot at a time.
func drawVotes(r *rand.Rand, n int, weights []float64) []int {
	var total float64
	for _, w := range weights {
		total += w
	}
	out := make([]int, len(weights))
	for range n {
		u := r.Float64() * total
		for j, w := range weights {
			if u < w || j == len(weights)-1 {
				out[j]++
				break
			}
			u -= w
		}
	}
	return out
}

// resultOf is the station result consolidate would publish for a true count.
func resultOf(s election.Station, b election.Ballot, t election.Tally, status schemas.Status, version int64) schemas.StationResult {
	return schemas.StationResult{
		StationID: s.ID, ConstituencyID: s.ConstituencyID, Ballot: string(b), Version: version,
		Status: status, Stage: schemas.StageFinal,
		BallotsCast: t.BallotsCast, Invalid: t.Invalid, NoVote: t.NoVote, Votes: election.FormatVotes(t.Votes),
		CountedAt: time.Date(2023, 5, 14, 18, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2023, 5, 14, 18, 5, 0, 0, time.UTC),
	}
}

// truthOf sums a results set: party-list votes by party number and, per constituency,
// constituency votes by candidate number.
func truthOf(c *election.Country, r *election.Results) (map[int]int, map[string]map[int]int) {
	party := map[int]int{}
	cons := map[string]map[int]int{}
	for _, s := range c.Stations {
		for no, v := range r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}].Votes {
			party[no] += v
		}
		if cons[s.ConstituencyID] == nil {
			cons[s.ConstituencyID] = map[int]int{}
		}
		for no, v := range r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotConstituency}].Votes {
			cons[s.ConstituencyID][no] += v
		}
	}
	return party, cons
}
