package feed

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// bangkok is Thai time. Thailand keeps no daylight saving, so a fixed zone needs no tzdata
// on the machine; every time the feed writes is RFC 3339 with +07:00.
var bangkok = time.FixedZone("ICT", 7*60*60)

func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.In(bangkok)
	return &t
}

// Meta is carried by every answer. Version is the number of the last change the answer
// reflects; EventID names the same change on the stream (and is the answer's ETag): open
// the stream with Last-Event-ID set to it to receive every later change.
type Meta struct {
	DataTime *time.Time `json:"data_time"` // newest data time reflected; null before any data
	Version  uint64     `json:"version"`
	EventID  string     `json:"event_id"`
	Notice
}

// DefaultAttribution is Config.Attribution's default.
const DefaultAttribution = "Unofficial count by votestream volunteers, not the Election Commission's result. Credit \"votestream\" when you publish it."

// Notice is in every payload, answers and events alike: these are volunteers' figures, not
// the official result, and who to credit.
type Notice struct {
	Unofficial  bool   `json:"unofficial"`
	Attribution string `json:"attribution"`
	// Test and Banner mark every payload of a feed in test mode: a simulated night, for
	// newsrooms to build their graphics on, never the count (docs/feed.md, "Test mode").
	Test   bool   `json:"test,omitempty"`
	Banner string `json:"banner,omitempty"`
}

// testMarks are the test fields appended to an event written by hand (a reset).
var testMarks = `,"test":true,"banner":"` + TestBanner + `"`

// TestBanner is the banner of every payload in test mode, Thai first.
const TestBanner = "ข้อมูลทดสอบ: คืนเลือกตั้งจำลอง ไม่ใช่ผลการนับคะแนน / TEST DATA: a simulated night, not election results"

func (v *View) meta(version uint64, dataTime time.Time) Meta {
	return Meta{DataTime: jsonTime(dataTime), Version: version, EventID: formatEventID(v.epoch, version), Notice: v.notice}
}

// Count is what has been counted on one ballot over some stations. Disputed stations count
// as unreported: their figures are in none of the sums.
type Count struct {
	StationsReported int      `json:"stations_reported"`
	StationsDisputed int      `json:"stations_disputed"`
	StationsVerified int      `json:"stations_verified"`
	StationsFinal    int      `json:"stations_final"`
	StationsTotal    int      `json:"stations_total"`
	EligibleReported int64    `json:"eligible_reported"`
	EligibleTotal    int64    `json:"eligible_total"`
	BallotsCast      int64    `json:"ballots_cast"`
	Invalid          int64    `json:"invalid"`
	NoVote           int64    `json:"no_vote"`
	ValidVotes       int64    `json:"valid_votes"`
	Turnout          *float64 `json:"turnout"` // ballots_cast / eligible_reported; null when that is 0
}

// Counts are the two ballots' counts.
type Counts struct {
	Constituency Count `json:"constituency"`
	PartyList    Count `json:"partylist"`
}

func count(t *tally, stationsTotal int, eligibleTotal int64) Count {
	c := Count{
		StationsReported: t.reported, StationsDisputed: t.disputed, StationsVerified: t.verified,
		StationsFinal: t.final, StationsTotal: stationsTotal, EligibleReported: t.eligible,
		EligibleTotal: eligibleTotal, BallotsCast: t.ballotsCast, Invalid: t.invalid, NoVote: t.noVote,
		ValidVotes: t.validVotes(),
	}
	if t.eligible > 0 {
		c.Turnout = ratio(t.ballotsCast, t.eligible)
	}
	return c
}

func ratio(a, b int64) *float64 {
	if b == 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}

