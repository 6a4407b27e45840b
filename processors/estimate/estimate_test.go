package estimate

import (
	"errors"
	"math"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// station is one row of a hand-worked case: its eligible voters, whether it is urban, and
// its votes for party 1 (A) and party 2 (B) on both ballots; reported false leaves it out.
type station struct {
	cons     string
	eligible int
	urban    bool
	a, b     int
	reported bool
}

// handCountry builds one province with the constituencies and stations given; parties A (1)
// and B (2); in every constituency candidate 1 stands for A and candidate 2 for B unless
// swapped lists the constituency, where the numbers are the other way round.
func handCountry(t testing.TB, rows []station, swapped ...string) *election.Country {
	t.Helper()
	c := &election.Country{
		Provinces: []election.Province{{ID: "P", NameTH: "จังหวัด", Region: "north"}},
		Parties:   []election.Party{{No: 1, NameTH: "ก"}, {No: 2, NameTH: "ข"}},
	}
	eligible := map[string]int{}
	var order []string
	for i, r := range rows {
		if _, ok := eligible[r.cons]; !ok {
			order = append(order, r.cons)
		}
		eligible[r.cons] += r.eligible
		c.Stations = append(c.Stations, election.Station{ID: stationID(i), ConstituencyID: r.cons, Subdistrict: "ต", Number: i + 1, EligibleVoters: r.eligible, Urban: r.urban})
	}
	isSwapped := map[string]bool{}
	for _, s := range swapped {
		isSwapped[s] = true
	}
	for n, id := range order {
		c.Constituencies = append(c.Constituencies, election.Constituency{ID: id, ProvinceID: "P", Number: n + 1, EligibleVoters: eligible[id]})
		a, b := 1, 2
		if isSwapped[id] {
			a, b = 2, 1
		}
		c.Candidates = append(c.Candidates,
			election.Candidate{ConstituencyID: id, No: a, Name: "A", PartyNo: 1},
			election.Candidate{ConstituencyID: id, No: b, Name: "B", PartyNo: 2})
	}
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	return c
}

func stationID(i int) string { return "S" + string(rune('A'+i/26)) + string(rune('a'+i%26)) }

// candidateNo is the candidate number of party 1 or 2 in a constituency of handCountry.
func candidateNo(c *election.Country, cons string, party int) int {
	for _, d := range c.CandidatesIn(cons) {
		if d.PartyNo == party {
			return d.No
		}
	}
	return 0
}

// handEstimate applies the reported rows (both ballots, the same votes) and estimates.
func handEstimate(t *testing.T, rows []station, m Method, swapped ...string) (*election.Country, Result) {
	t.Helper()
	c := handCountry(t, rows, swapped...)
	e, err := NewEstimator(c, m)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if !r.reported {
			continue
		}
		s := c.Stations[i]
		pl := election.Tally{BallotsCast: r.a + r.b, Votes: map[int]int{1: r.a, 2: r.b}}
		cons := election.Tally{BallotsCast: r.a + r.b, Votes: map[int]int{candidateNo(c, r.cons, 1): r.a, candidateNo(c, r.cons, 2): r.b}}
		for b, tl := range map[election.Ballot]election.Tally{election.BallotPartyList: pl, election.BallotConstituency: cons} {
			if err := e.Apply(resultOf(s, b, tl, schemas.StatusCorroborated, 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c, e.Estimate()
}

// urbanRural is a method with only the urban/rural sub-strata, for hand-worked cases.
func urbanRural() Method {
	m := DefaultMethod()
	m.SizeClasses = 1
	m.MinStationsLeading = 1
	return m
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestAllReportedIsTheCount(t *testing.T) {
	rows := []station{
		{"C1", 500, false, 300, 150, true},
		{"C1", 400, true, 100, 200, true},
	}
	c, res := handEstimate(t, rows, urbanRural())
	// A 400, B 350 of 750 valid votes.
	want := map[int]struct {
		votes float64
		seats int
	}{1: {400, 53}, 2: {350, 47}}
	for _, p := range res.Parties {
		w := want[p.PartyNo]
		if p.Projected != w.votes || p.Share != w.votes/750 || p.ShareLo != p.Share || p.ShareHi != p.Share || p.Seats != w.seats {
			t.Errorf("party %d: %+v, want %v votes, share %v exactly, %d seats", p.PartyNo, p, w.votes, w.votes/750, w.seats)
		}
	}
	cr := res.Constituencies[0]
	if cr.Call != schemas.CallCalled || cr.LeaderNo != candidateNo(c, "C1", 1) || cr.WinProbability != 1 {
		t.Errorf("constituency: %+v, want candidate A called with probability 1", cr)
	}
	if p := res.PartyList; p.StationsReported != 2 || p.StationsTotal != 2 || p.EligibleReported != 900 || p.EligibleTotal != 900 {
		t.Errorf("progress %+v", p)
	}
}

// In each stratum the reported stations have the same votes per eligible voter, so every
// level of the hierarchy agrees and the unreported stations are projected at exactly that
// ratio: urban A 0.5 B 0.2, rural A 0.2 B 0.5.
func TestTwoStrataProjectEachAtItsOwnRatio(t *testing.T) {
	rows := []station{
		{"C1", 200, true, 100, 40, true},
		{"C1", 300, true, 0, 0, false}, // projected A 150, B 60
		{"C1", 100, false, 20, 50, true},
		{"C1", 500, false, 0, 0, false}, // projected A 100, B 250
	}
	c, res := handEstimate(t, rows, urbanRural())
	// A 100+150+20+100 = 370, B 40+60+50+250 = 400.
	for _, p := range res.Parties {
		want := map[int]float64{1: 370, 2: 400}[p.PartyNo]
		if !near(p.Projected, want) || !near(p.Share, want/770) {
			t.Errorf("party %d projected %v share %v, want %v and %v", p.PartyNo, p.Projected, p.Share, want, want/770)
		}
		if !(p.ShareLo < p.Share && p.Share < p.ShareHi) {
			t.Errorf("party %d: interval [%v, %v] should surround %v with half the stations out", p.PartyNo, p.ShareLo, p.ShareHi, p.Share)
		}
	}
	cr := res.Constituencies[0]
	for _, d := range cr.Candidates {
		want := map[int]float64{1: 370, 2: 400}[d.PartyNo]
		if !near(d.Projected, want) {
			t.Errorf("candidate %d projected %v, want %v", d.No, d.Projected, want)
		}
	}
	// B leads the projection although A leads the count (120 to 90): 800 eligible voters
	// are still out, so nothing is called.
	if cr.LeaderNo != candidateNo(c, "C1", 2) || cr.Call == schemas.CallCalled {
		t.Errorf("leader %d call %s, want candidate B, not called", cr.LeaderNo, cr.Call)
	}
	if p := cr.Progress; p.StationsReported != 2 || p.StationsTotal != 4 || p.EligibleReported != 300 || p.EligibleTotal != 1100 {
		t.Errorf("progress %+v", p)
	}
}

// C1 has no urban report at all; C2 shows that urban stations vote A 0.5 B 0.2 where rural
// ones vote A 0.2 B 0.5, and C1's rural stations vote like C2's. C1's unreported urban
// station is projected like C2's urban ones. On the constituency ballot C2 numbers its
// candidates the other way round, which must not matter.
func TestStratumWithNoReportsBorrowsItsKind(t *testing.T) {
	rows := []station{
		{"C1", 100, false, 20, 50, true},
		{"C1", 300, true, 0, 0, false}, // projected A 150, B 60
		{"C2", 200, true, 100, 40, true},
		{"C2", 100, false, 20, 50, true},
	}
	c, res := handEstimate(t, rows, urbanRural(), "C2")
	for _, p := range res.Parties {
		want := map[int]float64{1: 290, 2: 200}[p.PartyNo]
		if !near(p.Projected, want) {
			t.Errorf("party %d projected %v, want %v", p.PartyNo, p.Projected, want)
		}
	}
	c1 := res.Constituencies[0]
	for _, d := range c1.Candidates {
		want := map[int]float64{1: 170, 2: 110}[d.PartyNo]
		if !near(d.Projected, want) {
			t.Errorf("C1 candidate %d (party %d) projected %v, want %v", d.No, d.PartyNo, d.Projected, want)
		}
	}
	if c1.LeaderNo != candidateNo(c, "C1", 1) {
		t.Errorf("C1 leader %d, want A's candidate", c1.LeaderNo)
	}
	if c2 := res.Constituencies[1]; c2.LeaderNo != candidateNo(c, "C2", 1) || c2.Call != schemas.CallCalled {
		t.Errorf("C2 %+v, want A's candidate %d called", c2, candidateNo(c, "C2", 1))
	}
}

func TestTieIsNeverCalled(t *testing.T) {
	rows := []station{
		{"C1", 300, false, 100, 100, true},
		{"C1", 300, true, 80, 80, true},
	}
	_, res := handEstimate(t, rows, urbanRural())
	cr := res.Constituencies[0]
	if cr.Call != schemas.CallLeading || cr.LeaderNo != 1 || cr.WinProbability != 0.5 {
		t.Errorf("%+v, want the lower number leading with probability 0.5, not called", cr)
	}
	for _, p := range res.Parties {
		if p.Share != 0.5 || p.Seats != 50 {
			t.Errorf("party %d share %v seats %d, want 0.5 and 50", p.PartyNo, p.Share, p.Seats)
		}
	}
}

// A counted lead of 200 is certain when fewer than 200 eligible voters are still out, and
// not when exactly 200 are: they could all vote for the runner-up and tie.
func TestCalledOnlyWhenArithmeticallyCertain(t *testing.T) {
	for _, tc := range []struct {
		outstanding int
		want        schemas.CallState
	}{
		{199, schemas.CallCalled},
		{200, schemas.CallTooEarly},
		{5000, schemas.CallTooEarly},
	} {
		rows := []station{
			{"C1", 250, false, 150, 50, true},
			{"C1", 250, false, 150, 50, true},
			{"C1", tc.outstanding, false, 0, 0, false},
		}
		m := urbanRural()
		m.MinStationsLeading = 3
		_, res := handEstimate(t, rows, m)
		if got := res.Constituencies[0].Call; got != tc.want {
			t.Errorf("%d outstanding: call %s, want %s", tc.outstanding, got, tc.want)
		}
	}
}

// A disputed or progressive count at a station is outstanding for the arithmetic of a call:
// counted A 300 B 100 on two stations (lead 200), and a third station of 250 voters whose
// result says A 200 B 0. Were that result taken, the lead would be 400 with nobody out;
// it is not, so 250 voters are out and the lead of 200 is not certain.
func TestDisputedAndProgressAreOutstandingForACall(t *testing.T) {
	rows := []station{
		{"C1", 250, false, 150, 50, true},
		{"C1", 250, false, 150, 50, true},
		{"C1", 250, false, 0, 0, false},
	}
	for name, edit := range map[string]func(*schemas.StationResult){
		"disputed": func(r *schemas.StationResult) { r.Status = schemas.StatusDisputed },
		"progress": func(r *schemas.StationResult) { r.Stage = schemas.StageProgress },
	} {
		m := urbanRural()
		m.MinStationsLeading = 3
		c := handCountry(t, rows)
		e, err := NewEstimator(c, m)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range c.Stations {
			votes := map[int]int{1: rows[i].a, 2: rows[i].b}
			if i == 2 {
				votes = map[int]int{1: 200, 2: 0}
			}
			r := resultOf(s, election.BallotConstituency, election.Tally{BallotsCast: votes[1] + votes[2], Votes: votes}, schemas.StatusCorroborated, 1)
			if i == 2 {
				edit(&r)
			}
			if err := e.Apply(r); err != nil {
				t.Fatal(err)
			}
		}
		cr := e.Estimate().Constituencies[0]
		if cr.Call == schemas.CallCalled || cr.Progress.StationsReported != 2 || cr.Progress.EligibleReported != 500 {
			t.Errorf("%s: call %s, %d stations and %d voters reported; want not called, 2 and 500",
				name, cr.Call, cr.Progress.StationsReported, cr.Progress.EligibleReported)
		}
	}
}

func TestDisputedProgressAndStaleResults(t *testing.T) {
	rows := []station{{"C1", 500, false, 0, 0, false}, {"C1", 500, false, 0, 0, false}}
	c := handCountry(t, rows)
	e, err := NewEstimator(c, urbanRural())
	if err != nil {
		t.Fatal(err)
	}
	s := c.Stations[0]
	tally := election.Tally{BallotsCast: 300, Votes: map[int]int{1: 200, 2: 100}}
	reported := func() int { return e.Estimate().PartyList.StationsReported }
	steps := []struct {
		name   string
		result schemas.StationResult
		want   int
	}{
		{"provisional v1", resultOf(s, election.BallotPartyList, tally, schemas.StatusProvisional, 1), 1},
		{"disputed v2", resultOf(s, election.BallotPartyList, tally, schemas.StatusDisputed, 2), 0},
		{"stale v1 again", resultOf(s, election.BallotPartyList, tally, schemas.StatusVerified, 1), 0},
		{"verified v3", resultOf(s, election.BallotPartyList, tally, schemas.StatusVerified, 3), 1},
	}
	for _, st := range steps {
		if err := e.Apply(st.result); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := reported(); got != st.want {
			t.Errorf("after %s: %d stations reported, want %d", st.name, got, st.want)
		}
	}
	progress := resultOf(c.Stations[1], election.BallotPartyList, tally, schemas.StatusCorroborated, 1)
	progress.Stage = schemas.StageProgress
	if err := e.Apply(progress); err != nil {
		t.Fatal(err)
	}
	if got := reported(); got != 1 {
		t.Errorf("a progressive count made the station reported: %d", got)
	}
	e.Forget(s.ID, election.BallotPartyList)
	if got := reported(); got != 0 {
		t.Errorf("after Forget: %d reported, want 0", got)
	}
}

func TestApplyRejects(t *testing.T) {
	rows := []station{{"C1", 500, false, 0, 0, false}}
	c := handCountry(t, rows)
	e, err := NewEstimator(c, urbanRural())
	if err != nil {
		t.Fatal(err)
	}
	good := resultOf(c.Stations[0], election.BallotPartyList, election.Tally{BallotsCast: 3, Votes: map[int]int{1: 3}}, schemas.StatusVerified, 1)
	for name, tc := range map[string]struct {
		edit func(*schemas.StationResult)
		want error
	}{
		"unknown station":  {func(r *schemas.StationResult) { r.StationID = "nowhere" }, ErrUnknownStation},
		"unknown ballot":   {func(r *schemas.StationResult) { r.Ballot = "senate" }, ErrBadResult},
		"unknown status":   {func(r *schemas.StationResult) { r.Status = "maybe" }, ErrBadResult},
		"negative votes":   {func(r *schemas.StationResult) { r.Votes = map[string]int{"1": -3} }, ErrBadResult},
		"bad number":       {func(r *schemas.StationResult) { r.Votes = map[string]int{"one": 3} }, ErrBadResult},
		"votes past int32": {func(r *schemas.StationResult) { r.Votes = map[string]int{"1": 3_000_000_000} }, ErrBadResult},
		// "1" and "01" are the same party; together they pass 2^31-1 = 2,147,483,647.
		"sum past int32": {func(r *schemas.StationResult) { r.Votes = map[string]int{"1": 2_000_000_000, "01": 200_000_000} }, ErrBadResult},
	} {
		r := good
		tc.edit(&r)
		if err := e.Apply(r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := NewEstimator(&election.Country{Provinces: handCountry(t, rows).Provinces}, DefaultMethod()); !errors.Is(err, ErrNoStations) {
		t.Errorf("country without stations: %v", err)
	}
}

// The estimate's wire form passes the estimates.v1 JSON Schema at every stage of a night.
func TestEstimateConformsToSchema(t *testing.T) {
	c, r := syntheticNight(t, 3, 8, 30)
	e, err := NewEstimator(c, DefaultMethod())
	if err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		value, _, err := schemas.Encode(e.Estimate().ToSchema("00000000-0000-4000-8000-000000000001", e.DataTime()))
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas.Validate(schemas.SchemaEstimate, value); err != nil {
			t.Errorf("%s: %v", stage, err)
		}
	}
	check("nothing reported")
	for i, s := range c.Stations {
		for _, b := range election.Ballots {
			if err := e.Apply(resultOf(s, b, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: b}], schemas.StatusVerified, 1)); err != nil {
				t.Fatal(err)
			}
		}
		if i == len(c.Stations)/3 {
			check("a third reported")
		}
	}
	check("all reported")
}

func TestPriorityUsedOnceEnoughHasReported(t *testing.T) {
	c, r := syntheticNight(t, 5, 8, 40)
	m := DefaultMethod()
	m.PriorityMinStations = 5
	e, err := NewEstimator(c, m)
	if err != nil {
		t.Fatal(err)
	}
	total := e.lay.priorityTotal
	if total < 10 {
		t.Fatalf("only %d priority stations in the synthetic country", total)
	}
	reported := 0
	for _, s := range c.Stations {
		if !s.Priority {
			continue
		}
		e.applyTally(e.lay.stationIdx[s.ID], election.BallotPartyList, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}])
		reported++
		got := e.Estimate().Priority
		want := float64(reported) >= m.PriorityMinFraction*float64(total) && reported >= m.PriorityMinStations
		if got.Used != want || got.Reported != reported || got.Total != total {
			t.Fatalf("%d of %d priority stations reported: %+v, want used=%v", reported, total, got, want)
		}
	}
}

func FuzzApply(f *testing.F) {
	f.Add("SAa", "partylist", "verified", "final", "1", 120, "2", 80, int64(1))
	f.Add("SAb", "constituency", "disputed", "progress", "2", 0, "9", 3, int64(7))
	f.Add("SAa", "partylist", "provisional", "final", "07", 1, "+2", 2, int64(-1))
	rows := []station{{"C1", 500, false, 0, 0, false}, {"C1", 400, true, 0, 0, false}}
	c := handCountry(f, rows)
	f.Fuzz(func(t *testing.T, id, ballot, status, stage, k1 string, v1 int, k2 string, v2 int, version int64) {
		e, err := NewEstimator(c, DefaultMethod())
		if err != nil {
			t.Fatal(err)
		}
		r := schemas.StationResult{StationID: id, Ballot: ballot, Status: schemas.Status(status), Stage: schemas.Stage(stage),
			Version: version, Votes: map[string]int{k1: v1, k2: v2}}
		_ = e.Apply(r)
		res := e.Estimate()
		for _, p := range res.Parties {
			if !(p.ShareLo <= p.Share && p.Share <= p.ShareHi) || math.IsNaN(p.Share) || p.Share < 0 || p.Share > 1 {
				t.Fatalf("party %+v", p)
			}
		}
		for _, cr := range res.Constituencies {
			if math.IsNaN(cr.WinProbability) || cr.WinProbability < 0 || cr.WinProbability > 1 {
				t.Fatalf("constituency %+v", cr)
			}
		}
	})
}

// A provisional result projects, but for a call it is outstanding: counted A 300 B 100 on
// two corroborated stations (lead 200) and a third of 250 voters, provisional, saying
// A 200 B 0. Were it taken, the lead would be 400 with nobody out; it is not until it is
// corroborated, so 250 voters are out and the lead of 200 is not certain.
func TestProvisionalIsOutstandingForACall(t *testing.T) {
	rows := []station{
		{"C1", 250, false, 150, 50, true},
		{"C1", 250, false, 150, 50, true},
		{"C1", 250, false, 0, 0, false},
	}
	m := urbanRural()
	m.MinStationsLeading = 3
	c := handCountry(t, rows)
	e, err := NewEstimator(c, m)
	if err != nil {
		t.Fatal(err)
	}
	third := func(status schemas.Status, version int64) schemas.StationResult {
		return resultOf(c.Stations[2], election.BallotConstituency, election.Tally{BallotsCast: 200, Votes: map[int]int{1: 200, 2: 0}}, status, version)
	}
	for i, s := range c.Stations[:2] {
		votes := map[int]int{1: rows[i].a, 2: rows[i].b}
		if err := e.Apply(resultOf(s, election.BallotConstituency, election.Tally{BallotsCast: 200, Votes: votes}, schemas.StatusCorroborated, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Apply(third(schemas.StatusProvisional, 1)); err != nil {
		t.Fatal(err)
	}
	cr := e.Estimate().Constituencies[0]
	if cr.Call == schemas.CallCalled || cr.Progress.StationsReported != 3 || cr.Candidates[0].Counted != 500 {
		t.Errorf("provisional: call %s, %d stations reported, A counted %d; want not called, 3, 500",
			cr.Call, cr.Progress.StationsReported, cr.Candidates[0].Counted)
	}
	if err := e.Apply(third(schemas.StatusCorroborated, 2)); err != nil {
		t.Fatal(err)
	}
	if cr := e.Estimate().Constituencies[0]; cr.Call != schemas.CallCalled {
		t.Errorf("corroborated: call %s, want called", cr.Call)
	}
}
