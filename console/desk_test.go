package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"votestream/console"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/sinks/feed"
)

func (p *pipeline) desk() string {
	return p.session("desk-1", schemas.RoleDesk, "")
}

// publishEstimate writes an estimate as the estimator would.
func (p *pipeline) publishEstimate(e schemas.Estimate) {
	p.t.Helper()
	rec, err := kgorecord.New(p.kafka.Topic(schemas.TopicEstimates), &e)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.kafka.Client(p.t).ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		p.t.Fatal(err)
	}
}

// deskEstimate recommends C1 "called" for candidate 1 (checked figures decide it) and C2
// "likely" for candidate 2; party 1 leads the national picture with its interval apart.
func deskEstimate(id string, minute int) schemas.Estimate {
	at := time.Date(2023, 5, 14, 13, minute, 0, 0, time.UTC)
	return schemas.Estimate{EstimateID: id, DataTime: at, ComputedAt: at.Add(time.Second),
		StationsReported: 9, StationsTotal: 11, EligibleReported: 5000, EligibleTotal: 6600, SharesState: schemas.StateEstimate,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 1, CountedVotes: 2100, ProjectedVotes: 2600, Share: 0.52, ShareLo: 0.49, ShareHi: 0.55, Seats: 52},
			{PartyNo: 2, CountedVotes: 1500, ProjectedVotes: 1900, Share: 0.38, ShareLo: 0.35, ShareHi: 0.41, Seats: 38},
			{PartyNo: 3, CountedVotes: 400, ProjectedVotes: 500, Share: 0.10, ShareLo: 0.08, ShareHi: 0.12, Seats: 10}},
		Constituencies: []schemas.ConstituencyEstimate{
			{ConstituencyID: "C1", LeaderNo: 1, WinProbability: 1, Call: schemas.CallCalled, StationsReported: 7, StationsTotal: 8,
				EligibleReported: 4200, EligibleTotal: 4800,
				Candidates: []schemas.CandidateEstimate{{CandidateNo: 1, CountedVotes: 2000, ProjectedVotes: 2300}, {CandidateNo: 2, CountedVotes: 900, ProjectedVotes: 1000}, {CandidateNo: 3, CountedVotes: 100, ProjectedVotes: 120}}},
			{ConstituencyID: "C2", LeaderNo: 2, WinProbability: 0.97, Call: schemas.CallLikely, StationsReported: 2, StationsTotal: 3,
				EligibleReported: 1200, EligibleTotal: 1800,
				Candidates: []schemas.CandidateEstimate{{CandidateNo: 1, CountedVotes: 400, ProjectedVotes: 600}, {CandidateNo: 2, CountedVotes: 520, ProjectedVotes: 780}}},
		}}
}

func (p *pipeline) deskView(tok string) console.DeskAnswer {
	p.t.Helper()
	st, body, _ := do(p.t, http.MethodGet, p.console+"/v1/desk", tok, nil)
	var a console.DeskAnswer
	if st != http.StatusOK || json.Unmarshal(body, &a) != nil {
		p.t.Fatalf("GET /v1/desk: %d %s", st, body)
	}
	return a
}

func (p *pipeline) decide(tok string, d console.DecisionRequest) (int, string) {
	p.t.Helper()
	b, _ := json.Marshal(d)
	st, body, _ := do(p.t, http.MethodPost, p.console+"/v1/desk/decisions", tok, b)
	return st, string(body)
}

// feedConstituency is the newsrooms' answer for a constituency.
func (p *pipeline) feedConstituency(id string) feed.ConstituencyView {
	p.t.Helper()
	st, body, _ := do(p.t, http.MethodGet, p.feed+"/v1/feed/constituencies/"+id, p.feedKey, nil)
	var a feed.ConstituencyAnswer
	if st != http.StatusOK || json.Unmarshal(body, &a) != nil {
		p.t.Fatalf("feed %s: %d %s", id, st, body)
	}
	return a.Constituency
}

// standing is what newsrooms' SQL users read: the calls standing, as "race state by".
func (p *pipeline) standing() []string {
	p.t.Helper()
	rows, err := p.ch.Conn.Query(context.Background(), "SELECT concat(race, ' ', state, ' ', by) FROM `"+p.ch.Database+"`.calls_standing ORDER BY race")
	if err != nil {
		p.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			p.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// sseEvents reads the feed's stream and sends each event's type and data.
func sseEvents(t *testing.T, url, key string) <-chan [2]string {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", err, resp)
	}
	out := make(chan [2]string, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		br := bufio.NewReader(resp.Body)
		var ev [2]string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				ev[0] = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev[1] = line[len("data: "):]
			case line == "" && ev[0] != "":
				out <- ev
				ev = [2]string{}
			}
		}
	}()
	return out
}

