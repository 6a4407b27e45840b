package estimate

// Seats with their uncertainty (issue 10, item 9). The estimator gives, per race, the
// projected votes of every candidate and the probability that each trails the leader, and
// nationally each party's projected party-list share and its standard error. Those are
// marginal: they say nothing about whether the races move together. On a real night they do
// (a party under-projected in one constituency is likely under-projected in the next one of
// the same region, and the stations still out in the cities share their politics), so the
// number of seats a party wins is far less certain than 400 independent races would suggest.
//
// The seats are simulated jointly. Each draw moves every candidate's projected votes by
//
//	σ_cj · ( √ω_n·N_{k,kind(c)} + √ω_r·R_{region(c),k} + √(1-ω_n-ω_r)·ε_cj )
//
// with k the candidate's party: N a national error per party, split between the urban and
// rural stations still out (a constituency loads on the two in proportion to its outstanding
// eligible voters of each kind), R an error per region and party, ε the race's own. Each part
// is a standard normal, so a race's marginal variance stays the estimator's σ_cj², which is
// read back from the estimator's own win probabilities: a rival j trailing the leader by d
// votes with probability 1-p_j of staying behind has Var(lead) = (d/Φ⁻¹(1-p_j))², split
// between the leader (half of the smallest such variance) and the rival (the rest). Races
// with nothing reported take the spread of the least-reported races, scaled to their size.
// The party-list shares move by their standard error times the same national errors (the
// party-list error is national by construction), are allocated 100 seats by largest
// remainder, and the party's seats are its constituency wins plus its list seats. A called
// race is certain; a rival the estimator gives less than 1e-5 (seatNegligible) is left out
// of the draws: at 2,000 draws it would win none.

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"votestream/election"
	"votestream/schemas"
)

// ErrBadSeatMethod: a SeatMethod setting is out of range.
var ErrBadSeatMethod = errors.New("estimate: bad seat simulation setting")

// SeatMethod holds the settings of the seat simulation.
type SeatMethod struct {
	// Draws is the number of simulated nights. Default 2000: the largest-party probability
	// then has a standard error of at most 1.1 points.
	Draws int
	// Seed makes the draws reproducible: the same state gives the same seats. Default 20230514.
	Seed uint64
	// NationalShare and RegionShare are the fractions of a race's variance shared with every
	// race (per party and kind of station) and with the races of its region (per party).
	// Defaults 0.6 and 0.25 (chosen on the backtest: 0.3 and 0.3 left the seat ranges too
	// narrow on hostile and size-drift); the rest is the race's own.
	NationalShare float64
	RegionShare   float64
	// UnreportedSpread is the standard deviation of a candidate's votes, relative to the
	// race's projected valid votes, assumed for a race with nothing reported when no race
	// with reports gives one. Default 0.1.
	UnreportedSpread float64
}

// DefaultSeatMethod returns the documented settings.
func DefaultSeatMethod() SeatMethod {
	return SeatMethod{Draws: 2000, Seed: 20230514, NationalShare: 0.6, RegionShare: 0.25, UnreportedSpread: 0.1}
}

// Validate rejects settings the simulation cannot work with.
func (m SeatMethod) Validate() error {
	switch {
	case m.Draws < 1 || m.Draws > 1_000_000:
		return fmt.Errorf("%w: Draws %d not in 1..1000000", ErrBadSeatMethod, m.Draws)
	case !(m.NationalShare >= 0 && m.RegionShare >= 0 && m.NationalShare+m.RegionShare <= 1):
		return fmt.Errorf("%w: NationalShare %v and RegionShare %v must be >= 0 and add up to at most 1", ErrBadSeatMethod, m.NationalShare, m.RegionShare)
	case !(m.UnreportedSpread > 0 && m.UnreportedSpread < 10):
		return fmt.Errorf("%w: UnreportedSpread %v not in (0, 10)", ErrBadSeatMethod, m.UnreportedSpread)
	}
	return nil
}

// SwingBaseline gives a previous election's constituency-ballot shares (fractions of the
// valid votes) per party number for a constituency, false when it has none. The
// previous-election input (--baseline) provides it; without one there is no swing.
type SwingBaseline func(constituencyID string) (map[int]float64, bool)

