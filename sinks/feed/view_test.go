package feed

import (
	"encoding/json"
	"errors"
	"testing"

	"votestream/schemas"
)

// viewStep is one input to the view and what it should do.
type viewStep struct {
	name    string
	sr      *schemas.StationResult
	forget  [2]string
	changed bool
	err     error
}

func srp(sr schemas.StationResult) *schemas.StationResult { return &sr }

// nightSteps is the hand-worked night of TestViewTotals.
var nightSteps = []viewStep{
	{name: "A first count", changed: true,
		sr: srp(res("BKK_1_001", cons, 1, prov, prog, 300, 5, 5, map[string]int{"1": 150, "2": 100, "3": 40}, 1))},
	{name: "B newer version replaces A", changed: true,
		sr: srp(res("BKK_1_001", cons, 3, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 3))},
	{name: "C older version after B is stale", changed: false,
		sr: srp(res("BKK_1_001", cons, 2, prov, prog, 999, 0, 0, map[string]int{"1": 999}, 4))},
	{name: "C' same version again is stale", changed: false,
		sr: srp(res("BKK_1_001", cons, 3, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 3))},
	{name: "D", changed: true,
		sr: srp(res("BKK_1_002", cons, 1, prov, fin, 400, 4, 6, map[string]int{"1": 100, "2": 250, "3": 40}, 5))},
	{name: "E disputed from the start", changed: true,
		sr: srp(res("BKK_1_003", cons, 1, disp, fin, 450, 0, 0, map[string]int{"1": 450}, 6))},
	{name: "F D becomes disputed", changed: true,
		sr: srp(res("BKK_1_002", cons, 2, disp, fin, 400, 4, 6, map[string]int{"1": 100, "2": 250, "3": 40}, 7))},
	{name: "G D verified with corrected figures", changed: true,
		sr: srp(res("BKK_1_002", cons, 3, verif, fin, 400, 4, 6, map[string]int{"1": 110, "2": 240, "3": 40}, 8))},
	{name: "H party list", changed: true,
		sr: srp(res("BKK_2_001", pl, 1, prov, prog, 200, 2, 3, map[string]int{"31": 120, "29": 60, "7": 15}, 9))},
	{name: "I party list", changed: true,
		sr: srp(res("CMI_1_001", pl, 1, corr, fin, 600, 10, 5, map[string]int{"29": 400, "31": 150, "7": 35}, 10))},
	{name: "J tombstone of I", changed: true, forget: [2]string{"CMI_1_001", pl}},
	{name: "J' tombstone of nothing", changed: false, forget: [2]string{"CMI_1_001", pl}},
	{name: "K party list", changed: true,
		sr: srp(res("CMI_1_002", pl, 1, prov, fin, 400, 5, 5, map[string]int{"29": 200, "31": 150, "7": 40}, 11))},
	{name: "unknown station", err: ErrUnknownStation,
		sr: srp(res("BKK_9_001", cons, 1, prov, fin, 1, 1, 0, nil, 12))},
	{name: "station in another constituency", err: ErrUnknownConstituency,
		sr: func() *schemas.StationResult {
			r := res("BKK_1_001", cons, 9, prov, fin, 1, 1, 0, nil, 12)
			r.ConstituencyID = "BKK_2"
			return &r
		}()},
	{name: "unknown ballot", err: ErrBadResult,
		sr: srp(res("BKK_1_001", "senate", 9, prov, fin, 1, 1, 0, nil, 12))},
	{name: "non-canonical vote key", err: ErrBadResult,
		sr: srp(res("BKK_1_001", cons, 9, prov, fin, 5, 0, 0, map[string]int{"01": 5}, 12))},
	{name: "negative count", err: ErrBadResult,
		sr: srp(res("BKK_1_001", cons, 9, prov, fin, 5, -1, 0, nil, 12))},
}

func runSteps(t *testing.T, v *View, steps []viewStep) {
	t.Helper()
	for _, s := range steps {
		var changed bool
		var err error
		if s.sr != nil {
			_, changed, err = v.Apply(*s.sr)
		} else {
			_, changed = v.Forget(s.forget[0], s.forget[1])
		}
		if !errors.Is(err, s.err) || (s.err == nil && err != nil) {
			t.Fatalf("%s: error %v, want %v", s.name, err, s.err)
		}
		if changed != s.changed {
			t.Fatalf("%s: changed %v, want %v", s.name, changed, s.changed)
		}
	}
}