// nextCall waits for the next call or call_retracted event on the stream.
func nextCall(t *testing.T, evs <-chan [2]string) (string, feed.CallEvent) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev[0] == feed.EventCall || ev[0] == feed.EventCallRetracted {
				var ce feed.CallEvent
				if err := json.Unmarshal([]byte(ev[1]), &ce); err != nil {
					t.Fatalf("%s event %q: %v", ev[0], ev[1], err)
				}
				return ev[0], ce
			}
		case <-timeout:
			t.Fatal("no call event on the stream")
		}
	}
}

// The estimator recommends; newsrooms see a call only after the desk approves it (feed,
// stream, SQL), see its retraction as an event, and a hold stops a call.
func TestDeskGatesCallsForNewsrooms(t *testing.T) {
	p := startPipeline(t)
	desk, war := p.desk(), p.warRoom()
	p.publishEstimate(deskEstimate("e1", 0))
	waitFor(t, "the desk and the feed read e1", func() bool {
		d := p.deskView(desk)
		c := p.feedConstituency("C1")
		return d.Ready && d.EstimateID == "e1" && c.Recommendation != nil && *c.Recommendation == "called"
	})
	d := p.deskView(desk)
	if d.Races[0].Race != "C1" || d.Races[0].Rank != console.RankReady || d.National.Winner == nil || d.National.Winner.PartyNo != 1 ||
		d.National.Recommendation.State != schemas.CallLikely {
		t.Fatalf("desk ranks %+v; national %+v", d.Races, d.National)
	}
	// A recommendation is not a call: nothing reaches newsrooms as one.
	if c := p.feedConstituency("C1"); c.Call != nil {
		t.Fatalf("a recommendation reached newsrooms as a call: %+v", c.Call)
	}
	evs := sseEvents(t, p.feed+"/v1/feed/events", p.feedKey)
	waitFor(t, "the recommendations in the call log (Kafka -> ClickHouse)", func() bool {
		var n uint64
		row := p.ch.Conn.QueryRow(context.Background(), "SELECT uniqExact(call_id) FROM `"+p.ch.Database+"`.calls WHERE action = 'recommend'")
		return row.Scan(&n) == nil && n == 3 // C1, C2, national
	})
	if s := p.standing(); len(s) != 0 {
		t.Fatalf("calls_standing before any approval: %v", s)
	}

	// The protocol, where it can be enforced.
	for _, c := range []struct {
		tok  string
		d    console.DecisionRequest
		st   int
		code string
	}{
		{desk, console.DecisionRequest{Race: "C2", Action: "approve", State: "called", EstimateID: "e1", Reason: "ดูดี"}, 409, console.CodeNotRecommended},
		{desk, console.DecisionRequest{Race: "C1", Action: "approve", State: "called", EstimateID: "e1", Reason: "  "}, 400, console.CodeMissingField},
		{desk, console.DecisionRequest{Race: "C1", Action: "approve", State: "called", EstimateID: "e0", Reason: "ok"}, 409, console.CodeCallStale},
		{desk, console.DecisionRequest{Race: "C1", Action: "retract", Reason: "nothing stands"}, 409, console.CodeNoCall},
		{desk, console.DecisionRequest{Race: "C9", Action: "hold", Reason: "x"}, 404, console.CodeNotFound},
		{war, console.DecisionRequest{Race: "C1", Action: "approve", State: "called", EstimateID: "e1", Reason: "war room"}, 403, console.CodeForbiddenRole},
	} {
		if st, body := p.decide(c.tok, c.d); st != c.st || !strings.Contains(body, c.code) {
			t.Errorf("%s %s %s: %d %s; want %d %s", c.d.Action, c.d.Race, c.d.State, st, body, c.st, c.code)
		}
	}

	// A hold stops a call.
	if st, body := p.decide(desk, console.DecisionRequest{Race: "C1", Action: "hold", Reason: "รอตรวจภาพหน่วย 5"}); st != 200 {
		t.Fatalf("hold: %d %s", st, body)
	}
	if st, body := p.decide(desk, console.DecisionRequest{Race: "C1", Action: "approve", State: "called", EstimateID: "e1", Reason: "ครบ"}); st != 409 || !strings.Contains(body, console.CodeCallHeld) {
		t.Fatalf("approve on hold: %d %s; want 409 CALL_HELD", st, body)
	}
	if st, body := p.decide(desk, console.DecisionRequest{Race: "C1", Action: "release", Reason: "ภาพตรงกัน"}); st != 200 {
		t.Fatalf("release: %d %s", st, body)
	}

	// Approved: the call reaches the feed, the stream and SQL, with who, when and why.
	why := "ผลที่ยืนยันแล้วเกินบัตรที่เหลือ"
	if st, body := p.decide(desk, console.DecisionRequest{Race: "C1", Action: "approve", State: "called", EstimateID: "e1", Reason: why}); st != 200 {
		t.Fatalf("approve: %d %s", st, body)
	}
	typ, ev := nextCall(t, evs)
	if typ != feed.EventCall || ev.Race != "C1" || ev.Call.By != "desk-1" || ev.Call.Why != why || ev.Call.State != schemas.CallCalled ||
		ev.Call.Leader == nil || ev.Call.Leader.Name != "สมชาย ใจดี" || ev.Call.Evidence.EstimateID != "e1" || !ev.Call.Evidence.Decided {
		t.Fatalf("call event %s %+v", typ, ev)
	}
	if c := p.feedConstituency("C1"); c.Call == nil || c.Call.CallID != ev.Call.CallID || c.Call.At.IsZero() {
		t.Fatalf("feed C1 call %+v", c.Call)
	}
	waitFor(t, "the call in calls_standing", func() bool { s := p.standing(); return len(s) == 1 && s[0] == "C1 called desk-1" })

	// Retracted: an event, and the call is gone everywhere.
	if st, body := p.decide(desk, console.DecisionRequest{Race: "C1", Action: "retract", Reason: "พบหน่วยนับซ้ำ"}); st != 200 {
		t.Fatalf("retract: %d %s", st, body)
	}
	typ, ev = nextCall(t, evs)
	if typ != feed.EventCallRetracted || ev.Race != "C1" || ev.Retraction == nil || ev.Retraction.Why != "พบหน่วยนับซ้ำ" || ev.Call.Why != why {
		t.Fatalf("retraction event %s %+v", typ, ev)
	}
	if c := p.feedConstituency("C1"); c.Call != nil {
		t.Fatalf("retracted call still in the feed: %+v", c.Call)
	}
	waitFor(t, "calls_standing empty after the retraction", func() bool { return len(p.standing()) == 0 })

	// The call log, newest first, in the console and in ClickHouse.
	st, body, _ := do(t, http.MethodGet, p.console+"/v1/desk/log?race=C1", war, nil)
	var lg struct{ Calls []console.CallView }
	if st != 200 || json.Unmarshal(body, &lg) != nil {
		t.Fatalf("log: %d %s", st, body)
	}
	var got []string
	for _, c := range lg.Calls {
		got = append(got, string(c.Action))
	}
	if want := "retract approve release hold recommend"; strings.Join(got, " ") != want {
		t.Fatalf("C1's log %v; want %s", got, want)
	}
	waitFor(t, "every C1 record in ClickHouse", func() bool {
		var n uint64
		row := p.ch.Conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM `%s`.calls FINAL WHERE race = 'C1'", p.ch.Database))
		return row.Scan(&n) == nil && n == 5
	})
	// The changes cursor carries both events too.
	st, body, _ = do(t, http.MethodGet, p.feed+"/v1/feed/changes?since="+url0(t, p), p.feedKey, nil)
	if st != 200 || !strings.Contains(string(body), `"type":"call"`) || !strings.Contains(string(body), `"type":"call_retracted"`) {
		t.Fatalf("changes: %d %s", st, body)
	}
}

// url0 is a cursor at the start of the feed's ring: the feed's epoch and 0.
func url0(t *testing.T, p *pipeline) string {
	st, body, _ := do(t, http.MethodGet, p.feed+"/v1/feed/changes", p.feedKey, nil)
	var a struct {
		NextCursor string `json:"next_cursor"`
	}
	if st != 200 || json.Unmarshal(body, &a) != nil {
		t.Fatalf("changes start: %d %s", st, body)
	}
	epoch, _, _ := strings.Cut(a.NextCursor, "-")
	return epoch + "-1"
}