// seatHooks is what an Estimator keeps for the seat simulation.
type seatHooks struct {
	method   SeatMethod
	set      bool // method was set; otherwise DefaultSeatMethod
	baseline SwingBaseline
}

// SetSeatMethod replaces the seat simulation's settings.
func (e *Estimator) SetSeatMethod(m SeatMethod) error {
	if err := m.Validate(); err != nil {
		return err
	}
	e.seats.method, e.seats.set = m, true
	return nil
}

// SetSwingBaseline makes every estimate carry, per candidate with a party, the swing: its
// projected share of the constituency's valid votes less its party's baseline share.
func (e *Estimator) SetSwingBaseline(b SwingBaseline) { e.seats.baseline = b }

// SeatResult is the 500-seat picture of one estimate.
type SeatResult struct {
	// State mirrors the shares: too_early withholds every seat figure and probability.
	State   schemas.EstimateState
	Draws   int
	Parties []PartySeats // in Result.Parties' order
	// WinProbability is per constituency (Result.Constituencies' order) and candidate (its
	// Candidates' order) the share of draws the candidate won.
	WinProbability [][]float64
	// Swing is per constituency and candidate the projected share less the baseline share
	// of the candidate's party, NaN where unknown; nil without a baseline.
	Swing [][]float64
}

// PartySeats is one party's seats over the draws: medians, the 90 % and 95 % ranges of its
// total (central intervals of the draws) and the share of draws in which it had the most
// seats (a tie for most counts as 1/n to each of the n tied).
type PartySeats struct {
	PartyNo                int
	Constituency, List     int // medians
	Total                  int // median
	TotalLo90, TotalHi90   int
	TotalLo95, TotalHi95   int
	ListLo95, ListHi95     int
	ConstituencyMean       float64
	LargestProbability     float64
	constituencyHist, hist []int32
}

// seatInput is what the simulation needs, independent of the Estimator so hand-worked
// cases can be tested.
type seatInput struct {
	parties  int // party keys 0..parties-1; key parties is "no party"
	regions  int
	share    []float64 // party-list, per party key
	shareSE  []float64
	listLoad [2]float64 // loadings of the party-list error on the urban and rural national errors
	races    []seatRace
}

type seatRace struct {
	region   int
	load     [2]float64 // urban, rural; l0² + l1² = 1
	fixed    int        // index of the certain winner, -1 when the race is uncertain
	fixedKey int        // the certain winner's party key
	cands    []seatCand
}

type seatCand struct {
	key      int // party key, parties for none
	mean, sd float64
	idx      int // position in the race's candidates
}

type seatOutput struct {
	list, cons, total [][]int32 // per party: histogram of seats
	largest           []float64
	wins              [][]float64 // per race, per candidate index
}

func (e *Estimator) seatMethod() SeatMethod {
	if e.seats.set {
		return e.seats.method
	}
	return DefaultSeatMethod()
}

// Seats works out the seats of an estimate (Estimate already does). Withheld shares withhold
// the seats too.
func (e *Estimator) Seats(res Result) SeatResult {
	sr := SeatResult{State: res.SharesState}
	if e.seats.baseline != nil {
		sr.Swing = swings(res, e.seats.baseline)
	}
	if res.SharesState == schemas.StateTooEarly || res.SharesState == "" {
		sr.State = schemas.StateTooEarly
		return sr
	}
	m := e.seatMethod()
	in := e.seatInput(res, m)
	out := simulateSeats(in, m)
	sr.Draws = m.Draws
	sr.WinProbability = out.wins
	sr.Parties = make([]PartySeats, len(res.Parties))
	for k, p := range res.Parties {
		sr.Parties[k] = partySeats(p.PartyNo, out, k, m.Draws)
	}
	return sr
}

func partySeats(no int, out seatOutput, k, draws int) PartySeats {
	ps := PartySeats{PartyNo: no, constituencyHist: out.cons[k], hist: out.total[k], LargestProbability: out.largest[k]}
	q := func(h []int32, p float64) int {
		need := p * float64(draws)
		var cum float64
		for s, n := range h {
			cum += float64(n)
			if cum >= need-1e-9 && n > 0 || cum >= float64(draws) {
				return s
			}
		}
		return len(h) - 1
	}
	ps.Constituency = q(out.cons[k], 0.5)
	ps.List = q(out.list[k], 0.5)
	ps.Total = q(out.total[k], 0.5)
	ps.TotalLo90, ps.TotalHi90 = q(out.total[k], 0.05), q(out.total[k], 0.95)
	ps.TotalLo95, ps.TotalHi95 = q(out.total[k], 0.025), q(out.total[k], 0.975)
	ps.ListLo95, ps.ListHi95 = q(out.list[k], 0.025), q(out.list[k], 0.975)
	var sum float64
	for s, n := range out.cons[k] {
		sum += float64(s) * float64(n)
	}
	ps.ConstituencyMean = sum / float64(draws)
	return ps
}

