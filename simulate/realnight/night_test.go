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
	n, err := New(Config{Seed: seed, Scale: 0.15, Order: order})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The same seed gives the same night; every count adds up; every station has a report time.
func TestNightDeterministicAndConsistent(t *testing.T) {
	for _, order := range Orders() {
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
	n, err := New(Config{Seed: 1, RefDir: refDir, Scale: 0.1, Order: OrderRandom})
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
	if _, err := New(Config{Seed: 1, RefDir: filepath.Join(t.TempDir(), "none"), Scale: 1, Order: OrderRandom}); !errors.Is(err, ErrNoReference) {
		t.Errorf("a missing folder: %v, want ErrNoReference", err)
	}
}
