package simulate

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"votestream/election"
)

// Regions in the order of election.Province.Region values. The real number of provinces
// in each (2023) is 9, 9, 17, 20, 14, 8: syntheticStructure keeps these proportions.
var regions = []string{"central", "east", "north", "northeast", "south", "west"}

// NewCountry builds the country of cfg: synthetic with the real shape, or the structure of
// cfg.RefDir. Stations and candidates are simulated unless the folder already has them
// (so a folder written by this package loads back as it was). The result is indexed.
func NewCountry(seed uint64, cfg CountryConfig) (*election.Country, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var c *election.Country
	if cfg.RefDir != "" {
		var err error
		c, err = election.LoadCountry(os.DirFS(cfg.RefDir))
		if err != nil {
			return nil, fmt.Errorf("simulate: reference folder %s: %w", cfg.RefDir, err)
		}
		c = firstProvinces(c, cfg.Scale)
	} else {
		c = syntheticStructure(seed, cfg)
	}
	urbanity := constituencyUrbanity(seed, c)
	if !c.HasStations() {
		if err := addStations(seed, c, cfg.StationsScale, urbanity); err != nil {
			return nil, err
		}
		drawPriority(seed, c, cfg.PriorityFraction, cfg.PriorityStrata)
	}
	if !c.HasCandidates() {
		addCandidates(seed, c, cfg)
	}
	c.Files = nil
	if err := c.Index(); err != nil {
		return nil, fmt.Errorf("simulate: generated country is invalid: %w", err)
	}
	return c, nil
}

// firstProvinces keeps the first ceil(scale x n) provinces of c and everything in them.
func firstProvinces(c *election.Country, scale float64) *election.Country {
	if scale >= 1 {
		return c
	}
	n := max(1, int(math.Ceil(scale*float64(len(c.Provinces)))))
	out := &election.Country{Provinces: c.Provinces[:n], Parties: c.Parties}
	keepP := map[string]bool{}
	for _, p := range out.Provinces {
		keepP[p.ID] = true
	}
	keepC := map[string]bool{}
	for _, k := range c.Constituencies {
		if keepP[k.ProvinceID] {
			keepC[k.ID] = true
			out.Constituencies = append(out.Constituencies, k)
		}
	}
	for _, s := range c.Stations {
		if keepC[s.ConstituencyID] {
			out.Stations = append(out.Stations, s)
		}
	}
	for _, d := range c.Candidates {
		if keepC[d.ConstituencyID] {
			out.Candidates = append(out.Candidates, d)
		}
	}
	return out
}

// apportion splits total into len(weights) non-negative integers proportional to weights
// by largest remainder, ties to the lower index: the parts always sum to total.
func apportion(total int, weights []float64) []int {
	out := make([]int, len(weights))
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	if sum <= 0 || len(weights) == 0 {
		return out
	}
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(total) * w / sum
		out[i] = int(math.Floor(exact))
		given += out[i]
		rems[i] = rem{i, exact - float64(out[i])}
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for k := 0; given < total; k = (k + 1) % len(rems) {
		out[rems[k].i]++
		given++
	}
	return out
}

// syntheticStructure draws provinces, constituencies and parties of the real shape.
func syntheticStructure(seed uint64, cfg CountryConfig) *election.Country {
	r := newRand(seed, "country")
	nProv := max(1, int(math.Round(float64(cfg.Provinces)*cfg.Scale)))
	nCons := max(nProv, int(math.Round(float64(cfg.Constituencies)*cfg.Scale)))
	c := &election.Country{}

	// The capital is a central province holding about 33 of 400 seats, as Bangkok does.
	perRegion := make([]int, len(regions))
	perRegion[0] = 1
	if nProv > 1 {
		rest := apportion(nProv-1, []float64{8, 9, 17, 20, 14, 8})
		for i := range rest {
			perRegion[i] += rest[i]
		}
	}
	names := uniqueNames(nProv, func() word { return provinceName(r) })
	ids := map[string]bool{}
	k := 0
	for ri, n := range perRegion {
		for j := 0; j < n; j++ {
			w := names[k]
			if k == 0 {
				w = word{"มหานคร", "MAHA NAKHON"}
			}
			id := provinceID(r, w.en, ids)
			c.Provinces = append(c.Provinces, election.Province{ID: id, NameTH: w.th, NameEN: w.en, Region: regions[ri]})
			k++
		}
	}

	seats := make([]int, nProv)
	if nProv == 1 {
		seats[0] = nCons
	} else {
		capital := min(max(1, int(math.Round(0.0825*float64(nCons)))), nCons-(nProv-1))
		weights := make([]float64, nProv-1)
		for i := range weights {
			w := lognormal(r, 0, 0.55)
			if c.Provinces[i+1].Region == "northeast" {
				w *= 1.25
			}
			weights[i] = w
		}
		extra := apportion(nCons-capital-(nProv-1), weights)
		seats[0] = capital
		for i := range extra {
			seats[i+1] = 1 + extra[i]
		}
	}
	for pi, p := range c.Provinces {
		for n := 1; n <= seats[pi]; n++ {
			eligible := int(math.Round(min(max(130000+12000*r.NormFloat64(), 95000), 170000)))
			c.Constituencies = append(c.Constituencies, election.Constituency{
				ID: p.ID + "_" + strconv.Itoa(n), ProvinceID: p.ID, Number: n, EligibleVoters: eligible,
			})
		}
	}

	parties := uniqueNames(cfg.Parties, func() word { return partyName(r) })
	for i, w := range parties {
		c.Parties = append(c.Parties, election.Party{No: i + 1, NameTH: w.th, NameEN: w.en + " Party"})
	}
	return c
}