// kindLoad is the loading of the outstanding eligible voters on the urban and rural
// national errors, of unit length.
func kindLoad(urban, rural float64) [2]float64 {
	n := math.Hypot(urban, rural)
	if n == 0 {
		return [2]float64{math.Sqrt2 / 2, math.Sqrt2 / 2}
	}
	return [2]float64{urban / n, rural / n}
}

func (e *Estimator) outstandingByKind(bs *ballotState, strata []int) [2]float64 {
	var o [2]float64
	for _, h := range strata {
		st := e.lay.strata[h]
		out := float64(max(st.eligible-bs.x[h], 0))
		if st.sub >= e.lay.nSub/2 {
			o[0] += out
		} else {
			o[1] += out
		}
	}
	return o
}

// seatInput reads the simulation's input off an estimate and the estimator's layout.
func (e *Estimator) seatInput(res Result, m SeatMethod) seatInput {
	l := e.lay
	K := len(l.parties)
	in := seatInput{parties: K, regions: len(l.regions), share: make([]float64, K), shareSE: make([]float64, K)}
	for k, p := range res.Parties {
		in.share[k], in.shareSE[k] = p.Share, p.ShareSE
	}
	o := e.outstandingByKind(e.ballots[0], e.allStrata())
	in.listLoad = kindLoad(o[0], o[1])

	// Per race: the variance of the lead over each rival, read back from the probability.
	type pending struct {
		c     int
		total float64 // projected valid votes
		u     float64 // outstanding share of eligible voters
	}
	var rels []float64 // σ of a candidate relative to u·total, races with reports
	var unreported []pending
	in.races = make([]seatRace, len(res.Constituencies))
	strata := make([]int, l.nSub)
	for c, cr := range res.Constituencies {
		for s := range strata {
			strata[s] = c*l.nSub + s
		}
		ok := e.outstandingByKind(e.ballots[1], strata)
		race := seatRace{region: l.provRegion[l.cons[c].province], load: kindLoad(ok[0], ok[1]), fixed: -1}
		var total float64
		lead := -1
		for j, d := range cr.Candidates {
			total += d.Projected
			if d.No == cr.LeaderNo {
				lead = j
			}
		}
		u := 1.0
		if cr.Progress.EligibleTotal > 0 {
			u = max(0, 1-float64(cr.Progress.EligibleReported)/float64(cr.Progress.EligibleTotal))
		}
		key := func(j int) int {
			if k, ok := l.partyKey[cr.Candidates[j].PartyNo]; ok {
				return k
			}
			return K
		}
		switch {
		case len(cr.Candidates) == 0:
		case cr.Call == schemas.CallCalled || len(cr.Candidates) == 1:
			race.fixed = max(lead, 0)
			race.fixedKey = key(race.fixed)
		case lead < 0:
			unreported = append(unreported, pending{c, total, u})
		default:
			v := make([]float64, len(cr.Candidates))
			minV := math.Inf(1)
			for j, d := range cr.Candidates {
				if j == lead {
					continue
				}
				p := d.WinProbability
				gap := cr.Candidates[lead].Projected - d.Projected
				switch {
				case p < seatNegligible:
					v[j] = 0
				case gap > 0 && p < 0.5:
					z := normalQuantile(1 - p)
					v[j] = (gap / z) * (gap / z)
				default:
					v[j] = -1 // a dead heat: fall back below
				}
				if v[j] > 0 {
					minV = min(minV, v[j])
				}
			}
			if math.IsInf(minV, 1) {
				if slices.Contains(v, -1) {
					unreported = append(unreported, pending{c, total, u})
				} else {
					race.fixed, race.fixedKey = lead, key(lead)
				}
				break
			}
			sdLead := math.Sqrt(minV / 2)
			if u > 0 && total > 0 {
				rels = append(rels, sdLead/(u*total))
			}
			race.cands = append(race.cands, seatCand{key: key(lead), mean: cr.Candidates[lead].Projected, sd: sdLead, idx: lead})
			for j, d := range cr.Candidates {
				switch {
				case j == lead || v[j] == 0:
				case v[j] < 0:
					race.cands = append(race.cands, seatCand{key: key(j), mean: d.Projected, sd: sdLead, idx: j})
				default:
					race.cands = append(race.cands, seatCand{key: key(j), mean: d.Projected, sd: math.Sqrt(v[j] - minV/2), idx: j})
				}
			}
		}
		in.races[c] = race
	}

	// Races with nothing reported: the upper quartile of the least-reported races' relative
	// spread, or the setting's when none has reports yet.
	rel := m.UnreportedSpread
	if len(rels) >= 5 {
		slices.Sort(rels)
		rel = rels[len(rels)*3/4]
	}
	for _, p := range unreported {
		cr := res.Constituencies[p.c]
		race := &in.races[p.c]
		sd := rel * max(p.u, 0.05) * p.total
		for j, d := range cr.Candidates {
			k, ok := l.partyKey[d.PartyNo]
			if !ok {
				k = K
			}
			mean, s := d.Projected, sd
			if p.total <= 0 {
				mean, s = 0, 1 // nothing projected: any candidate may win
			}
			race.cands = append(race.cands, seatCand{key: k, mean: mean, sd: s, idx: j})
		}
	}
	return in
}

