package realnight

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"votestream/election"
)

// Reporting orders (Config.Order).
const (
	// OrderDistricts: each hidden district's stations arrive together in one dump, the
	// dumps spread over the night at random.
	OrderDistricts = "districts"
	// OrderShare: the second party's share decides the order, with noise: its strongholds
	// come last.
	OrderShare = "share"
	// OrderRuralCity: small rural stations first, then the towns and the cities.
	OrderRuralCity = "rural-city"
	// OrderRandom: every station at a uniformly random time.
	OrderRandom = "random"
	// OrderProvinces: whole provinces count as blocks, the first party's strongest
	// provinces last; inside a province the small stations first. Held out: added after the
	// estimator's settings of 8 Dec were chosen, and not among Orders().
	OrderProvinces = "provinces"
)

var orderDocs = map[string]string{
	OrderDistricts: "realnight: whole hidden districts arrive in dumps at random times",
	OrderShare:     "realnight: the order follows the second party's share (with noise), its strongholds last",
	OrderRuralCity: "realnight: small rural stations first, then towns, then cities",
	OrderRandom:    "realnight: every station at a uniformly random time",
	OrderProvinces: "realnight (held out): provinces in blocks, the first party's strongest last, small stations first inside each",
}

// Orders lists the reporting orders.
func Orders() []string { return []string{OrderDistricts, OrderShare, OrderRuralCity, OrderRandom} }

// HeldOutOrders lists the orders kept out of Orders() (and so out of the tests and of
// `-scenarios all`): nights no setting was chosen on, run by name.
func HeldOutOrders() []string { return []string{OrderProvinces} }

// OrderDoc is a one-line description of the named order, "" for an unknown one.
func OrderDoc(name string) string { return orderDocs[name] }

// ErrNoReference is returned when Config.RefDir names a folder that does not exist.
var ErrNoReference = errors.New("realnight: reference folder not found")

// Config says which night to build.
type Config struct {
	// Seed: the same seed and config give the same night.
	Seed uint64
	// RefDir is a reference folder with provinces.csv, constituencies.csv (eligible voters
	// and station counts) and parties.csv; "" builds a synthetic structure.
	RefDir string
	// Scale is the fraction of provinces kept (drawn per region, so every region stays), or
	// of the synthetic structure's 60 constituencies. Default 1.
	Scale float64
	// Order is the reporting order, one of Orders(). Default OrderDistricts.
	Order string
	// UrbanLabelError is the fraction of stations whose urban column is wrong (an
	// administrative label, not the hidden urbanity the vote follows). Default 0.12.
	UrbanLabelError float64
}

// DefaultConfig is a synthetic night in district dumps.
func DefaultConfig() Config {
	return Config{Seed: 1, Scale: 1, Order: OrderDistricts, UrbanLabelError: 0.12}
}

// Validate checks the config.
func (c Config) Validate() error {
	if !(c.Scale > 0 && c.Scale <= 1) {
		return fmt.Errorf("realnight: scale %v not in (0, 1]", c.Scale)
	}
	if !(c.UrbanLabelError >= 0 && c.UrbanLabelError <= 0.5) {
		return fmt.Errorf("realnight: urban label error %v not in [0, 0.5]", c.UrbanLabelError)
	}
	if orderDocs[c.Order] == "" {
		return fmt.Errorf("realnight: unknown order %q (want %s)", c.Order, strings.Join(Orders(), ", "))
	}
	return nil
}

// Night is a built night: the reference data the estimator sees, the results, and the
// hidden structure the previous election is drawn from.
type Night struct {
	Config  Config
	Country *election.Country // indexed
	Results *election.Results // with ReportTimes

	np        int       // parties
	rank      []int     // party indices, strongest nationally first
	region    []int     // constituency -> region index
	lat       []float64 // hidden log-strength per station*np + party, before station noise
	district  []int     // station -> global district index
	consOf    []int     // station -> constituency index
	urbanity  []float64 // station -> hidden urbanity (0 rural .. 1 city)
	candParty [][]int   // constituency -> candidate (by position in CandidatesIn) -> party index, -1 none
	nRegions  int
}