// provinceID makes a three-letter code from a romanised name, unique among taken.
func provinceID(r *rand.Rand, en string, taken map[string]bool) string {
	letters := []byte(strings.Map(func(c rune) rune {
		if c >= 'A' && c <= 'Z' {
			return c
		}
		return -1
	}, strings.ToUpper(en)))
	try := func(id string) bool {
		if len(id) == 3 && !taken[id] {
			taken[id] = true
			return true
		}
		return false
	}
	if len(letters) >= 3 {
		if id := string([]byte{letters[0], letters[len(letters)/2], letters[len(letters)-1]}); try(id) {
			return id
		}
		for i := 0; i < 30; i++ {
			a, b := 1+r.IntN(len(letters)-1), 1+r.IntN(len(letters)-1)
			if a > b {
				a, b = b, a
			}
			if id := string([]byte{letters[0], letters[a], letters[b]}); a != b && try(id) {
				return id
			}
		}
	}
	for {
		id := string([]byte{byte('A' + r.IntN(26)), byte('A' + r.IntN(26)), byte('A' + r.IntN(26))})
		if try(id) {
			return id
		}
	}
}

// constituencyUrbanity is the share of each constituency's stations that are urban: the
// capital (the province with most seats) is mostly urban, a province's first constituency
// holds its town, the rest is mostly rural, less so in the centre and east.
func constituencyUrbanity(seed uint64, c *election.Country) []float64 {
	capital, most := capitalSeats(c)
	region := map[string]string{}
	for _, p := range c.Provinces {
		region[p.ID] = p.Region
	}
	out := make([]float64, len(c.Constituencies))
	for i, k := range c.Constituencies {
		r := newRand(seed, "urbanity", uint64(i))
		base := 0.12
		switch {
		case k.ProvinceID == capital && most > 2:
			base = 0.9
		case k.Number == 1:
			base = 0.45
		case region[k.ProvinceID] == "central" || region[k.ProvinceID] == "east":
			base = 0.25
		}
		out[i] = min(max(base+0.08*r.NormFloat64(), 0.02), 0.98)
	}
	return out
}

// addStations fills each constituency with stations whose eligible voters sum to the
// constituency's; synthetic constituencies get their station count here.
func addStations(seed uint64, c *election.Country, scale float64, urbanity []float64) error {
	synthetic := true
	for _, k := range c.Constituencies {
		if k.Stations > 0 {
			synthetic = false
			break
		}
	}
	for i := range c.Constituencies {
		k := &c.Constituencies[i]
		r := newRand(seed, "stations", uint64(i))
		u := urbanity[i]
		if synthetic {
			mean := min(max(lognormal(r, math.Log(570)+0.25*(u-0.3), 0.2), 330), 1030)
			k.Stations = min(max(int(math.Round(float64(k.EligibleVoters)/mean)), 115), 420)
			k.EligibleVoters = int(math.Round(float64(k.Stations) * mean))
		}
		if scale < 1 {
			n := max(1, int(math.Round(float64(k.Stations)*scale)))
			k.EligibleVoters = int(math.Round(float64(k.EligibleVoters) * float64(n) / float64(k.Stations)))
			k.Stations = n
		}
		if k.Stations == 0 {
			continue
		}
		if k.EligibleVoters < k.Stations {
			return fmt.Errorf("simulate: constituency %s: %d eligible voters cannot fill %d stations", k.ID, k.EligibleVoters, k.Stations)
		}
		weights := make([]float64, k.Stations)
		urban := make([]bool, k.Stations)
		subdistrict := make([]string, k.Stations)
		number := make([]int, k.Stations)
		var groups []int
		for left := k.Stations; left > 0; {
			g := min(left, 4+r.IntN(16))
			groups = append(groups, g)
			left -= g
		}
		names := uniqueNames(len(groups), func() word { return placeName(r) })
		s := 0
		for gi, g := range groups {
			isUrban := r.Float64() < u
			for j := 0; j < g; j++ {
				w := min(max(lognormal(r, 0, 0.2), 0.55), 1.8)
				if isUrban {
					w *= 1.2
				}
				weights[s], urban[s], subdistrict[s], number[s] = w, isUrban, names[gi].th, j+1
				s++
			}
		}
		sizes := apportion(k.EligibleVoters, weights)
		for j := range sizes {
			c.Stations = append(c.Stations, election.Station{
				ID:             fmt.Sprintf("%s_%04d", k.ID, j+1),
				ConstituencyID: k.ID,
				Subdistrict:    subdistrict[j],
				Number:         number[j],
				EligibleVoters: sizes[j],
				Urban:          urban[j],
			})
		}
	}
	return nil
}

