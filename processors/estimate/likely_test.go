package estimate

import (
	"fmt"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// coverageRace is one constituency of 24 rural and 16 urban stations of 500 eligible voters
// (the urban ones hold 40 % of the race). Candidate 1 (party 1) takes about 320 votes to
// 80 at every rural station, candidate 2 (party 2) about 250 to 150 at every urban one.
// The leader is candidate 1 either way (final lead about 24·240 - 16·100 = 4,160), but the
// urban stations vote unlike anything the rural ones show, and no count of the rural ones
// alone decides the race (a lead of 5,760 against 8,000 voters out).
func coverageRace(t *testing.T) (*election.Country, []election.Station, map[string]election.Tally) {
	t.Helper()
	c := &election.Country{
		Provinces: []election.Province{{ID: "P1", NameTH: "จังหวัด1", Region: "north"}},
		Parties:   []election.Party{{No: 1, NameTH: "พรรค1"}, {No: 2, NameTH: "พรรค2"}},
		Candidates: []election.Candidate{
			{ConstituencyID: "P1_1", No: 1, Name: "ผู้สมัคร 1", PartyNo: 1},
			{ConstituencyID: "P1_1", No: 2, Name: "ผู้สมัคร 2", PartyNo: 2},
		},
	}
	tallies := map[string]election.Tally{}
	for i := range 40 {
		urban := i >= 24
		st := election.Station{ID: fmt.Sprintf("P1_1_%02d", i+1), ConstituencyID: "P1_1", Subdistrict: "ตำบล", Number: i + 1,
			EligibleVoters: 500, Urban: urban}
		c.Stations = append(c.Stations, st)
		a, b := 320+i%5*4, 80+i%3*5
		if urban {
			a, b = 150+i%4*3, 250-i%3*4
		}
		tallies[st.ID] = election.Tally{BallotsCast: a + b, Votes: map[int]int{1: a, 2: b}}
	}
	c.Constituencies = []election.Constituency{{ID: "P1_1", ProvinceID: "P1", Number: 1, EligibleVoters: 40 * 500, Stations: 40}}
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	return c, c.Stations, tallies
}

// The coverage rule by hand: with every rural station in and no urban one, the race is
// projected for candidate 1 with a win probability above 0.99, and is not likely, because
// 40 % of its voters are of a kind it has not shown (0 % of the urban stratum reported,
// against LikelyCoverage 10 %); one urban station (6.25 %) is not enough either. With two
// urban stations in (12.5 % of the urban stratum) the same race is likely; with the rule
// off, it is likely without them.
func TestLikelyNeedsEveryKindOfStation(t *testing.T) {
	c, stations, tallies := coverageRace(t)
	run := func(coverage float64, reported int) ConstituencyResult {
		t.Helper()
		m := DefaultMethod()
		m.SizeClasses = 1 // strata: rural, urban
		// The national width rules are not under test: one constituency is the whole country.
		m.GuardMaxWidth, m.LikelyMaxWidth = 1, 1
		m.LikelyCoverage = coverage
		e, err := NewEstimator(c, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stations[:reported] {
			for _, b := range election.Ballots {
				if err := e.Apply(resultOf(st, b, tallies[st.ID], schemas.StatusVerified, 1)); err != nil {
					t.Fatal(err)
				}
			}
		}
		res := e.Estimate()
		return res.Constituencies[0]
	}
	rural := run(0.1, 24)
	if rural.LeaderNo != 1 || rural.WinProbability < 0.99 {
		t.Fatalf("rural stations only: leader %d, p %.4f; want candidate 1 at >= 0.99 (the rule must be what holds it back)", rural.LeaderNo, rural.WinProbability)
	}
	if rural.Call != schemas.CallLeading {
		t.Errorf("urban stratum unseen: call %s, want leading", rural.Call)
	}
	if off := run(0, 24); off.Call != schemas.CallLikely {
		t.Errorf("rule off, urban stratum unseen: call %s, want likely", off.Call)
	}
	seen := run(0.1, 26)
	if seen.LeaderNo != 1 || seen.Call != schemas.CallLikely {
		t.Errorf("two urban stations in (12.5 %% of the stratum): leader %d call %s p %.4f, want candidate 1 likely", seen.LeaderNo, seen.Call, seen.WinProbability)
	}
	if one := run(0.1, 25); one.Call != schemas.CallLeading {
		t.Errorf("one urban station in (6.25 %% of the stratum): call %s at p %.4f, want leading", one.Call, one.WinProbability)
	}
}

// likelyCovered on the same race, rule by rule: the veto looks at every stratum with 5 %
// of the race, whatever the lead.
func TestLikelyCoveredStrata(t *testing.T) {
	c, stations, tallies := coverageRace(t)
	m := DefaultMethod()
	m.SizeClasses = 1
	e, err := NewEstimator(c, m)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(sts []election.Station) {
		for _, st := range sts {
			for _, b := range election.Ballots {
				if err := e.Apply(resultOf(st, b, tallies[st.ID], schemas.StatusVerified, 1)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	apply(stations[:2]) // 2 of 24 rural stations: 8.3 % of the rural stratum
	if e.likelyCovered(0, 0, nil) {
		t.Error("8.3 % of the rural stratum and none of the urban: covered")
	}
	apply(stations[24:32]) // half the urban stratum, the rural still at 8.3 %
	if e.likelyCovered(0, 0, nil) {
		t.Error("rural stratum (60 % of the race) at 8.3 %: covered")
	}
	apply(stations[2:3]) // 3 of 24 rural: 12.5 %
	if !e.likelyCovered(0, 0, nil) {
		t.Error("12.5 % of the rural stratum and half the urban: not covered")
	}
	// The worst-stratum rule: 3 rural stations lead by about 240 each, 8 urban ones trail
	// by about 100: were the 29 stations still out to vote like the urban ones, candidate
	// 1 would lose.
	e.method.LikelyWorstStratum = true
	if e.likelyCovered(0, 0, nil) {
		t.Error("worst stratum: candidate 1 covered though the urban stratum's rate overturns the lead")
	}
}

// The places rule by hand: the same race with its 40 stations in four subdistricts of 10
// (all rural, so the strata rule is met once a tenth of them is in). With the first three
// subdistricts in (30 stations, lead about 240 each: 7,200) and the fourth unseen (5,000
// voters), the margin rule takes the unseen voters at the reported lead per eligible voter
// (7,200 / 15,000 = 0.48) less LikelyPlacesSwing: at 0.5, 5,000 x -0.02 = -100, and the
// leader stays ahead; at 1.0 (every unseen voter against the leader, beyond the reported
// lead), 5,000 x -0.52 = -2,600, still ahead; with only one subdistrict in (2,400 lead,
// 0.48 a voter) and three unseen (15,000 voters) at 0.5, -300 + 2,400 > 0, but at 1.0,
// 15,000 x -0.52 = -7,800 sinks the lead: not covered. The threshold form (LikelyPlaces 0.9,
// LikelyPlacesSwing 0) needs 36 of the 40 stations' subdistricts seen.
func TestLikelyPlaces(t *testing.T) {
	c, stations, tallies := coverageRace(t)
	for i := range c.Stations {
		c.Stations[i].Urban = false
		c.Stations[i].Subdistrict = fmt.Sprintf("ตำบล%d", i/10)
		a, b := 320+i%5*4, 80+i%3*5
		tallies[c.Stations[i].ID] = election.Tally{BallotsCast: a + b, Votes: map[int]int{1: a, 2: b}}
	}
	stations = c.Stations
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	check := func(reported int, places, swing float64) bool {
		t.Helper()
		m := DefaultMethod()
		m.SizeClasses = 1
		m.LikelyPlaces, m.LikelyPlacesSwing = places, swing
		e, err := NewEstimator(c, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stations[:reported] {
			for _, b := range election.Ballots {
				if err := e.Apply(resultOf(st, b, tallies[st.ID], schemas.StatusVerified, 1)); err != nil {
					t.Fatal(err)
				}
			}
		}
		return e.likelyCovered(0, 0, e.seenBlocks())
	}
	for _, tt := range []struct {
		reported      int
		places, swing float64
		want          bool
	}{
		{30, 0, 0.5, true},
		{30, 0, 1, true},
		{10, 0, 0.5, true},
		{10, 0, 1, false},
		{30, 0.9, 0, false}, // 75 % of the voters in seen subdistricts
		{31, 0.9, 0, true},  // the fourth subdistrict seen through one station
	} {
		if got := check(tt.reported, tt.places, tt.swing); got != tt.want {
			t.Errorf("%d stations in, LikelyPlaces %v, LikelyPlacesSwing %v: covered %v, want %v", tt.reported, tt.places, tt.swing, got, tt.want)
		}
	}
}