// BallotResult is one station's current result on one ballot. Figures are left out
// (reported false) while the result is disputed or withdrawn.
type BallotResult struct {
	Ballot        string         `json:"ballot"`
	ResultVersion int64          `json:"result_version"` // consolidate's version of the result
	Status        string         `json:"status"`         // provisional, corroborated, verified, disputed, withdrawn
	Stage         string         `json:"stage,omitempty"`
	Reported      bool           `json:"reported"`
	BallotsCast   *int           `json:"ballots_cast,omitempty"`
	Invalid       *int           `json:"invalid,omitempty"`
	NoVote        *int           `json:"no_vote,omitempty"`
	Votes         map[string]int `json:"votes,omitempty"`
	Anomalies     []string       `json:"anomalies,omitempty"`
	Sources       int            `json:"sources"`
	CountedAt     *time.Time     `json:"counted_at,omitempty"`
	UpdatedAt     *time.Time     `json:"updated_at,omitempty"`
}

func ballotResult(r *result) *BallotResult {
	if r == nil {
		return nil
	}
	sr := &r.sr
	br := &BallotResult{
		Ballot: sr.Ballot, ResultVersion: sr.Version, Status: string(sr.Status), Stage: string(sr.Stage),
		Reported: counts(sr.Status), Anomalies: sr.Anomalies, Sources: r.sources,
		CountedAt: jsonTime(sr.CountedAt), UpdatedAt: jsonTime(sr.UpdatedAt),
	}
	if br.Reported {
		bc, inv, nv := sr.BallotsCast, sr.Invalid, sr.NoVote
		br.BallotsCast, br.Invalid, br.NoVote = &bc, &inv, &nv
		br.Votes = make(map[string]int, len(r.votes))
		for no, n := range r.votes {
			if n > 0 {
				br.Votes[strconv.Itoa(no)] = n
			}
		}
	}
	return br
}

// ResultEvent is the data of a `result` event: one station result changed.
type ResultEvent struct {
	StationID      string `json:"station_id"`
	ConstituencyID string `json:"constituency_id"`
	ProvinceID     string `json:"province_id"`
	BallotResult
	Notice
}

// StationView is one polling station and its two results (null before any).
type StationView struct {
	StationID      string     `json:"station_id"`
	ConstituencyID string     `json:"constituency_id"`
	ProvinceID     string     `json:"province_id"`
	Subdistrict    string     `json:"subdistrict"`
	Number         int        `json:"number"`
	EligibleVoters int        `json:"eligible_voters"`
	Version        uint64     `json:"version"`
	DataTime       *time.Time `json:"data_time"`
	Ballots        struct {
		Constituency *BallotResult `json:"constituency"`
		PartyList    *BallotResult `json:"partylist"`
	} `json:"ballots"`
}

// StationAnswer is the answer of /v1/feed/stations/{id}.
type StationAnswer struct {
	Meta
	Station StationView `json:"station"`
}

// StationVersion returns the version of a station's answer; false for a station the feed
// does not know.
func (v *View) StationVersion(id string) (uint64, bool) {
	if st := v.stations[id]; st != nil {
		return st.version, true
	}
	if v.country.HasStations() {
		_, ok := v.country.StationByID(id)
		return 0, ok
	}
	return 0, false
}

// Station renders a station's answer; false for a station the feed does not know.
func (v *View) Station(id string) (StationAnswer, bool) {
	st := v.stations[id]
	if st == nil {
		ref, ok := v.country.StationByID(id)
		if !ok || !v.country.HasStations() {
			return StationAnswer{}, false
		}
		st = &station{ref: ref}
	}
	cs := v.consts[st.ref.ConstituencyID]
	sv := StationView{
		StationID: st.ref.ID, ConstituencyID: st.ref.ConstituencyID, ProvinceID: cs.ref.ProvinceID,
		Subdistrict: st.ref.Subdistrict, Number: st.ref.Number, EligibleVoters: st.ref.EligibleVoters,
		Version: st.version, DataTime: jsonTime(st.dataTime),
	}
	sv.Ballots.Constituency = ballotResult(st.results[bConstituency])
	sv.Ballots.PartyList = ballotResult(st.results[bPartyList])
	return StationAnswer{Meta: v.meta(st.version, st.dataTime), Station: sv}, true
}