func TestViewTotals(t *testing.T) {
	v := NewView(smallCountry(t), "test")
	runSteps(t, v, nightSteps)

	// Ten steps changed the view: A B D E F G H I J K.
	if v.Seq() != 10 {
		t.Fatalf("seq %d, want 10", v.Seq())
	}
	one := func(x float64) *float64 { return &x }
	tests := []struct {
		name string
		got  Count
		want Count
	}{
		// BKK_1_001 v3 (corroborated, final) and BKK_1_002 v3 (verified, final) count;
		// BKK_1_003 is disputed. 500+400 cast, 10+4 invalid, 6+6 no vote, 520+480 eligible;
		// votes 250+110, 180+240, 54+40 = 874 valid.
		{"BKK_1 constituency ballot", v.consts["BKK_1"].count(bConstituency), Count{
			StationsReported: 2, StationsDisputed: 1, StationsVerified: 1, StationsFinal: 2, StationsTotal: 3,
			EligibleReported: 1000, EligibleTotal: 1500, BallotsCast: 900, Invalid: 14, NoVote: 12, ValidVotes: 874,
			Turnout: one(0.9)}},
		{"BKK_1 party list: nothing yet", v.consts["BKK_1"].count(bPartyList), Count{StationsTotal: 3, EligibleTotal: 1500}},
		// I was withdrawn; K alone: 400 cast, 390 valid, eligible 500.
		{"CMI_1 party list", v.consts["CMI_1"].count(bPartyList), Count{
			StationsReported: 1, StationsFinal: 1, StationsTotal: 2, EligibleReported: 500, EligibleTotal: 1200,
			BallotsCast: 400, Invalid: 5, NoVote: 5, ValidVotes: 390, Turnout: one(0.8)}},
		// H and K: 200+400 cast, 2+5 invalid, 3+5 no vote, 450+500 eligible, 195+390 valid.
		{"national party list", count(&v.national[bPartyList], v.stationsTotal, v.eligibleTotal), Count{
			StationsReported: 2, StationsFinal: 1, StationsTotal: 7, EligibleReported: 950, EligibleTotal: 3600,
			BallotsCast: 600, Invalid: 7, NoVote: 8, ValidVotes: 585, Turnout: one(600.0 / 950)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if g, w := mustJSON(t, tt.got), mustJSON(t, tt.want); g != w {
				t.Errorf("\ngot  %s\nwant %s", g, w)
			}
		})
	}

	wantVotes := map[string]map[int]int64{
		"BKK_1 constituency":  {1: 360, 2: 420, 3: 94},
		"national party list": {31: 270, 29: 260, 7: 55},
	}
	gotVotes := map[string]map[int]int64{
		"BKK_1 constituency":  v.consts["BKK_1"].ballots[bConstituency].votes,
		"national party list": v.national[bPartyList].votes,
	}
	if g, w := mustJSON(t, gotVotes), mustJSON(t, wantVotes); g != w {
		t.Errorf("votes\ngot  %s\nwant %s", g, w)
	}

	// Versions: a constituency's is its last change; a station's its last change on
	// either ballot.
	versions := []struct {
		what string
		got  func() (uint64, bool)
		want uint64
	}{
		{"BKK_1 (step G)", func() (uint64, bool) { return v.ConstituencyVersion("BKK_1") }, 6},
		{"BKK_2 (step H)", func() (uint64, bool) { return v.ConstituencyVersion("BKK_2") }, 7},
		{"CMI_1 (step K)", func() (uint64, bool) { return v.ConstituencyVersion("CMI_1") }, 10},
		{"BKK_1_001 (step B)", func() (uint64, bool) { return v.StationVersion("BKK_1_001") }, 2},
		{"BKK_2_002 (never reported)", func() (uint64, bool) { return v.StationVersion("BKK_2_002") }, 0},
	}
	for _, vt := range versions {
		got, ok := vt.got()
		if !ok || got != vt.want {
			t.Errorf("version of %s = %d, %v; want %d", vt.what, got, ok, vt.want)
		}
	}
	if _, ok := v.StationVersion("BKK_9_001"); ok {
		t.Error("unknown station has a version")
	}
}

