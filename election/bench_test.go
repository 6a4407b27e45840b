package election_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"votestream/election"
)

// bigCountry builds a country of the 2023 size (400 constituencies of 238 stations, 70
// parties, 10 candidates each) and full results for both ballots, to measure the loaders
// and lookups at the scale of an election night. The figures are arbitrary but consistent.
func bigCountry(tb testing.TB) (*election.Country, *election.Results) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	c := &election.Country{}
	r := &election.Results{Tallies: map[election.StationBallot]election.Tally{}, ReportTimes: map[string]float64{}}
	for no := 1; no <= 70; no++ {
		c.Parties = append(c.Parties, election.Party{No: no, NameTH: fmt.Sprintf("พรรค %d", no)})
	}
	for p := range 77 {
		c.Provinces = append(c.Provinces, election.Province{ID: fmt.Sprintf("P%02d", p), Region: "central"})
	}
	for k := range 400 {
		kid := fmt.Sprintf("P%02d_%d", k%77, k/77+1)
		c.Constituencies = append(c.Constituencies, election.Constituency{ID: kid, ProvinceID: fmt.Sprintf("P%02d", k%77), Number: k/77 + 1, EligibleVoters: 238 * 542, Stations: 238})
		for d := 1; d <= 10; d++ {
			c.Candidates = append(c.Candidates, election.Candidate{ConstituencyID: kid, No: d, Name: "ผู้สมัคร", PartyNo: (k+d*7)%70 + 1})
		}
		for s := 1; s <= 238; s++ {
			sid := fmt.Sprintf("%s_%03d", kid, s)
			c.Stations = append(c.Stations, election.Station{ID: sid, ConstituencyID: kid, Subdistrict: "ตำบล", Number: s, EligibleVoters: 542})
			for _, b := range election.Ballots {
				t := election.Tally{Invalid: rng.IntN(12), NoVote: rng.IntN(8), Votes: map[int]int{}}
				switch b {
				case election.BallotConstituency:
					for d := 1; d <= 10; d++ {
						t.Votes[d] = rng.IntN(40)
					}
				case election.BallotPartyList:
					for no := 1; no <= 70; no++ {
						t.Votes[no] = rng.IntN(6)
					}
				}
				t.BallotsCast = t.VotesTotal() + t.Invalid + t.NoVote
				r.Tallies[election.StationBallot{StationID: sid, Ballot: b}] = t
			}
			r.ReportTimes[sid] = rng.Float64() * 300
		}
	}
	if err := c.Index(); err != nil {
		tb.Fatal(err)
	}
	return c, r
}

func BenchmarkStationByID(b *testing.B) {
	c, _ := bigCountry(b)
	ids := make([]string, len(c.Stations))
	for i, s := range c.Stations {
		ids[i] = s.ID
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok := c.StationByID(ids[i%len(ids)]); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkWriteLoadFullNight(b *testing.B) {
	c, r := bigCountry(b)
	dir := b.TempDir()
	for b.Loop() {
		if err := election.WriteCountry(dir, c); err != nil {
			b.Fatal(err)
		}
		if err := election.WriteResults(dir, r); err != nil {
			b.Fatal(err)
		}
		c2, err := election.LoadCountry(os.DirFS(dir))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := election.LoadResults(os.DirFS(dir), c2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteResults(b *testing.B) {
	_, r := bigCountry(b)
	dir := b.TempDir()
	for b.Loop() {
		if err := election.WriteResults(dir, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadResults(b *testing.B) {
	c, r := bigCountry(b)
	dir := b.TempDir()
	if err := election.WriteResults(dir, r); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := election.LoadResults(os.DirFS(dir), c); err != nil {
			b.Fatal(err)
		}
	}
}