// New builds the night of cfg.
func New(cfg Config) (*Night, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var c *election.Country
	if cfg.RefDir != "" {
		if _, err := os.Stat(cfg.RefDir); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNoReference, cfg.RefDir)
		}
		var err error
		c, err = election.LoadCountry(os.DirFS(cfg.RefDir))
		if err != nil {
			return nil, fmt.Errorf("realnight: reference folder %s: %w", cfg.RefDir, err)
		}
		c = provincesByRegion(cfg.Seed, c, cfg.Scale)
	} else {
		c = synthetic(cfg.Seed, cfg.Scale)
	}
	n := &Night{Config: cfg, Country: c}
	n.stations()
	n.vote()
	n.candidates()
	c.Files = nil
	if err := c.Index(); err != nil {
		return nil, fmt.Errorf("realnight: built country is invalid: %w", err)
	}
	n.count()
	n.reportTimes()
	return n, nil
}

// Write writes the reference data and the results set (with report_times.csv) into dir.
func (n *Night) Write(dir string) error {
	if err := election.WriteCountry(dir, n.Country); err != nil {
		return err
	}
	return election.WriteResults(dir, n.Results)
}

// rng is a PCG source for one purpose of the night.
func rng(seed uint64, label string, i ...uint64) *rand.Rand {
	h := uint64(14695981039346656037)
	for _, b := range []byte(label) {
		h = (h ^ uint64(b)) * 1099511628211
	}
	for _, x := range i {
		h = (h ^ x) * 1099511628211
		h ^= h >> 29
	}
	return rand.New(rand.NewPCG(seed, h))
}

// studentT draws a Student-t with 3 degrees of freedom (variance 3): the heavy tail.
func studentT(r *rand.Rand) float64 {
	var chi float64
	for range 3 {
		z := r.NormFloat64()
		chi += z * z
	}
	return r.NormFloat64() / math.Sqrt(chi/3)
}

// provincesByRegion keeps about scale of c's provinces, drawn at random within each region
// (at least one per region), and everything in them.
func provincesByRegion(seed uint64, c *election.Country, scale float64) *election.Country {
	if scale >= 1 {
		return c
	}
	byRegion := map[string][]election.Province{}
	var regions []string
	for _, p := range c.Provinces {
		if byRegion[p.Region] == nil {
			regions = append(regions, p.Region)
		}
		byRegion[p.Region] = append(byRegion[p.Region], p)
	}
	slices.Sort(regions)
	keep := map[string]bool{}
	r := rng(seed, "provinces")
	for _, reg := range regions {
		ps := byRegion[reg]
		r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		for _, p := range ps[:max(1, int(math.Round(scale*float64(len(ps)))))] {
			keep[p.ID] = true
		}
	}
	out := &election.Country{Parties: c.Parties}
	for _, p := range c.Provinces {
		if keep[p.ID] {
			out.Provinces = append(out.Provinces, p)
		}
	}
	for _, k := range c.Constituencies {
		if keep[k.ProvinceID] {
			out.Constituencies = append(out.Constituencies, k)
		}
	}
	return out
}

// synthetic is a small country of four regions, 60 constituencies at scale 1, and 20
// parties, about 150 stations a constituency.
func synthetic(seed uint64, scale float64) *election.Country {
	r := rng(seed, "synthetic")
	regions := []string{"central", "north", "northeast", "south"}
	c := &election.Country{}
	nCons := max(8, int(math.Round(60*scale)))
	nProv := max(4, nCons/3)
	for i := range nProv {
		c.Provinces = append(c.Provinces, election.Province{ID: fmt.Sprintf("P%02d", i+1),
			NameTH: fmt.Sprintf("จังหวัด %d", i+1), NameEN: fmt.Sprintf("Province %d", i+1), Region: regions[i%len(regions)]})
	}
	for i := range nCons {
		p := c.Provinces[i%nProv]
		num := i/nProv + 1
		st := 90 + r.IntN(120)
		c.Constituencies = append(c.Constituencies, election.Constituency{ID: fmt.Sprintf("%s_%d", p.ID, num),
			ProvinceID: p.ID, Number: num, EligibleVoters: st * (430 + r.IntN(200)), Stations: st})
	}
	for i := range 20 {
		c.Parties = append(c.Parties, election.Party{No: i + 1, NameTH: fmt.Sprintf("พรรค %d", i+1), NameEN: fmt.Sprintf("Party %d", i+1)})
	}
	return c
}