// CandidateRef names a candidate and their party.
type CandidateRef struct {
	CandidateNo int    `json:"candidate_no"`
	Name        string `json:"name"`
	PartyNo     int    `json:"party_no"` // 0 when the reference does not list the candidate
	PartyNameTH string `json:"party_name_th"`
	PartyNameEN string `json:"party_name_en"`
}

// CandidateView is one candidate of a constituency with their counted and projected votes.
type CandidateView struct {
	CandidateRef
	CountedVotes   int64    `json:"counted_votes"`
	CountedShare   *float64 `json:"counted_share"`   // of the valid votes counted; null before any
	ProjectedVotes *int64   `json:"projected_votes"` // null without an estimate
	// WinProbability is the share of the seat simulation's nights the candidate won, null
	// while the latest estimate's seats are too_early; Swing the projected share less the
	// party's baseline share, null without a baseline.
	WinProbability *float64 `json:"win_probability"`
	Swing          *float64 `json:"swing"`
}

// PartyVotes is a party's counted party-list votes in one constituency.
type PartyVotes struct {
	PartyNo int   `json:"party_no"`
	Votes   int64 `json:"votes"`
}

// Projection says which estimate run the projected figures of a constituency come from:
// the run that last changed them (a later run with the same figures changes nothing).
type Projection struct {
	EstimateID       string     `json:"estimate_id"`
	DataTime         *time.Time `json:"data_time"`
	StationsReported int        `json:"stations_reported"`
	StationsTotal    int        `json:"stations_total"`
	EligibleReported int64      `json:"eligible_reported"`
	EligibleTotal    int64      `json:"eligible_total"`
}

// ConstituencyView is one constituency: the count, the candidates, and the projection.
// Leader, Recommendation and WinProbability are null until an estimate names a leader.
// Recommendation is the estimator's call state, a recommendation to the decision desk and
// not a call: Call is the desk's approved call, null until the desk approves one.
type ConstituencyView struct {
	ConstituencyID string          `json:"constituency_id"`
	Number         int             `json:"number"`
	ProvinceID     string          `json:"province_id"`
	ProvinceNameTH string          `json:"province_name_th"`
	ProvinceNameEN string          `json:"province_name_en"`
	Region         string          `json:"region"`
	EligibleVoters int64           `json:"eligible_voters"`
	Version        uint64          `json:"version"`
	DataTime       *time.Time      `json:"data_time"`
	Counted        Counts          `json:"counted"`
	Candidates     []CandidateView `json:"candidates"`
	PartyListVotes []PartyVotes    `json:"partylist_votes"`
	Leader         *CandidateRef   `json:"leader"`
	Recommendation *string         `json:"recommendation"`
	WinProbability *float64        `json:"win_probability"`
	Projection     *Projection     `json:"projection"`
	Call           *CallView       `json:"call"`
}

// ConstituencyAnswer is the answer of /v1/feed/constituencies/{id}.
type ConstituencyAnswer struct {
	Meta
	Constituency ConstituencyView `json:"constituency"`
}

// ConstituenciesAnswer is the answer of /v1/feed/constituencies.
type ConstituenciesAnswer struct {
	Meta
	Constituencies []ConstituencyView `json:"constituencies"`
}

// ConstituencyVersion returns the version of a constituency's answer; false when unknown.
func (v *View) ConstituencyVersion(id string) (uint64, bool) {
	cs := v.consts[id]
	if cs == nil {
		return 0, false
	}
	return cs.lastVersion(), true
}

// Constituency renders a constituency's answer; false when unknown.
func (v *View) Constituency(id string) (ConstituencyAnswer, bool) {
	cs := v.consts[id]
	if cs == nil {
		return ConstituencyAnswer{}, false
	}
	return ConstituencyAnswer{Meta: v.meta(cs.lastVersion(), cs.lastTime()), Constituency: v.constituencyView(cs)}, true
}

// Constituencies renders the list, in reference order, of every constituency or of one
// province's (province "" for all).
func (v *View) Constituencies(province string) ConstituenciesAnswer {
	out := ConstituenciesAnswer{Meta: v.meta(v.seq, v.dataTime), Constituencies: []ConstituencyView{}}
	for _, cs := range v.order {
		if province == "" || cs.ref.ProvinceID == province {
			out.Constituencies = append(out.Constituencies, v.constituencyView(cs))
		}
	}
	return out
}

