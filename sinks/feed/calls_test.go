package feed

import (
	"testing"

	"votestream/schemas"
)

func deskCall(id, race string, action schemas.CallAction, state schemas.CallState, leader int) schemas.Call {
	return schemas.Call{CallID: id, Race: race, Action: action, State: state, LeaderNo: leader,
		By: "desk-1", Org: "war room", Role: schemas.RoleDesk, At: at(30), Reason: "why " + id}
}

// The estimator's "called" is a recommendation: newsrooms see a call only once the desk
// approves one, see it go when the desk retracts it, and never see holds or
// recommendations as events.
func TestViewCallsNeedTheDesk(t *testing.T) {
	v := NewView(smallCountry(t), "test")
	v.ApplyEstimate(estimate("e1", 1, 2, proj("BKK_2", 1, 1, schemas.CallCalled)))
	ca, _ := v.Constituency("BKK_2")
	if c := ca.Constituency; c.Call != nil || c.Recommendation == nil || *c.Recommendation != "called" {
		t.Fatalf("before the desk: call %+v recommendation %v", c.Call, c.Recommendation)
	}
	if s := v.Summary(); s.Estimate.Parties[0].ConstituenciesCalled != 0 || s.NationalCall != nil {
		t.Fatalf("summary counts a recommendation as called: %+v", s.Estimate.Parties[0])
	}
	for _, c := range []schemas.Call{
		deskCall("r1", "BKK_2", schemas.ActionRecommend, schemas.CallCalled, 1),
		deskCall("h1", "BKK_2", schemas.ActionHold, "", 0),
		deskCall("x1", "BKK_2", schemas.ActionRetract, "", 0), // nothing stands: nothing to retract
		deskCall("a0", "XYZ_9", schemas.ActionApprove, schemas.CallCalled, 1),
	} {
		if _, ok := v.ApplyCall(c); ok {
			t.Errorf("%s %s changed the view", c.Action, c.Race)
		}
	}

	before := v.Seq()
	ch, ok := v.ApplyCall(deskCall("a1", "BKK_2", schemas.ActionApprove, schemas.CallCalled, 1))
	if !ok || ch.Type != EventCall || ch.ConstituencyID != "BKK_2" || ch.ProvinceID != "BKK" || ch.Seq != before+1 {
		t.Fatalf("approval: %+v %v", ch, ok)
	}
	if ev := ch.Payload.(*CallEvent); ev.Call.By != "desk-1" || ev.Call.Why != "why a1" || ev.Call.Leader == nil || ev.Call.Leader.CandidateNo != 1 || !ev.Unofficial {
		t.Fatalf("call event %+v", ev)
	}
	if _, ok := v.ApplyCall(deskCall("a1", "BKK_2", schemas.ActionApprove, schemas.CallCalled, 1)); ok {
		t.Error("a re-delivered approval made a second event")
	}
	ca, _ = v.Constituency("BKK_2")
	if c := ca.Constituency.Call; c == nil || c.State != schemas.CallCalled || c.CallID != "a1" || ca.Version != ch.Seq {
		t.Fatalf("after approval: %+v version %d", c, ca.Version)
	}
	party := ca.Constituency.Call.Leader.PartyNo
	for _, p := range v.Summary().Estimate.Parties {
		if p.PartyNo == party && p.ConstituenciesCalled != 1 {
			t.Errorf("party %d constituencies_called %d, want 1", party, p.ConstituenciesCalled)
		}
	}

	ch, ok = v.ApplyCall(deskCall("x2", "BKK_2", schemas.ActionRetract, schemas.CallCalled, 1))
	if !ok || ch.Type != EventCallRetracted {
		t.Fatalf("retraction: %+v %v", ch, ok)
	}
	if ev := ch.Payload.(*CallEvent); ev.Call.CallID != "a1" || ev.Retraction == nil || ev.Retraction.Why != "why x2" {
		t.Fatalf("retraction event %+v", ev)
	}
	if ca, _ = v.Constituency("BKK_2"); ca.Constituency.Call != nil {
		t.Fatalf("retracted call still shown: %+v", ca.Constituency.Call)
	}

	n := deskCall("n1", schemas.RaceNational, schemas.ActionApprove, schemas.CallLikely, 0)
	n.PartyNo = 31
	if ch, ok = v.ApplyCall(n); !ok || ch.ConstituencyID != "" {
		t.Fatalf("national approval %+v %v", ch, ok)
	}
	if s := v.Summary(); s.NationalCall == nil || s.NationalCall.Party == nil || s.NationalCall.Party.NameTH != "ก้าวไกล" {
		t.Fatalf("national call %+v", s.NationalCall)
	}
}

// A stream filtered to some constituencies gets their call events, not others'; the
// national call always passes.
func TestStreamFilterCalls(t *testing.T) {
	v := NewView(smallCountry(t), "test")
	f := streamFilter{constituencies: map[string]bool{"BKK_1": true}}
	bkk2, _ := v.ApplyCall(deskCall("a1", "BKK_2", schemas.ActionApprove, schemas.CallCalled, 1))
	bkk1, _ := v.ApplyCall(deskCall("a2", "BKK_1", schemas.ActionApprove, schemas.CallLikely, 1))
	nat := deskCall("a3", schemas.RaceNational, schemas.ActionApprove, schemas.CallLikely, 0)
	nat.PartyNo = 31
	national, _ := v.ApplyCall(nat)
	for _, c := range []struct {
		ch   Change
		want bool
	}{{bkk2, false}, {bkk1, true}, {national, true}} {
		ev := &Event{Type: c.ch.Type, ConstituencyID: c.ch.ConstituencyID, ProvinceID: c.ch.ProvinceID}
		if got := f.match(ev); got != c.want {
			t.Errorf("%s %q: match %v, want %v", c.ch.Type, c.ch.ConstituencyID, got, c.want)
		}
	}
}
