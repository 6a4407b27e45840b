package main

import (
	"testing"

	"votestream/processors/estimate"
	"votestream/simulate/realnight"
)

// The second generator's previous election loads as a baseline and matches as it was
// drawn: about 93 % of tonight's stations by id (4 % renumbered, 3 % new), the renumbered
// and closed ids left out, every party but the new one matched by name across the
// renumbering, candidates mapped to parties.
func TestRealnightPreviousMatches(t *testing.T) {
	cfg := realnight.DefaultConfig()
	cfg.Seed, cfg.Scale, cfg.Order = 5, 0.2, realnight.OrderRandom
	n, err := realnight.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	prev := n.Previous()
	b, err := estimate.LoadBaseline(prev.FS())
	if err != nil {
		t.Fatal(err)
	}
	est, err := estimate.NewEstimator(n.Country, estimate.DefaultMethod())
	if err != nil {
		t.Fatal(err)
	}
	m, err := est.SetBaseline(n.Country, b)
	if err != nil {
		t.Fatal(err)
	}
	if f := float64(m.Stations) / float64(m.StationsTotal); f < 0.9 || f > 0.96 {
		t.Errorf("%d of %d stations matched by id (%.3f), want about 0.93", m.Stations, m.StationsTotal, f)
	}
	if m.IDsUnmatched == 0 {
		t.Error("no baseline id left unmatched, want the renumbered and closed ones")
	}
	if m.PartiesLeft != 1 || m.Parties != len(n.Country.Parties)-1 {
		t.Errorf("parties matched %d, left %d; want all but the new one (%d)", m.Parties, m.PartiesLeft, prev.NewParty)
	}
	if !m.CandidatesMapped {
		t.Error("candidates not mapped to parties")
	}
}
