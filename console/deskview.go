package console

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"votestream/schemas"
)

// bangkok is the time zone of every time shown to people.
var bangkok = time.FixedZone("ICT", 7*3600)

// Ranks of a race on the desk, in the order the desk sees them.
const (
	RankAttention = "attention" // a standing call the recommendation no longer supports
	RankReady     = "ready"     // recommended likely or called, not yet approved at that level
	RankHeld      = "held"
	RankClose     = "close" // a leader named, not yet likely: lowest win probability first
	RankCalled    = "called"
	RankWaiting   = "waiting" // too early, or no estimate
)

var rankOrder = map[string]int{RankAttention: 0, RankReady: 1, RankHeld: 2, RankClose: 3, RankCalled: 4, RankWaiting: 5}

// Person is a candidate or party as the desk names it.
type Person struct {
	No          int    `json:"no"`
	Name        string `json:"name"`
	PartyNo     int    `json:"party_no"`
	PartyNameTH string `json:"party_name_th"`
	PartyNameEN string `json:"party_name_en"`
}

// RaceView is one race on the desk.
type RaceView struct {
	Race           string          `json:"race"`
	NameTH         string          `json:"name_th"`
	NameEN         string          `json:"name_en"`
	Rank           string          `json:"rank"`
	Recommendation *Recommendation `json:"recommendation"`
	Winner         *Person         `json:"winner"` // the recommended winner
	Standing       *CallView       `json:"standing"`
	Held           *CallView       `json:"held"`
}

// CallView is a decision as the desk shows it: the record and its time in Bangkok.
type CallView struct {
	schemas.Call
	AtLocal string  `json:"at_local"`
	NameTH  string  `json:"name_th"`
	Winner  *Person `json:"winner"`
}

// DeskParty is one party of the national panel.
type DeskParty struct {
	PartyNo        int     `json:"party_no"`
	NameTH         string  `json:"name_th"`
	NameEN         string  `json:"name_en"`
	Share          float64 `json:"share"`
	ShareLo        float64 `json:"share_lo"`
	ShareHi        float64 `json:"share_hi"`
	PartyListSeats int     `json:"partylist_seats"`
	Leading        int     `json:"constituencies_leading"`
	SeatsProjected int     `json:"seats_projected"`
	// From the estimator's seat simulation, once published (null before): the 95 % range of
	// the party's seats of 500 and the share of simulated nights it had the most.
	SeatsLo95          *int     `json:"seats_lo95"`
	SeatsHi95          *int     `json:"seats_hi95"`
	LargestProbability *float64 `json:"largest_probability"`
}

// DeskAnswer is the answer of GET /v1/desk.
type DeskAnswer struct {
	Ready       bool                  `json:"ready"`
	EstimateID  string                `json:"estimate_id"`
	DataTime    string                `json:"data_time_local"`
	SharesState schemas.EstimateState `json:"shares_state"`
	National    RaceView              `json:"national"`
	Parties     []DeskParty           `json:"parties"`
	Races       []RaceView            `json:"races"`
	Counts      map[string]int        `json:"counts"`
}

func (d *desk) person(race string, leader, party int) *Person {
	if leader == 0 && party == 0 {
		return nil
	}
	p := &Person{No: leader, PartyNo: party}
	if leader > 0 {
		if c, ok := d.country.Candidate(race, leader); ok {
			p.Name, p.PartyNo = c.Name, c.PartyNo
		}
	} else {
		p.No = party
	}
	if pt, ok := d.country.Party(p.PartyNo); ok {
		p.PartyNameTH, p.PartyNameEN = pt.NameTH, pt.NameEN
		if leader == 0 {
			p.Name = pt.NameTH
		}
	}
	return p
}

func (d *desk) callView(c *schemas.Call) *CallView {
	if c == nil {
		return nil
	}
	th, _ := raceName(d.country, c.Race)
	return &CallView{Call: *c, AtLocal: c.At.In(bangkok).Format("2006-01-02 15:04:05"), NameTH: th,
		Winner: d.person(c.Race, c.LeaderNo, c.PartyNo)}
}

// rank says where a race stands on the desk.
func rank(rs *raceState) string {
	strength := func(s schemas.CallState) int { return slices.Index(schemas.CallStates, s) }
	rec, st := rs.Rec, rs.Standing
	switch {
	case st != nil && (rec == nil || rec.LeaderNo != st.LeaderNo || rec.PartyNo != st.PartyNo || strength(rec.State) < strength(st.State)):
		return RankAttention
	case rs.Held != nil:
		return RankHeld
	case rec != nil && (rec.State == schemas.CallCalled || rec.State == schemas.CallLikely) &&
		(st == nil || (st.State == schemas.CallLikely && rec.State == schemas.CallCalled)):
		return RankReady
	case st != nil:
		return RankCalled
	case rec != nil && rec.LeaderNo+rec.PartyNo > 0 && rec.State != schemas.CallTooEarly:
		return RankClose
	}
	return RankWaiting
}

func (d *desk) raceView(rs *raceState) RaceView {
	th, en := raceName(d.country, rs.Race)
	v := RaceView{Race: rs.Race, NameTH: th, NameEN: en, Rank: rank(rs), Recommendation: rs.Rec,
		Standing: d.callView(rs.Standing), Held: d.callView(rs.Held)}
	if rs.Rec != nil {
		v.Winner = d.person(rs.Race, rs.Rec.LeaderNo, rs.Rec.PartyNo)
	}
	return v
}

