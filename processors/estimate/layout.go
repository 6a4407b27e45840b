package estimate

import (
	"errors"
	"fmt"
	"slices"

	"votestream/election"
)

// Sentinel errors.
var (
	// ErrNoStations: the reference data lists no polling stations (a reference folder may
	// hold only provinces, constituencies and parties); the estimator needs every station.
	ErrNoStations = errors.New("estimate: reference data has no stations")
	// ErrUnknownStation: a station result names a station the reference data does not hold.
	ErrUnknownStation = errors.New("estimate: unknown station")
	// ErrBadResult: a station result cannot be used (unknown ballot, status, negative or
	// unparsable votes).
	ErrBadResult = errors.New("estimate: bad station result")
	// ErrBadMethod: a Method setting is out of range.
	ErrBadMethod = errors.New("estimate: bad method setting")
)

// Method holds the estimator's statistical settings. DefaultMethod's values are the ones
// docs/estimation.md describes and the backtest scores; change them only with a backtest.
type Method struct {
	// SizeClasses splits each constituency's urban and rural stations into this many size
	// classes (national quantiles of eligible voters per station). Default 3; 1 disables
	// size sub-strata.
	SizeClasses int
	// MinDeparture is the least spread (standard deviation, relative) assumed for how far
	// an area's or a stratum's true ratio may depart from what the level above predicts,
	// whatever the night's reports suggest: a unit's own reports never count for nothing.
	// Default 0.02.
	MinDeparture float64
	// TurnoutOrder corrects the projected turnout of each stratum's outstanding stations
	// for the order of reporting (stations with more ballots report later; drift.go).
	// Default true.
	TurnoutOrder bool
	// VarianceDF is how many degrees of freedom a stratum's own scatter needs before it
	// outweighs the pooled scatter of its party across the country. Default 4.
	VarianceDF float64
	// MinStationsLeading is how many stations of a constituency must have reported its
	// constituency ballot before the estimate names a leader rather than too_early. Default 3.
	MinStationsLeading int
	// LikelyProbability is the win probability from which a leader is "likely". Default 0.99.
	LikelyProbability float64
	// IntervalZ is the normal quantile of the party-list intervals. Default 1.96 (95 %).
	IntervalZ float64
	// PriorityMinFraction is the share of the priority sample that must have reported before
	// it is used as a probability sample. Default 0.7.
	PriorityMinFraction float64
	// PriorityMinStations is the least number of reported priority stations for the same.
	// Default 100.
	PriorityMinStations int
	// GuardMinStations is how many stations must have reported their party-list ballot
	// before shares, intervals and seats are published (GuardMinFraction of the country's
	// stations if that is fewer, but never fewer than 10). Default 100.
	GuardMinStations int
	// GuardMinFraction: see GuardMinStations. Default 0.01.
	GuardMinFraction float64
	// GuardRegions is the fraction of the regions that must have reported at least one
	// station before shares are published; a region still out widens the intervals by its
	// unmeasured departure instead. Default 0.5.
	GuardRegions float64
	// GuardMaxWidth: shares are not published while a party with at least 5 % has a 95 %
	// interval wider than this (a fraction of the vote): a wide honest interval is
	// published, a useless one is not. Default 0.3.
	GuardMaxWidth float64
	// Drift adds the drift of the estimate measured on the night itself (honesty.go) to
	// the intervals and the win probabilities. Default true.
	Drift bool
	// Blocks adds the variance of subdistricts voting as blocks (blocks.go). Default true.
	Blocks bool
	// SizeCovariate moves each stratum's projection for the size of its stations still out
	// against the reported ones, by a slope per party pooled over the strata, and adds the
	// slopes' uncertainty to the intervals (size.go). Default true.
	SizeCovariate bool
	// SizeSlopeHierarchy lets the size slopes differ by region and by constituency, each
	// shrunk towards the level above by its measured noise (size.go); false pools one
	// slope per party nationally. Default true.
	SizeSlopeHierarchy bool
	// SizeSlopeSpread is the least spread (one standard deviation) assumed between the
	// regions' and between the constituencies' size slopes, however alike the few
	// measured so far look. Default 0.05.
	SizeSlopeSpread float64
	// LeadConformal widens every projected lead by the conformal check of the reported
	// stations (the later half of each constituency's reports predicted from the earlier,
	// conformal.go) when it finds them less predictable than the model says. Default true.
	LeadConformal bool
	// AreaCorrelation is the correlation assumed between the unmeasured departures of the
	// areas (constituencies, their urban and rural groups, provinces) still out: reporting
	// order that follows the vote makes them lean together (variance.go). Default 0.02.
	AreaCorrelation float64
	// KindShift widens the shares by how far the stations of each kind (urban, rural)
	// still out lie from those reported in their subdistricts' urban share, times
	// KindPrior: the reported stations of a kind may not be a fair sample of it
	// (kindshift.go). Default true.
	KindShift bool
	// LogitIntervals puts the party-list intervals on the logit scale (share ± IntervalZ
	// standard errors of its logit, by the delta method): a party's votes extrapolate
	// multiplicatively, so one that is small where the reports came from has more room up
	// than down (estimate.go, interval). Default true; false: share ± IntervalZ·se.
	LogitIntervals bool
	// KindPrior is the relative difference between a party's urban and rural votes per
	// eligible voter assumed (one standard deviation) before both kinds have reported: what
	// the night has not measured of it widens the intervals (kind.go). Default 0.4.
	KindPrior float64
	// DriftPrior is the relative change of a party's votes per eligible voter from the first
	// station of a stratum to report to its last, assumed (one standard deviation) before
	// the night's reports measure it: the prior that bounds the reporting-order drift term
	// early in the night (drift.go). 0 is a flat prior. Default 0 (off): 0.1 publishes a
	// random order from 2 % honestly but fails TestScenarioCoverage on turnout-drift at 0-5 %.
	DriftPrior float64
	// DriftFromTurnout raises the drift prior to the relative drift of turnout over the
	// arrival order, when the reports show one beyond two standard errors (drift.go).
	// Default true.
	DriftFromTurnout bool
	// SelectionWeight: the part of the reports' selection that the reference data does not
	// show is taken to be this many times the part it shows (the model's correction of the
	// raw count, nationally and per race), and added to the variances (selection.go). 0 is
	// off. Default 1.
	SelectionWeight float64
	// Imbalance adds, this many times, the spread between subdistricts along what is known
	// of them (size, urban label) times how far the subdistricts still out lie from those
	// reported (imbalance.go). 0 is off. Default 1.
	Imbalance float64
	// ImbalanceReported: when the reported subdistricts span less of the covariates
	// than all of them, the imbalance is measured against their spread, up to this many
	// times the term measured against the country's (imbalance.go). 1 uses the country's
	// only. Default 2.
	ImbalanceReported float64
	// LikelyMaxWidth: no constituency is called likely while a party with at least 5 %
	// has a national 95 % interval wider than this (honesty.go). Default 0.2.
	LikelyMaxWidth float64
	// LikelyCoverage: a stratum of a constituency counts as seen, for its likely call, once
	// this fraction of its eligible voters has reported on the constituency ballot; a race
	// is not called likely while a stratum holding 5 % of its voters is unseen (likely.go).
	// 0 is off. Default 0.1.
	LikelyCoverage float64
	// LikelyUnseenSwing, when above 0, replaces LikelyCoverage's veto by a margin: a race
	// may be likely with unseen strata if its leader stays ahead were their outstanding
	// voters to vote this much (votes per eligible voter) further against the leader than
	// its seen ones (likely.go). Default 0 (the veto): 0.15 and 0.3 left most of the
	// realnight wrong calls standing.
	LikelyUnseenSwing float64
	// LikelyWorstStratum: a constituency is called likely only if its leader stays ahead
	// were all its outstanding voters to vote like its reported stratum least favourable
	// to the leader (likely.go). Default false: it caught none of the wrong calls measured.
	LikelyWorstStratum bool
	// LikelyPlaces: a constituency is called likely only once the subdistricts with at
	// least one report hold this fraction of its eligible voters (likely.go). 0 is off.
	LikelyPlaces float64
	// LikelyPlacesSwing, when above 0, replaces LikelyPlaces's threshold by a margin: the
	// leader must stay ahead were the voters of the subdistricts with no report to vote
	// this much (votes per eligible voter) further against the leader than the race's
	// reported lead (likely.go). Default 0.5, the largest gap measured between the voters
	// seen and those unseen of a race (docs/estimation.md).
	LikelyPlacesSwing float64
}

