package estimate

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"votestream/election"
)

// BaselineMatch says how much of a baseline matched tonight's reference data.
type BaselineMatch struct {
	Stations             int // tonight's stations with a baseline of their own (station id matched)
	StationsFromCons     int // tonight's stations given their constituency's baseline
	StationsTotal        int
	Constituencies       int // constituency ids in the baseline matched
	IDsUnmatched         int // baseline ids that are neither a station nor a constituency tonight
	Parties, PartiesLeft int // tonight's parties with a baseline; those without (new, or renamed past matching)
	CandidatesMapped     bool
}

// Covered is the fraction of tonight's stations with some baseline.
func (m BaselineMatch) Covered() float64 {
	return float64(m.Stations+m.StationsFromCons) / float64(max(m.StationsTotal, 1))
}

// baselineState is the previous election attached to an Estimator (baseline_model.go uses
// it). Per ballot:
//   - base[si] is station si's baseline votes per option (as the ballot's sums order them),
//     nil for a station without a baseline;
//   - shadow is a ballotState fed the baseline votes of exactly the stations that have
//     reported tonight: the level model run on it projects the previous election with
//     tonight's reporting pattern, and how wrong it is there is known;
//   - bAll, xAll are per stratum-option and stratum the baseline votes and eligible voters
//     of every station with a baseline;
//   - yb, yxb are per stratum-option Σy and Σy·b/x over reported stations with a baseline
//     (y tonight's votes, b the baseline's, x eligible voters): the night's own measure of
//     how far the baseline predicts tonight within strata.
type baselineState struct {
	match  BaselineMatch
	base   [2][][]int32
	shadow [2]*ballotState
	bAll   [2][]float64
	xAll   [2][]float64
	yb     [2][]float64
	yxb    [2][]float64
	// consShares is per constituency the baseline's constituency-ballot shares per party
	// number (the swing's reference).
	consShares map[string]map[int]float64
}