// stations lays out each constituency: hidden districts of subdistricts of stations, a
// hidden urbanity per subdistrict, station sizes, and the urban label.
func (n *Night) stations() {
	c := n.Country
	seed := n.Config.Seed
	provRegion := map[string]string{}
	var regions []string
	for _, p := range c.Provinces {
		provRegion[p.ID] = p.Region
		if !slices.Contains(regions, p.Region) {
			regions = append(regions, p.Region)
		}
	}
	slices.Sort(regions)
	n.nRegions = len(regions)
	// A province's urbanity: the capital and a few others are cities.
	provUrban := map[string]float64{}
	for i, p := range c.Provinces {
		u := 0.15 + 0.25*rng(seed, "province-urban", uint64(i)).Float64()
		if p.ID == "BKK" {
			u = 0.9
		}
		provUrban[p.ID] = u
	}
	district := 0
	for k, cons := range c.Constituencies {
		n.region = append(n.region, slices.Index(regions, provRegion[cons.ProvinceID]))
		r := rng(seed, "stations", uint64(k))
		ns := max(cons.Stations, 1)
		// District sizes: 2-6 districts, uneven.
		nd := min(ns, 2+r.IntN(5))
		cuts := make([]int, 0, nd)
		for range nd - 1 {
			cuts = append(cuts, 1+r.IntN(max(ns-1, 1)))
		}
		cuts = append(cuts, ns)
		slices.Sort(cuts)
		pu := provUrban[cons.ProvinceID]
		var sizes []float64
		first := len(c.Stations)
		lo := 0
		for d, hi := range cuts {
			if hi <= lo {
				continue
			}
			// A district's urbanity: the first district of a constituency is its town.
			du := pu + 0.35*r.NormFloat64()
			if d == 0 {
				du += 0.3
			}
			sub, left := 0, 0
			var su float64
			for s := lo; s < hi; s++ {
				if left == 0 {
					sub++
					left = 4 + r.IntN(14)
					su = min(1, max(0, du+0.15*r.NormFloat64()))
				}
				left--
				// Bigger stations in town; a heavy spread everywhere.
				sizes = append(sizes, math.Exp(0.45*r.NormFloat64()+0.5*su))
				urban := su > 0.55
				if r.Float64() < n.Config.UrbanLabelError { // the administrative label is wrong here
					urban = !urban
				}
				c.Stations = append(c.Stations, election.Station{
					ID:             fmt.Sprintf("%s-%04d", cons.ID, s+1),
					ConstituencyID: cons.ID,
					Subdistrict:    fmt.Sprintf("ตำบล %s-%d-%d", cons.ID, d+1, sub),
					Number:         s + 1,
					Urban:          urban,
				})
				n.district = append(n.district, district)
				n.consOf = append(n.consOf, k)
				n.urbanity = append(n.urbanity, su)
			}
			district++
			lo = hi
		}
		// Eligible voters: the constituency's roll spread over its stations by size.
		var sum float64
		for _, s := range sizes {
			sum += s
		}
		left := cons.EligibleVoters
		for j, s := range sizes {
			v := int(math.Round(float64(cons.EligibleVoters) * s / sum))
			if j == len(sizes)-1 {
				v = left
			}
			v = max(min(v, left), 0)
			left -= v
			c.Stations[first+j].EligibleVoters = v
		}
	}
}