// drawPriority marks a stratified simple random sample of stations as priority.
func drawPriority(seed uint64, c *election.Country, fraction float64, strata string) {
	if fraction <= 0 {
		return
	}
	region := map[string]string{}
	for _, p := range c.Provinces {
		region[p.ID] = p.Region
	}
	provinceOf := map[string]string{}
	for _, k := range c.Constituencies {
		provinceOf[k.ID] = k.ProvinceID
	}
	members := map[string][]int{}
	var keys []string
	for i, s := range c.Stations {
		key := s.ConstituencyID
		if strata == StrataRegionUrban {
			key = region[provinceOf[s.ConstituencyID]] + "/rural"
			if s.Urban {
				key = region[provinceOf[s.ConstituencyID]] + "/urban"
			}
		}
		if _, ok := members[key]; !ok {
			keys = append(keys, key)
		}
		members[key] = append(members[key], i)
	}
	for _, key := range keys {
		idx := members[key]
		r := newRand(seed, "priority", labelHash(key))
		m := min(len(idx), max(1, int(math.Round(fraction*float64(len(idx))))))
		for j := 0; j < m; j++ {
			k := j + r.IntN(len(idx)-j)
			idx[j], idx[k] = idx[k], idx[j]
			c.Stations[idx[j]].Priority = true
		}
	}
}

// addCandidates gives every constituency 5-15 candidates: the big national parties nearly
// everywhere, small parties filling the rest; candidate numbers are drawn per constituency
// and kept different from the candidate's party number wherever possible (the trap of the
// two ballots has to be there to be tested).
func addCandidates(seed uint64, c *election.Country, cfg CountryConfig) {
	r := newRand(seed, "parties")
	nParties := len(c.Parties)
	order := r.Perm(nParties)
	big := append([]int(nil), order[:min(cfg.NationalParties, nParties)]...)
	isBig := make([]bool, nParties)
	for _, i := range big {
		isBig[i] = true
	}
	smallWeight := make([]float64, nParties)
	for i := range smallWeight {
		if !isBig[i] {
			smallWeight[i] = lognormal(r, 0, 1)
		}
	}
	for ci, k := range c.Constituencies {
		r := newRand(seed, "candidates", uint64(ci))
		n := min(cfg.MinCandidates+binomial(r, cfg.MaxCandidates-cfg.MinCandidates, 0.45), nParties)
		var running []int
		for _, p := range r.Perm(len(big)) {
			if len(running) < n && r.Float64() < 0.95 {
				running = append(running, big[p])
			}
		}
		in := make([]bool, nParties)
		for _, p := range running {
			in[p] = true
		}
		for len(running) < n {
			total := 0.0
			for i, w := range smallWeight {
				if !in[i] {
					total += w
				}
			}
			pickAt := r.Float64() * total
			chosen := -1
			for i, w := range smallWeight {
				if in[i] {
					continue
				}
				chosen = i
				if pickAt -= w; pickAt < 0 && w > 0 {
					break
				}
			}
			if total <= 0 { // only big parties left
				for i := range in {
					if !in[i] {
						chosen = i
						break
					}
				}
			}
			in[chosen] = true
			running = append(running, chosen)
		}
		numbers := candidateNumbers(r, running, c.Parties)
		cands := make([]election.Candidate, n, n+1)
		for j, p := range running {
			cands[j] = election.Candidate{ConstituencyID: k.ID, No: numbers[j], Name: personName(r), PartyNo: c.Parties[p].No}
		}
		// A candidate without a party-list number takes the next number (its own stream, so
		// the rest of the country does not move with the rate).
		if ir := newRand(seed, "independent", uint64(ci)); ir.Float64() < cfg.Independents {
			cands = append(cands, election.Candidate{ConstituencyID: k.ID, No: n + 1, Name: personName(ir), PartyNo: election.NoParty})
		}
		slices.SortFunc(cands, func(a, b election.Candidate) int { return cmp.Compare(a.No, b.No) })
		c.Candidates = append(c.Candidates, cands...)
	}
}

// candidateNumbers draws a permutation of 1..n for the parties running, avoiding a
// candidate number equal to the party number when a reshuffle or a swap can.
func candidateNumbers(r *rand.Rand, running []int, parties []election.Party) []int {
	n := len(running)
	nums := make([]int, n)
	clash := func(j int) bool { return nums[j] == parties[running[j]].No }
	for try := 0; try < 20; try++ {
		for j, p := range r.Perm(n) {
			nums[j] = p + 1
		}
		bad := false
		for j := range nums {
			if clash(j) {
				bad = true
				break
			}
		}
		if !bad {
			return nums
		}
	}
	for j := range nums {
		if !clash(j) {
			continue
		}
		for k := range nums {
			nums[j], nums[k] = nums[k], nums[j]
			if k != j && !clash(j) && !clash(k) {
				break
			}
			nums[j], nums[k] = nums[k], nums[j]
		}
	}
	return nums
}