// view renders the desk: races ordered by rank, then by what is most ready (called before
// likely, higher win probability) or closest (lower win probability).
func (d *desk) view() DeskAnswer {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := DeskAnswer{Ready: d.caughtUp, Races: []RaceView{}, Parties: []DeskParty{}, Counts: map[string]int{}}
	for _, c := range d.country.Constituencies {
		v := d.raceView(d.races[c.ID])
		out.Counts[v.Rank]++
		out.Races = append(out.Races, v)
	}
	prob := func(v RaceView) float64 {
		if v.Recommendation == nil || v.Recommendation.Evidence.WinProbability == nil {
			return 0
		}
		return *v.Recommendation.Evidence.WinProbability
	}
	slices.SortStableFunc(out.Races, func(a, b RaceView) int {
		if c := cmp.Compare(rankOrder[a.Rank], rankOrder[b.Rank]); c != 0 {
			return c
		}
		switch a.Rank {
		case RankReady:
			ca, cb := a.Recommendation.State == schemas.CallCalled, b.Recommendation.State == schemas.CallCalled
			if ca != cb {
				if ca {
					return -1
				}
				return 1
			}
			return cmp.Compare(prob(b), prob(a))
		case RankClose:
			return cmp.Compare(prob(a), prob(b))
		}
		return 0
	})
	out.National = d.raceView(d.races[schemas.RaceNational])
	if e := d.estimate; e != nil {
		out.EstimateID, out.SharesState = e.EstimateID, e.SharesState
		out.DataTime = e.DataTime.In(bangkok).Format("2006-01-02 15:04:05")
		led := map[int]int{}
		for _, c := range e.Constituencies {
			if cand, ok := d.country.Candidate(c.ConstituencyID, c.LeaderNo); ok && c.LeaderNo > 0 {
				led[cand.PartyNo]++
			}
		}
		for _, p := range e.Parties {
			dp := DeskParty{PartyNo: p.PartyNo, Share: p.Share, ShareLo: p.ShareLo, ShareHi: p.ShareHi,
				PartyListSeats: p.Seats, Leading: led[p.PartyNo], SeatsProjected: p.Seats + led[p.PartyNo]}
			if pt, ok := d.country.Party(p.PartyNo); ok {
				dp.NameTH, dp.NameEN = pt.NameTH, pt.NameEN
			}
			if sr := p.SeatRange; sr != nil && e.SeatsState != "" && e.SeatsState != schemas.StateTooEarly {
				lo, hi, pr := sr.TotalLo95, sr.TotalHi95, sr.LargestProbability
				dp.SeatsLo95, dp.SeatsHi95, dp.LargestProbability = &lo, &hi, &pr
			}
			out.Parties = append(out.Parties, dp)
		}
		slices.SortStableFunc(out.Parties, func(a, b DeskParty) int {
			if c := cmp.Compare(b.SeatsProjected, a.SeatsProjected); c != 0 {
				return c
			}
			return cmp.Compare(b.Share, a.Share)
		})
	}
	return out
}

// logView renders the call log, newest first; race "" for every race.
func (d *desk) logView(race string, limit int) []CallView {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []CallView{}
	for i := len(d.calls) - 1; i >= 0 && len(out) < limit; i-- {
		if race == "" || d.calls[i].Race == race {
			out = append(out, *d.callView(&d.calls[i]))
		}
	}
	return out
}

// admitDesk admits the desk, and the war room when only reading.
func (s *Server) admitDesk(w http.ResponseWriter, r *http.Request, deciding bool) (who, bool) {
	u, ok := s.admit(w, r)
	if !ok {
		return u, false
	}
	if u.Role != schemas.RoleDesk && (deciding || !u.warRoom()) {
		s.refuse(w, r, u, "", apiErr(CodeForbiddenRole, "", "only the decision desk may do this; your role is %s", u.Role))
		return u, false
	}
	if s.desk == nil {
		writeError(w, apiErr(CodeDeskOff, "", "this console runs without Kafka (no --kafka), so without the decision desk"))
		return u, false
	}
	return u, true
}

// handleDesk: GET /v1/desk
func (s *Server) handleDesk(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.admitDesk(w, r, false); !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.desk.view())
}

// handleDeskLog: GET /v1/desk/log?race=&limit=
func (s *Server) handleDeskLog(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.admitDesk(w, r, false); !ok {
		return
	}
	limit := 200
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5000 {
			writeError(w, apiErr(CodeInvalidValue, "limit", "limit is a number from 1 to 5000"))
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, struct {
		Calls []CallView `json:"calls"`
	}{s.desk.logView(r.URL.Query().Get("race"), limit)})
}

// handleDeskDecision: POST /v1/desk/decisions
func (s *Server) handleDeskDecision(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admitDesk(w, r, true)
	if !ok {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, apiErr(CodeUnsupportedMedia, "", "send application/json"))
		return
	}
	var req DecisionRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, apiErr(CodeMalformedJSON, "", "send {\"race\", \"action\", \"state\", \"estimate_id\", \"reason\"}: %v", err))
		return
	}
	c, e := s.desk.decide(r.Context(), u, req)
	if e != nil {
		s.refuse(w, r, u, "", e)
		return
	}
	writeJSON(w, http.StatusOK, s.desk.callView(c))
}