func (v *View) candidateRef(constituencyID string, no int) CandidateRef {
	ref := CandidateRef{CandidateNo: no}
	if c, ok := v.country.Candidate(constituencyID, no); ok {
		ref.Name, ref.PartyNo = c.Name, c.PartyNo
		if p, ok := v.country.Party(c.PartyNo); ok {
			ref.PartyNameTH, ref.PartyNameEN = p.NameTH, p.NameEN
		}
	}
	return ref
}

func (v *View) constituencyView(cs *constituency) ConstituencyView {
	cv := ConstituencyView{
		ConstituencyID: cs.ref.ID, Number: cs.ref.Number, ProvinceID: cs.ref.ProvinceID,
		ProvinceNameTH: cs.province.NameTH, ProvinceNameEN: cs.province.NameEN, Region: cs.province.Region,
		EligibleVoters: int64(cs.ref.EligibleVoters), Version: cs.lastVersion(), DataTime: jsonTime(cs.lastTime()),
		Counted: Counts{
			Constituency: count(&cs.ballots[bConstituency], cs.stationsTotal, int64(cs.ref.EligibleVoters)),
			PartyList:    count(&cs.ballots[bPartyList], cs.stationsTotal, int64(cs.ref.EligibleVoters)),
		},
		Candidates:     []CandidateView{},
		PartyListVotes: []PartyVotes{},
	}
	// Candidates: the reference's, then any other number that was counted or projected
	// (a number the reference lacks still shows, unnamed, rather than vanish).
	nos := map[int]bool{}
	for _, c := range v.country.CandidatesIn(cs.ref.ID) {
		nos[c.No] = true
	}
	tc := &cs.ballots[bConstituency]
	for no := range tc.votes {
		nos[no] = true
	}
	projected := map[int]int64{}
	sim := map[int]schemas.CandidateEstimate{}
	if cs.proj != nil {
		for _, c := range cs.proj.Candidates {
			nos[c.CandidateNo] = true
			projected[c.CandidateNo] = c.ProjectedVotes
			sim[c.CandidateNo] = c
		}
	}
	seats := v.seatsPublished()
	valid := tc.validVotes()
	for _, no := range sortedInts(nos) {
		c := CandidateView{CandidateRef: v.candidateRef(cs.ref.ID, no), CountedVotes: tc.votes[no]}
		if valid > 0 {
			c.CountedShare = ratio(c.CountedVotes, valid)
		}
		if cs.proj != nil {
			p := projected[no]
			c.ProjectedVotes = &p
			if d, ok := sim[no]; ok && seats {
				w := d.WinProbability
				c.WinProbability, c.Swing = &w, d.Swing
			}
		}
		cv.Candidates = append(cv.Candidates, c)
	}
	for no, n := range cs.ballots[bPartyList].votes {
		cv.PartyListVotes = append(cv.PartyListVotes, PartyVotes{PartyNo: no, Votes: n})
	}
	slices.SortFunc(cv.PartyListVotes, func(a, b PartyVotes) int { return cmp.Compare(a.PartyNo, b.PartyNo) })
	if p := cs.proj; p != nil {
		cv.Projection = &Projection{EstimateID: cs.projID, DataTime: jsonTime(cs.projTime),
			StationsReported: p.StationsReported, StationsTotal: p.StationsTotal,
			EligibleReported: p.EligibleReported, EligibleTotal: p.EligibleTotal}
		if p.LeaderNo > 0 {
			leader := v.candidateRef(cs.ref.ID, p.LeaderNo)
			call, prob := string(p.Call), p.WinProbability
			cv.Leader, cv.Recommendation, cv.WinProbability = &leader, &call, &prob
		}
	}
	cv.Call = v.callView(cs.call)
	return cv
}

