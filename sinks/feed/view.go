package feed

import (
	"fmt"
	"slices"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// Event types on the stream.
const (
	EventResult   = "result"
	EventEstimate = "estimate"
	EventReset    = "reset"
)

// StatusWithdrawn is the status of a result event whose station result was deleted from
// the compacted topic (a tombstone): the station no longer counts as reported on that
// ballot.
const StatusWithdrawn = "withdrawn"

// ballot indexes of the per-ballot arrays below.
const (
	bConstituency = 0
	bPartyList    = 1
)

var ballotNames = [2]string{string(election.BallotConstituency), string(election.BallotPartyList)}

func ballotIndex(b string) (int, bool) {
	switch b {
	case string(election.BallotConstituency):
		return bConstituency, true
	case string(election.BallotPartyList):
		return bPartyList, true
	}
	return 0, false
}

// counts reports whether a result with this status counts as reported. Disputed results
// count as unreported (DESIGN.md §4), and so does any status this build does not know:
// publishing figures nobody vouched for is the worse mistake on election night.
func counts(s schemas.Status) bool {
	switch s {
	case schemas.StatusProvisional, schemas.StatusCorroborated, schemas.StatusVerified:
		return true
	}
	return false
}

// result is the current station result of one station and ballot, with its votes parsed.
// Its sources are dropped once counted: newsrooms see how many there were, never who
// (volunteer ids stay inside the war room), and 190,000 results should not hold them all.
type result struct {
	sr      schemas.StationResult
	votes   map[int]int
	sources int
}

// tally sums the results of some stations on one ballot.
type tally struct {
	reported, disputed, verified, final int
	eligible                            int64 // eligible voters of the reported stations
	ballotsCast, invalid, noVote        int64
	votes                               map[int]int64
}

// add adds (sign 1) or removes (sign -1) one result's contribution.
func (t *tally) add(r *result, eligible int, sign int) {
	if r.sr.Status == schemas.StatusDisputed {
		t.disputed += sign
	}
	if !counts(r.sr.Status) {
		return
	}
	s := int64(sign)
	t.reported += sign
	if r.sr.Status == schemas.StatusVerified {
		t.verified += sign
	}
	if r.sr.Stage == schemas.StageFinal {
		t.final += sign
	}
	t.eligible += s * int64(eligible)
	t.ballotsCast += s * int64(r.sr.BallotsCast)
	t.invalid += s * int64(r.sr.Invalid)
	t.noVote += s * int64(r.sr.NoVote)
	if t.votes == nil {
		t.votes = map[int]int64{}
	}
	for no, n := range r.votes {
		t.votes[no] += s * int64(n)
		if t.votes[no] == 0 {
			delete(t.votes, no)
		}
	}
}

func (t *tally) validVotes() int64 {
	var sum int64
	for _, n := range t.votes {
		sum += n
	}
	return sum
}

// station is what the view knows of one polling station.
type station struct {
	ref      election.Station // zero but ID and ConstituencyID when the reference has no stations
	results  [2]*result
	version  uint64    // seq of the last change to either ballot
	dataTime time.Time // newest updated_at of its results
}

// constituency is what the view knows of one constituency.
type constituency struct {
	ref           election.Constituency
	province      election.Province
	stationsTotal int
	ballots       [2]tally
	version       uint64 // seq of the last change of its results
	dataTime      time.Time

	proj        *schemas.ConstituencyEstimate // from the latest estimate; nil before one
	projVersion uint64                        // seq of the estimate that last changed proj
	projTime    time.Time                     // data_time of that estimate
	projID      string                        // estimate_id of that estimate

	call        *schemas.Call // the desk's standing approved call (calls.go); nil when none
	callVersion uint64        // seq of the last call or retraction
}

func (c *constituency) lastVersion() uint64 { return max(c.version, c.projVersion, c.callVersion) }

func (c *constituency) lastTime() time.Time {
	if c.projTime.After(c.dataTime) {
		return c.projTime
	}
	return c.dataTime
}

// View is the feed's picture of the night: the current result per station and ballot
// (highest version wins), totals per constituency and for the country with disputed
// stations counted as unreported, and the latest estimate. Every change bumps a sequence
// number; it becomes the event id on the stream and the version (ETag) of every answer the
// change touches.
//
// A View is not safe for concurrent use: the Feed guards it with a read-write lock.
type View struct {
	country *election.Country
	epoch   string
	notice  Notice // in every answer and event

	seq      uint64
	dataTime time.Time

	stations map[string]*station
	consts   map[string]*constituency
	order    []*constituency // reference order
	national [2]tally

	stationsTotal int
	eligibleTotal int64

	estimate        *schemas.Estimate
	estimateVersion uint64
	// candidates per party, for the parties answer.
	partyCandidates map[int]int

	// The desk's calls (calls.go): ids taken, and the standing national call.
	callSeen            map[string]bool
	nationalCall        *schemas.Call
	checkpoint          *schemas.Checkpoint // the transparency log's newest
	nationalCallVersion uint64
}

// Change is one change of the view, to become an event on the stream. Payload is a
// *ResultEvent or an *EstimateEvent.
type Change struct {
	Seq            uint64
	Type           string
	ConstituencyID string // result events only
	ProvinceID     string // result events only
	Payload        any
}

// NewView returns an empty view of country, which must be indexed. epoch names this view's
// sequence numbers in event ids and ETags, so that numbers of another process (another
// view) never match.
func NewView(country *election.Country, epoch string) *View {
	v := &View{
		country:         country,
		epoch:           epoch,
		notice:          Notice{Unofficial: true, Attribution: DefaultAttribution},
		stations:        map[string]*station{},
		consts:          make(map[string]*constituency, len(country.Constituencies)),
		partyCandidates: map[int]int{},
	}
	for _, c := range country.Constituencies {
		p, _ := country.Province(c.ProvinceID)
		cs := &constituency{ref: c, province: p, stationsTotal: c.Stations}
		if country.HasStations() {
			cs.stationsTotal = len(country.StationsIn(c.ID))
		}
		v.consts[c.ID] = cs
		v.order = append(v.order, cs)
		v.stationsTotal += cs.stationsTotal
		v.eligibleTotal += int64(c.EligibleVoters)
	}
	for _, c := range country.Candidates {
		v.partyCandidates[c.PartyNo]++
	}
	return v
}

// Seq returns the number of the last change.
func (v *View) Seq() uint64 { return v.seq }

// Epoch returns the name of this view's sequence.
func (v *View) Epoch() string { return v.epoch }

// Apply takes a station result into the view. It reports false, with no error, for a
// result no newer than the one held (a duplicate or a stale delivery). An error wraps one
// of the package's sentinels; the view is then unchanged.
func (v *View) Apply(sr schemas.StationResult) (Change, bool, error) {
	b, ok := ballotIndex(sr.Ballot)
	if !ok {
		return Change{}, false, fmt.Errorf("%w: %s: ballot %q", ErrBadResult, sr.StationID, sr.Ballot)
	}
	if sr.BallotsCast < 0 || sr.Invalid < 0 || sr.NoVote < 0 || sr.Version < 0 {
		return Change{}, false, fmt.Errorf("%w: %s/%s: negative count or version", ErrBadResult, sr.StationID, sr.Ballot)
	}
	votes, err := election.ParseVotes(sr.Votes)
	if err != nil {
		return Change{}, false, fmt.Errorf("%w: %s/%s: %w", ErrBadResult, sr.StationID, sr.Ballot, err)
	}
	st, err := v.station(sr.StationID, sr.ConstituencyID)
	if err != nil {
		return Change{}, false, err
	}
	cur := st.results[b]
	if cur != nil && schemas.OrderResults(sr.Version, cur.sr.Version) != schemas.Newer {
		return Change{}, false, nil // stale, or a re-delivery: no change to report
	}
	next := &result{sr: sr, votes: votes, sources: len(sr.Sources)}
	next.sr.Sources, next.sr.Votes, next.sr.DecidedBy = nil, nil, ""
	cs := v.consts[st.ref.ConstituencyID]
	if cur != nil {
		cs.ballots[b].add(cur, st.ref.EligibleVoters, -1)
		v.national[b].add(cur, st.ref.EligibleVoters, -1)
	}
	cs.ballots[b].add(next, st.ref.EligibleVoters, 1)
	v.national[b].add(next, st.ref.EligibleVoters, 1)
	st.results[b] = next
	v.stations[st.ref.ID] = st

	v.seq++
	st.version, cs.version = v.seq, v.seq
	st.dataTime = later(st.dataTime, sr.UpdatedAt)
	cs.dataTime = later(cs.dataTime, sr.UpdatedAt)
	v.dataTime = later(v.dataTime, sr.UpdatedAt)
	ev := &ResultEvent{StationID: st.ref.ID, ConstituencyID: cs.ref.ID, ProvinceID: cs.ref.ProvinceID, BallotResult: *ballotResult(next), Notice: v.notice}
	return Change{Seq: v.seq, Type: EventResult, ConstituencyID: cs.ref.ID, ProvinceID: cs.ref.ProvinceID, Payload: ev}, true, nil
}

// Forget removes the result of a station and ballot (a tombstone on the compacted topic).
// It reports false when the view held no such result.
func (v *View) Forget(stationID, ballot string) (Change, bool) {
	b, ok := ballotIndex(ballot)
	if !ok {
		return Change{}, false
	}
	st := v.stations[stationID]
	if st == nil || st.results[b] == nil {
		return Change{}, false
	}
	cur := st.results[b]
	cs := v.consts[st.ref.ConstituencyID]
	cs.ballots[b].add(cur, st.ref.EligibleVoters, -1)
	v.national[b].add(cur, st.ref.EligibleVoters, -1)
	st.results[b] = nil
	v.seq++
	st.version, cs.version = v.seq, v.seq
	ev := &ResultEvent{StationID: stationID, ConstituencyID: cs.ref.ID, ProvinceID: cs.ref.ProvinceID,
		BallotResult: BallotResult{Ballot: ballotNames[b], Status: StatusWithdrawn}, Notice: v.notice}
	return Change{Seq: v.seq, Type: EventResult, ConstituencyID: cs.ref.ID, ProvinceID: cs.ref.ProvinceID, Payload: ev}, true
}

// station finds (or, for a reference without stations, creates) the station of a result.
func (v *View) station(id, constituencyID string) (*station, error) {
	if st := v.stations[id]; st != nil {
		if constituencyID != "" && constituencyID != st.ref.ConstituencyID {
			return nil, fmt.Errorf("%w: station %s is in %s, the result says %s", ErrUnknownConstituency, id, st.ref.ConstituencyID, constituencyID)
		}
		return st, nil
	}
	if v.country.HasStations() {
		ref, ok := v.country.StationByID(id)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownStation, id)
		}
		if constituencyID != "" && constituencyID != ref.ConstituencyID {
			return nil, fmt.Errorf("%w: station %s is in %s, the result says %s", ErrUnknownConstituency, id, ref.ConstituencyID, constituencyID)
		}
		st := &station{ref: ref}
		v.stations[id] = st
		return st, nil
	}
	// Without stations.csv the result's constituency is all there is; eligible voters of
	// the station are unknown (0).
	if id == "" {
		return nil, fmt.Errorf("%w: empty station id", ErrUnknownStation)
	}
	if _, ok := v.consts[constituencyID]; !ok {
		return nil, fmt.Errorf("%w: %q (station %s)", ErrUnknownConstituency, constituencyID, id)
	}
	return &station{ref: election.Station{ID: id, ConstituencyID: constituencyID}}, nil
}

