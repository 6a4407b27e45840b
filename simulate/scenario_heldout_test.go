package simulate

import (
	"slices"
	"testing"

	"votestream/election"
)

// The held-out scenarios do what they say.
func TestHeldOutScenarios(t *testing.T) {
	gen := func(name string) *Simulation {
		cfg := SmallConfig(5)
		cfg.Scenario = name
		cfg.Country.StationsScale = 0.3
		s, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, name := range []string{ScenarioRegionSurge, ScenarioRuralFirst, ScenarioRegionDrift, ScenarioBigFirst} {
		if !HeldOut(name) {
			t.Errorf("%s is not marked held out", name)
		}
	}
	if HeldOut(ScenarioDefault) {
		t.Errorf("default is marked held out")
	}

	// rural-first: the first urban report comes after 95 % of the rural ones.
	rf := gen(ScenarioRuralFirst)
	var rural []float64
	firstUrban := 1e18
	for i, st := range rf.Country.Stations {
		if st.Urban {
			firstUrban = min(firstUrban, rf.Truth.ReportTime(i))
		} else {
			rural = append(rural, rf.Truth.ReportTime(i))
		}
	}
	slices.Sort(rural)
	if p95 := rural[len(rural)*95/100]; firstUrban < p95 {
		t.Errorf("rural-first: first urban report at %.0f min, before the rural 95th percentile %.0f", firstUrban, p95)
	}

	// big-first: the largest quarter of the stations report before the smallest quarter.
	bf := gen(ScenarioBigFirst)
	idx := make([]int, len(bf.Country.Stations))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return bf.Country.Stations[a].EligibleVoters - bf.Country.Stations[b].EligibleVoters
	})
	mean := func(ii []int) float64 {
		var s float64
		for _, i := range ii {
			s += bf.Truth.ReportTime(i)
		}
		return s / float64(len(ii))
	}
	q := len(idx) / 4
	if small, big := mean(idx[:q]), mean(idx[len(idx)-q:]); big >= small {
		t.Errorf("big-first: the largest stations report at %.0f min on average, the smallest at %.0f", big, small)
	}

	// region-surge: the fourth party does better in the surge region than on the default
	// night, and that region reports later.
	def, rs := gen(ScenarioDefault), gen(ScenarioRegionSurge)
	of, nr := stationRegions(rs.Truth)
	surge := surgeRegionOf(5, nr)
	share := func(s *Simulation, no int) float64 {
		var v, all float64
		for i := range s.Country.Stations {
			if of[i] != surge {
				continue
			}
			tl := s.Truth.Tally(i, election.BallotPartyList)
			for p, x := range tl.Votes {
				all += float64(x)
				if p == no {
					v += float64(x)
				}
			}
		}
		return v / all
	}
	fourth := rs.Country.Parties[rankOf(t, rs)[3]].No
	if d, r := share(def, fourth), share(rs, fourth); r < d+0.01 {
		t.Errorf("region-surge: party %d has %.3f of the surge region's votes, %.3f on the default night", fourth, r, d)
	}
	meanIn := func(s *Simulation) float64 {
		var sum, n float64
		for i := range s.Country.Stations {
			if of[i] == surge {
				sum += s.Truth.ReportTime(i)
				n++
			}
		}
		return sum / n
	}
	if d := meanIn(rs) - meanIn(def); d < 30 {
		t.Errorf("region-surge: the surge region reports %.0f minutes later on average, want 30 at least", d)
	}
}

// rankOf is the vote model's ranking of the parties (strongest first) for s's seed.
func rankOf(t *testing.T, s *Simulation) []int {
	t.Helper()
	cfg := SmallConfig(5)
	tr, err := newTruthFrame(s.Country)
	if err != nil {
		t.Fatal(err)
	}
	return newVoteModel(5, tr, cfg.Vote).rank
}
