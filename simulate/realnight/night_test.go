package realnight

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"votestream/election"
)

const refDir = "../../../shared/reference/thailand-2023"

func small(t *testing.T, seed uint64, order string) *Night {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Seed, cfg.Scale, cfg.Order = seed, 0.15, order
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The same seed gives the same night; every count adds up; every station has a report time.
func TestNightDeterministicAndConsistent(t *testing.T) {
	for _, order := range append(Orders(), HeldOutOrders()...) {
		a, b := small(t, 3, order), small(t, 3, order)
		if !reflect.DeepEqual(a.Results, b.Results) || !reflect.DeepEqual(a.Country.Stations, b.Country.Stations) {
			t.Fatalf("%s: two nights of seed 3 differ", order)
		}
		if err := a.Results.Check(a.Country); err != nil {
			t.Fatalf("%s: %v", order, err)
		}
		if len(a.Results.ReportTimes) != len(a.Country.Stations) {
			t.Fatalf("%s: %d report times for %d stations", order, len(a.Results.ReportTimes), len(a.Country.Stations))
		}
	}
	if reflect.DeepEqual(small(t, 3, OrderRandom).Results.Tallies, small(t, 4, OrderRandom).Results.Tallies) {
		t.Fatal("seeds 3 and 4 gave the same counts")
	}
}

// What the generator promises differs from simulate's night shows in the counts: split
// tickets (the patronage party's candidates win more of the constituency vote than its
// list gets), candidates with no party-list number, and district dumps sharing a time.
func TestNightShape(t *testing.T) {
	n := small(t, 1, OrderDistricts)
	c := n.Country
	patron := c.Parties[n.rank[3]].No
	var list, listAll, cand, candAll int
	for k, tl := range n.Results.Tallies {
		for no, v := range tl.Votes {
			if k.Ballot == election.BallotPartyList {
				listAll += v
				if no == patron {
					list += v
				}
				continue
			}
			candAll += v
			s, _ := c.StationByID(k.StationID)
			if d, _ := c.Candidate(s.ConstituencyID, no); d.PartyNo == patron {
				cand += v
			}
		}
	}
	if ls, cs := float64(list)/float64(listAll), float64(cand)/float64(candAll); cs < 1.5*ls {
		t.Errorf("patronage party: list %.3f, constituency %.3f: want the constituency share well above the list's", ls, cs)
	}
	independents := 0
	for _, d := range c.Candidates {
		if d.PartyNo == election.NoParty {
			independents++
		}
	}
	if independents == 0 {
		t.Error("no candidate without a party-list number")
	}
	times := map[float64]bool{}
	for _, m := range n.Results.ReportTimes {
		times[float64(int(m/5))] = true
	}
	if len(times) > len(c.Stations)/4 {
		t.Errorf("district dumps: %d five-minute slots for %d stations", len(times), len(c.Stations))
	}
}

// The night writes in the CSV contract and loads back; the previous election has the
// results-set files, a new party, changed ids and another numbering of the parties.
func TestWriteAndPrevious(t *testing.T) {
	n := small(t, 2, OrderShare)
	dir := t.TempDir()
	if err := n.Write(dir); err != nil {
		t.Fatal(err)
	}
	c, err := election.LoadCountry(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	r, err := election.LoadResults(os.DirFS(dir), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Tallies) != len(n.Results.Tallies) || len(r.ReportTimes) != len(n.Results.ReportTimes) {
		t.Fatalf("loaded %d tallies and %d times, wrote %d and %d", len(r.Tallies), len(r.ReportTimes), len(n.Results.Tallies), len(n.Results.ReportTimes))
	}
	p := n.Previous()
	pdir := filepath.Join(dir, "previous")
	if err := p.Write(pdir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{election.FileStationVotes, election.FileStationTotals, election.FileParties, election.FileCandidates} {
		if _, err := fs.Stat(p.FS(), f); err != nil {
			t.Fatalf("previous election: %v", err)
		}
	}
	votes, err := os.ReadFile(filepath.Join(pdir, election.FileStationVotes))
	if err != nil {
		t.Fatal(err)
	}
	parties, _ := os.ReadFile(filepath.Join(pdir, election.FileParties))
	newName, _ := c.Party(p.NewParty)
	if strings.Contains(string(parties), newName.NameTH) {
		t.Errorf("the new party %q is in the previous election's parties.csv", newName.NameTH)
	}
	if !strings.Contains(string(votes), "\nold-") || !strings.Contains(string(votes), "\nclosed-") {
		t.Error("previous election: no renumbered or closed station ids")
	}
}

// The real 2023 structure: every region kept at a tenth of the provinces.
func TestReferenceStructure(t *testing.T) {
	if _, err := os.Stat(refDir); err != nil {
		t.Skipf("the 2023 reference structure is not at %s (it is kept outside the repository): %v", refDir, err)
	}
	cfg := DefaultConfig()
	cfg.Seed, cfg.RefDir, cfg.Scale, cfg.Order = 1, refDir, 0.1, OrderRandom
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string]bool{}
	for _, p := range n.Country.Provinces {
		regions[p.Region] = true
	}
	if len(regions) != 6 {
		t.Errorf("%d regions kept at scale 0.1, want all 6", len(regions))
	}
	cfg.RefDir = filepath.Join(t.TempDir(), "none")
	if _, err := New(cfg); !errors.Is(err, ErrNoReference) {
		t.Errorf("a missing folder: %v, want ErrNoReference", err)
	}
}

// The urban column is wrong for about the configured fraction of stations; an exact label
// follows the hidden urbanity; a bad setting is refused.
func TestUrbanLabelError(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Scale = 0.2
	wrong := func(e float64) float64 {
		cfg.UrbanLabelError = e
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i, s := range n.Country.Stations {
			if s.Urban != (n.urbanity[i] > 0.55) {
				bad++
			}
		}
		return float64(bad) / float64(len(n.Country.Stations))
	}
	if f := wrong(0); f != 0 {
		t.Errorf("exact label: %.3f wrong", f)
	}
	if f := wrong(0.12); f < 0.09 || f > 0.15 {
		t.Errorf("label error 0.12: %.3f wrong", f)
	}
	cfg.UrbanLabelError = 0.7
	if _, err := New(cfg); err == nil {
		t.Error("label error 0.7 accepted")
	}
}
