package console

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"votestream/election"
	"votestream/schemas"
)

// Error codes of the decision desk (docs/calls.md). A decision the call protocol forbids is
// a 409: the request was well formed, the race's state does not allow it now.
const (
	CodeDeskOff        = "DESK_OFF"        // 503: the console runs without Kafka, so without the desk
	CodeCallHeld       = "CALL_HELD"       // 409: the race is on hold; release it first
	CodeCallStale      = "CALL_STALE"      // 409: the recommendation changed since the desk looked
	CodeNotRecommended = "NOT_RECOMMENDED" // 409: the estimator does not recommend that call
	CodeCallStands     = "CALL_STANDS"     // 409: that call already stands, or another must be retracted first
	CodeNoCall         = "NO_CALL"         // 409: nothing to retract
	CodeNotHeld        = "NOT_HELD"        // 409: nothing to release
	CodeAlreadyHeld    = "ALREADY_HELD"    // 409
)

func init() {
	for _, c := range []string{CodeCallHeld, CodeCallStale, CodeNotRecommended, CodeCallStands, CodeNoCall, CodeNotHeld, CodeAlreadyHeld} {
		codeStatus[c] = http.StatusConflict
	}
	codeStatus[CodeDeskOff] = http.StatusServiceUnavailable
}

// maxReason caps the reason of a decision, in bytes.
const maxReason = 1000

// Recommendation is the estimator's recommendation for one race, with its evidence.
type Recommendation struct {
	State    schemas.CallState    `json:"state"`
	LeaderNo int                  `json:"leader_no,omitempty"`
	PartyNo  int                  `json:"party_no,omitempty"`
	Evidence schemas.CallEvidence `json:"evidence"`
}

// same reports whether two recommendations name the same state and winner.
func (r Recommendation) same(o Recommendation) bool {
	return r.State == o.State && r.LeaderNo == o.LeaderNo && r.PartyNo == o.PartyNo
}

// raceState is what the desk knows of one race: the current recommendation, the last one
// logged, the standing (approved) call and the hold.
type raceState struct {
	Race     string
	Rec      *Recommendation // nil before an estimate covers the race
	Logged   *Recommendation // the last recommendation in calls.v1
	Standing *schemas.Call   // the approval in force; nil when none or retracted
	Held     *schemas.Call   // the hold in force
}

// DecisionRequest is the body of POST /v1/desk/decisions.
type DecisionRequest struct {
	Race   string             `json:"race"`
	Action schemas.CallAction `json:"action"`
	// State (approve only): called or likely.
	State schemas.CallState `json:"state,omitempty"`
	// EstimateID is the estimate whose recommendation the desk member looked at; an
	// approval on an estimate that has since been replaced by a different recommendation
	// is refused (CALL_STALE).
	EstimateID string `json:"estimate_id,omitempty"`
	Reason     string `json:"reason"`
}