// DefaultMethod returns the documented settings.
func DefaultMethod() Method {
	return Method{
		SizeClasses:         3,
		MinDeparture:        0.02,
		TurnoutOrder:        true,
		VarianceDF:          4,
		MinStationsLeading:  3,
		LikelyProbability:   0.99,
		IntervalZ:           1.96,
		PriorityMinFraction: 0.7,
		PriorityMinStations: 100,
		GuardMinStations:    100,
		GuardMinFraction:    0.01,
		GuardRegions:        0.5,
		GuardMaxWidth:       0.3,
		Drift:               true,
		Blocks:              true,
		SizeCovariate:       true,
		SizeSlopeHierarchy:  true,
		SizeSlopeSpread:     0.05,
		LeadConformal:       true,
		AreaCorrelation:     0.2,
		KindPrior:           0.4,
		LogitIntervals:      true,
		KindShift:           true,
		DriftPrior:          0,
		DriftFromTurnout:    true,
		SelectionWeight:     0,
		LikelyMaxWidth:      0.2,
		LikelyCoverage:      0.1,
		LikelyUnseenSwing:   0,
		LikelyWorstStratum:  false,
		LikelyPlaces:        0,
		LikelyPlacesSwing:   0.5,
		Imbalance:           1,
		ImbalanceReported:   2,
	}
}