func (c *constituency) count(b int) Count {
	return count(&c.ballots[b], c.stationsTotal, int64(c.ref.EligibleVoters))
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestViewStationAnswer pins the wire form of a station: a disputed result shows its status
// and no figures.
func TestViewStationAnswer(t *testing.T) {
	v := NewView(smallCountry(t), "test")
	runSteps(t, v, nightSteps[:7]) // A B C C' D E F: five changes; BKK_1_002 disputed at v2
	a, ok := v.Station("BKK_1_002")
	if !ok {
		t.Fatal("station not found")
	}
	want := `{"data_time":"2023-05-14T18:07:00+07:00","version":5,"event_id":"test-5","unofficial":true,"attribution":` + mustJSON(t, DefaultAttribution) + `,
	"station":{"station_id":"BKK_1_002","constituency_id":"BKK_1","province_id":"BKK","subdistrict":"พระบรมมหาราชวัง",
	"number":2,"eligible_voters":480,"version":5,"data_time":"2023-05-14T18:07:00+07:00",
	"ballots":{"constituency":{"ballot":"constituency","result_version":2,"status":"disputed","stage":"final",
	"reported":false,"sources":1,"counted_at":"2023-05-14T18:02:00+07:00","updated_at":"2023-05-14T18:07:00+07:00"},
	"partylist":null}}}`
	assertJSON(t, a, want)

	a, _ = v.Station("BKK_1_001")
	want = `{"data_time":"2023-05-14T18:03:00+07:00","version":2,"event_id":"test-2","unofficial":true,"attribution":` + mustJSON(t, DefaultAttribution) + `,
	"station":{"station_id":"BKK_1_001","constituency_id":"BKK_1","province_id":"BKK","subdistrict":"พระบรมมหาราชวัง",
	"number":1,"eligible_voters":520,"version":2,"data_time":"2023-05-14T18:03:00+07:00",
	"ballots":{"constituency":{"ballot":"constituency","result_version":3,"status":"corroborated","stage":"final",
	"reported":true,"ballots_cast":500,"invalid":10,"no_vote":6,"votes":{"1":250,"2":180,"3":54},"sources":1,
	"counted_at":"2023-05-14T17:58:00+07:00","updated_at":"2023-05-14T18:03:00+07:00"},"partylist":null}}}`
	assertJSON(t, a, want)

	a, ok = v.Station("CMI_1_002")
	if !ok || a.Station.Ballots.Constituency != nil || a.Version != 0 || a.DataTime != nil {
		t.Errorf("station without results: %+v, %v", a, ok)
	}
}

func assertJSON(t *testing.T, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	if g, ws := mustJSON(t, got), mustJSON(t, w); g != ws {
		// Compare through a round trip so key order and spacing do not matter.
		var gv any
		_ = json.Unmarshal([]byte(g), &gv)
		if mustJSON(t, gv) != ws {
			t.Errorf("\ngot  %s\nwant %s", mustJSON(t, gv), ws)
		}
	}
}

func estimate(id string, dataMinute, computedMinute int, cons ...schemas.ConstituencyEstimate) schemas.Estimate {
	return schemas.Estimate{
		EstimateID: id, DataTime: at(dataMinute), ComputedAt: at(computedMinute),
		StationsReported: 2, StationsTotal: 7, EligibleReported: 950, EligibleTotal: 3600,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 31, CountedVotes: 270, ProjectedVotes: 1300, Share: 0.46, ShareLo: 0.44, ShareHi: 0.48, Seats: 48},
			{PartyNo: 29, CountedVotes: 260, ProjectedVotes: 1250, Share: 0.44, ShareLo: 0.42, ShareHi: 0.46, Seats: 45},
			{PartyNo: 7, CountedVotes: 55, ProjectedVotes: 280, Share: 0.10, ShareLo: 0.08, ShareHi: 0.12, Seats: 7},
		},
		Constituencies: cons,
	}
}

func proj(id string, leader int, prob float64, call schemas.CallState, cands ...schemas.CandidateEstimate) schemas.ConstituencyEstimate {
	return schemas.ConstituencyEstimate{ConstituencyID: id, LeaderNo: leader, WinProbability: prob, Call: call,
		StationsReported: 2, StationsTotal: 3, EligibleReported: 1000, EligibleTotal: 1500, Candidates: cands}
}

