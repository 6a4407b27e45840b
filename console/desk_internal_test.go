package console

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"votestream/schemas"
)

func TestCheckDecision(t *testing.T) {
	rec := func(state schemas.CallState, leader int) *Recommendation {
		return &Recommendation{State: state, LeaderNo: leader, Evidence: schemas.CallEvidence{EstimateID: "e2", Recommendation: state}}
	}
	call := func(state schemas.CallState, leader int) *schemas.Call {
		return &schemas.Call{Action: schemas.ActionApprove, State: state, LeaderNo: leader, By: "desk-1"}
	}
	approve := func(state schemas.CallState) DecisionRequest {
		return DecisionRequest{Race: "C1", Action: schemas.ActionApprove, State: state, EstimateID: "e2", Reason: "ok"}
	}
	for _, c := range []struct {
		name string
		rs   raceState
		d    DecisionRequest
		code string // "" allowed
	}{
		{"called on called", raceState{Rec: rec(schemas.CallCalled, 1)}, approve(schemas.CallCalled), ""},
		{"likely on called", raceState{Rec: rec(schemas.CallCalled, 1)}, approve(schemas.CallLikely), ""},
		{"likely on likely", raceState{Rec: rec(schemas.CallLikely, 1)}, approve(schemas.CallLikely), ""},
		{"called on likely", raceState{Rec: rec(schemas.CallLikely, 1)}, approve(schemas.CallCalled), CodeNotRecommended},
		{"likely on leading", raceState{Rec: rec(schemas.CallLeading, 1)}, approve(schemas.CallLikely), CodeNotRecommended},
		{"leading is no call", raceState{Rec: rec(schemas.CallLeading, 1)}, approve(schemas.CallLeading), CodeInvalidValue},
		{"no estimate", raceState{}, approve(schemas.CallLikely), CodeNotRecommended},
		{"no winner", raceState{Rec: rec(schemas.CallCalled, 0)}, approve(schemas.CallCalled), CodeNotRecommended},
		{"stale", raceState{Rec: rec(schemas.CallCalled, 1)}, DecisionRequest{Race: "C1", Action: schemas.ActionApprove, State: schemas.CallCalled, EstimateID: "e1", Reason: "ok"}, CodeCallStale},
		{"no estimate named", raceState{Rec: rec(schemas.CallCalled, 1)}, DecisionRequest{Race: "C1", Action: schemas.ActionApprove, State: schemas.CallCalled, Reason: "ok"}, CodeMissingField},
		{"held", raceState{Rec: rec(schemas.CallCalled, 1), Held: call("", 0)}, approve(schemas.CallCalled), CodeCallHeld},
		{"upgrade likely to called", raceState{Rec: rec(schemas.CallCalled, 1), Standing: call(schemas.CallLikely, 1)}, approve(schemas.CallCalled), ""},
		{"again", raceState{Rec: rec(schemas.CallCalled, 1), Standing: call(schemas.CallCalled, 1)}, approve(schemas.CallCalled), CodeCallStands},
		{"downgrade", raceState{Rec: rec(schemas.CallCalled, 1), Standing: call(schemas.CallCalled, 1)}, approve(schemas.CallLikely), CodeCallStands},
		{"another winner", raceState{Rec: rec(schemas.CallCalled, 2), Standing: call(schemas.CallLikely, 1)}, approve(schemas.CallCalled), CodeCallStands},
		{"no reason", raceState{Rec: rec(schemas.CallCalled, 1)}, DecisionRequest{Race: "C1", Action: schemas.ActionApprove, State: schemas.CallCalled, EstimateID: "e2", Reason: " \n"}, CodeMissingField},
		{"long reason", raceState{}, DecisionRequest{Action: schemas.ActionHold, Reason: strings.Repeat("ก", 400)}, CodeInvalidValue},
		{"hold", raceState{}, DecisionRequest{Action: schemas.ActionHold, Reason: "check"}, ""},
		{"hold twice", raceState{Held: call("", 0)}, DecisionRequest{Action: schemas.ActionHold, Reason: "check"}, CodeAlreadyHeld},
		{"release", raceState{Held: call("", 0)}, DecisionRequest{Action: schemas.ActionRelease, Reason: "fine"}, ""},
		{"release unheld", raceState{}, DecisionRequest{Action: schemas.ActionRelease, Reason: "fine"}, CodeNotHeld},
		{"retract", raceState{Standing: call(schemas.CallLikely, 1)}, DecisionRequest{Action: schemas.ActionRetract, Reason: "typo"}, ""},
		{"retract while held", raceState{Standing: call(schemas.CallLikely, 1), Held: call("", 0)}, DecisionRequest{Action: schemas.ActionRetract, Reason: "typo"}, ""},
		{"retract nothing", raceState{}, DecisionRequest{Action: schemas.ActionRetract, Reason: "typo"}, CodeNoCall},
		{"recommend is not the desk's", raceState{}, DecisionRequest{Action: schemas.ActionRecommend, Reason: "x"}, CodeInvalidValue},
	} {
		e := checkDecision(&c.rs, c.d)
		switch {
		case c.code == "" && e != nil:
			t.Errorf("%s: refused %v", c.name, e)
		case c.code != "" && (e == nil || e.Code != c.code):
			t.Errorf("%s: %v; want %s", c.name, e, c.code)
		}
	}
}