// checkDecision applies the call protocol (docs/calls.md) to a decision on rs; nil when
// it may be taken.
func checkDecision(rs *raceState, d DecisionRequest) *APIError {
	if strings.TrimSpace(d.Reason) == "" {
		return apiErr(CodeMissingField, "reason", "say why: every decision of the desk needs a reason / ระบุเหตุผล")
	}
	if len(d.Reason) > maxReason {
		return apiErr(CodeInvalidValue, "reason", "the reason is longer than %d bytes", maxReason)
	}
	switch d.Action {
	case schemas.ActionApprove:
		if rs.Held != nil {
			return apiErr(CodeCallHeld, "race", "%s is on hold (%s, by %s): release it before approving a call", rs.Race, rs.Held.Reason, rs.Held.By)
		}
		if d.State != schemas.CallCalled && d.State != schemas.CallLikely {
			return apiErr(CodeInvalidValue, "state", "approve a call as \"called\" or \"likely\", not %q", d.State)
		}
		rec := rs.Rec
		if rec == nil {
			return apiErr(CodeNotRecommended, "race", "no estimate covers %s yet", rs.Race)
		}
		if d.EstimateID == "" {
			return apiErr(CodeMissingField, "estimate_id", "name the estimate you looked at (estimate_id)")
		}
		if d.EstimateID != rec.Evidence.EstimateID {
			return apiErr(CodeCallStale, "estimate_id", "a newer estimate (%s) came since you looked: look again before approving", rec.Evidence.EstimateID)
		}
		switch {
		case d.State == schemas.CallCalled && rec.State != schemas.CallCalled:
			return apiErr(CodeNotRecommended, "state", "the estimator recommends %q for %s; \"called\" needs its recommendation \"called\" (checked figures leave no way back)", rec.State, rs.Race)
		case d.State == schemas.CallLikely && rec.State != schemas.CallLikely && rec.State != schemas.CallCalled:
			return apiErr(CodeNotRecommended, "state", "the estimator recommends %q for %s; \"likely\" needs its recommendation \"likely\" or \"called\"", rec.State, rs.Race)
		case rec.LeaderNo == 0 && rec.PartyNo == 0:
			return apiErr(CodeNotRecommended, "race", "the estimate names no winner in %s", rs.Race)
		}
		if st := rs.Standing; st != nil {
			if st.LeaderNo != rec.LeaderNo || st.PartyNo != rec.PartyNo {
				return apiErr(CodeCallStands, "race", "a call for another winner stands in %s (%s by %s): retract it first", rs.Race, st.State, st.By)
			}
			if st.State == d.State || st.State == schemas.CallCalled {
				return apiErr(CodeCallStands, "state", "%s is already called as %q (by %s)", rs.Race, st.State, st.By)
			}
		}
	case schemas.ActionHold:
		if rs.Held != nil {
			return apiErr(CodeAlreadyHeld, "race", "%s is already on hold (by %s)", rs.Race, rs.Held.By)
		}
	case schemas.ActionRelease:
		if rs.Held == nil {
			return apiErr(CodeNotHeld, "race", "%s is not on hold", rs.Race)
		}
	case schemas.ActionRetract:
		if rs.Standing == nil {
			return apiErr(CodeNoCall, "race", "no call stands in %s", rs.Race)
		}
	default:
		return apiErr(CodeInvalidValue, "action", "action is approve, hold, release or retract, not %q", d.Action)
	}
	return nil
}

// apply folds one calls.v1 record into rs.
func (rs *raceState) apply(c *schemas.Call) {
	switch c.Action {
	case schemas.ActionRecommend:
		rs.Logged = &Recommendation{State: c.State, LeaderNo: c.LeaderNo, PartyNo: c.PartyNo, Evidence: c.Evidence}
	case schemas.ActionApprove:
		rs.Standing = c
	case schemas.ActionRetract:
		rs.Standing = nil
	case schemas.ActionHold:
		rs.Held = c
	case schemas.ActionRelease:
		rs.Held = nil
	}
}

// recommendations reads the estimator's recommendation for every constituency of e and
// for the national picture.
func recommendations(e *schemas.Estimate, country *election.Country) map[string]Recommendation {
	out := make(map[string]Recommendation, len(e.Constituencies)+1)
	seats := map[int]int{} // constituencies led, per party
	for i := range e.Constituencies {
		ce := &e.Constituencies[i]
		if _, dup := out[ce.ConstituencyID]; dup {
			continue
		}
		ev := schemas.CallEvidence{
			EstimateID: e.EstimateID, DataTime: e.DataTime, Recommendation: ce.Call, LeaderNo: ce.LeaderNo,
			StationsReported: ce.StationsReported, StationsTotal: ce.StationsTotal, Decided: ce.Call == schemas.CallCalled,
		}
		if ce.LeaderNo > 0 {
			p := ce.WinProbability
			ev.WinProbability = &p
			var lead, runner int64
			for _, c := range ce.Candidates {
				if c.CandidateNo == ce.LeaderNo {
					lead = c.CountedVotes
				} else {
					runner = max(runner, c.CountedVotes)
				}
			}
			ev.MarginVotes = lead - runner
			if c, ok := country.Candidate(ce.ConstituencyID, ce.LeaderNo); ok {
				seats[c.PartyNo]++
			}
		}
		out[ce.ConstituencyID] = Recommendation{State: ce.Call, LeaderNo: ce.LeaderNo, Evidence: ev}
	}
	out[schemas.RaceNational] = nationalRecommendation(e, seats)
	return out
}