// Validate rejects settings the method cannot work with.
func (m Method) Validate() error {
	switch {
	case m.SizeClasses < 1 || m.SizeClasses > 8:
		return fmt.Errorf("%w: SizeClasses %d not in 1..8", ErrBadMethod, m.SizeClasses)
	case !(m.MinDeparture > 0 && m.MinDeparture < 1):
		return fmt.Errorf("%w: MinDeparture %v not in (0, 1)", ErrBadMethod, m.MinDeparture)
	case !(m.VarianceDF > 0):
		return fmt.Errorf("%w: VarianceDF must be positive", ErrBadMethod)
	case m.MinStationsLeading < 1:
		return fmt.Errorf("%w: MinStationsLeading must be at least 1", ErrBadMethod)
	case !(m.LikelyProbability > 0.5 && m.LikelyProbability < 1):
		return fmt.Errorf("%w: LikelyProbability %v not in (0.5, 1)", ErrBadMethod, m.LikelyProbability)
	case !(m.IntervalZ > 0):
		return fmt.Errorf("%w: IntervalZ must be positive", ErrBadMethod)
	case !(m.PriorityMinFraction > 0 && m.PriorityMinFraction <= 1):
		return fmt.Errorf("%w: PriorityMinFraction %v not in (0, 1]", ErrBadMethod, m.PriorityMinFraction)
	case m.PriorityMinStations < 1:
		return fmt.Errorf("%w: PriorityMinStations must be at least 1", ErrBadMethod)
	case m.GuardMinStations < 1:
		return fmt.Errorf("%w: GuardMinStations must be at least 1", ErrBadMethod)
	case !(m.GuardMinFraction > 0 && m.GuardMinFraction <= 1):
		return fmt.Errorf("%w: GuardMinFraction %v not in (0, 1]", ErrBadMethod, m.GuardMinFraction)
	case !(m.GuardRegions >= 0 && m.GuardRegions <= 1):
		return fmt.Errorf("%w: GuardRegions %v not in [0, 1]", ErrBadMethod, m.GuardRegions)
	case !(m.LikelyMaxWidth > 0 && m.LikelyMaxWidth <= 1):
		return fmt.Errorf("%w: LikelyMaxWidth %v not in (0, 1]", ErrBadMethod, m.LikelyMaxWidth)
	case !(m.LikelyCoverage >= 0 && m.LikelyCoverage <= 1):
		return fmt.Errorf("%w: LikelyCoverage %v not in [0, 1]", ErrBadMethod, m.LikelyCoverage)
	case !(m.LikelyUnseenSwing >= 0 && m.LikelyUnseenSwing <= 1):
		return fmt.Errorf("%w: LikelyUnseenSwing %v not in [0, 1]", ErrBadMethod, m.LikelyUnseenSwing)
	case !(m.LikelyPlaces >= 0 && m.LikelyPlaces <= 1):
		return fmt.Errorf("%w: LikelyPlaces %v not in [0, 1]", ErrBadMethod, m.LikelyPlaces)
	case !(m.LikelyPlacesSwing >= 0 && m.LikelyPlacesSwing <= 1):
		return fmt.Errorf("%w: LikelyPlacesSwing %v not in [0, 1]", ErrBadMethod, m.LikelyPlacesSwing)
	case !(m.KindPrior >= 0 && m.KindPrior <= 2):
		return fmt.Errorf("%w: KindPrior %v not in [0, 2]", ErrBadMethod, m.KindPrior)
	case !(m.SelectionWeight >= 0 && m.SelectionWeight <= 10):
		return fmt.Errorf("%w: SelectionWeight %v not in [0, 10]", ErrBadMethod, m.SelectionWeight)
	case !(m.ImbalanceReported >= 1 && m.ImbalanceReported <= 100):
		return fmt.Errorf("%w: ImbalanceReported %v not in [1, 100]", ErrBadMethod, m.ImbalanceReported)
	case !(m.Imbalance >= 0 && m.Imbalance <= 10):
		return fmt.Errorf("%w: Imbalance %v not in [0, 10]", ErrBadMethod, m.Imbalance)
	case !(m.DriftPrior >= 0 && m.DriftPrior <= 2):
		return fmt.Errorf("%w: DriftPrior %v not in [0, 2]", ErrBadMethod, m.DriftPrior)
	case !(m.SizeSlopeSpread >= 0 && m.SizeSlopeSpread <= 2):
		return fmt.Errorf("%w: SizeSlopeSpread %v not in [0, 2]", ErrBadMethod, m.SizeSlopeSpread)
	case !(m.AreaCorrelation >= 0 && m.AreaCorrelation < 1):
		return fmt.Errorf("%w: AreaCorrelation %v not in [0, 1)", ErrBadMethod, m.AreaCorrelation)
	case !(m.GuardMaxWidth > 0 && m.GuardMaxWidth <= 1):
		return fmt.Errorf("%w: GuardMaxWidth %v not in (0, 1]", ErrBadMethod, m.GuardMaxWidth)
	}
	return nil
}