// simulateSeats draws the nights. It is deterministic for a given input and seed.
func simulateSeats(in seatInput, m SeatMethod) seatOutput {
	K := in.parties
	rng := rand.New(rand.NewPCG(m.Seed, 0)) // the shared errors: a fixed number per draw
	an, ar := math.Sqrt(m.NationalShare), math.Sqrt(m.RegionShare)
	al := math.Sqrt(max(0, 1-m.NationalShare-m.RegionShare))
	nRaces := len(in.races)
	out := seatOutput{list: hists(K, election.PartyListSeats), cons: hists(K, nRaces), total: hists(K, nRaces+election.PartyListSeats),
		largest: make([]float64, K), wins: make([][]float64, nRaces)}
	for c, r := range in.races {
		n := 0
		for _, d := range r.cands {
			n = max(n, d.idx+1)
		}
		out.wins[c] = make([]float64, max(n, r.fixed+1))
	}
	// Each race draws its own errors from its own stream, so a race whose inputs did not
	// change gets the same draws whatever changed elsewhere (the feed then sees no change).
	local := make([]*rand.Rand, nRaces)
	for c := range local {
		local[c] = rand.New(rand.NewPCG(m.Seed, uint64(c)+1))
	}
	nat := make([]float64, 2*(K+1))
	reg := make([]float64, in.regions*(K+1))
	share := make([]float64, K)
	list := make([]int, K)
	cons := make([]int, K+1)
	order := make([]int, K)
	rem := make([]float64, K)
	for range m.Draws {
		for i := range nat {
			nat[i] = rng.NormFloat64()
		}
		for i := range reg {
			reg[i] = rng.NormFloat64()
		}
		clear(cons)
		for c, r := range in.races {
			if r.fixed >= 0 {
				out.wins[c][r.fixed]++
				cons[r.fixedKey]++
				continue
			}
			best, bestV := -1, math.Inf(-1)
			for _, d := range r.cands {
				shared := r.load[0]*nat[2*d.key] + r.load[1]*nat[2*d.key+1]
				v := d.mean + d.sd*(an*shared+ar*reg[r.region*(K+1)+d.key]+al*local[c].NormFloat64())
				if v > bestV {
					best, bestV = d.idx, v
				}
			}
			if best >= 0 {
				out.wins[c][best]++
				for _, d := range r.cands {
					if d.idx == best {
						cons[d.key]++
						break
					}
				}
			}
		}
		for k := range K {
			shared := in.listLoad[0]*nat[2*k] + in.listLoad[1]*nat[2*k+1]
			share[k] = max(0, in.share[k]+in.shareSE[k]*shared)
		}
		largestRemainder(share, election.PartyListSeats, list, order, rem)
		most := -1
		for k := range K {
			most = max(most, cons[k]+list[k])
		}
		tied := 0
		for k := range K {
			if cons[k]+list[k] == most {
				tied++
			}
		}
		for k := range K {
			t := cons[k] + list[k]
			out.list[k][list[k]]++
			out.cons[k][cons[k]]++
			out.total[k][t]++
			if t == most {
				out.largest[k] += 1 / float64(tied)
			}
		}
	}
	fd := float64(m.Draws)
	for k := range K {
		out.largest[k] /= fd
	}
	for c := range out.wins {
		for j := range out.wins[c] {
			out.wins[c][j] /= fd
		}
	}
	return out
}