// vote draws every station's hidden party-list log-strengths (without the station's own
// noise, which count adds).
func (n *Night) vote() {
	c := n.Country
	seed := n.Config.Seed
	np := len(c.Parties)
	n.np = np
	// National strengths: a few big parties, a long tail, in a random order of numbers.
	r := rng(seed, "national")
	n.rank = r.Perm(np)
	base := make([]float64, np)
	for j, p := range n.rank {
		if j < 7 {
			base[p] = math.Log(0.36*math.Exp(-0.5*float64(j))) + 0.15*r.NormFloat64()
		} else {
			base[p] = -4.5 - 0.06*float64(j) + 0.5*r.NormFloat64()
		}
	}
	// How strongly each party's vote follows urbanity: the second party is the cities'.
	slope := make([]float64, np)
	for p := range slope {
		slope[p] = 0.5 * r.NormFloat64()
	}
	slope[n.rank[1]] = 1.6
	slope[n.rank[0]] = -0.6
	big := func(p int) float64 { // effects shrink for the tail
		if slices.Index(n.rank, p) < 7 {
			return 1
		}
		return 0.6
	}
	regionFx := make([]float64, n.nRegions*np)
	for i := range regionFx {
		regionFx[i] = 0.55 * r.NormFloat64() * big(i%np)
	}
	provIdx := map[string]int{}
	for i, p := range c.Provinces {
		provIdx[p.ID] = i
	}
	provFx := make([]float64, len(c.Provinces)*np)
	for i := range provFx {
		provFx[i] = 0.3 * r.NormFloat64() * big(i%np)
	}
	consFx := make([]float64, len(c.Constituencies)*np)
	for i := range consFx {
		consFx[i] = 0.2 * r.NormFloat64() * big(i%np)
	}
	nd := 0
	for _, d := range n.district {
		nd = max(nd, d+1)
	}
	distFx := make([]float64, nd*np)
	for i := range distFx {
		distFx[i] = 0.15 * studentT(r) * big(i%np)
	}
	n.lat = make([]float64, len(c.Stations)*np)
	var subFx []float64
	lastSub := ""
	for i, s := range c.Stations {
		if s.Subdistrict != lastSub {
			lastSub = s.Subdistrict
			sr := rng(seed, "subdistrict", uint64(i))
			subFx = subFx[:0]
			for p := range np {
				subFx = append(subFx, 0.12*studentT(sr)*big(p))
			}
		}
		k := n.consOf[i]
		pr := provIdx[c.Constituencies[k].ProvinceID]
		for p := range np {
			n.lat[i*np+p] = base[p] + regionFx[n.region[k]*np+p] + provFx[pr*np+p] + consFx[k*np+p] +
				distFx[n.district[i]*np+p] + subFx[p] + slope[p]*(n.urbanity[i]-0.4)
		}
	}
}

// candidates fields each party's candidates: the big parties everywhere, the rest here
// and there, and now and then a strong candidate with no party-list number.
func (n *Night) candidates() {
	c := n.Country
	seed := n.Config.Seed
	n.candParty = make([][]int, len(c.Constituencies))
	for k, cons := range c.Constituencies {
		r := rng(seed, "candidates", uint64(k))
		var parties []int
		for j, p := range n.rank {
			if j < 6 || r.Float64() < 0.2 {
				parties = append(parties, p)
			}
		}
		for range r.IntN(3) { // independents, or parties with no party-list number
			parties = append(parties, -1)
		}
		nos := r.Perm(len(parties))
		for j, p := range parties {
			d := election.Candidate{ConstituencyID: cons.ID, No: nos[j] + 1, Name: fmt.Sprintf("ผู้สมัคร %s-%d", cons.ID, nos[j]+1)}
			if p >= 0 {
				d.PartyNo = c.Parties[p].No
			}
			c.Candidates = append(c.Candidates, d)
		}
	}
	// candParty in CandidatesIn order (by number), filled after Index in count.
}

