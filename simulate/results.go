package simulate

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"votestream/election"
)

// ballotIndex orders the two ballots in compact arrays: the constituency ballot is counted
// first at every station.
const (
	ballotCons = 0
	ballotPL   = 1
)

var ballotOf = [2]election.Ballot{election.BallotConstituency, election.BallotPartyList}

// Timeline is when a station's count reaches each step, in minutes after polls close. The
// constituency ballot is counted first; each ballot's final form is signed and posted a few
// minutes after its last paper is read.
type Timeline struct {
	Start             float64 // first constituency ballot read
	ConstituencyEnd   float64 // last constituency ballot read
	ConstituencyFinal float64 // constituency form posted
	PartyListStart    float64
	PartyListEnd      float64
	PartyListFinal    float64 // party-list form posted: the station's report time
}

// window returns the counting window and final-form time of ballot b.
func (t Timeline) window(b int) (start, end, final float64) {
	if b == ballotCons {
		return t.Start, t.ConstituencyEnd, t.ConstituencyFinal
	}
	return t.PartyListStart, t.PartyListEnd, t.PartyListFinal
}

type stationCount struct {
	cast, invalid, noVote [2]int32
}

// Truth is the true count of every station and ballot of a country, stored compactly (a
// national night holds about 95,000 x 80 numbers), and each station's count timeline.
// It is read-only once built and safe for concurrent use.
type Truth struct {
	country   *election.Country
	consOf    []int32   // station -> constituency index
	candsOf   [][]int32 // constituency -> indexes into country.Candidates, by candidate number
	partyIdx  map[int]int
	counts    []stationCount
	plVotes   []int32 // station*len(parties) + party index
	consOff   []int32 // station -> offset into consVotes; length is its constituency's candidates
	consVotes []int32
	times     []Timeline
}

// Country returns the country the truth is about.
func (t *Truth) Country() *election.Country { return t.country }

// Stations is the number of stations, in the order of Country().Stations.
func (t *Truth) Stations() int { return len(t.counts) }

// Timeline returns station i's count timeline.
func (t *Truth) Timeline(i int) Timeline { return t.times[i] }

// ReportTime is when station i's final count is known, in minutes after close.
func (t *Truth) ReportTime(i int) float64 { return t.times[i].PartyListFinal }

// Tally returns the true count of station i's ballot b; zero vote counts are left out.
func (t *Truth) Tally(i int, b election.Ballot) election.Tally {
	bi := ballotCons
	if b == election.BallotPartyList {
		bi = ballotPL
	}
	return t.tally(i, bi)
}

func (t *Truth) tally(i, b int) election.Tally {
	c := t.counts[i]
	tl := election.Tally{BallotsCast: int(c.cast[b]), Invalid: int(c.invalid[b]), NoVote: int(c.noVote[b]), Votes: map[int]int{}}
	t.eachVote(i, b, func(no int, v int32) {
		if v > 0 {
			tl.Votes[no] = int(v)
		}
	})
	return tl
}

// eachVote calls f for every number on station i's ballot b, in ballot-list order.
func (t *Truth) eachVote(i, b int, f func(no int, votes int32)) {
	if b == ballotPL {
		np := len(t.country.Parties)
		for p, v := range t.plVotes[i*np : (i+1)*np] {
			f(t.country.Parties[p].No, v)
		}
		return
	}
	cands := t.candsOf[t.consOf[i]]
	off := int(t.consOff[i])
	for j, ci := range cands {
		f(t.country.Candidates[ci].No, t.consVotes[off+j])
	}
}

// Results converts the truth to an election.Results with report times.
func (t *Truth) Results() *election.Results {
	r := &election.Results{
		Tallies:     make(map[election.StationBallot]election.Tally, 2*len(t.counts)),
		ReportTimes: make(map[string]float64, len(t.counts)),
	}
	for i, s := range t.country.Stations {
		for b, ballot := range ballotOf {
			r.Tallies[election.StationBallot{StationID: s.ID, Ballot: ballot}] = t.tally(i, b)
		}
		r.ReportTimes[s.ID] = t.times[i].PartyListFinal
	}
	return r
}

