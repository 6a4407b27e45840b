package simulate

import (
	"math"
	"slices"
	"testing"

	"votestream/election"
)

func pearson(xs, ys []float64) float64 {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
		syy += (ys[i] - my) * (ys[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func TestTruthStatistics(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		cfg := DefaultConfig()
		cfg.Seed = seed
		cfg.Country.Scale = 0.25
		s, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, tr := s.Country, s.Truth
		if err := tr.Results().Check(c); err != nil {
			t.Fatalf("seed %d: a true tally breaks the consistency rule: %v", seed, err)
		}

		var eligible, cast, invalid, noVote [2]int
		plTotals := map[int]int{}
		var sizes []float64
		for i, st := range c.Stations {
			sizes = append(sizes, float64(st.EligibleVoters))
			for b, ballot := range ballotOf {
				tl := tr.Tally(i, ballot)
				eligible[b] += st.EligibleVoters
				cast[b] += tl.BallotsCast
				invalid[b] += tl.Invalid
				noVote[b] += tl.NoVote
				if b == ballotPL {
					for no, v := range tl.Votes {
						plTotals[no] += v
					}
				}
			}
		}
		for b, ballot := range ballotOf {
			turnout := float64(cast[b]) / float64(eligible[b])
			inv := float64(invalid[b]) / float64(cast[b])
			nov := float64(noVote[b]) / float64(cast[b])
			if turnout < 0.70 || turnout > 0.80 {
				t.Errorf("seed %d, %s: turnout %.3f, want 0.70-0.80", seed, ballot, turnout)
			}
			if inv < 0.015 || inv > 0.035 {
				t.Errorf("seed %d, %s: invalid rate %.4f, want about 2-3 %%", seed, ballot, inv)
			}
			if nov < 0.01 || nov > 0.02 {
				t.Errorf("seed %d, %s: no-vote rate %.4f, want 1-2 %%", seed, ballot, nov)
			}
		}
		if m := median(sizes); m < 480 || m > 600 {
			t.Errorf("seed %d: median station size %v, want about 542", seed, m)
		}

		// The leading party on the national list.
		top := 0
		for no, v := range plTotals {
			if v > plTotals[top] || (v == plTotals[top] && no < top) {
				top = no
			}
		}
		region := map[string]string{}
		for _, k := range c.Constituencies {
			p, _ := c.Province(k.ProvinceID)
			region[k.ID] = p.Region
		}
		type share struct{ votes, valid int }
		byRegion := map[string]*share{}
		byUrban := map[bool]*share{true: {}, false: {}}
		var plShare, consShare []float64
		split := 0
		for i, st := range c.Stations {
			pl := tr.Tally(i, election.BallotPartyList)
			valid := pl.BallotsCast - pl.Invalid - pl.NoVote
			r := region[st.ConstituencyID]
			if byRegion[r] == nil {
				byRegion[r] = &share{}
			}
			byRegion[r].votes += pl.Votes[top]
			byRegion[r].valid += valid
			byUrban[st.Urban].votes += pl.Votes[top]
			byUrban[st.Urban].valid += valid
			for _, d := range c.CandidatesIn(st.ConstituencyID) {
				if d.PartyNo != top {
					continue
				}
				cons := tr.Tally(i, election.BallotConstituency)
				cv := cons.BallotsCast - cons.Invalid - cons.NoVote
				if valid > 0 && cv > 0 {
					plShare = append(plShare, float64(pl.Votes[top])/float64(valid))
					consShare = append(consShare, float64(cons.Votes[d.No])/float64(cv))
					if pl.Votes[top] != cons.Votes[d.No] {
						split++
					}
				}
			}
		}
		// Party-list and constituency votes go together but are not the same vote.
		if r := pearson(plShare, consShare); r < 0.5 || r > 0.99 {
			t.Errorf("seed %d: correlation of party %d's list share and its candidates' share %.3f, want 0.5-0.99", seed, top, r)
		}
		if f := float64(split) / float64(len(plShare)); f < 0.9 {
			t.Errorf("seed %d: party %d's list and candidate votes differ at only %.2f of stations", seed, top, f)
		}
		var regional []float64
		for _, x := range byRegion {
			regional = append(regional, float64(x.votes)/float64(x.valid))
		}
		if len(regional) > 1 && slices.Max(regional)/slices.Min(regional) < 1.25 {
			t.Errorf("seed %d: party %d's share by region %v: no regional strongholds", seed, top, regional)
		}
		urban := float64(byUrban[true].votes) / float64(byUrban[true].valid)
		rural := float64(byUrban[false].votes) / float64(byUrban[false].valid)
		t.Logf("seed %d: party %d urban %.3f rural %.3f, regions %v", seed, top, urban, rural, regional)

		// Urban and rural stations vote differently, and rural ones report first, so the
		// early count is biased: the shares of the first fifth reported are off.
		order := make([]int, len(c.Stations))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmpFloat(tr.ReportTime(a), tr.ReportTime(b)) })
		early, final := map[int]int{}, map[int]int{}
		earlyValid, finalValid := 0, 0
		for j, i := range order {
			pl := tr.Tally(i, election.BallotPartyList)
			for no, v := range pl.Votes {
				final[no] += v
				finalValid += v
				if j < len(order)/5 {
					early[no] += v
					earlyValid += v
				}
			}
		}
		worst := 0.0
		for no := range final {
			worst = max(worst, math.Abs(float64(early[no])/float64(earlyValid)-float64(final[no])/float64(finalValid)))
		}
		t.Logf("seed %d: largest share error of the first 20 %% reported: %.2f points", seed, 100*worst)
		if worst < 0.01 {
			t.Errorf("seed %d: the first 20 %% of stations reported are within %.2f points of the final shares: no early-report bias", seed, 100*worst)
		}
	}
}