// count draws every station's two ballots.
func (n *Night) count() {
	c := n.Country
	seed := n.Config.Seed
	np := n.np
	pIdx := map[int]int{}
	for i, p := range c.Parties {
		pIdx[p.No] = i
	}
	patron := n.rank[3] // its candidates run far ahead of its list
	// Per race: candidate quality (split tickets).
	quality := make([][]float64, len(c.Constituencies))
	for k, cons := range c.Constituencies {
		r := rng(seed, "quality", uint64(k))
		cands := c.CandidatesIn(cons.ID)
		n.candParty[k] = make([]int, len(cands))
		quality[k] = make([]float64, len(cands))
		for j, d := range cands {
			p, ok := pIdx[d.PartyNo]
			if !ok || d.PartyNo == election.NoParty {
				p = -1
			}
			n.candParty[k][j] = p
			q := 0.5 * r.NormFloat64()
			switch {
			case p < 0:
				q = math.Log(0.08) + 1.2*r.NormFloat64() // mostly weak, sometimes a local strongman
			case p == patron:
				q += 0.9
			}
			quality[k][j] = q
		}
	}
	n.Results = &election.Results{Tallies: map[election.StationBallot]election.Tally{}}
	w := make([]float64, np)
	lw := make([]float64, np)
	for i, s := range c.Stations {
		r := rng(seed, "count", uint64(i))
		k := n.consOf[i]
		var maxL float64 = math.Inf(-1)
		for p := range np {
			lw[p] = n.lat[i*np+p] + 0.1*studentT(r)
			maxL = max(maxL, lw[p])
		}
		var sum float64
		for p := range np {
			w[p] = math.Exp(lw[p] - maxL)
			sum += w[p]
		}
		second := w[n.rank[1]] / sum
		// Turnout: lower in big stations, higher where the second party is strong.
		size := math.Log(float64(max(s.EligibleVoters, 1)) / 500)
		turnout := 1 / (1 + math.Exp(-(1.0 - 0.35*size + 1.5*(second-0.2) + 0.25*studentT(r))))
		cast := binomial(r, s.EligibleVoters, turnout)
		// Party list: invalid ~2 %, no vote ~1.5 %.
		inv := binomial(r, cast, 0.02*math.Exp(0.3*r.NormFloat64()))
		nv := binomial(r, cast-inv, 0.015*math.Exp(0.3*r.NormFloat64()))
		votes := map[int]int{}
		for p, v := range multinomial(r, cast-inv-nv, w) {
			if v > 0 {
				votes[c.Parties[p].No] = v
			}
		}
		n.Results.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}] =
			election.Tally{BallotsCast: cast, Invalid: inv, NoVote: nv, Votes: votes}
		// Constituency: the same voters, split by candidate quality.
		cands := c.CandidatesIn(s.ConstituencyID)
		cw := make([]float64, len(cands))
		for j := range cands {
			l := quality[k][j] + 0.08*studentT(r)
			if p := n.candParty[k][j]; p >= 0 {
				l += lw[p] - maxL
			} else {
				l += math.Log(0.1)
			}
			cw[j] = math.Exp(l)
		}
		inv = binomial(r, cast, 0.035*math.Exp(0.3*r.NormFloat64()))
		nv = binomial(r, cast-inv, 0.025*math.Exp(0.3*r.NormFloat64()))
		cv := map[int]int{}
		for j, v := range multinomial(r, cast-inv-nv, cw) {
			if v > 0 {
				cv[cands[j].No] = v
			}
		}
		n.Results.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotConstituency}] =
			election.Tally{BallotsCast: cast, Invalid: inv, NoVote: nv, Votes: cv}
	}
}