func TestViewEstimates(t *testing.T) {
	v := NewView(smallCountry(t), "test")
	runSteps(t, v, nightSteps) // seq 10

	bkk1 := proj("BKK_1", 2, 0.8, schemas.CallLikely,
		schemas.CandidateEstimate{CandidateNo: 1, CountedVotes: 360, ProjectedVotes: 540},
		schemas.CandidateEstimate{CandidateNo: 2, CountedVotes: 420, ProjectedVotes: 630},
		schemas.CandidateEstimate{CandidateNo: 3, CountedVotes: 94, ProjectedVotes: 140})
	bkk2 := proj("BKK_2", 1, 1, schemas.CallCalled)
	cmi1 := proj("CMI_1", 1, 0.6, schemas.CallLeading)
	cmi1b := proj("CMI_1", 2, 0.55, schemas.CallLeading)

	steps := []struct {
		name    string
		e       schemas.Estimate
		changed bool
		seq     uint64
		touched []string
	}{
		{"first", estimate("e1", 10, 11, bkk1, bkk2, cmi1), true, 11, []string{"BKK_1", "BKK_2", "CMI_1"}},
		{"older data time", estimate("e0", 9, 12, bkk1), false, 11, nil},
		{"same data time, computed earlier", estimate("e0b", 10, 10, bkk1), false, 11, nil},
		{"re-delivery", estimate("e1", 10, 11, bkk1, bkk2, cmi1), false, 11, nil},
		{"newer: only CMI_1 changes", estimate("e4", 12, 13, bkk1, bkk2, cmi1b), true, 12, []string{"CMI_1"}},
	}
	for _, s := range steps {
		ch, ok := v.ApplyEstimate(s.e)
		if ok != s.changed || v.Seq() != s.seq {
			t.Fatalf("%s: changed %v seq %d, want %v %d", s.name, ok, v.Seq(), s.changed, s.seq)
		}
		if ok {
			ev := ch.Payload.(*EstimateEvent)
			if mustJSON(t, ev.ChangedConstituencies) != mustJSON(t, s.touched) {
				t.Errorf("%s: changed constituencies %v, want %v", s.name, ev.ChangedConstituencies, s.touched)
			}
		}
	}

	// BKK_1's projection came from e1 (seq 11); its results last changed at 6.
	if got, _ := v.ConstituencyVersion("BKK_1"); got != 11 {
		t.Errorf("BKK_1 version %d, want 11", got)
	}
	if got, _ := v.ConstituencyVersion("CMI_1"); got != 12 {
		t.Errorf("CMI_1 version %d, want 12", got)
	}

	// Leaders: BKK_1 candidate 2 (party 31, likely), BKK_2 candidate 1 (party 31, called),
	// CMI_1 candidate 2 (party 31, leading). Party 31: 48 list seats + 3 leads = 51.
	s := v.Summary()
	want := `{"estimate_id":"e4","data_time":"2023-05-14T18:12:00+07:00","computed_at":"2023-05-14T18:13:00+07:00",
	"stations_reported":2,"stations_total":7,"eligible_reported":950,"eligible_total":3600,
	"parties":[
	 {"party_no":31,"name_th":"ก้าวไกล","name_en":"Move Forward","share":0.46,"share_lo":0.44,"share_hi":0.48,"counted_votes":270,"projected_votes":1300,"partylist_seats":48,"constituencies_leading":3,"constituencies_called":0,"seats_projected":51,"seat_range":null},
	 {"party_no":29,"name_th":"เพื่อไทย","name_en":"Pheu Thai","share":0.44,"share_lo":0.42,"share_hi":0.46,"counted_votes":260,"projected_votes":1250,"partylist_seats":45,"constituencies_leading":0,"constituencies_called":0,"seats_projected":45,"seat_range":null},
	 {"party_no":7,"name_th":"ภูมิใจไทย","name_en":"Bhumjaithai, the \"proud Thai\" party","share":0.1,"share_lo":0.08,"share_hi":0.12,"counted_votes":55,"projected_votes":280,"partylist_seats":7,"constituencies_leading":0,"constituencies_called":0,"seats_projected":7,"seat_range":null}],
	"shares_state":"","priority_used":false,"seats_state":"","seat_draws":0,
	"recommendations":{"none":0,"too_early":0,"leading":1,"likely":1,"called":1}}`
	assertJSON(t, s.Estimate, want)
	if pa := v.Parties(); pa.Estimate == nil || pa.Parties[0].Share == nil {
		t.Fatalf("parties answer without the estimate's shares: %+v", pa)
	}
	if s.Version != 12 || s.EventID != "test-12" {
		t.Errorf("summary version %d %s, want 12 test-12", s.Version, s.EventID)
	}

	// The constituency answer: counted votes from the view (360, 420, 94 of 874), projected
	// ones from e1, the leader named from the reference.
	c, _ := v.Constituency("BKK_1")
	cv := c.Constituency
	if cv.Leader == nil || cv.Leader.Name != "สมหญิง รักชาติ" || cv.Leader.PartyNo != 31 || *cv.Recommendation != "likely" || *cv.WinProbability != 0.8 {
		t.Errorf("leader %+v recommendation %v", cv.Leader, cv.Recommendation)
	}
	wantCands := []struct {
		no        int
		counted   int64
		share     float64
		projected int64
	}{{1, 360, 360.0 / 874, 540}, {2, 420, 420.0 / 874, 630}, {3, 94, 94.0 / 874, 140}}
	if len(cv.Candidates) != len(wantCands) {
		t.Fatalf("candidates %+v", cv.Candidates)
	}
	for i, w := range wantCands {
		g := cv.Candidates[i]
		if g.CandidateNo != w.no || g.CountedVotes != w.counted || *g.CountedShare != w.share || *g.ProjectedVotes != w.projected {
			t.Errorf("candidate %d: %+v", w.no, g)
		}
	}
	if cv.Projection.EstimateID != "e1" || c.Version != 11 || c.EventID != "test-11" {
		t.Errorf("projection %+v version %d", cv.Projection, c.Version)
	}

	// Parties: counted from the national party-list tally (270, 260, 55 of 585 valid).
	p := v.Parties()
	if len(p.Parties) != 3 || p.Parties[0].PartyNo != 7 || p.Parties[2].PartyNo != 31 {
		t.Fatalf("parties not in number order: %+v", p.Parties)
	}
	p31 := p.Parties[2]
	if p31.CountedVotes != 270 || *p31.CountedShare != 270.0/585 || *p31.SeatsProjected != 51 || p31.ConstituencyCandidates != 3 {
		t.Errorf("party 31: %+v", p31)
	}
}