// EstimatePartyView is one party in the latest estimate. SeatsProjected adds the
// constituencies its candidates lead (in any call state) to its projected party-list seats.
type EstimatePartyView struct {
	PartyNo               int     `json:"party_no"`
	NameTH                string  `json:"name_th"`
	NameEN                string  `json:"name_en"`
	Share                 float64 `json:"share"`
	ShareLo               float64 `json:"share_lo"`
	ShareHi               float64 `json:"share_hi"`
	CountedVotes          int64   `json:"counted_votes"`
	ProjectedVotes        int64   `json:"projected_votes"`
	PartyListSeats        int     `json:"partylist_seats"`
	ConstituenciesLeading int     `json:"constituencies_leading"`
	ConstituenciesCalled  int     `json:"constituencies_called"`
	SeatsProjected        int     `json:"seats_projected"`
	// SeatRange is the seat simulation's 500-seat picture of the party, null while the
	// seats are too_early (or from an estimator without it).
	SeatRange *schemas.SeatRange `json:"seat_range"`
}

// CallCounts counts the constituencies in each state the estimator recommends; None have
// no projection yet. These are recommendations, not calls (ConstituenciesCalled counts
// the desk's approved calls).
type CallCounts struct {
	None     int `json:"none"`
	TooEarly int `json:"too_early"`
	Leading  int `json:"leading"`
	Likely   int `json:"likely"`
	Called   int `json:"called"`
}

// EstimateView summarises the latest estimate. Parties are ordered by seats_projected,
// then share (both descending), then party number.
type EstimateView struct {
	EstimateID       string     `json:"estimate_id"`
	DataTime         *time.Time `json:"data_time"`
	ComputedAt       *time.Time `json:"computed_at"`
	StationsReported int        `json:"stations_reported"`
	StationsTotal    int        `json:"stations_total"`
	EligibleReported int64      `json:"eligible_reported"`
	EligibleTotal    int64      `json:"eligible_total"`
	// SharesState: too_early (the parties' shares, intervals, projected votes and seats are
	// withheld: 0 here, null in /v1/feed/parties), estimate, or count; "" from an estimator
	// that predates it. PriorityUsed: the priority sample entered the shares.
	SharesState  schemas.EstimateState `json:"shares_state"`
	PriorityUsed bool                  `json:"priority_used"`
	// SeatsState: whether the seat ranges and win probabilities are published (follows
	// shares_state; "" from an estimator without the seat simulation); SeatDraws the
	// simulated nights behind them.
	SeatsState      schemas.EstimateState `json:"seats_state"`
	SeatDraws       int                   `json:"seat_draws"`
	Parties         []EstimatePartyView   `json:"parties"`
	Recommendations CallCounts            `json:"recommendations"`
}

// EstimateEvent is the data of an `estimate` event: the new estimate, summarised, and the
// constituencies whose projection it changed (refetch those).
type EstimateEvent struct {
	EstimateView
	ChangedConstituencies []string `json:"changed_constituencies"`
	Notice
}

// leads counts, per party, the constituencies its candidates lead and those the desk
// called (approved as "called"), and the recommendations per state.
func (v *View) leads() (leading, called map[int]int, calls CallCounts) {
	leading, called = map[int]int{}, map[int]int{}
	for _, cs := range v.order {
		p := cs.proj
		if p == nil || p.LeaderNo <= 0 {
			calls.None++
			continue
		}
		switch p.Call {
		case schemas.CallTooEarly:
			calls.TooEarly++
		case schemas.CallLeading:
			calls.Leading++
		case schemas.CallLikely:
			calls.Likely++
		case schemas.CallCalled:
			calls.Called++
		}
		c, ok := v.country.Candidate(cs.ref.ID, p.LeaderNo)
		if !ok {
			continue
		}
		leading[c.PartyNo]++
		if cs.approvedCalled() && cs.call.LeaderNo == p.LeaderNo {
			called[c.PartyNo]++
		}
	}
	return leading, called, calls
}

