package feed

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// Event types of the decision desk's calls (calls.v1). Only approvals and retractions
// reach newsrooms; recommendations, holds and releases stay in the war room.
const (
	EventCall          = "call"
	EventCallRetracted = "call_retracted"
)

// CallView is a call the decision desk approved, as newsrooms receive it: what was called,
// who called it, when and why, and the estimator's evidence it was approved on.
type CallView struct {
	CallID string            `json:"call_id"`
	Race   string            `json:"race"` // a constituency id, or "national"
	State  schemas.CallState `json:"state"`
	// Leader is the candidate called (constituency races); Party the party called largest
	// (national).
	Leader   *CandidateRef        `json:"leader,omitempty"`
	Party    *PartyRef            `json:"party,omitempty"`
	By       string               `json:"by"`
	Org      string               `json:"org"`
	At       time.Time            `json:"at"`
	Why      string               `json:"why"`
	Evidence schemas.CallEvidence `json:"evidence"`
}

// PartyRef names a party.
type PartyRef struct {
	PartyNo int    `json:"party_no"`
	NameTH  string `json:"name_th"`
	NameEN  string `json:"name_en"`
}

// CallEvent is the data of a `call` or `call_retracted` event. For a retraction, Call is
// the call taken back and Retraction says who took it back, when and why.
type CallEvent struct {
	Race           string    `json:"race"`
	ConstituencyID string    `json:"constituency_id,omitempty"`
	Call           CallView  `json:"call"`
	Retraction     *CallView `json:"retraction,omitempty"`
	Notice
}

// callView renders a call record for newsrooms.
func (v *View) callView(c *schemas.Call) *CallView {
	if c == nil {
		return nil
	}
	out := &CallView{CallID: c.CallID, Race: c.Race, State: c.State, By: c.By, Org: c.Org, At: c.At.UTC(),
		Why: c.Reason, Evidence: c.Evidence}
	if c.LeaderNo > 0 {
		ref := v.candidateRef(c.Race, c.LeaderNo)
		out.Leader = &ref
	}
	if c.PartyNo > 0 {
		p := PartyRef{PartyNo: c.PartyNo}
		if party, ok := v.country.Party(c.PartyNo); ok {
			p.NameTH, p.NameEN = party.NameTH, party.NameEN
		}
		out.Party = &p
	}
	return out
}

// ApplyCall takes one calls.v1 record: an approval makes it the race's call, a retraction
// removes the standing call; both become events. Everything else (recommendations, holds,
// releases), a record seen before, a retraction with nothing standing and a race of
// another country change nothing.
func (v *View) ApplyCall(c schemas.Call) (Change, bool) {
	if v.callSeen == nil {
		v.callSeen = map[string]bool{}
	}
	if c.Action != schemas.ActionApprove && c.Action != schemas.ActionRetract {
		return Change{}, false
	}
	if v.callSeen[c.CallID] {
		return Change{}, false
	}
	var cs *constituency
	standing := &v.nationalCall
	if c.Race != schemas.RaceNational {
		if cs = v.consts[c.Race]; cs == nil {
			return Change{}, false
		}
		standing = &cs.call
	}
	if c.Action == schemas.ActionRetract && *standing == nil {
		return Change{}, false
	}
	v.callSeen[c.CallID] = true
	v.seq++
	ev := &CallEvent{Race: c.Race, Notice: v.notice}
	typ := EventCall
	if c.Action == schemas.ActionApprove {
		*standing = &c
		ev.Call = *v.callView(&c)
	} else {
		typ = EventCallRetracted
		ev.Call, ev.Retraction = *v.callView(*standing), v.callView(&c)
		*standing = nil
	}
	ch := Change{Seq: v.seq, Type: typ, Payload: ev}
	if cs != nil {
		cs.callVersion = v.seq
		ev.ConstituencyID = cs.ref.ID
		ch.ConstituencyID, ch.ProvinceID = cs.ref.ID, cs.ref.ProvinceID
	} else {
		v.nationalCallVersion = v.seq
	}
	return ch, true
}

// approvedCalled reports whether the desk's standing call in cs is "called"; the party
// counts of called constituencies count only these.
func (cs *constituency) approvedCalled() bool {
	return cs.call != nil && cs.call.State == schemas.CallCalled
}

// decodeCall reads a calls.v1 record; false (counted, logged) when nobody can use it.
func (f *Feed) decodeCall(rec *kgo.Record) (*schemas.Call, bool) {
	var c schemas.Call
	if err := kgorecord.Decode(rec, &c); err != nil {
		f.m.records.WithLabelValues(schemas.TopicCalls, "rejected").Inc()
		f.warnRejected(err)
		return nil, false
	}
	return &c, true
}