func TestNationalRecommendation(t *testing.T) {
	parties := []schemas.PartyEstimate{
		{PartyNo: 1, Share: 0.40, ShareLo: 0.38, ShareHi: 0.42, Seats: 40},
		{PartyNo: 2, Share: 0.35, ShareLo: 0.33, ShareHi: 0.37, Seats: 35},
	}
	for _, c := range []struct {
		name   string
		state  schemas.EstimateState
		led    map[int]int
		change func([]schemas.PartyEstimate)
		want   schemas.CallState
		party  int
	}{
		{"intervals apart", schemas.StateEstimate, nil, nil, schemas.CallLikely, 1},
		{"intervals overlap", schemas.StateEstimate, nil, func(p []schemas.PartyEstimate) { p[1].ShareHi = 0.39 }, schemas.CallLeading, 1},
		{"constituencies turn it", schemas.StateEstimate, map[int]int{2: 10}, nil, schemas.CallLeading, 2},
		{"too early", schemas.StateTooEarly, nil, nil, schemas.CallTooEarly, 0},
		{"the count", schemas.StateCount, nil, nil, schemas.CallCalled, 1},
	} {
		ps := append([]schemas.PartyEstimate(nil), parties...)
		if c.change != nil {
			c.change(ps)
		}
		r := nationalRecommendation(&schemas.Estimate{EstimateID: "e", SharesState: c.state, Parties: ps}, c.led)
		if r.State != c.want || r.PartyNo != c.party || r.Evidence.Recommendation != c.want {
			t.Errorf("%s: %s party %d; want %s party %d", c.name, r.State, r.PartyNo, c.want, c.party)
		}
	}
}

// With the seat simulation the largest party is the one of the most median seats, its seat
// range and probability are the evidence, and likely needs 0.99 of the simulated nights.
func TestNationalRecommendationSeats(t *testing.T) {
	seats := func(total, lo, hi int, p float64) *schemas.SeatRange {
		return &schemas.SeatRange{Total: total, TotalLo95: lo, TotalHi95: hi, LargestProbability: p}
	}
	for _, c := range []struct {
		name      string
		seatState schemas.EstimateState
		p1, p2    *schemas.SeatRange
		want      schemas.CallState
		party     int
		prob      float64 // 0: no probability in the evidence
	}{
		{"sure", schemas.StateEstimate, seats(200, 180, 220, 0.995), seats(150, 130, 170, 0.005), schemas.CallLikely, 1, 0.995},
		{"intervals apart, seats not sure", schemas.StateEstimate, seats(200, 150, 240, 0.9), seats(160, 120, 200, 0.1), schemas.CallLeading, 1, 0.9},
		{"the seats turn it", schemas.StateEstimate, seats(150, 130, 170, 0.1), seats(200, 180, 220, 0.9), schemas.CallLeading, 2, 0.9},
		{"seats too early: shares decide", schemas.StateTooEarly, seats(0, 0, 0, 0), seats(0, 0, 0, 0), schemas.CallLikely, 1, 0},
	} {
		ps := []schemas.PartyEstimate{
			{PartyNo: 1, Share: 0.40, ShareLo: 0.38, ShareHi: 0.42, Seats: 40, SeatRange: c.p1},
			{PartyNo: 2, Share: 0.35, ShareLo: 0.33, ShareHi: 0.37, Seats: 35, SeatRange: c.p2},
		}
		r := nationalRecommendation(&schemas.Estimate{EstimateID: "e", SharesState: schemas.StateEstimate, SeatsState: c.seatState, Parties: ps}, nil)
		if r.State != c.want || r.PartyNo != c.party {
			t.Errorf("%s: %s party %d; want %s party %d", c.name, r.State, r.PartyNo, c.want, c.party)
		}
		switch ev := r.Evidence; {
		case c.prob == 0 && (ev.WinProbability != nil || ev.SeatsLo != nil):
			t.Errorf("%s: seat evidence while the seats are too early: %+v", c.name, ev)
		case c.prob != 0 && (ev.WinProbability == nil || *ev.WinProbability != c.prob || ev.SeatsLo == nil || ev.SeatsHi == nil):
			t.Errorf("%s: evidence %+v, want probability %v and a seat range", c.name, ev, c.prob)
		}
	}
}