func (v *View) estimateView() EstimateView {
	e := v.estimate
	leading, called, calls := v.leads()
	ev := EstimateView{
		EstimateID: e.EstimateID, DataTime: jsonTime(e.DataTime), ComputedAt: jsonTime(e.ComputedAt),
		StationsReported: e.StationsReported, StationsTotal: e.StationsTotal,
		EligibleReported: e.EligibleReported, EligibleTotal: e.EligibleTotal,
		SharesState: e.SharesState, PriorityUsed: e.PriorityUsed, SeatsState: e.SeatsState, SeatDraws: e.SeatDraws,
		Parties: []EstimatePartyView{}, Recommendations: calls,
	}
	inEstimate := map[int]bool{}
	for _, p := range e.Parties {
		if inEstimate[p.PartyNo] {
			continue
		}
		inEstimate[p.PartyNo] = true
		ev.Parties = append(ev.Parties, v.estimateParty(p, leading, called))
	}
	// A party that leads somewhere but is missing from the party-list estimate still has
	// seats to show.
	for _, no := range sortedInts(keysOf(leading)) {
		if !inEstimate[no] {
			ev.Parties = append(ev.Parties, v.estimateParty(schemas.PartyEstimate{PartyNo: no}, leading, called))
		}
	}
	slices.SortStableFunc(ev.Parties, func(a, b EstimatePartyView) int {
		if c := cmp.Compare(b.SeatsProjected, a.SeatsProjected); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Share, a.Share); c != 0 {
			return c
		}
		return cmp.Compare(a.PartyNo, b.PartyNo)
	})
	return ev
}

func (v *View) estimateParty(p schemas.PartyEstimate, leading, called map[int]int) EstimatePartyView {
	ep := EstimatePartyView{
		PartyNo: p.PartyNo, Share: p.Share, ShareLo: p.ShareLo, ShareHi: p.ShareHi,
		CountedVotes: p.CountedVotes, ProjectedVotes: p.ProjectedVotes, PartyListSeats: p.Seats,
		ConstituenciesLeading: leading[p.PartyNo], ConstituenciesCalled: called[p.PartyNo], SeatRange: p.SeatRange,
	}
	ep.SeatsProjected = ep.PartyListSeats + ep.ConstituenciesLeading
	if party, ok := v.country.Party(p.PartyNo); ok {
		ep.NameTH, ep.NameEN = party.NameTH, party.NameEN
	}
	return ep
}

// seatsPublished reports whether the latest estimate publishes seats and win probabilities.
func (v *View) seatsPublished() bool {
	return v.estimate != nil && (v.estimate.SeatsState == schemas.StateEstimate || v.estimate.SeatsState == schemas.StateCount)
}

// SummaryAnswer is the answer of /v1/feed/summary: the national count and the latest
// estimate (null before the first).
type SummaryAnswer struct {
	Meta
	Country struct {
		Constituencies int   `json:"constituencies"`
		Stations       int   `json:"stations"`
		EligibleVoters int64 `json:"eligible_voters"`
		Parties        int   `json:"parties"`
	} `json:"country"`
	Counted  Counts        `json:"counted"`
	Estimate *EstimateView `json:"estimate"`
	// NationalCall is the desk's approved call of the largest party; null when none.
	NationalCall *CallView `json:"national_call"`
	// LogCheckpoint is the transparency log's newest signed checkpoint the feed has passed
	// on (at most one per Config.CheckpointEvery); null before the first.
	LogCheckpoint *CheckpointView `json:"log_checkpoint"`
}

// Version returns the version of the answers that reflect every change: the summary, the
// parties and the list of constituencies.
func (v *View) Version() uint64 { return v.seq }

// Summary renders the national summary.
func (v *View) Summary() SummaryAnswer {
	s := SummaryAnswer{Meta: v.meta(v.seq, v.dataTime)}
	s.Country.Constituencies, s.Country.Stations = len(v.order), v.stationsTotal
	s.Country.EligibleVoters, s.Country.Parties = v.eligibleTotal, len(v.country.Parties)
	s.Counted.Constituency = count(&v.national[bConstituency], v.stationsTotal, v.eligibleTotal)
	s.Counted.PartyList = count(&v.national[bPartyList], v.stationsTotal, v.eligibleTotal)
	if v.estimate != nil {
		ev := v.estimateView()
		s.Estimate = &ev
	}
	s.NationalCall = v.callView(v.nationalCall)
	s.LogCheckpoint = checkpointView(v.checkpoint)
	return s
}

