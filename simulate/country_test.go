package simulate

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"votestream/election"
)

// refDir is the real 2023 structure, shared with the project (not part of it).
const refDir = "../../shared/reference/thailand-2023"

func hasThai(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Thai, r) })
}

// checkStructure asserts what must hold for any country the simulator builds.
func checkStructure(t *testing.T, c *election.Country, cfg CountryConfig) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("country does not validate: %v", err)
	}
	for _, p := range c.Provinces {
		if !slices.Contains(regions, p.Region) {
			t.Errorf("province %s: region %q", p.ID, p.Region)
		}
	}
	for _, k := range c.Constituencies {
		stations := c.StationsIn(k.ID)
		sum := 0
		for _, s := range stations {
			sum += s.EligibleVoters
			if !utf8.ValidString(s.Subdistrict) || !hasThai(s.Subdistrict) {
				t.Errorf("station %s: subdistrict %q is not Thai", s.ID, s.Subdistrict)
			}
		}
		if len(stations) != k.Stations || sum != k.EligibleVoters {
			t.Errorf("constituency %s: %d stations with %d voters, want %d stations with %d", k.ID, len(stations), sum, k.Stations, k.EligibleVoters)
		}
		cands := c.CandidatesIn(k.ID)
		if len(cands) < cfg.MinCandidates || len(cands) > cfg.MaxCandidates {
			t.Errorf("constituency %s: %d candidates, want %d-%d", k.ID, len(cands), cfg.MinCandidates, cfg.MaxCandidates)
		}
		for i, d := range cands {
			if d.No != i+1 {
				t.Errorf("constituency %s: candidate numbers %v, want 1..%d", k.ID, cands, len(cands))
				break
			}
			if d.No == d.PartyNo {
				t.Errorf("constituency %s: candidate %d has party number %d: the two ballots' numbers must differ", k.ID, d.No, d.PartyNo)
			}
			if !hasThai(d.Name) {
				t.Errorf("candidate %q is not a Thai name", d.Name)
			}
		}
	}
	for _, p := range c.Parties {
		if !hasThai(p.NameTH) {
			t.Errorf("party %d: name %q is not Thai", p.No, p.NameTH)
		}
	}
}

func TestSyntheticCountryShape(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		cfg := SmallConfig(seed)
		c, err := NewCountry(seed, cfg.Country)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Provinces) != 6 || len(c.Constituencies) != 12 || len(c.Parties) != 70 {
			t.Errorf("seed %d: %d provinces, %d constituencies, %d parties; want 6, 12, 70", seed, len(c.Provinces), len(c.Constituencies), len(c.Parties))
		}
		checkStructure(t, c, cfg.Country)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func TestNationalCountryShape(t *testing.T) {
	if testing.Short() {
		t.Skip("national country in -short mode")
	}
	cfg := DefaultConfig()
	c, err := NewCountry(cfg.Seed, cfg.Country)
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, c, cfg.Country)
	perRegion := map[string]int{}
	for _, p := range c.Provinces {
		perRegion[p.Region]++
	}
	// The real 2023 split of the 77 provinces (DESIGN.md §1, the reference folder).
	want := map[string]int{"central": 9, "east": 9, "north": 17, "northeast": 20, "south": 14, "west": 8}
	for r, n := range want {
		if perRegion[r] != n {
			t.Errorf("region %s: %d provinces, want %d", r, perRegion[r], n)
		}
	}
	if len(c.Constituencies) != 400 || len(c.Parties) != 70 {
		t.Errorf("%d constituencies, %d parties; want 400, 70", len(c.Constituencies), len(c.Parties))
	}
	if n := len(c.Stations); n < 90000 || n > 100000 {
		t.Errorf("%d stations, want about 95,000", n)
	}
	var perCons, consMean, sizes []float64
	eligible := 0
	for _, k := range c.Constituencies {
		perCons = append(perCons, float64(k.Stations))
		consMean = append(consMean, float64(k.EligibleVoters)/float64(k.Stations))
		eligible += k.EligibleVoters
		if k.Stations < 115 || k.Stations > 420 {
			t.Errorf("constituency %s: %d stations, want 115-420", k.ID, k.Stations)
		}
	}
	priority := 0
	for _, s := range c.Stations {
		sizes = append(sizes, float64(s.EligibleVoters))
		if s.Priority {
			priority++
		}
	}
	if m := median(perCons); m < 220 || m > 260 {
		t.Errorf("median stations per constituency %v, want about 238", m)
	}
	if m := median(sizes); m < 510 || m > 575 {
		t.Errorf("median station size %v, want about 542", m)
	}
	if lo, hi := slices.Min(consMean), slices.Max(consMean); lo < 330 || hi > 1030 {
		t.Errorf("constituency mean station size %v-%v, want within 330-1,030", lo, hi)
	}
	if eligible < 48e6 || eligible > 56e6 {
		t.Errorf("%d eligible voters, want about 52 million", eligible)
	}
	if f := float64(priority) / float64(len(c.Stations)); math.Abs(f-0.05) > 0.003 {
		t.Errorf("priority share %v, want 0.05", f)
	}
}

