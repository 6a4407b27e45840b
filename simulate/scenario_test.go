package simulate

import (
	"slices"
	"strings"
	"testing"

	"votestream/election"
)

// Every scenario makes a valid night on a small country, and each does what it says.
func TestScenarios(t *testing.T) {
	for _, name := range Scenarios() {
		t.Run(name, func(t *testing.T) {
			cfg := SmallConfig(3)
			cfg.Scenario = name
			cfg.Country.StationsScale = 0.3
			s, err := Generate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c, tr := s.Country, s.Truth
			if err := tr.Results().Check(c); err != nil {
				t.Fatalf("a true tally breaks the consistency rule: %v", err)
			}
			urban, priority := 0, 0
			for _, st := range c.Stations {
				if st.Urban {
					urban++
				}
				if st.Priority {
					priority++
				}
			}
			sc := scenarios[name]
			if sc.noUrban != (urban == 0) {
				t.Errorf("%d urban stations; the scenario blanks the column: %v", urban, sc.noUrban)
			}
			if sc.noPriority != (priority == 0) {
				t.Errorf("%d priority stations; the scenario blanks the column: %v", priority, sc.noPriority)
			}
			// The index follows the rewritten stations.
			if st, ok := c.StationByID(c.Stations[0].ID); !ok || st != c.Stations[0] {
				t.Errorf("index out of date: %+v against %+v", st, c.Stations[0])
			}
			for i := range c.Stations {
				tl := tr.Timeline(i)
				steps := []float64{0, tl.Start, tl.ConstituencyEnd, tl.PartyListStart, tl.PartyListEnd, tl.PartyListFinal}
				if !slices.IsSorted(steps) || tl.ConstituencyFinal < tl.ConstituencyEnd {
					t.Fatalf("station %s: timeline out of order: %+v", c.Stations[i].ID, tl)
				}
			}
		})
	}
}

func TestScenarioTimes(t *testing.T) {
	gen := func(name string) *Simulation {
		cfg := SmallConfig(4)
		cfg.Scenario = name
		cfg.Country.StationsScale = 0.3
		s, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	meanTime := func(s *Simulation, in func(st election.Station) bool) float64 {
		var sum, n float64
		for i, st := range s.Country.Stations {
			if in(st) {
				sum += s.Truth.ReportTime(i)
				n++
			}
		}
		return sum / n
	}
	def, late := gen(ScenarioDefault), gen(ScenarioCapitalLast)
	capital := capitalProvince(def.Country)
	inCapital := func(st election.Station) bool { return strings.HasPrefix(st.ConstituencyID, capital+"_") }
	if d := meanTime(late, inCapital) - meanTime(def, inCapital); d < 60 {
		t.Errorf("capital-last moves the capital's reports by %.0f minutes on average, want at least an hour", d)
	}
	cl := gen(ScenarioClusters)
	_, members := subdistrictClusters(cl.Country)
	for _, ss := range members {
		first, last := cl.Truth.ReportTime(ss[0]), cl.Truth.ReportTime(ss[0])
		for _, i := range ss {
			first, last = min(first, cl.Truth.ReportTime(i)), max(last, cl.Truth.ReportTime(i))
		}
		if last-first > 0.1 {
			t.Fatalf("a subdistrict's stations report %.1f minutes apart; the scenario reports them together", last-first)
		}
	}
}

func TestUnknownScenario(t *testing.T) {
	cfg := SmallConfig(1)
	cfg.Scenario = "tuesday"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "size-drift") {
		t.Errorf("unknown scenario: %v, want an error listing the scenarios", err)
	}
}

// Some candidates have no party-list number; they get votes like anyone else.
func TestIndependentCandidates(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Country.Scale = 0.25
	cfg.Country.Independents = 0.5
	s, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var n, votes int
	for _, d := range s.Country.Candidates {
		if d.PartyNo != election.NoParty {
			continue
		}
		n++
		for i, st := range s.Country.Stations {
			if st.ConstituencyID == d.ConstituencyID {
				votes += s.Truth.Tally(i, election.BallotConstituency).Votes[d.No]
			}
		}
	}
	if n < len(s.Country.Constituencies)/4 || votes == 0 {
		t.Errorf("%d independents with %d votes in %d constituencies", n, votes, len(s.Country.Constituencies))
	}
}