func TestReportTimes(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		cfg := DefaultConfig()
		cfg.Seed = seed
		cfg.Country.Scale = 0.25
		s, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, tr := s.Country, s.Truth
		var casts, times []float64
		var urban, rural []float64
		for i, st := range c.Stations {
			tl := tr.Timeline(i)
			steps := []float64{0, tl.Start, tl.ConstituencyEnd, tl.PartyListStart, tl.PartyListEnd, tl.PartyListFinal}
			if !slices.IsSorted(steps) || tl.ConstituencyFinal < tl.ConstituencyEnd {
				t.Fatalf("station %s: timeline out of order: %+v", st.ID, tl)
			}
			rt := tr.ReportTime(i)
			casts = append(casts, float64(tr.Tally(i, election.BallotPartyList).BallotsCast))
			times = append(times, rt)
			if st.Urban {
				urban = append(urban, rt)
			} else {
				rural = append(rural, rt)
			}
		}
		if mean(rural) >= mean(urban) {
			t.Errorf("seed %d: rural stations report at %.1f min on average, urban at %.1f: rural should be first", seed, mean(rural), mean(urban))
		}
		mid := median(casts)
		var small, large []float64
		for i, x := range casts {
			if x < mid {
				small = append(small, times[i])
			} else {
				large = append(large, times[i])
			}
		}
		if mean(small) >= mean(large) {
			t.Errorf("seed %d: small stations report at %.1f min on average, large at %.1f: small should be first", seed, mean(small), mean(large))
		}
		sorted := slices.Clone(times)
		slices.Sort(sorted)
		by4h := float64(len(sorted)-len(sorted[sortedIndex(sorted, 240):])) / float64(len(sorted))
		if by4h < 0.85 {
			t.Errorf("seed %d: %.2f of stations done 4 hours after close, want most", seed, by4h)
		}
		if p99 := sorted[len(sorted)*99/100]; p99 < 1.5*median(times) {
			t.Errorf("seed %d: 99th percentile %.0f min against a median of %.0f: no long tail", seed, p99, median(times))
		}
	}
}

// sortedIndex is the first index of sorted at or above x.
func sortedIndex(sorted []float64, x float64) int {
	i, _ := slices.BinarySearch(sorted, x)
	return i
}

func TestTruthFromResultsRoundTrip(t *testing.T) {
	cfg := SmallConfig(5)
	s, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Truth.Results()
	again, err := TruthFromResults(cfg.Seed, s.Country, r, cfg.Vote)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Country.Stations {
		for _, b := range election.Ballots {
			a, g := s.Truth.Tally(i, b), again.Tally(i, b)
			if a.BallotsCast != g.BallotsCast || a.Invalid != g.Invalid || a.NoVote != g.NoVote || !mapsEqual(a.Votes, g.Votes) {
				t.Fatalf("station %d, %s: %+v, want %+v", i, b, g, a)
			}
		}
		if got, want := again.ReportTime(i), s.Truth.ReportTime(i); math.Abs(got-want) > 1e-9 {
			t.Fatalf("station %d: report time %v, want %v", i, got, want)
		}
	}

	delete(r.Tallies, election.StationBallot{StationID: s.Country.Stations[0].ID, Ballot: election.BallotPartyList})
	if _, err := TruthFromResults(cfg.Seed, s.Country, r, cfg.Vote); err == nil {
		t.Error("results missing a tally were accepted")
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func mapsEqual(a, b map[int]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
