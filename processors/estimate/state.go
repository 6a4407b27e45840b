package estimate

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// Estimator is the national state: for every station and ballot its current figures and
// status, summed per stratum as they arrive. Apply and Estimate are not safe for concurrent
// use; the Runner serialises them.
type Estimator struct {
	method  Method
	lay     *layout
	ballots [2]*ballotState // party-list, constituency
	// dataTime is the newest UpdatedAt of any applied result, disputed ones included: the
	// estimate reflects everything known up to then.
	dataTime time.Time
	// trend is the history of the party-list estimate as stations arrived (honesty.go).
	trend         trendHistory
	eligibleTotal int64
	seats         seatHooks      // seats.go
	bl            *baselineState // a previous election (baseline_state.go), nil without
	conf          conformalState // conformal.go
}

// NewEstimator prepares an empty national state for a country. The country must list its
// stations; it is indexed here if it is not yet, and must not change afterwards.
func NewEstimator(c *election.Country, m Method) (*Estimator, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	lay, err := newLayout(c, m)
	if err != nil {
		return nil, err
	}
	e := &Estimator{method: m, lay: lay}
	e.ballots[0] = newBallotState(lay, election.BallotPartyList)
	e.ballots[1] = newBallotState(lay, election.BallotConstituency)
	for _, st := range lay.strata {
		e.eligibleTotal += st.eligible
	}
	return e, nil
}

func (e *Estimator) ballot(b election.Ballot) *ballotState {
	if b == election.BallotPartyList {
		return e.ballots[0]
	}
	return e.ballots[1]
}

// Apply takes one station result into the state, replacing what the station had for that
// ballot. A result with a lower Version than the one held is stale and ignored (it returns
// nil). Disputed results and progressive (not final) counts make the station unreported
// until a usable result replaces them. Votes for a number that is not a party (party-list)
// or a candidate of the constituency are left out of every figure. About 90 times a night
// (each time the reported share of eligible voters grows by 8 %) it also works out the
// party-list estimate for the drift history (honesty.go), which costs one recompute.
func (e *Estimator) Apply(r schemas.StationResult) error {
	si, ok := e.lay.stationIdx[r.StationID]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownStation, r.StationID)
	}
	b := election.Ballot(r.Ballot)
	if !b.Valid() {
		return fmt.Errorf("%w: station %q: ballot %q", ErrBadResult, r.StationID, r.Ballot)
	}
	switch r.Status {
	case schemas.StatusProvisional, schemas.StatusCorroborated, schemas.StatusDisputed, schemas.StatusVerified:
	default:
		return fmt.Errorf("%w: station %q: status %q", ErrBadResult, r.StationID, r.Status)
	}
	bs := e.ballot(b)
	if bs.seen[si] && schemas.OrderResults(r.Version, bs.version[si]) == schemas.Older {
		return nil
	}
	counted := r.Status != schemas.StatusDisputed && r.Stage != schemas.StageProgress
	var votes []int32
	if counted {
		opts := bs.optIndex(e.lay, si)
		votes = make([]int32, bs.optN[e.lay.stations[si].stratum])
		for k, v := range r.Votes {
			no, err := strconv.Atoi(k)
			if err != nil || v < 0 {
				return fmt.Errorf("%w: station %q: votes %q: %d", ErrBadResult, r.StationID, k, v)
			}
			if j, ok := opts(no); ok {
				// Figures are held as int32 per station; a sum beyond that would wrap
				// negative and could hand a call to the wrong candidate.
				sum := int64(votes[j]) + int64(v)
				if sum > math.MaxInt32 {
					return fmt.Errorf("%w: station %q: votes %q: %d out of range", ErrBadResult, r.StationID, k, v)
				}
				votes[j] = int32(sum)
			}
		}
	}
	bs.seen[si], bs.version[si] = true, r.Version
	// A provisional figure (one volunteer's form, not yet corroborated) projects like any
	// other but never counts towards a call: a typo must not be able to produce one.
	e.baselineUpdate(bs, si, votes)
	bs.set(e.lay, si, votes, r.Status == schemas.StatusCorroborated || r.Status == schemas.StatusVerified)
	e.noteTrend(b)
	if r.UpdatedAt.After(e.dataTime) {
		e.dataTime = r.UpdatedAt
	}
	return nil
}

// Forget makes a station's ballot unreported, as a deleted (tombstoned) result on the
// compacted topic asks. Unknown stations and ballots are ignored.
func (e *Estimator) Forget(stationID string, b election.Ballot) {
	si, ok := e.lay.stationIdx[stationID]
	if !ok || !b.Valid() {
		return
	}
	e.baselineUpdate(e.ballot(b), si, nil)
	e.ballot(b).set(e.lay, si, nil, false)
	e.noteTrend(b)
}