// castVotes records station i's invalid and no-vote ballots on ballot b and draws the rest,
// its valid votes, from the party shares w (party list) or the candidates' shares cw.
func (t *Truth) castVotes(r *rand.Rand, i, b, inv, nov int, w, cw []float64) {
	cnt := &t.counts[i]
	cnt.invalid[b], cnt.noVote[b] = int32(inv), int32(nov)
	valid := int(cnt.cast[b]) - inv - nov
	if b == ballotPL {
		np := len(w)
		multinomial(r, valid, w, t.plVotes[i*np:(i+1)*np])
		return
	}
	off := int(t.consOff[i])
	multinomial(r, valid, cw, t.consVotes[off:off+len(cw)])
}

// newCheckedTruthFrame checks cfg, then sets up the frame: how every truth model begins.
func newCheckedTruthFrame(c *election.Country, cfg VoteConfig) (*Truth, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newTruthFrame(c)
}

// newTruthFrame sets up the indexes shared by NewTruth and TruthFromResults.
func newTruthFrame(c *election.Country) (*Truth, error) {
	if !c.Indexed() {
		if err := c.Index(); err != nil {
			return nil, fmt.Errorf("simulate: country: %w", err)
		}
	}
	if len(c.Stations) == 0 || len(c.Candidates) == 0 {
		return nil, fmt.Errorf("%w: the country needs stations and candidates", ErrConfig)
	}
	t := &Truth{country: c, partyIdx: make(map[int]int, len(c.Parties))}
	for i, p := range c.Parties {
		t.partyIdx[p.No] = i
	}
	consIdx := make(map[string]int, len(c.Constituencies))
	for i, k := range c.Constituencies {
		consIdx[k.ID] = i
	}
	t.candsOf = make([][]int32, len(c.Constituencies))
	for i, d := range c.Candidates {
		k := consIdx[d.ConstituencyID]
		t.candsOf[k] = append(t.candsOf[k], int32(i))
	}
	for _, cs := range t.candsOf {
		slices.SortFunc(cs, func(a, b int32) int { return cmp.Compare(c.Candidates[a].No, c.Candidates[b].No) })
	}
	n := len(c.Stations)
	t.consOf = make([]int32, n)
	t.consOff = make([]int32, n)
	off := 0
	for i, s := range c.Stations {
		k := consIdx[s.ConstituencyID]
		if len(t.candsOf[k]) == 0 {
			return nil, fmt.Errorf("%w: constituency %s has no candidates", ErrConfig, s.ConstituencyID)
		}
		t.consOf[i] = int32(k)
		t.consOff[i] = int32(off)
		off += len(t.candsOf[k])
	}
	t.counts = make([]stationCount, n)
	t.plVotes = make([]int32, n*len(c.Parties))
	t.consVotes = make([]int32, off)
	t.times = make([]Timeline, n)
	return t, nil
}

// voteModel holds the log-strength of every party in every constituency and the pieces of
// the station-level draw.
type voteModel struct {
	consLogW [][]float64 // constituency -> party -> log strength
	urbanEff []float64   // party -> log strength difference urban vs rural
	personal []float64   // candidate -> personal vote (log)
	rank     []int       // parties, strongest first
	nBig     int         // the first nBig of rank are the big parties
	// independent is the log-strength of a candidate without a party-list number (the
	// candidate's own, where others take their party's).
	independent []float64
	consTurn    []float64 // constituency -> turnout logit
}