func hists(K, n int) [][]int32 {
	h := make([][]int32, K)
	for k := range h {
		h[k] = make([]int32, n+1)
	}
	return h
}

// largestRemainder allocates seats to shares (any non-negative weights) as
// election.AllocatePartyList does to votes: full quotas first, the seats left over to the
// largest remainders (ties: the larger share, then the lower key). order and rem are scratch
// of len(share).
func largestRemainder(share []float64, seats int, out, order []int, rem []float64) {
	var total float64
	for _, s := range share {
		total += s
	}
	clear(out)
	if total <= 0 {
		return
	}
	given := 0
	for k, s := range share {
		q := s * float64(seats) / total
		f := math.Floor(q)
		out[k] = int(f)
		given += out[k]
		rem[k] = q - f
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(rem[b], rem[a]), cmp.Compare(share[b], share[a]), cmp.Compare(a, b))
	})
	for i := 0; i < seats-given && i < len(order); i++ {
		out[order[i]]++
	}
}

// normalQuantile is Φ⁻¹(p) for p in (0, 1).
func normalQuantile(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }

// swings is per constituency and candidate the projected share less the baseline's.
func swings(res Result, base SwingBaseline) [][]float64 {
	out := make([][]float64, len(res.Constituencies))
	for c, cr := range res.Constituencies {
		out[c] = make([]float64, len(cr.Candidates))
		prev, ok := base(cr.ID)
		var total float64
		for _, d := range cr.Candidates {
			total += d.Projected
		}
		for j, d := range cr.Candidates {
			out[c][j] = math.NaN()
			if b, has := prev[d.PartyNo]; ok && has && total > 0 && d.PartyNo != election.NoParty {
				out[c][j] = d.Projected/total - b
			}
		}
	}
	return out
}

// fill writes the seats into an estimates.v1 message made by ToSchema.
func (sr SeatResult) fill(out *schemas.Estimate) {
	if sr.State == "" {
		return
	}
	out.SeatsState = sr.State
	if sr.State == schemas.StateTooEarly {
		return
	}
	for c := range out.Constituencies {
		if c >= len(sr.Swing) || out.Constituencies[c].Call == schemas.CallTooEarly {
			continue
		}
		for j := range out.Constituencies[c].Candidates {
			if j < len(sr.Swing[c]) && !math.IsNaN(sr.Swing[c][j]) {
				s := max(-1, min(1, sr.Swing[c][j]))
				out.Constituencies[c].Candidates[j].Swing = &s
			}
		}
	}
	out.SeatDraws = sr.Draws
	for k := range out.Parties {
		if k >= len(sr.Parties) {
			break
		}
		p := sr.Parties[k]
		out.Parties[k].SeatRange = &schemas.SeatRange{
			ConstituencySeats: p.Constituency, ListSeats: p.List, Total: p.Total,
			TotalLo90: p.TotalLo90, TotalHi90: p.TotalHi90, TotalLo95: p.TotalLo95, TotalHi95: p.TotalHi95,
			LargestProbability: clamp01(p.LargestProbability),
		}
	}
	for c := range out.Constituencies {
		if c >= len(sr.WinProbability) {
			break
		}
		for j := range out.Constituencies[c].Candidates {
			if j < len(sr.WinProbability[c]) {
				out.Constituencies[c].Candidates[j].WinProbability = clamp01(sr.WinProbability[c][j])
			}
		}
	}
}

// seatNegligible is the win probability below which a rival is left out of the draws: it
// would be expected to win 0.02 of 2,000 simulated nights, and each candidate drawn costs a
// normal per draw.
const seatNegligible = 1e-5
