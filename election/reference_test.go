package election_test

import (
	"os"
	"reflect"
	"testing"

	"votestream/election"
)

// referenceDir is the real 2023 structure, shared material outside the repository
// (DESIGN.md §1): read it in place, never copy it.
const referenceDir = "../../shared/reference/thailand-2023"

func TestLoadReferenceThailand2023(t *testing.T) {
	if _, err := os.Stat(referenceDir); os.IsNotExist(err) {
		t.Skipf("the real 2023 structure is kept outside the repository (expected at %s, next to a clone in the team workspace) and is absent here", referenceDir)
	}
	c, err := election.LoadCountry(os.DirFS(referenceDir))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"provinces.csv", "constituencies.csv", "parties.csv"}; !reflect.DeepEqual(c.Files, want) {
		t.Errorf("Files = %v, want %v", c.Files, want)
	}
	if c.HasStations() || c.HasCandidates() {
		t.Error("the reference has no stations or candidates")
	}
	// Figures from the folder's README and DESIGN.md §1.
	if len(c.Provinces) != 77 || len(c.Constituencies) != 400 || len(c.Parties) != 67 {
		t.Errorf("%d provinces, %d constituencies, %d parties; want 77, 400, 67",
			len(c.Provinces), len(c.Constituencies), len(c.Parties))
	}
	stations, eligible, minStations, maxStations := 0, 0, 1<<31, 0
	for _, k := range c.Constituencies {
		stations += k.Stations
		eligible += k.EligibleVoters
		minStations, maxStations = min(minStations, k.Stations), max(maxStations, k.Stations)
	}
	if stations != 95137 {
		t.Errorf("%d polling stations, want 95,137", stations)
	}
	if minStations != 115 || maxStations != 420 {
		t.Errorf("stations per constituency %d to %d, want 115 to 420", minStations, maxStations)
	}
	if eligible < 51_000_000 || eligible > 53_000_000 {
		t.Errorf("%d eligible voters, want about 52 million", eligible)
	}
	regions := map[string]int{}
	seats := 0
	for _, p := range c.Provinces {
		regions[p.Region]++
		seats += len(c.ConstituenciesIn(p.ID))
	}
	if len(regions) != 6 || seats != 400 {
		t.Errorf("regions %v, %d seats through ConstituenciesIn; want 6 regions and 400", regions, seats)
	}
	if k, ok := c.Constituency("BKK_1"); !ok || k.ProvinceID != "BKK" || k.Number != 1 {
		t.Errorf("Constituency(BKK_1) = %+v, %v", k, ok)
	}
	if n := len(c.ConstituenciesIn("BKK")); n != 33 {
		t.Errorf("Bangkok has %d constituencies, want 33", n)
	}
	if p, ok := c.Party(31); !ok || p.NameTH != "ก้าวไกล" || p.NameEN != "" {
		t.Errorf("Party(31) = %+v, %v; want ก้าวไกล with a blank English name", p, ok)
	}
}