func TestViewWithoutStations(t *testing.T) {
	c := smallCountry(t)
	c.Stations = nil
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	v := NewView(c, "x")
	// Stations unknown to the reference are taken by their constituency; eligible voters
	// of the station are then unknown (0), and the total is the published station count.
	if _, ok, err := v.Apply(res("BKK_2_009", cons, 1, prov, fin, 10, 0, 0, map[string]int{"1": 10}, 1)); !ok || err != nil {
		t.Fatalf("applied %v, %v", ok, err)
	}
	if _, _, err := v.Apply(res("XXX_1_001", cons, 1, prov, fin, 10, 0, 0, nil, 1)); !errors.Is(err, ErrUnknownConstituency) {
		t.Errorf("unknown constituency: %v", err)
	}
	got := v.consts["BKK_2"].count(bConstituency)
	if got.StationsReported != 1 || got.StationsTotal != 2 || got.EligibleReported != 0 || got.Turnout != nil || got.BallotsCast != 10 {
		t.Errorf("%+v", got)
	}
	if _, ok := v.Station("BKK_2_009"); !ok {
		t.Error("station not served")
	}
}

// An estimate whose shares are too early: the feed says so, and /v1/feed/parties shows no
// projection (null) rather than the zeros the estimate carries; counted votes stay.
func TestViewTooEarlyEstimate(t *testing.T) {
	v := NewView(smallCountry(t), "test")
	runSteps(t, v, nightSteps)
	e := estimate("e1", 10, 11)
	e.SharesState = schemas.StateTooEarly
	for i := range e.Parties {
		e.Parties[i] = schemas.PartyEstimate{PartyNo: e.Parties[i].PartyNo, CountedVotes: e.Parties[i].CountedVotes}
	}
	if _, ok := v.ApplyEstimate(e); !ok {
		t.Fatal("estimate not applied")
	}
	if s := v.Summary(); s.Estimate == nil || s.Estimate.SharesState != schemas.StateTooEarly {
		t.Fatalf("summary estimate %+v, want shares_state too_early", s.Estimate)
	}
	pa := v.Parties()
	if pa.Estimate == nil || pa.Estimate.SharesState != schemas.StateTooEarly {
		t.Fatalf("parties answer estimate %+v, want too_early", pa.Estimate)
	}
	for _, p := range pa.Parties {
		if p.Share != nil || p.ShareLo != nil || p.ShareHi != nil || p.ProjectedVotes != nil || p.PartyListSeats != nil || p.SeatsProjected != nil {
			t.Errorf("party %d: projection published while too early: %+v", p.PartyNo, p)
		}
	}
}