func TestRank(t *testing.T) {
	rec := func(state schemas.CallState, leader int) *Recommendation {
		return &Recommendation{State: state, LeaderNo: leader}
	}
	call := func(state schemas.CallState, leader int) *schemas.Call {
		return &schemas.Call{State: state, LeaderNo: leader}
	}
	for _, c := range []struct {
		name string
		rs   raceState
		want string
	}{
		{"recommended, not called", raceState{Rec: rec(schemas.CallCalled, 1)}, RankReady},
		{"likely called, now called", raceState{Rec: rec(schemas.CallCalled, 1), Standing: call(schemas.CallLikely, 1)}, RankReady},
		{"called as recommended", raceState{Rec: rec(schemas.CallCalled, 1), Standing: call(schemas.CallCalled, 1)}, RankCalled},
		{"leader changed under a call", raceState{Rec: rec(schemas.CallLikely, 2), Standing: call(schemas.CallLikely, 1)}, RankAttention},
		{"weakened under a call", raceState{Rec: rec(schemas.CallLeading, 1), Standing: call(schemas.CallLikely, 1)}, RankAttention},
		{"held", raceState{Rec: rec(schemas.CallCalled, 1), Held: call("", 0)}, RankHeld},
		{"leading", raceState{Rec: rec(schemas.CallLeading, 1)}, RankClose},
		{"too early", raceState{Rec: rec(schemas.CallTooEarly, 1)}, RankWaiting},
		{"nothing", raceState{}, RankWaiting},
	} {
		if got := rank(&c.rs); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// FuzzDeskDecision: whatever a desk member's browser sends, the decoding and the protocol
// answer with a decision or a refusal, never a panic; and nothing but a well-formed
// approval of the recommended winner passes.
func FuzzDeskDecision(f *testing.F) {
	f.Add([]byte(`{"race":"C1","action":"approve","state":"called","estimate_id":"e2","reason":"ครบ"}`))
	f.Add([]byte(`{"race":"C1","action":"retract","reason":"ผิด"}`))
	f.Add([]byte(`{"race":"national","action":"hold","reason":""}`))
	f.Add([]byte(`{"action":"approve","state":"likely"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var d DecisionRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&d) != nil {
			return
		}
		rs := raceState{Race: "C1", Rec: &Recommendation{State: schemas.CallLikely, LeaderNo: 1, Evidence: schemas.CallEvidence{EstimateID: "e2"}}}
		e := checkDecision(&rs, d)
		if e == nil && d.Action == schemas.ActionApprove && (d.State != schemas.CallLikely || d.EstimateID != "e2") {
			t.Fatalf("approved %+v against a likely recommendation of e2", d)
		}
		if e == nil && strings.TrimSpace(d.Reason) == "" {
			t.Fatalf("a decision without a reason passed: %+v", d)
		}
		if e != nil && e.Status() < 400 {
			t.Fatalf("refusal %v has status %d", e, e.Status())
		}
	})
}