// NewTruth draws the true results of c: regional party strongholds, constituency swing,
// station-level logit-normal noise, an urban/rural difference in party preference, split
// tickets through each candidate's personal vote, turnout around cfg.Turnout, and each
// station's count timeline. The same seed and country give the same truth.
func NewTruth(seed uint64, c *election.Country, cfg VoteConfig) (*Truth, error) {
	t, err := newCheckedTruthFrame(c, cfg)
	if err != nil {
		return nil, err
	}
	m := newVoteModel(seed, t, cfg)
	fx := newStationEffects(seed, t, m, cfg)
	src := rand.NewPCG(0, 0)
	r := rand.New(src)
	np := len(c.Parties)
	logW := make([]float64, np)
	w := make([]float64, np)
	var cw []float64
	for i, s := range c.Stations {
		reseed(src, seed, "station-votes", uint64(i))
		k := t.consOf[i]
		urban := 0.0
		if s.Urban {
			urban = 1
		}
		for p := range np {
			logW[p] = m.consLogW[k][p] + urban*m.urbanEff[p] + cfg.StationNoise*r.NormFloat64()
		}
		turnShift := fx.apply(i, logW)
		for p := range np {
			w[p] = math.Exp(logW[p])
		}
		cands := t.candsOf[k]
		cw = cw[:0]
		for _, ci := range cands {
			lw := m.independent[ci]
			if p, ok := t.partyIdx[c.Candidates[ci].PartyNo]; ok {
				lw = 1.1 * logW[p]
			}
			cw = append(cw, math.Exp(lw+m.personal[ci]+0.7*cfg.StationNoise*r.NormFloat64()))
		}

		e := s.EligibleVoters
		turnout := logistic(m.consTurn[k] - 0.12*urban + turnShift + 0.22*r.NormFloat64())
		pl := binomial(r, e, turnout)
		cons := pl
		if r.Float64() < 0.15 {
			d := 1 + r.IntN(3)
			if r.IntN(2) == 0 {
				d = -d
			}
			cons = min(max(pl+d, 0), e)
		}
		cnt := &t.counts[i]
		cnt.cast = [2]int32{int32(cons), int32(pl)}
		for b, factor := range [2]float64{1.15, 0.85} {
			cast := int(cnt.cast[b])
			inv := binomial(r, cast, logistic(logit(max(cfg.InvalidRate*factor, 1e-6))+0.3*r.NormFloat64()))
			nov := binomial(r, cast-inv, logistic(logit(max(cfg.NoVoteRate, 1e-6))+0.3*r.NormFloat64()))
			t.castVotes(r, i, b, inv, nov, w, cw[:len(cands)])
		}
		t.times[i] = drawTimeline(seed, i, s.Urban, cnt.cast, cfg)
	}
	return t, nil
}