// layout is the fixed shape of the country as the estimator sees it: dense indexes for
// regions, provinces, constituencies, strata, stations and parties. Built once.
type layout struct {
	nSub int // sub-strata per constituency: 2 (rural, urban) x SizeClasses

	parties   []int       // party numbers; a party's position is its key
	partyKey  map[int]int // party number -> key
	partyKeys []int       // 0 .. len(parties)-1: the party-list ballot's options, shared

	regions    []string
	provinces  []string
	provRegion []int // province -> region

	cons       []consLayout
	consIdx    map[string]int
	stations   []stationLayout
	stationIdx map[string]int32
	strata     []stratumLayout // constituency c owns strata c*nSub .. c*nSub+nSub-1
	// blocks are the subdistricts of each constituency: blockCons their constituency,
	// blockEligible their stations' eligible voters.
	blockCons     []int32
	blockEligible []int64
	blockCov      blockCovariates // imbalance.go
	blockUrban    []float64       // per subdistrict: its urban-labelled share of eligible voters (kindshift.go)

	priorityTotal int // stations in the priority sample
	// Priority cells, region x sub-stratum, are where the priority sample is used as a
	// probability sample; cellEligible is every station's eligible voters per cell.
	cellEligible []float64
}

type consLayout struct {
	id       string
	province int
	candNos  []int // candidate numbers in order
	candKeys []int // the party key of each candidate
	candIdx  map[int]int
	// eligible is the larger of the published roll and the sum of the listed stations, so
	// the arithmetic of a call never assumes fewer outstanding voters than there can be.
	eligible      int64
	stationsTotal int
}

type stationLayout struct {
	cons     int32
	stratum  int32
	eligible int32
	priority bool
	cell     int16 // priority cell: region*nSub + sub
	block    int32 // subdistrict of its constituency (blocks.go)
	// lsize is ln(eligible) less its stratum's eligible-weighted mean (size.go).
	lsize float32
}

type stratumLayout struct {
	cons     int
	sub      int
	eligible int64 // all stations of the stratum
	stations int
	xl       float64 // Σ eligible·lsize over all its stations (size.go)
}