// PartyView is one party of the reference with its counted party-list votes and, when
// there is an estimate, its projection. Estimate fields are null before the first estimate.
type PartyView struct {
	PartyNo                int      `json:"party_no"`
	NameTH                 string   `json:"name_th"`
	NameEN                 string   `json:"name_en"`
	ConstituencyCandidates int      `json:"constituency_candidates"`
	CountedVotes           int64    `json:"counted_votes"`
	CountedShare           *float64 `json:"counted_share"` // of the valid party-list votes counted
	ProjectedVotes         *int64   `json:"projected_votes"`
	Share                  *float64 `json:"share"`
	ShareLo                *float64 `json:"share_lo"`
	ShareHi                *float64 `json:"share_hi"`
	PartyListSeats         *int     `json:"partylist_seats"`
	ConstituenciesLeading  int      `json:"constituencies_leading"`
	ConstituenciesCalled   int      `json:"constituencies_called"`
	SeatsProjected         *int     `json:"seats_projected"`
	// SeatRange: as in the summary's estimate; null while the seats are too_early.
	SeatRange *schemas.SeatRange `json:"seat_range"`
}

// EstimateRef names the estimate an answer's projections come from.
type EstimateRef struct {
	EstimateID  string                `json:"estimate_id"`
	DataTime    *time.Time            `json:"data_time"`
	ComputedAt  *time.Time            `json:"computed_at"`
	SharesState schemas.EstimateState `json:"shares_state"` // too_early: the parties' projections are null
}

// PartiesAnswer is the answer of /v1/feed/parties, parties in party-number order.
type PartiesAnswer struct {
	Meta
	Estimate *EstimateRef `json:"estimate"`
	Parties  []PartyView  `json:"parties"`
}

// Parties renders every party of the reference.
func (v *View) Parties() PartiesAnswer {
	out := PartiesAnswer{Meta: v.meta(v.seq, v.dataTime), Parties: []PartyView{}}
	nat := &v.national[bPartyList]
	valid := nat.validVotes()
	est := map[int]schemas.PartyEstimate{}
	leading, called, _ := v.leads()
	if e := v.estimate; e != nil {
		out.Estimate = &EstimateRef{EstimateID: e.EstimateID, DataTime: jsonTime(e.DataTime), ComputedAt: jsonTime(e.ComputedAt), SharesState: e.SharesState}
		for _, p := range e.Parties {
			if _, dup := est[p.PartyNo]; !dup {
				est[p.PartyNo] = p
			}
		}
	}
	parties := slices.Clone(v.country.Parties)
	slices.SortFunc(parties, func(a, b election.Party) int { return cmp.Compare(a.No, b.No) })
	for _, p := range parties {
		pv := PartyView{
			PartyNo: p.No, NameTH: p.NameTH, NameEN: p.NameEN, ConstituencyCandidates: v.partyCandidates[p.No],
			CountedVotes: nat.votes[p.No], ConstituenciesLeading: leading[p.No], ConstituenciesCalled: called[p.No],
		}
		if valid > 0 {
			pv.CountedShare = ratio(pv.CountedVotes, valid)
		}
		if v.estimate != nil && v.estimate.SharesState != schemas.StateTooEarly {
			pe := est[p.No]
			seats := pe.Seats + leading[p.No]
			pv.ProjectedVotes, pv.Share, pv.ShareLo, pv.ShareHi = &pe.ProjectedVotes, &pe.Share, &pe.ShareLo, &pe.ShareHi
			pv.PartyListSeats, pv.SeatsProjected = &pe.Seats, &seats
			pv.SeatRange = pe.SeatRange
		}
		out.Parties = append(out.Parties, pv)
	}
	return out
}

func sortedInts(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func keysOf(m map[int]int) map[int]bool {
	out := make(map[int]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