func TestPrioritySample(t *testing.T) {
	for _, strata := range []string{StrataConstituency, StrataRegionUrban} {
		cfg := SmallConfig(4)
		cfg.Country.PriorityFraction = 0.1
		cfg.Country.PriorityStrata = strata
		c, err := NewCountry(cfg.Seed, cfg.Country)
		if err != nil {
			t.Fatal(err)
		}
		region := map[string]string{}
		for _, k := range c.Constituencies {
			p, _ := c.Province(k.ProvinceID)
			region[k.ID] = p.Region
		}
		type cell struct{ all, priority int }
		cells := map[string]*cell{}
		for _, s := range c.Stations {
			key := s.ConstituencyID
			if strata == StrataRegionUrban {
				key = region[s.ConstituencyID] + "/" + map[bool]string{true: "urban", false: "rural"}[s.Urban]
			}
			if cells[key] == nil {
				cells[key] = &cell{}
			}
			cells[key].all++
			if s.Priority {
				cells[key].priority++
			}
		}
		for key, x := range cells {
			// round(0.1 x n), at least one per stratum.
			want := max(1, int(math.Round(0.1*float64(x.all))))
			if x.priority != want {
				t.Errorf("%s stratum %s: %d of %d stations in the sample, want %d", strata, key, x.priority, x.all, want)
			}
		}
	}
}

func TestNoPrioritySample(t *testing.T) {
	cfg := SmallConfig(4)
	cfg.Country.PriorityFraction = 0
	c, err := NewCountry(cfg.Seed, cfg.Country)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Stations {
		if s.Priority {
			t.Fatalf("station %s in a priority sample of fraction 0", s.ID)
		}
	}
}

func referenceOrSkip(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(refDir, election.FileConstituencies)); err != nil {
		t.Skipf("the real 2023 structure is kept outside the repository (expected at %s, next to a clone in the team workspace) and is absent here: %v", refDir, err)
	}
}

func TestReferenceCountry(t *testing.T) {
	referenceOrSkip(t)
	ref, err := election.LoadCountry(os.DirFS(refDir))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig().Country
	cfg.RefDir = refDir
	c, err := NewCountry(1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, c, cfg) // stations sum to each constituency's published voters and count
	if len(c.Provinces) != 77 || len(c.Constituencies) != 400 || len(c.Parties) != 67 || len(c.Stations) != 95137 {
		t.Errorf("%d provinces, %d constituencies, %d parties, %d stations; want 77, 400, 67, 95137",
			len(c.Provinces), len(c.Constituencies), len(c.Parties), len(c.Stations))
	}
	for i, k := range ref.Constituencies {
		if c.Constituencies[i] != k {
			t.Fatalf("constituency %d: %+v, want the reference %+v", i, c.Constituencies[i], k)
		}
	}

	cfg.Scale = 0.1
	cfg.StationsScale = 0.1
	small, err := NewCountry(1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// ceil(0.1 x 77) = 8 provinces, the first of the file, with all their constituencies.
	if len(small.Provinces) != 8 || small.Provinces[0] != ref.Provinces[0] {
		t.Errorf("scale 0.1: provinces %v, want the first 8 of the reference", small.Provinces)
	}
	want := 0
	for _, k := range ref.Constituencies {
		if slices.ContainsFunc(small.Provinces, func(p election.Province) bool { return p.ID == k.ProvinceID }) {
			want++
		}
	}
	if len(small.Constituencies) != want {
		t.Errorf("scale 0.1: %d constituencies, want %d", len(small.Constituencies), want)
	}
	checkStructure(t, small, cfg)
}