func newLayout(c *election.Country, m Method) (*layout, error) {
	if !c.Indexed() {
		if err := c.Index(); err != nil {
			return nil, fmt.Errorf("estimate: reference data: %w", err)
		}
	}
	if !c.HasStations() {
		return nil, ErrNoStations
	}
	l := &layout{nSub: 2 * m.SizeClasses, partyKey: make(map[int]int, len(c.Parties))}
	for _, p := range c.Parties {
		l.partyKey[p.No] = len(l.parties)
		l.parties = append(l.parties, p.No)
	}
	l.partyKeys = l.allParties()
	regionIdx := map[string]int{}
	provIdx := map[string]int{}
	for _, p := range c.Provinces {
		r, ok := regionIdx[p.Region]
		if !ok {
			r = len(l.regions)
			regionIdx[p.Region] = r
			l.regions = append(l.regions, p.Region)
		}
		provIdx[p.ID] = len(l.provinces)
		l.provinces = append(l.provinces, p.ID)
		l.provRegion = append(l.provRegion, r)
	}
	l.consIdx = make(map[string]int, len(c.Constituencies))
	for _, k := range c.Constituencies {
		cl := consLayout{id: k.ID, province: provIdx[k.ProvinceID], candIdx: map[int]int{}}
		for _, d := range c.CandidatesIn(k.ID) {
			cl.candIdx[d.No] = len(cl.candNos)
			cl.candNos = append(cl.candNos, d.No)
			key, ok := l.partyKey[d.PartyNo]
			if !ok {
				// A candidate without a party-list number pools with the others like them.
				key = len(l.parties)
			}
			cl.candKeys = append(cl.candKeys, key)
		}
		cl.eligible = int64(k.EligibleVoters)
		l.consIdx[k.ID] = len(l.cons)
		l.cons = append(l.cons, cl)
	}

	// Size classes by national quantiles of station size, so a class means the same thing
	// in every province and borrowing across provinces compares like with like.
	sizes := make([]int, len(c.Stations))
	for i, s := range c.Stations {
		sizes[i] = s.EligibleVoters
	}
	slices.Sort(sizes)
	cuts := make([]int, m.SizeClasses-1)
	for i := range cuts {
		cuts[i] = sizes[(i+1)*len(sizes)/m.SizeClasses]
	}

	l.strata = make([]stratumLayout, len(l.cons)*l.nSub)
	for i := range l.strata {
		l.strata[i] = stratumLayout{cons: i / l.nSub, sub: i % l.nSub}
	}
	l.cellEligible = make([]float64, l.nSub*len(l.regions))
	stationSum := make([]int64, len(l.cons))
	l.stations = make([]stationLayout, len(c.Stations))
	l.stationIdx = make(map[string]int32, len(c.Stations))
	type blockKey struct {
		cons int
		sub  string
	}
	blockIdx := map[blockKey]int32{}
	for i, s := range c.Stations {
		ci := l.consIdx[s.ConstituencyID]
		bk := blockKey{ci, s.Subdistrict}
		block, ok := blockIdx[bk]
		if !ok {
			block = int32(len(l.blockCons))
			blockIdx[bk] = block
			l.blockCons = append(l.blockCons, int32(ci))
			l.blockEligible = append(l.blockEligible, 0)
		}
		l.blockEligible[block] += int64(s.EligibleVoters)
		size := 0
		for size < len(cuts) && s.EligibleVoters >= cuts[size] {
			size++
		}
		sub := size
		if s.Urban {
			sub += m.SizeClasses
		}
		h := ci*l.nSub + sub
		cell := l.provRegion[l.cons[ci].province]*l.nSub + sub
		l.stations[i] = stationLayout{cons: int32(ci), stratum: int32(h), eligible: int32(s.EligibleVoters), priority: s.Priority, cell: int16(cell), block: block}
		l.stationIdx[s.ID] = int32(i)
		l.strata[h].eligible += int64(s.EligibleVoters)
		l.strata[h].stations++
		l.cons[ci].stationsTotal++
		stationSum[ci] += int64(s.EligibleVoters)
		l.cellEligible[cell] += float64(s.EligibleVoters)
		if s.Priority {
			l.priorityTotal++
		}
	}
	for i := range l.cons {
		l.cons[i].eligible = max(l.cons[i].eligible, stationSum[i])
	}
	elig, strat := make([]int32, len(l.stations)), make([]int32, len(l.stations))
	for i, s := range l.stations {
		elig[i], strat[i] = s.eligible, s.stratum
	}
	ls, xl := centredLogSizes(elig, strat, len(l.strata))
	for i := range l.stations {
		l.stations[i].lsize = ls[i]
	}
	for h := range l.strata {
		l.strata[h].xl = xl[h]
	}
	l.setBlockCovariates(c)
	return l, nil
}

// nKeys is the number of option keys on ballot b: the parties, and on the constituency
// ballot one more for the candidates without a party-list number.
func (l *layout) nKeys(b election.Ballot) int {
	if b == election.BallotPartyList {
		return len(l.parties)
	}
	return len(l.parties) + 1
}

// partyNo is the party number of key k, election.NoParty for the key of the candidates
// without one.
func (l *layout) partyNo(k int) int {
	if k < len(l.parties) {
		return l.parties[k]
	}
	return election.NoParty
}

// options returns the keys (party positions) of the choices on ballot b in constituency c,
// in the order the estimator stores their sums. The slice is shared: callers must not
// change it. (The party list's was a fresh one per call: 14 % of the bytes `votestream up`
// allocated in a national night, issue 18.)
func (l *layout) options(b election.Ballot, c int) []int {
	if b == election.BallotPartyList {
		return l.partyKeys
	}
	return l.cons[c].candKeys
}

func (l *layout) allParties() []int {
	keys := make([]int, len(l.parties))
	for i := range keys {
		keys[i] = i
	}
	return keys
}