func newVoteModel(seed uint64, t *Truth, cfg VoteConfig) *voteModel {
	c := t.country
	np := len(c.Parties)
	m := &voteModel{}
	r := newRand(seed, "vote-model")

	// The parties fielding most candidates are the national ones: rank them and give the
	// ranks a falling share profile; small parties share what is left, by their reach.
	fielded := make([]int, np)
	for _, d := range c.Candidates {
		if p, ok := t.partyIdx[d.PartyNo]; ok {
			fielded[p]++
		}
	}
	rank := make([]int, np)
	for i := range rank {
		rank[i] = i
	}
	slices.SortStableFunc(rank, func(a, b int) int {
		return cmp.Or(cmp.Compare(fielded[b], fielded[a]), cmp.Compare(c.Parties[a].No, c.Parties[b].No))
	})
	nBig := min(cfg.BigParties, np)
	m.rank = rank
	m.nBig = nBig
	base := make([]float64, np)
	bigTotal, smallTotal := 0.0, 0.0
	for j, p := range rank {
		if j < nBig {
			base[p] = math.Pow(0.72, float64(j)) * lognormal(r, 0, 0.2)
			bigTotal += base[p]
		} else {
			base[p] = math.Pow(1+float64(fielded[p]), 0.8) * lognormal(r, 0, 0.8)
			smallTotal += base[p]
		}
	}
	bigShare := 0.92
	if nBig == np {
		bigShare = 1
	}
	for j, p := range rank {
		if j < nBig {
			base[p] = math.Log(bigShare * base[p] / bigTotal)
		} else {
			base[p] = math.Log((1 - bigShare) * base[p] / smallTotal)
		}
	}

	regionIdx := map[string]int{}
	provIdx := map[string]int{}
	for i, p := range c.Provinces {
		provIdx[p.ID] = i
		if _, ok := regionIdx[p.Region]; !ok {
			regionIdx[p.Region] = len(regionIdx)
		}
	}
	nRegions := len(regionIdx)
	regionEff := make([][]float64, np) // party -> region
	m.urbanEff = make([]float64, np)
	for j, p := range rank {
		spread := cfg.RegionalSpread
		urban := cfg.UrbanEffect
		if j >= nBig {
			spread *= 0.6
			urban *= 0.5
		}
		regionEff[p] = make([]float64, nRegions)
		for ri := range regionEff[p] {
			regionEff[p][ri] = spread * r.NormFloat64()
		}
		if j < nBig && nRegions > 1 {
			regionEff[p][r.IntN(nRegions)] += 2 * cfg.RegionalSpread // a stronghold
		}
		switch j {
		case 0:
			m.urbanEff[p] = 1.5 * cfg.UrbanEffect
		case 1:
			m.urbanEff[p] = -1.25 * cfg.UrbanEffect
		default:
			m.urbanEff[p] = urban * r.NormFloat64()
		}
	}
	regionTurn := make([]float64, nRegions)
	for i := range regionTurn {
		regionTurn[i] = 0.15 * r.NormFloat64()
	}
	provEff := make([][]float64, len(c.Provinces))
	provTurn := make([]float64, len(c.Provinces))
	for i := range c.Provinces {
		pr := newRand(seed, "province", uint64(i))
		provEff[i] = make([]float64, np)
		for p := range provEff[i] {
			provEff[i][p] = cfg.ConstituencySwing * pr.NormFloat64()
		}
		provTurn[i] = 0.1 * pr.NormFloat64()
	}

	m.consLogW = make([][]float64, len(c.Constituencies))
	m.consTurn = make([]float64, len(c.Constituencies))
	provinces := make(map[string]election.Province, len(c.Provinces))
	for _, p := range c.Provinces {
		provinces[p.ID] = p
	}
	for i, k := range c.Constituencies {
		kr := newRand(seed, "constituency", uint64(i))
		pi := provIdx[k.ProvinceID]
		ri := regionIdx[provinces[k.ProvinceID].Region]
		lw := make([]float64, np)
		for p := range lw {
			lw[p] = base[p] + regionEff[p][ri] + provEff[pi][p] + cfg.ConstituencySwing*kr.NormFloat64()
		}
		m.consLogW[i] = lw
		m.consTurn[i] = logit(cfg.Turnout) + regionTurn[ri] + provTurn[pi] + 0.1*kr.NormFloat64()
	}

	m.personal = make([]float64, len(c.Candidates))
	m.independent = make([]float64, len(c.Candidates))
	for i, d := range c.Candidates {
		cr := newRand(seed, "candidate", uint64(i))
		m.personal[i] = cfg.PersonalVote * cr.NormFloat64()
		if d.PartyNo == election.NoParty {
			// A local figure: usually a few per cent, now and then a contender.
			m.independent[i] = math.Log(0.03) + 0.9*newRand(seed, "independent-strength", uint64(i)).NormFloat64()
		}
	}
	return m
}