// noteTrend keeps the party-list estimate's history as stations arrive (honesty.go).
func (e *Estimator) noteTrend(b election.Ballot) {
	if b != election.BallotPartyList || !e.method.Drift || e.eligibleTotal <= 0 {
		return
	}
	u := float64(e.ballots[0].totX) / float64(e.eligibleTotal)
	e.trend.note(u, func() ([]float64, []float64, bool) {
		st := e.stratified()
		return st.share, st.se, st.ok
	})
}

// applyTally is Apply for a true count from a results set (the backtest): final and
// undisputed.
func (e *Estimator) applyTally(si int32, b election.Ballot, t election.Tally) {
	bs := e.ballot(b)
	opts := bs.optIndex(e.lay, si)
	votes := make([]int32, bs.optN[e.lay.stations[si].stratum])
	for no, v := range t.Votes {
		if j, ok := opts(no); ok {
			votes[j] += int32(v)
		}
	}
	bs.seen[si] = true
	e.baselineUpdate(bs, si, votes)
	bs.set(e.lay, si, votes, true)
	e.noteTrend(b)
}

// DataTime is the newest UpdatedAt among the applied results.
func (e *Estimator) DataTime() time.Time { return e.dataTime }

// ballotState holds one ballot's figures: per station what it currently contributes, and
// per stratum the running sums the estimate needs. A station's eligible voters x, its valid
// votes v and its votes y_j for option j enter as n, Σx, Σv, Σv²/x and per option Σy_j,
// Σy_j²/x, Σy_j·v/x (and on the constituency ballot Σy_j·y_k/x for every pair): the ratio
// estimator's variance under Var(y) ∝ x needs nothing else.
type ballotState struct {
	ballot election.Ballot
	optOff []int // per stratum: start of its options in the per-option slices
	optN   []int // per stratum: number of options

	totX int64 // eligible voters of every reported station

	n  []int32
	x  []int64
	xx []float64 // Σx² per stratum
	v  []int64
	vv []float64
	y  []int64   // per stratum-option
	s  []float64 // per stratum-option: Σy²/x
	cv []float64 // per stratum-option: Σy·v/x
	// cross is Σy_j·y_k/x per stratum, optN² each, constituency ballot only: the variance of
	// a lead needs the covariance of the two candidates.
	cross [][]float64

	// priority sample sums per priority cell (region x sub-stratum), party-list only.
	pri *prioritySums
	// blk holds per subdistrict the reported eligible voters and votes, party-list only
	// (blocks.go).
	blk *blockSums

	// Arrival order within the stratum: q = (stations already reported + 1/2) / stations,
	// fixed when a station first counts. Σx·q, Σx·q² per stratum and Σy·q, Σv·q let the
	// estimate see whether late reports differ from early ones (drift.go).
	xq, xq2, vq []float64
	yq          []float64
	// Σx·l, Σx·l² per stratum and Σy·l per stratum-option, l the station's centred log
	// size (size.go).
	xl, xll []float64
	yl      []float64

	// checked is whether each station's current figures are corroborated or verified;
	// chkX and chkY sum the eligible voters and votes of those per stratum (constituency
	// ballot only): `called` rests on them alone.
	checked []bool
	chkX    []int64
	chkY    []int64

	seen    []bool
	version []int64
	votes   [][]int32 // current counted figures; nil when the station counts as unreported
	arrival []float32 // q of each station; -1 until it first counts
}

func newBallotState(l *layout, b election.Ballot) *ballotState {
	bs := &ballotState{ballot: b}
	nh := len(l.strata)
	bs.optOff = make([]int, nh)
	bs.optN = make([]int, nh)
	total := 0
	for h := range l.strata {
		k := len(l.options(b, l.strata[h].cons))
		bs.optOff[h], bs.optN[h] = total, k
		total += k
	}
	bs.n = make([]int32, nh)
	bs.x = make([]int64, nh)
	bs.xx = make([]float64, nh)
	bs.v = make([]int64, nh)
	bs.vv = make([]float64, nh)
	bs.y = make([]int64, total)
	bs.s = make([]float64, total)
	bs.cv = make([]float64, total)
	bs.xq, bs.xq2, bs.vq = make([]float64, nh), make([]float64, nh), make([]float64, nh)
	bs.yq = make([]float64, total)
	bs.xl, bs.xll, bs.yl = make([]float64, nh), make([]float64, nh), make([]float64, total)
	if b == election.BallotConstituency {
		bs.cross = make([][]float64, nh)
		for h := range bs.cross {
			bs.cross[h] = make([]float64, bs.optN[h]*bs.optN[h])
		}
	} else {
		bs.pri = newPrioritySums(l)
		bs.blk = newBlockSums(l)
	}
	ns := len(l.stations)
	bs.checked = make([]bool, ns)
	bs.chkX = make([]int64, nh)
	bs.chkY = make([]int64, total)
	bs.seen = make([]bool, ns)
	bs.version = make([]int64, ns)
	bs.votes = make([][]int32, ns)
	bs.arrival = make([]float32, ns)
	for i := range bs.arrival {
		bs.arrival[i] = -1
	}
	return bs
}

