package consolidate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// Station is everything consolidate knows about one polling station: every report, review
// and official figure on both ballots, the cross-station flags on it, and what it last
// published. A Station is a value: Apply returns a new one and never changes the one it was
// given (slices and maps are copied before they change), so a caller can keep the old value
// to roll back.
type Station struct {
	ID             string
	ConstituencyID string
	EligibleVoters int

	member int32 // its index in its Ledger partition's members of its constituency

	ballots [2]ballotState      // by ballotIndex
	raised  map[string]struct{} // ids of the anomalies already raised for this station
}

type ballotState struct {
	reports    []*Report                   // every distinct report, by (received_at, submission_id)
	regressed  map[*Report]regression      // regressions(reports), worked out when reports change
	decisions  []decision                  // reviews and official figures, by (received_at, id)
	flags      map[string]*schemas.Anomaly // cross-station codes currently on
	published  *schemas.StationResult      // last result published; nil before the first
	fig        *figures                    // the figures of published
	duplicates int                         // re-deliveries of a submission id already held
	// updatedAt is the data time of the ballot: received_at of its newest report, review or
	// official figure. Cross-station flags do not move it (they are other stations' data),
	// which keeps it a function of the ballot's own inputs, whatever order they came in.
	updatedAt time.Time
}

// decision is a review or an official figure: exactly one is set.
type decision struct {
	review   *Review
	official *Official
}

func (d decision) id() string {
	if d.review != nil {
		return d.review.ReviewID
	}
	return d.official.OfficialID
}

func (d decision) at() time.Time {
	if d.review != nil {
		return d.review.ReceivedAt
	}
	return d.official.ReceivedAt
}

func ballotIndex(b string) int {
	if b == string(election.BallotPartyList) {
		return 1
	}
	return 0
}

func ballotName(i int) string { return string(election.Ballots[i]) }

// NewStation starts the state of a station of the Country.
func (r *Rules) NewStation(id string) (Station, error) {
	s, ok := r.Country.StationByID(id)
	if !ok {
		return Station{}, fmt.Errorf("%w: unknown station %q", ErrInvalidInput, id)
	}
	return Station{ID: s.ID, ConstituencyID: s.ConstituencyID, EligibleVoters: s.EligibleVoters}, nil
}

// Result returns the result a ballot of the station last published.
func (st *Station) Result(b election.Ballot) (schemas.StationResult, bool) {
	bs := &st.ballots[ballotIndex(string(b))]
	if bs.published == nil {
		return schemas.StationResult{}, false
	}
	res := *bs.published
	res.Votes = bs.fig.wireVotes()
	return res, true
}

// Reports returns every distinct report held for a ballot, in the order the rules read
// them (received_at, then submission_id). A Ledger's stations keep reports without their
// role and evidence (Report.kept): those fields are empty in what it returns for them.
func (st *Station) Reports(b election.Ballot) []schemas.Report {
	rs := st.ballots[ballotIndex(string(b))].reports
	out := make([]schemas.Report, len(rs))
	for i, r := range rs {
		out[i] = r.wire()
	}
	return out
}

// Duplicates returns how many re-deliveries of an already held submission id a ballot saw.
func (st *Station) Duplicates(b election.Ballot) int {
	return st.ballots[ballotIndex(string(b))].duplicates
}