// drawTimeline models a station's count: a set-up, each ballot read paper by paper at a
// station-specific pace (urban stations, bigger and busier, a little slower), the forms,
// and for a few stations a long delay (a recount, a dispute): the long tail of the night.
func drawTimeline(seed uint64, i int, urban bool, cast [2]int32, cfg VoteConfig) Timeline {
	r := newRand(seed, "timeline", uint64(i))
	pace := cfg.CountMinutesPerBallot * lognormal(r, 0, 0.2)
	if urban {
		pace *= 1.1
	}
	var t Timeline
	t.Start = 8 + 12*r.Float64()
	t.ConstituencyEnd = t.Start + float64(cast[ballotCons])*pace
	delayed := r.Float64() < cfg.DelayRate
	delay := cfg.DelayMinutes * min(r.ExpFloat64(), 5) // a long tail, not an endless one
	recount := r.IntN(2) == 0
	if delayed && recount {
		t.ConstituencyEnd += delay
	}
	t.ConstituencyFinal = t.ConstituencyEnd + 5 + lognormal(r, math.Log(6), 0.5)
	t.PartyListStart = t.ConstituencyEnd + 2 + 5*r.Float64()
	t.PartyListEnd = t.PartyListStart + float64(cast[ballotPL])*pace
	if delayed && !recount {
		t.PartyListEnd += delay
	}
	t.PartyListFinal = t.PartyListEnd + 5 + lognormal(r, math.Log(6), 0.5)
	round := func(x float64) float64 { return math.Round(x*10) / 10 }
	return Timeline{
		Start: round(t.Start), ConstituencyEnd: round(t.ConstituencyEnd), ConstituencyFinal: round(t.ConstituencyFinal),
		PartyListStart: round(t.PartyListStart), PartyListEnd: round(t.PartyListEnd), PartyListFinal: round(t.PartyListFinal),
	}
}

// TruthFromResults takes the counts of an existing results set (any source) as the truth of
// c, so a night can be simulated over real or edited figures. Timelines follow the model of
// NewTruth, stretched so each station's party-list final lands on its report time when r
// has one. Every station of c needs both tallies, with numbers on its ballots.
func TruthFromResults(seed uint64, c *election.Country, r *election.Results, cfg VoteConfig) (*Truth, error) {
	t, err := newCheckedTruthFrame(c, cfg)
	if err != nil {
		return nil, err
	}
	np := len(c.Parties)
	for i, s := range c.Stations {
		cnt := &t.counts[i]
		for b, ballot := range ballotOf {
			tl, ok := r.Tallies[election.StationBallot{StationID: s.ID, Ballot: ballot}]
			if !ok {
				return nil, fmt.Errorf("simulate: results lack station %s, ballot %s", s.ID, ballot)
			}
			cnt.cast[b], cnt.invalid[b], cnt.noVote[b] = int32(tl.BallotsCast), int32(tl.Invalid), int32(tl.NoVote)
			for no, v := range tl.Votes {
				if b == ballotPL {
					p, ok := t.partyIdx[no]
					if !ok {
						return nil, fmt.Errorf("simulate: results: station %s: party %d is not in the country", s.ID, no)
					}
					t.plVotes[i*np+p] = int32(v)
					continue
				}
				j := slices.IndexFunc(t.candsOf[t.consOf[i]], func(ci int32) bool { return c.Candidates[ci].No == no })
				if j < 0 {
					return nil, fmt.Errorf("simulate: results: station %s: candidate %d is not in its constituency", s.ID, no)
				}
				t.consVotes[int(t.consOff[i])+j] = int32(v)
			}
		}
		tl := drawTimeline(seed, i, s.Urban, cnt.cast, cfg)
		if rt, ok := r.ReportTimes[s.ID]; ok && rt > 0 && tl.PartyListFinal > 0 {
			f := rt / tl.PartyListFinal
			tl = Timeline{tl.Start * f, tl.ConstituencyEnd * f, tl.ConstituencyFinal * f, tl.PartyListStart * f, tl.PartyListEnd * f, rt}
		}
		t.times[i] = tl
	}
	return t, nil
}