// optIndex returns the lookup from a vote number (party or candidate number) to the
// position of the option at station si.
func (bs *ballotState) optIndex(l *layout, si int32) func(no int) (int, bool) {
	if bs.ballot == election.BallotPartyList {
		return func(no int) (int, bool) { k, ok := l.partyKey[no]; return k, ok }
	}
	c := &l.cons[l.stations[si].cons]
	return func(no int) (int, bool) { j, ok := c.candIdx[no]; return j, ok }
}

// set replaces station si's contribution with votes (nil: unreported); checked says the
// figures are corroborated or verified.
func (bs *ballotState) set(l *layout, si int32, votes []int32, checked bool) {
	if old := bs.votes[si]; old != nil {
		bs.add(l, si, old, -1)
		if bs.checked[si] {
			bs.addChecked(l, si, old, -1)
		}
	}
	bs.checked[si] = checked && votes != nil
	if bs.checked[si] {
		bs.addChecked(l, si, votes, +1)
	}
	bs.votes[si] = votes
	if votes != nil && bs.arrival[si] < 0 {
		h := l.stations[si].stratum
		bs.arrival[si] = float32((float64(bs.n[h]) + 0.5) / float64(max(l.strata[h].stations, 1)))
	}
	if votes != nil {
		bs.add(l, si, votes, +1)
	}
}

func (bs *ballotState) addChecked(l *layout, si int32, votes []int32, sign int) {
	st := l.stations[si]
	h := st.stratum
	bs.chkX[h] += int64(sign) * int64(st.eligible)
	off := bs.optOff[h]
	for j, y := range votes {
		bs.chkY[off+j] += int64(sign) * int64(y)
	}
}

func (bs *ballotState) add(l *layout, si int32, votes []int32, sign int) {
	st := l.stations[si]
	h := st.stratum
	x := float64(st.eligible)
	// A station with no eligible voters on the roll can still report (a data error); its
	// squares are taken per one voter rather than divided by zero.
	xd := max(x, 1)
	var valid int64
	for _, y := range votes {
		valid += int64(y)
	}
	fs, vf := float64(sign), float64(valid)
	bs.n[h] += int32(sign)
	bs.totX += int64(sign) * int64(st.eligible)
	bs.x[h] += int64(sign) * int64(st.eligible)
	bs.xx[h] += fs * x * x
	bs.v[h] += int64(sign) * valid
	bs.vv[h] += fs * vf * vf / xd
	q := float64(bs.arrival[si])
	bs.xq[h] += fs * x * q
	bs.xq2[h] += fs * x * q * q
	bs.vq[h] += fs * vf * q
	ls := float64(st.lsize)
	bs.xl[h] += fs * x * ls
	bs.xll[h] += fs * x * ls * ls
	off := bs.optOff[h]
	for j, y := range votes {
		yf := float64(y)
		bs.yl[off+j] += fs * yf * ls
		bs.y[off+j] += int64(sign) * int64(y)
		bs.s[off+j] += fs * yf * yf / xd
		bs.cv[off+j] += fs * yf * vf / xd
		bs.yq[off+j] += fs * yf * q
	}
	if bs.cross != nil {
		k := len(votes)
		m := bs.cross[h]
		for j, yj := range votes {
			if yj == 0 {
				continue
			}
			a := fs * float64(yj) / xd
			for i, yi := range votes {
				m[j*k+i] += a * float64(yi)
			}
		}
	}
	if bs.n[h] == 0 {
		// Subtracting floating-point squares leaves dust; an empty stratum is exactly empty.
		bs.vv[h], bs.xx[h], bs.xq[h], bs.xq2[h], bs.vq[h] = 0, 0, 0, 0, 0
		bs.xl[h], bs.xll[h] = 0, 0
		for j := range votes {
			bs.s[off+j], bs.cv[off+j], bs.yq[off+j], bs.yl[off+j] = 0, 0, 0, 0
		}
		if bs.cross != nil {
			clear(bs.cross[h])
		}
	}
	if bs.pri != nil && st.priority {
		bs.pri.add(st, votes, valid, sign)
	}
	if bs.blk != nil {
		bs.blk.add(st, votes, sign)
	}
}