// Apply is the state machine: it adds one input to a station and returns the new state and
// what to publish: anomalies raised for the first time, then the result of each ballot whose
// figures, status, sources or open anomalies changed, with its version one above the last
// (or in.VersionFloor if that is higher).
// A duplicate (a submission id already held, or a figure already known) changes no result.
// Apply is a pure function of its arguments and safe for concurrent use on different
// stations.
func (r *Rules) Apply(st Station, in Input) (Station, []Output) {
	next := st
	var out []Output
	cloned := false
	raise := func(a *schemas.Anomaly) {
		if a == nil {
			return
		}
		if _, done := next.raised[a.AnomalyID]; done {
			return
		}
		if !cloned {
			next.raised = make(map[string]struct{}, len(st.raised)+1)
			maps.Copy(next.raised, st.raised)
			cloned = true
		}
		next.raised[a.AnomalyID] = struct{}{}
		out = append(out, Output{Anomaly: a})
	}

	at := in.at()
	switch {
	case in.Report != nil:
		b := &next.ballots[ballotIndex(in.Report.Ballot())]
		if slices.ContainsFunc(b.reports, func(x *Report) bool { return x.SubmissionID == in.Report.SubmissionID }) {
			b.duplicates++
			return next, nil
		}
		b.reports = insertReport(b.reports, in.Report)
		b.regressed = regressions(b.reports)
		b.updatedAt = later(b.updatedAt, at)
		for _, a := range r.reportAnomalies(&next, in.Report) {
			raise(a)
		}
	case in.Review != nil && in.Review.Escalate:
		return next, nil // a request for the war room, not a decision: the result stands
	case in.Review != nil:
		b := &next.ballots[ballotIndex(in.Review.Ballot)]
		if !insertDecision(&b.decisions, decision{review: in.Review}) {
			return next, nil
		}
		b.updatedAt = later(b.updatedAt, at)
	case in.Official != nil:
		b := &next.ballots[ballotIndex(in.Official.Ballot)]
		if !insertDecision(&b.decisions, decision{official: in.Official}) {
			return next, nil
		}
		b.updatedAt = later(b.updatedAt, at)
	case in.Flag != nil:
		b := &next.ballots[ballotIndex(string(in.Flag.Ballot))]
		_, on := b.flags[in.Flag.Code]
		if on == in.Flag.On {
			if in.Flag.On {
				raise(in.Flag.Anomaly) // same verdict, possibly a new occurrence
			}
			return next, out
		}
		b.flags = maps.Clone(b.flags)
		if in.Flag.On {
			if b.flags == nil {
				b.flags = map[string]*schemas.Anomaly{}
			}
			b.flags[in.Flag.Code] = in.Flag.Anomaly
			raise(in.Flag.Anomaly)
		} else {
			delete(b.flags, in.Flag.Code)
		}
	}

	views := r.derive(&next, at)
	for i := range views {
		for _, a := range views[i].raise {
			raise(a)
		}
	}
	for i := range views {
		v := &views[i]
		if v.fig == nil {
			continue
		}
		b := &next.ballots[i]
		if unchanged(v, b) {
			continue
		}
		res := r.result(&next, i, v, b.updatedAt)
		res.Version = 1
		if b.published != nil {
			res.Version = b.published.Version + 1
		}
		res.Version = max(res.Version, in.VersionFloor)
		// Kept without its votes (b.fig has them): a station's state should cost little more
		// than its reports.
		kept := *res
		kept.Votes = nil
		b.published = &kept
		b.fig = v.fig
		out = append(out, Output{Result: res})
	}
	return next, out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// insertReport returns a new slice with r in (received_at, submission_id) order.
func insertReport(rs []*Report, r *Report) []*Report {
	i, _ := slices.BinarySearchFunc(rs, r, func(a, b *Report) int {
		if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
			return c
		}
		return strings.Compare(a.SubmissionID, b.SubmissionID)
	})
	out := make([]*Report, 0, len(rs)+1)
	out = append(out, rs[:i]...)
	out = append(out, r)
	return append(out, rs[i:]...)
}

// insertDecision adds d in (received_at, id) order to a copy of *ds; false if its id is held.
func insertDecision(ds *[]decision, d decision) bool {
	if slices.ContainsFunc(*ds, func(x decision) bool { return x.id() == d.id() }) {
		return false
	}
	i, _ := slices.BinarySearchFunc(*ds, d, func(a, b decision) int {
		if c := a.at().Compare(b.at()); c != 0 {
			return c
		}
		return strings.Compare(a.id(), b.id())
	})
	out := make([]decision, 0, len(*ds)+1)
	out = append(out, (*ds)[:i]...)
	out = append(out, d)
	*ds = append(out, (*ds)[i:]...)
	return true
}

// unchanged reports whether the view would publish what the ballot last published, but
// for the version and the data time. It compares without building the record: most inputs
// change nothing (duplicates, tally boards behind the leading one).
func unchanged(v *view, b *ballotState) bool {
	p := b.published
	if p == nil || b.fig == nil || !same(b.fig, v.fig) || p.Status != v.status || p.Stage != v.stage ||
		p.DecidedBy != v.decidedBy || !p.CountedAt.Equal(v.countedAt) || len(p.Sources) != len(v.sources) {
		return false
	}
	for k, s := range v.sources {
		ps := &p.Sources[k]
		if ps.SubmissionID != s.SubmissionID || ps.VolunteerID != s.VolunteerID || ps.Org != s.Org || ps.Stage != s.Stage() || ps.Hash != s.Hash {
			return false
		}
	}
	codes := v.codes.list()
	return slices.Equal(p.Anomalies, codes)
}

// result builds the record for ballot i from its view.
func (r *Rules) result(st *Station, i int, v *view, updatedAt time.Time) *schemas.StationResult {
	sources := make([]schemas.Source, len(v.sources))
	for k, s := range v.sources {
		sources[k] = schemas.Source{SubmissionID: s.SubmissionID, VolunteerID: s.VolunteerID, Org: s.Org, Stage: s.Stage(), Hash: s.Hash}
	}
	return &schemas.StationResult{
		StationID:      st.ID,
		ConstituencyID: st.ConstituencyID,
		Ballot:         ballotName(i),
		Status:         v.status,
		Stage:          v.stage,
		BallotsCast:    v.fig.BallotsCast,
		Invalid:        v.fig.Invalid,
		NoVote:         v.fig.NoVote,
		Votes:          v.fig.wireVotes(),
		Sources:        sources,
		Anomalies:      v.codes.list(),
		DecidedBy:      v.decidedBy,
		CountedAt:      v.countedAt,
		UpdatedAt:      updatedAt,
	}
}

func ballotOf(i int) election.Ballot { return election.Ballots[i] }
