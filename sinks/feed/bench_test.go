package feed

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// nationalCountry is a country of the size of 2023's: 77 provinces, 400 constituencies of
// 238 stations (95,200), 10 candidates each, 70 parties.
func nationalCountry(b *testing.B) *election.Country {
	b.Helper()
	c := &election.Country{}
	for p := range 77 {
		c.Provinces = append(c.Provinces, election.Province{ID: fmt.Sprintf("P%02d", p), NameTH: "จังหวัด", Region: "central"})
	}
	for i := range 70 {
		c.Parties = append(c.Parties, election.Party{No: i + 1, NameTH: "พรรค"})
	}
	for k := range 400 {
		cid := fmt.Sprintf("P%02d_%d", k%77, k/77+1)
		c.Constituencies = append(c.Constituencies, election.Constituency{ID: cid, ProvinceID: fmt.Sprintf("P%02d", k%77), Number: k/77 + 1, EligibleVoters: 129_000, Stations: 238})
		for s := range 238 {
			c.Stations = append(c.Stations, election.Station{ID: fmt.Sprintf("%s_%03d", cid, s+1), ConstituencyID: cid, Number: s + 1, EligibleVoters: 542})
		}
		for n := range 10 {
			c.Candidates = append(c.Candidates, election.Candidate{ConstituencyID: cid, No: n + 1, Name: "ผู้สมัคร", PartyNo: (k+n)%70 + 1})
		}
	}
	if err := c.Index(); err != nil {
		b.Fatal(err)
	}
	return c
}

// nationalResults returns n station results spread over the country's stations and both
// ballots, party-list ones with 20 parties' votes, as a night's stream would carry them.
func nationalResults(c *election.Country, n int) []schemas.StationResult {
	out := make([]schemas.StationResult, n)
	for i := range out {
		st := c.Stations[(i/2)%len(c.Stations)]
		ballot, votes := cons, map[string]int{}
		if i%2 == 1 {
			ballot = pl
			for p := 1; p <= 20; p++ {
				votes[strconv.Itoa(p)] = 10 + p
			}
		} else {
			for k := 1; k <= 10; k++ {
				votes[strconv.Itoa(k)] = 20 + k
			}
		}
		out[i] = schemas.StationResult{StationID: st.ID, ConstituencyID: st.ConstituencyID, Ballot: ballot,
			Version: int64(i/(2*len(c.Stations)) + 1), Status: prov, Stage: fin, BallotsCast: 430, Invalid: 5, NoVote: 5,
			Votes: votes, Sources: []schemas.Source{{SubmissionID: "x"}}, UpdatedAt: at(i / 1000)}
	}
	return out
}

// BenchmarkViewApply: station results taken into the view (no events), the catch-up path.
func BenchmarkViewApply(b *testing.B) {
	c := nationalCountry(b)
	rs := nationalResults(c, 4*len(c.Stations))
	v := NewView(c, "bench")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := rs[i%len(rs)]
		r.Version = int64(i)
		if _, ok, err := v.Apply(r); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
}

// BenchmarkFeedApplyLive: the live path, results applied and their events encoded and
// published into the ring, in chunks as fetches bring them.
func BenchmarkFeedApplyLive(b *testing.B) {
	c := nationalCountry(b)
	rs := nationalResults(c, 4*len(c.Stations))
	f := &Feed{m: newMetrics(), view: NewView(c, "bench"), ring: NewRing(65_536), readyC: make(chan struct{})}
	f.markReadyQuiet()
	in := make([]input, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(in) {
		for j := range in {
			r := rs[(i+j)%len(rs)]
			r.Version = int64(i + j)
			in[j] = input{sr: &r}
		}
		f.applyInputs(in)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
}

// BenchmarkConstituenciesAnswer: rendering and encoding the full list of 400 (what the
// cache saves between changes).
func BenchmarkConstituenciesAnswer(b *testing.B) {
	c := nationalCountry(b)
	v := NewView(c, "bench")
	for _, r := range nationalResults(c, len(c.Stations)) {
		v.Apply(r)
	}
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		body, err := json.Marshal(v.Constituencies(""))
		if err != nil {
			b.Fatal(err)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size), "bytes")
}