func normName(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// SetBaseline attaches a previous election's results to the estimator, matched to c (the
// Country the estimator was made with). It must be called before the first Apply. A station
// without a baseline, and a party without one, are projected by the level model alone. It
// also feeds SetSwingBaseline. The error wraps ErrBaseline (code BASELINE_NO_MATCH) when
// nothing matches.
func (e *Estimator) SetBaseline(c *election.Country, b *Baseline) (BaselineMatch, error) {
	l := e.lay
	if len(c.Stations) != len(l.stations) {
		return BaselineMatch{}, fmt.Errorf("%w: SetBaseline: not the estimator's country", ErrBaseline)
	}
	if e.ballots[0].totX > 0 || e.ballots[1].totX > 0 {
		return BaselineMatch{}, errors.New("estimate: SetBaseline after results were applied")
	}
	m := BaselineMatch{StationsTotal: len(c.Stations), CandidatesMapped: b.CandidateParty != nil}
	// Previous party numbers -> tonight's party keys.
	prevKey := map[int]int{}
	if b.PartyNames != nil {
		byName := map[string]int{}
		for k, p := range c.Parties {
			for _, n := range []string{p.NameTH, p.NameEN} {
				if n != "" {
					byName[normName(n)] = k
				}
			}
		}
		for no, names := range b.PartyNames {
			for _, n := range names {
				if k, ok := byName[normName(n)]; ok && n != "" {
					prevKey[no] = k
					break
				}
			}
		}
	} else {
		for no, k := range l.partyKey {
			prevKey[no] = k
		}
	}
	// Which of tonight's parties the baseline knows (any votes).
	known := make([]bool, len(l.parties))
	for _, u := range b.Votes {
		for no, v := range u[0] {
			if k, ok := prevKey[no]; ok && v > 0 {
				known[k] = true
			}
		}
	}
	for _, ok := range known {
		if ok {
			m.Parties++
		} else {
			m.PartiesLeft++
		}
	}
	for id := range b.Votes {
		_, st := l.stationIdx[id]
		_, cn := l.consIdx[id]
		switch {
		case cn:
			m.Constituencies++
		case !st:
			m.IDsUnmatched++
		}
	}
	if m.Parties == 0 {
		return m, &BaselineError{Code: BaselineNoMatch, File: election.FileStationVotes, Msg: "no party of the baseline matches tonight's parties"}
	}

	// Per key votes of a baseline unit on each ballot.
	keyVotes := func(id, consID string, u *[2]map[int]int64) (pl, cb []float64) {
		pl = make([]float64, len(l.parties)+1)
		for no, v := range u[0] {
			if k, ok := prevKey[no]; ok {
				pl[k] += float64(v)
			}
		}
		if b.CandidateParty != nil && len(u[1]) > 0 {
			cb = make([]float64, len(l.parties)+1)
			for no, v := range u[1] {
				p, ok := b.CandidateParty[candidateKey{consID, no}]
				if !ok {
					cb[len(l.parties)] += float64(v) // an independent then
					continue
				}
				if k, ok := prevKey[p]; ok {
					cb[k] += float64(v)
				}
			}
		}
		if cb == nil {
			cb = pl
		}
		return pl, cb
	}
	bl := &baselineState{consShares: map[string]map[int]float64{}}
	consElig := make([]float64, len(l.cons))
	for _, st := range l.stations {
		consElig[st.cons] += float64(st.eligible)
	}
	consVotes := make([][]float64, len(l.cons)) // constituency-ballot baseline per key, for the swing
	for bi := range 2 {
		bl.base[bi] = make([][]int32, len(l.stations))
	}
	for si, s := range c.Stations {
		st := l.stations[si]
		ci := int(st.cons)
		u, own := b.Votes[s.ID]
		scale := 1.0
		if !own {
			u = b.Votes[s.ConstituencyID]
			if u == nil {
				continue
			}
			scale = float64(st.eligible) / max(consElig[ci], 1)
			m.StationsFromCons++
		} else {
			m.Stations++
		}
		pl, cb := keyVotes(s.ID, s.ConstituencyID, u)
		var sum float64
		for _, v := range pl {
			sum += v
		}
		if sum <= 0 {
			continue
		}
		row := make([]int32, len(l.parties))
		for k := range row {
			row[k] = int32(math.Round(pl[k] * scale))
		}
		bl.base[0][si] = row
		keys := l.options(election.BallotConstituency, ci)
		crow := make([]int32, len(keys))
		for j, k := range keys {
			if k < len(l.parties) || b.CandidateParty != nil {
				crow[j] = int32(math.Round(cb[k] * scale))
			}
		}
		bl.base[1][si] = crow
		if consVotes[ci] == nil {
			consVotes[ci] = make([]float64, len(l.parties)+1)
		}
		for k, v := range cb {
			consVotes[ci][k] += v * scale
		}
	}
	if m.Stations+m.StationsFromCons == 0 {
		return m, &BaselineError{Code: BaselineNoMatch, File: election.FileStationVotes, Msg: "no station_id matches tonight's stations or constituencies"}
	}
	for ci, v := range consVotes {
		if v == nil {
			continue
		}
		var sum float64
		for k := range l.parties {
			sum += v[k]
		}
		if sum <= 0 {
			continue
		}
		sh := map[int]float64{}
		for k := range l.parties {
			if known[k] {
				sh[l.parties[k]] = v[k] / (sum + v[len(l.parties)])
			}
		}
		bl.consShares[l.cons[ci].id] = sh
	}
	for bi, ballot := range []election.Ballot{election.BallotPartyList, election.BallotConstituency} {
		bs := e.ballots[bi]
		bl.shadow[bi] = newBallotState(l, ballot)
		bl.bAll[bi] = make([]float64, len(bs.y))
		bl.xAll[bi] = make([]float64, len(l.strata))
		bl.yb[bi] = make([]float64, len(bs.y))
		bl.yxb[bi] = make([]float64, len(bs.y))
		for si, row := range bl.base[bi] {
			if row == nil {
				continue
			}
			h := l.stations[si].stratum
			bl.xAll[bi][h] += float64(l.stations[si].eligible)
			for j, v := range row {
				bl.bAll[bi][bs.optOff[h]+j] += float64(v)
			}
		}
	}
	bl.match = m
	e.bl = bl
	e.SetSwingBaseline(func(id string) (map[int]float64, bool) {
		s, ok := bl.consShares[id]
		return s, ok
	})
	return m, nil
}

// BaselineMatch returns how the attached baseline matched, false without one.
func (e *Estimator) BaselineMatch() (BaselineMatch, bool) {
	if e.bl == nil {
		return BaselineMatch{}, false
	}
	return e.bl.match, true
}

// baselineUpdate keeps the shadow state and the cross sums in step with station si's new
// figures on ballot bs (nil: unreported). Call before bs.set replaces the old ones.
func (e *Estimator) baselineUpdate(bs *ballotState, si int32, votes []int32) {
	bl := e.bl
	if bl == nil {
		return
	}
	bi := 0
	if bs.ballot == election.BallotConstituency {
		bi = 1
	}
	base := bl.base[bi][si]
	if base == nil {
		return
	}
	st := e.lay.stations[si]
	off := bs.optOff[st.stratum]
	x := max(float64(st.eligible), 1)
	add := func(v []int32, sign float64) {
		for j, y := range v {
			bl.yb[bi][off+j] += sign * float64(y)
			bl.yxb[bi][off+j] += sign * float64(y) * float64(base[j]) / x
		}
	}
	if old := bs.votes[si]; old != nil {
		add(old, -1)
	}
	if votes != nil {
		add(votes, +1)
		bl.shadow[bi].set(e.lay, si, base, false)
	} else {
		bl.shadow[bi].set(e.lay, si, nil, false)
	}
}

// MatchBaseline says how b matches c without keeping an estimator (for a command that
// reports it before a backtest).
func MatchBaseline(c *election.Country, b *Baseline) (BaselineMatch, error) {
	e, err := NewEstimator(c, DefaultMethod())
	if err != nil {
		return BaselineMatch{}, err
	}
	return e.SetBaseline(c, b)
}
