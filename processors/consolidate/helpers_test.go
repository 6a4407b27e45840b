package consolidate

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// testCountry: one constituency C1 with stations S01..S14 of 600 eligible voters each, and
// a second constituency C2 with S21; parties 1-12; in C1 candidate 1 stands for party 7,
// candidate 2 for party 3, candidate 3 for party 12.
func testCountry(t testing.TB) *election.Country {
	t.Helper()
	c := &election.Country{
		Provinces: []election.Province{{ID: "P1", NameTH: "หนึ่ง", NameEN: "One", Region: "central"}},
		Constituencies: []election.Constituency{
			{ID: "C1", ProvinceID: "P1", Number: 1, EligibleVoters: 8400, Stations: 14},
			{ID: "C2", ProvinceID: "P1", Number: 2, EligibleVoters: 600, Stations: 1},
		},
		Candidates: []election.Candidate{
			{ConstituencyID: "C1", No: 1, Name: "A", PartyNo: 7},
			{ConstituencyID: "C1", No: 2, Name: "B", PartyNo: 3},
			{ConstituencyID: "C1", No: 3, Name: "C", PartyNo: 12},
		},
	}
	for i := 1; i <= 14; i++ {
		c.Stations = append(c.Stations, election.Station{ID: fmt.Sprintf("S%02d", i), ConstituencyID: "C1", Subdistrict: "X", Number: i, EligibleVoters: 600})
	}
	c.Stations = append(c.Stations, election.Station{ID: "S21", ConstituencyID: "C2", Subdistrict: "Y", Number: 1, EligibleVoters: 600})
	for no := 1; no <= 12; no++ {
		c.Parties = append(c.Parties, election.Party{No: no, NameTH: fmt.Sprintf("พรรค %d", no), NameEN: fmt.Sprintf("Party %d", no)})
	}
	if err := c.Index(); err != nil {
		t.Fatalf("test country: %v", err)
	}
	return c
}

func testRules(t testing.TB) *Rules {
	t.Helper()
	r := DefaultRules()
	r.Country = testCountry(t)
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	return &r
}

// close17 is polls close in the test night; minute(m) is m minutes after it.
var close17 = time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime)

func minute(m int) time.Time { return close17.Add(time.Duration(m) * time.Minute) }

// rb builds reports tersely: rb("s1", "S01", "c", "final", "alice", "OrgA", 30).figs(...)
type rb struct{ r schemas.Report }

func report(id, station, ballot string, stage schemas.Stage, volunteer, org string, receivedMin int) *rb {
	b := &rb{r: schemas.Report{
		Submission: schemas.Submission{
			SubmissionID: id, StationID: station, Ballot: ballot, Stage: stage,
			CountedAt: minute(receivedMin - 1),
		},
		VolunteerID: volunteer, Org: org, Role: schemas.RoleStation, ReceivedAt: minute(receivedMin),
		Hash: "sha256:" + fmt.Sprintf("%064x", len(id)),
	}}
	return b
}

func (b *rb) figs(cast, invalid, noVote int, votes ...int) *rb {
	b.r.BallotsCast, b.r.Invalid, b.r.NoVote = cast, invalid, noVote
	b.r.Votes = map[string]int{}
	for i := 0; i+1 < len(votes); i += 2 {
		b.r.Votes[fmt.Sprint(votes[i])] = votes[i+1]
	}
	return b
}

func (b *rb) counted(m int) *rb { b.r.CountedAt = minute(m); return b }

func (b *rb) person(p string) *rb { b.r.Person = p; return b }

func (b *rb) evidence(hs ...string) *rb { b.r.Evidence = hs; return b }

func (b *rb) in(t testing.TB, c *election.Country) Input {
	t.Helper()
	r, err := NewReport(b.r, c)
	if err != nil {
		t.Fatalf("report %s: %v", b.r.SubmissionID, err)
	}
	return Input{Report: r}
}

func ip(n int) *int { return &n }

// run applies inputs to fresh stations with a Ledger on partition 0 and returns the outputs.
func run(t testing.TB, rules *Rules, ins ...Input) (*Ledger, []Output) {
	t.Helper()
	l := NewLedger(rules)
	l.AddPartition(0)
	var out []Output
	for _, in := range ins {
		out = append(out, l.Apply(0, in)...)
		l.Commit()
	}
	return l, out
}

// last returns the last result published for a station and ballot.
func last(out []Output, station, ballot string) *schemas.StationResult {
	var res *schemas.StationResult
	for _, o := range out {
		if o.Result != nil && o.Result.StationID == station && o.Result.Ballot == ballot {
			res = o.Result
		}
	}
	return res
}

func results(out []Output) []*schemas.StationResult {
	var rs []*schemas.StationResult
	for _, o := range out {
		if o.Result != nil {
			rs = append(rs, o.Result)
		}
	}
	return rs
}

// raised returns the codes of the anomalies raised, in order, one entry per anomaly.
func raised(out []Output) []string {
	var cs []string
	for _, o := range out {
		if o.Anomaly != nil {
			cs = append(cs, o.Anomaly.Code)
		}
	}
	return cs
}

func anomaliesOf(out []Output, code string) []*schemas.Anomaly {
	var as []*schemas.Anomaly
	for _, o := range out {
		if o.Anomaly != nil && o.Anomaly.Code == code {
			as = append(as, o.Anomaly)
		}
	}
	return as
}

func sourceIDs(res *schemas.StationResult) []string {
	var ids []string
	for _, s := range res.Sources {
		ids = append(ids, s.SubmissionID)
	}
	return ids
}

func figuresOf(res *schemas.StationResult) string {
	votes := map[int]int{}
	for k, v := range res.Votes {
		var no int
		fmt.Sscan(k, &no)
		votes[no] = v
	}
	f := newFigures(res.BallotsCast, res.Invalid, res.NoVote, votes)
	return f.String()
}

func sortedCopy(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func schemasBallot(b string) election.Ballot { return election.Ballot(b) }