// ApplyEstimate makes e the latest estimate when it is newer than the one held: a later
// data_time, or the same data_time and a later computed_at (the rule of the
// estimate_latest view in ClickHouse). It reports false for an older estimate or a
// re-delivery of the current one.
func (v *View) ApplyEstimate(e schemas.Estimate) (Change, bool) {
	if cur := v.estimate; cur != nil {
		if e.EstimateID == cur.EstimateID || schemas.OrderEstimates(&e, cur) != schemas.Newer {
			return Change{}, false
		}
	}
	v.seq++
	v.estimate = &e
	v.estimateVersion = v.seq
	v.dataTime = later(v.dataTime, e.DataTime)

	seen := make(map[string]bool, len(e.Constituencies))
	changedSet := map[string]bool{}
	for i := range e.Constituencies {
		ce := &e.Constituencies[i]
		cs := v.consts[ce.ConstituencyID]
		if cs == nil || seen[ce.ConstituencyID] {
			continue // an estimate of another country, or a repeated entry: the first wins
		}
		seen[ce.ConstituencyID] = true
		if cs.proj != nil && sameProjection(cs.proj, ce) {
			continue
		}
		cs.proj, cs.projVersion, cs.projTime, cs.projID = ce, v.seq, e.DataTime, e.EstimateID
		changedSet[ce.ConstituencyID] = true
	}
	var changed []string
	for _, cs := range v.order {
		if !seen[cs.ref.ID] && cs.proj != nil {
			// The estimate no longer projects it: drop the old projection rather than
			// show one of another run as current.
			cs.proj, cs.projVersion, cs.projTime, cs.projID = nil, v.seq, e.DataTime, e.EstimateID
			changedSet[cs.ref.ID] = true
		}
		if changedSet[cs.ref.ID] {
			changed = append(changed, cs.ref.ID)
		}
	}
	ev := &EstimateEvent{EstimateView: v.estimateView(), ChangedConstituencies: changed, Notice: v.notice}
	if ev.ChangedConstituencies == nil {
		ev.ChangedConstituencies = []string{}
	}
	return Change{Seq: v.seq, Type: EventEstimate, Payload: ev}, true
}

// sameProjection reports whether two projections of one constituency give the same
// figures, so an estimate run that changes nothing there leaves its version alone.
func sameProjection(a, b *schemas.ConstituencyEstimate) bool {
	return a.LeaderNo == b.LeaderNo && a.WinProbability == b.WinProbability && a.Call == b.Call &&
		a.StationsReported == b.StationsReported && a.StationsTotal == b.StationsTotal &&
		a.EligibleReported == b.EligibleReported && a.EligibleTotal == b.EligibleTotal &&
		slices.EqualFunc(a.Candidates, b.Candidates, sameCandidate)
}

// sameCandidate compares candidates by value (Swing is a pointer).
func sameCandidate(a, b schemas.CandidateEstimate) bool {
	sa, sb := a.Swing, b.Swing
	a.Swing, b.Swing = nil, nil
	return a == b && (sa == nil) == (sb == nil) && (sa == nil || *sa == *sb)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