// likelyLargest is the share of simulated nights in which the largest party must come
// first for the national race to be recommended likely: the constituencies' threshold.
const likelyLargest = 0.99

// nationalRecommendation names the largest party: most projected seats (party-list seats
// plus constituencies led; the seat simulation's median when the estimate has it), then
// share. too_early while the shares are withheld; called when every station is in (the
// count). likely when it has more seats than the runner-up and its 95 % share interval lies
// wholly above the runner-up's; with the seat simulation, also only when it has the most
// seats in at least likelyLargest of the simulated nights (the races' errors are
// correlated there, which the intervals alone do not say). Its seat range and probability
// go into the evidence.
func nationalRecommendation(e *schemas.Estimate, led map[int]int) Recommendation {
	type party struct {
		no, seats     int
		share, lo, hi float64
		sr            *schemas.SeatRange
	}
	simulated := e.SeatsState != "" && e.SeatsState != schemas.StateTooEarly
	var ps []party
	seen := map[int]bool{}
	for _, p := range e.Parties {
		if !seen[p.PartyNo] {
			seen[p.PartyNo] = true
			pt := party{p.PartyNo, p.Seats + led[p.PartyNo], p.Share, p.ShareLo, p.ShareHi, nil}
			if simulated && p.SeatRange != nil {
				pt.seats, pt.sr = p.SeatRange.Total, p.SeatRange
			}
			ps = append(ps, pt)
		}
	}
	for no, n := range led {
		if !seen[no] {
			ps = append(ps, party{no: no, seats: n})
		}
	}
	slices.SortFunc(ps, func(a, b party) int {
		if c := cmp.Compare(b.seats, a.seats); c != 0 {
			return c
		}
		if c := cmp.Compare(b.share, a.share); c != 0 {
			return c
		}
		return cmp.Compare(a.no, b.no)
	})
	ev := schemas.CallEvidence{EstimateID: e.EstimateID, DataTime: e.DataTime,
		StationsReported: e.StationsReported, StationsTotal: e.StationsTotal}
	r := Recommendation{State: schemas.CallTooEarly}
	if len(ps) > 0 && e.SharesState != schemas.StateTooEarly && e.SharesState != "" {
		top := ps[0]
		r.PartyNo, ev.PartyNo = top.no, top.no
		second := party{}
		if len(ps) > 1 {
			second = ps[1]
		}
		ev.MarginVotes = int64(top.seats - second.seats)
		if top.sr != nil {
			p, lo, hi := top.sr.LargestProbability, top.sr.TotalLo95, top.sr.TotalHi95
			ev.WinProbability, ev.SeatsLo, ev.SeatsHi = &p, &lo, &hi
		}
		switch {
		case e.SharesState == schemas.StateCount:
			r.State, ev.Decided = schemas.CallCalled, true
		case top.seats > second.seats && top.lo > second.hi && (top.sr == nil || top.sr.LargestProbability >= likelyLargest):
			r.State = schemas.CallLikely
		default:
			r.State = schemas.CallLeading
		}
	}
	ev.Recommendation = r.State
	r.Evidence = ev
	return r
}

// raceName is a race's name for people: "กรุงเทพมหานคร เขต 1", or the national picture.
func raceName(country *election.Country, race string) (th, en string) {
	if race == schemas.RaceNational {
		return "ภาพรวมประเทศ (พรรคที่ได้ที่นั่งมากที่สุด)", "National: largest party"
	}
	c, ok := country.Constituency(race)
	if !ok {
		return race, race
	}
	p, ok := country.Province(c.ProvinceID)
	if !ok {
		return race, race
	}
	return fmt.Sprintf("%s เขต %d", p.NameTH, c.Number), fmt.Sprintf("%s constituency %d", p.NameEN, c.Number)
}