// reportTimes sets when each station's count is known, in minutes after close, by the
// night's order.
func (n *Night) reportTimes() {
	c := n.Country
	seed := n.Config.Seed
	rt := make(map[string]float64, len(c.Stations))
	r := rng(seed, "order", uint64(len(n.Config.Order)))
	switch n.Config.Order {
	case OrderDistricts:
		dump := map[int]float64{}
		for i, s := range c.Stations {
			t, ok := dump[n.district[i]]
			if !ok {
				t = 30 + 360*r.Float64()
				dump[n.district[i]] = t
			}
			rt[s.ID] = t + 3*r.Float64()
		}
	case OrderShare:
		// The second party's share as its strength against the rest, standardised, plus noise.
		np := n.np
		key := make([]float64, len(c.Stations))
		for i := range c.Stations {
			var sum float64
			for p := range np {
				sum += math.Exp(n.lat[i*np+p])
			}
			key[i] = math.Log(math.Exp(n.lat[i*np+n.rank[1]])/sum) + 0.7*r.NormFloat64()
		}
		byRank(c, key, rt, r)
	case OrderRuralCity:
		key := make([]float64, len(c.Stations))
		for i, s := range c.Stations {
			key[i] = 2*n.urbanity[i] + 0.5*math.Log(float64(max(s.EligibleVoters, 1))) + 0.3*r.NormFloat64()
		}
		byRank(c, key, rt, r)
	case OrderRandom:
		for _, s := range c.Stations {
			rt[s.ID] = 20 + 380*r.Float64()
		}
	case OrderProvinces:
		n.provinceTimes(rt, r)
	}
	for id, t := range rt {
		rt[id] = math.Round(t*10) / 10
	}
	n.Results.ReportTimes = rt
}

// provinceTimes: each province's stations count in one block of about an hour, the
// blocks in the order of the first party's mean hidden share in the province (plus noise),
// its strongest provinces last; inside a block the smaller stations first.
func (n *Night) provinceTimes(rt map[string]float64, r *rand.Rand) {
	c, np := n.Country, n.np
	prov := map[string][]int{}
	strength := map[string]float64{}
	for i := range c.Stations {
		p := c.Constituencies[n.consOf[i]].ProvinceID
		prov[p] = append(prov[p], i)
		var sum float64
		for q := range np {
			sum += math.Exp(n.lat[i*np+q])
		}
		strength[p] += math.Exp(n.lat[i*np+n.rank[0]]) / sum
	}
	ids := make([]string, 0, len(prov))
	key := map[string]float64{}
	for p := range prov {
		ids = append(ids, p)
	}
	slices.Sort(ids) // the draws below in a fixed order: the same seed gives the same night
	for _, p := range ids {
		key[p] = strength[p]/float64(len(prov[p])) + 0.03*r.NormFloat64()
	}
	slices.SortStableFunc(ids, func(a, b string) int { return cmpF(key[a], key[b]) })
	for j, p := range ids {
		start := 20 + 300*float64(j)/float64(len(ids)) + 10*r.Float64()
		st := prov[p]
		slices.SortStableFunc(st, func(a, b int) int {
			return cmpF(float64(c.Stations[a].EligibleVoters), float64(c.Stations[b].EligibleVoters))
		})
		for q, i := range st {
			rt[c.Stations[i].ID] = start + 60*float64(q)/float64(len(st)) + 5*r.Float64()
		}
	}
}

// byRank gives the stations times from 20 to 400 minutes in the order of key.
func byRank(c *election.Country, key []float64, rt map[string]float64, r *rand.Rand) {
	idx := make([]int, len(key))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpF(key[a], key[b]) })
	for j, i := range idx {
		rt[c.Stations[i].ID] = 20 + 380*float64(j)/float64(len(idx)) + 0.5*r.Float64()
	}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// binomial draws Binomial(n, p): exactly for small n, by the normal approximation else.
func binomial(r *rand.Rand, n int, p float64) int {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if float64(n)*min(p, 1-p) < 20 {
		k := 0
		for range n {
			if r.Float64() < p {
				k++
			}
		}
		return k
	}
	x := math.Round(float64(n)*p + math.Sqrt(float64(n)*p*(1-p))*r.NormFloat64())
	return int(max(0, min(float64(n), x)))
}

// multinomial splits n over weights w by successive binomials.
func multinomial(r *rand.Rand, n int, w []float64) []int {
	out := make([]int, len(w))
	var rest float64
	for _, x := range w {
		rest += x
	}
	for j, x := range w {
		if n <= 0 || rest <= 0 {
			break
		}
		k := n
		if j < len(w)-1 {
			k = binomial(r, n, x/rest)
		}
		out[j] = k
		n -= k
		rest -= x
	}
	if n > 0 { // rounding left some over: the heaviest takes it, so the count adds up
		out[slices.Index(w, slices.Max(w))] += n
	}
	return out
}
