package console

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

func TestLeaderOf(t *testing.T) {
	o := leaderOf(race{"1": 100, "2": 90, "10": 5}, map[string]int{"2": 20})
	if o.Leader != "2" || o.RunnerUp != "1" || o.Margin != 10 || o.Share != "51.2%" {
		t.Fatalf("leader = %+v; want 2 ahead of 1 by 10 with 110/215", o)
	}
	if o := leaderOf(race{"2": 5, "10": 5}, nil); o.Leader != "2" || o.Margin != 0 {
		t.Fatalf("tie = %+v; want the lower number first, margin 0", o)
	}
	if o := leaderOf(nil, nil); o.Leader != "" {
		t.Fatalf("empty race = %+v", o)
	}
}

func TestPriority(t *testing.T) {
	names := func(string) string { return "" }
	// Sources naming different leaders: stake 1; disputed: class 4, so 400 + 99.
	it := Item{Status: "disputed", Codes: []string{"CONFLICT"}, Sources: []Source{
		{Figures: Figures{BallotsCast: 100, Votes: map[string]int{"1": 60, "2": 40}}},
		{Figures: Figures{BallotsCast: 100, Votes: map[string]int{"1": 40, "2": 60}}},
	}}
	it.prioritise(race{"1": 1000, "2": 1000}, names, nil)
	if it.Priority != 499 || it.Severity != "hard" {
		t.Fatalf("disputed, leaders differ: %d %s; want 499 hard", it.Priority, it.Severity)
	}
	// The same dispute where the challenger's organisation agreed with 2 of its 10 settled
	// reports: stake 0.2, so 400 + 99 x 0.2 = 419.8.
	poor := Item{Status: "disputed", Codes: []string{"CONFLICT"}, Sources: []Source{
		{Figures: Figures{BallotsCast: 100, Votes: map[string]int{"1": 60, "2": 40}}, Track: &Track{Org: Record{Agreed: 30, Reports: 30}}},
		{Figures: Figures{BallotsCast: 100, Votes: map[string]int{"1": 40, "2": 60}}, Track: &Track{Volunteer: Record{Agreed: 0, Reports: 1}, Org: Record{Agreed: 2, Reports: 10}}},
	}}
	poor.prioritise(race{"1": 1000, "2": 1000}, names, nil)
	if poor.Priority != 420 {
		t.Fatalf("dispute raised by a poor record: %d (%v); want 420", poor.Priority, poor.Why)
	}
	// A newcomer (fewer than minRecord settled reports, organisation unknown) is not doubted.
	if c := (&Track{Volunteer: Record{Agreed: 0, Reports: minRecord - 1}}).credibility(); c != 1 {
		t.Fatalf("newcomer's credibility %v; want 1", c)
	}
	// A statistical flag on a station of 100 ballots in a race won by 400: stake 0.25,
	// class 2, so 200 + 24.75.
	soft := Item{Status: "corroborated", Codes: []string{"SHARE_OUTLIER"}, Flags: []Flag{{Code: "SHARE_OUTLIER", Severity: "soft"}},
		Result: Figures{BallotsCast: 100, Votes: map[string]int{"1": 60, "2": 40}}}
	soft.prioritise(race{"1": 1000, "2": 600}, names, nil) // the race without the station
	if soft.Priority != 225 {
		t.Fatalf("statistical, small stake: %d (%v); want 225", soft.Priority, soft.Why)
	}
	// The same flag in a race won by 50 (stake 1) still ranks below a provably wrong count
	// that changes nothing: the class decides first, the stake within a class.
	close := soft
	close.prioritise(race{"1": 1000, "2": 950}, names, nil)
	hardIdle := Item{Status: "disputed", Codes: []string{"ARITH"}, Sources: []Source{{Figures: Figures{BallotsCast: 10, Votes: map[string]int{"1": 10}}}}}
	hardIdle.prioritise(race{"1": 5000, "2": 1000}, names, nil)
	if close.Priority != 299 || hardIdle.Priority != 400 {
		t.Fatalf("close statistical %d, idle wrong count %d; want 299 and 400", close.Priority, hardIdle.Priority)
	}
	// A result resting on a source that agreed with 6 of its 10 settled reports: doubt 0.4,
	// so 200 + 99 x (1 - 0.75 x 0.6) = 254.45.
	doubted := soft
	doubted.Sources = []Source{{InResult: true, Figures: soft.Result, Track: &Track{Volunteer: Record{Agreed: 6, Reports: 10}}}}
	doubted.prioritise(race{"1": 1000, "2": 600}, names, nil)
	if doubted.Priority != 254 || !strings.Contains(strings.Join(doubted.Why, "; "), "60% agreed") {
		t.Fatalf("statistical on a doubted source: %d (%v); want 254 and the record in why", doubted.Priority, doubted.Why)
	}
}

// flagged is an item at a station of 100 ballots, in a race won by 1000 without it, with
// the given codes (a soft flag for each; ev is the evidence of every flag).
func flagged(station, ballot, status string, ev map[string]string, codes ...string) Item {
	it := Item{Key: station + "/" + ballot, StationID: station, Ballot: ballot, ConstituencyID: "C1", Status: status, Codes: codes,
		Result: Figures{BallotsCast: 100, Votes: map[string]int{"1": 60, "2": 40}}}
	for _, c := range codes {
		it.Flags = append(it.Flags, Flag{Code: c, Severity: string(schemas.AnomalySeverity(c)), Evidence: ev})
	}
	return it
}

// queueOrder ranks items as the queue does and returns their keys in order.
func queueOrder(items []Item) []string {
	races := map[string]race{
		raceKey("constituency", "C1"): {"1": 2000, "2": 1000},
		raceKey("partylist", "C1"):    {"1": 2000, "2": 1000},
	}
	c := &election.Country{}
	if err := c.Index(); err != nil {
		panic(err)
	}
	rankItems(items, races, c)
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

// TestPriorityByEvidence orders hand-made items of one stake by what their flags prove.
func TestPriorityByEvidence(t *testing.T) {
	items := []Item{
		flagged("A", "constituency", "provisional", nil, "SHARE_OUTLIER"),                                    // statistical
		flagged("B", "constituency", "disputed", nil, "ARITH"),                                               // a typo: the form's sums fail
		flagged("C", "partylist", "provisional", map[string]string{"assignment": "outside"}, "SPREAD"),       // outside the token's scope
		flagged("D", "partylist", "provisional", map[string]string{"stations": "4", "limit": "3"}, "SPREAD"), // over the limit, which station unknown
		flagged("E", "constituency", "corroborated", nil, "EARLY"),
		flagged("F", "partylist", "provisional", nil, "PHOTO_REUSE"),
	}
	want := []string{"B/constituency", "C/partylist", "E/constituency", "A/constituency", "D/partylist", "F/partylist"}
	if got := queueOrder(items); !slices.Equal(got, want) {
		t.Fatalf("order %v; want %v", got, want)
	}
	if it := items[0]; !strings.Contains(it.Why[0], "figures wrong or contested: ARITH") {
		t.Fatalf("why %q; want the class and the code", it.Why[0])
	}
}

// TestPriorityExplainedGap: a BALLOT_GAP between a station's ballots when the other ballot
// is provably wrong ranks below its cause and below a statistical flag elsewhere; beside a
// clean other ballot it stays a flag of its own (one of the two ballots is wrong).
func TestPriorityExplainedGap(t *testing.T) {
	items := []Item{
		flagged("A", "constituency", "provisional", nil, "BALLOT_GAP"),
		flagged("A", "partylist", "disputed", nil, "ARITH", "BALLOT_GAP"),
		flagged("B", "constituency", "provisional", nil, "SHARE_OUTLIER"),
		flagged("C", "constituency", "provisional", nil, "BALLOT_GAP"),
	}
	items[0].Result.BallotsCast, items[3].Result.BallotsCast = 3000, 3000 // the gaps at stake 1
	want := []string{"A/partylist", "B/constituency", "C/constituency", "A/constituency"}
	if got := queueOrder(items); !slices.Equal(got, want) {
		t.Fatalf("order %v; want %v", got, want)
	}
	gap := items[3]
	if !strings.Contains(gap.Why[0], "BALLOT_GAP, explained by ARITH on the partylist ballot") || gap.Priority >= 100 {
		t.Fatalf("explained gap: %d %q", gap.Priority, gap.Why[0])
	}
}

// TestPriorityPhotoReuse: a photo on reports for two stations was taken at one of them.
// Where the system can tell the copy (its report also broke a rule, or its figures are
// contested) the copy ranks above its original whatever their stakes; where nothing tells
// them apart (arrival order does not: a copy is often forwarded before its taker's report
// arrives) both rank as one of several, below a statistical flag of the same stake.
func TestPriorityPhotoReuse(t *testing.T) {
	ev := map[string]string{"stations": "A,B", "first_station": "B"}
	copyOutside := flagged("A", "partylist", "provisional", ev, "PHOTO_REUSE", "SPREAD")
	copyOutside.Flags[1].Evidence = map[string]string{"assignment": "outside"}
	original := flagged("B", "partylist", "corroborated", ev, "PHOTO_REUSE")
	original.Result.BallotsCast = 3000 // the original in a closer race
	copyContested := flagged("C", "constituency", "corroborated", ev, "PHOTO_REUSE", "CONFLICT")
	outlier := flagged("D", "constituency", "provisional", nil, "SHARE_OUTLIER")
	items := []Item{original, outlier, copyOutside, copyContested}
	want := []string{"C/constituency", "A/partylist", "D/constituency", "B/partylist"}
	if got := queueOrder(items); !slices.Equal(got, want) {
		t.Fatalf("order %v; want %v", got, want)
	}
	// Untold apart: the same class, so the stake orders them.
	a := flagged("A", "partylist", "provisional", ev, "PHOTO_REUSE")
	b := flagged("B", "partylist", "provisional", ev, "PHOTO_REUSE")
	b.Result.BallotsCast = 3000
	if got := queueOrder([]Item{a, b}); !slices.Equal(got, []string{"B/partylist", "A/partylist"}) {
		t.Fatalf("untold pair %v; want the larger stake first", got)
	}
}

func testQueue(n int) *Queue {
	q := &Queue{}
	for i := 0; i < n; i++ {
		st := "disputed"
		if i%3 == 0 {
			st = "corroborated"
		}
		q.Items = append(q.Items, Item{Key: fmt.Sprintf("S%05d/constituency", i), StationID: fmt.Sprintf("S%05d", i), Ballot: "constituency",
			ConstituencyID: fmt.Sprintf("C%d", i%7), ProvinceID: fmt.Sprintf("P%d", i%2), Status: st, Priority: (i * 37) % 301,
			Codes: []string{"CONFLICT"}})
	}
	sortItems(q.Items)
	q.encode()
	return q
}

func TestPagesCoverTheQueueOnce(t *testing.T) {
	q := testQueue(1000)
	for _, f := range []Filter{{}, {Constituency: "C3"}, {Province: "P1", Status: "disputed"}, {Status: "flagged"}, {Code: "ARITH"}} {
		var seen []string
		cur := ""
		want := 0
		for i := range q.Items {
			if f.match(&q.Items[i]) {
				want++
			}
		}
		for pages := 0; ; pages++ {
			p, err := q.Page(f, cur, 33)
			if err != nil {
				t.Fatal(err)
			}
			// The handler's pre-encoded page says the same as Page.
			raw, err := q.PageJSON(f, cur, 33)
			if err != nil {
				t.Fatal(err)
			}
			var fromJSON Page
			if err := json.Unmarshal(raw, &fromJSON); err != nil {
				t.Fatalf("PageJSON is not JSON: %v: %s", err, raw)
			}
			wantJSON, _ := json.Marshal(p)
			if got, _ := json.Marshal(fromJSON); string(got) != string(wantJSON) {
				t.Fatalf("PageJSON = %s\nwant %s", got, wantJSON)
			}
			if p.Total != want {
				t.Fatalf("%+v: total %d; want %d", f, p.Total, want)
			}
			for _, it := range p.Items {
				if !f.match(&it) {
					t.Fatalf("%+v: item %s does not match", f, it.Key)
				}
				seen = append(seen, it.Key)
			}
			if p.NextCursor == "" {
				break
			}
			cur = p.NextCursor
		}
		if len(seen) != want {
			t.Fatalf("%+v: paged %d items; want %d", f, len(seen), want)
		}
		sorted := slices.Clone(seen)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != want {
			t.Fatalf("%+v: an item came twice", f)
		}
	}
	if _, err := q.Page(Filter{}, "bm90IGEgY3Vyc29y", 10); err == nil {
		t.Fatal("a forged cursor was taken")
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(cursor{Priority: 300, Key: "S01/constituency"}.encode())
	f.Add("")
	f.Add("eyJwIjoxfQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err == nil && c.Key == "" {
			t.Fatalf("cursor %q decoded to an empty key", s)
		}
	})
}

// Areas groups by constituency and subdistrict, the area with the highest priority first.
func TestAreas(t *testing.T) {
	q := &Queue{Items: []Item{
		{Key: "a/c", StationID: "a", ConstituencyID: "C1", Subdistrict: "X", Status: "disputed", Priority: 90, Codes: []string{"CONFLICT"}},
		{Key: "a/p", StationID: "a", ConstituencyID: "C1", Subdistrict: "X", Status: "corroborated", Priority: 50, Codes: []string{"SHARE_OUTLIER"}},
		{Key: "b/c", StationID: "b", ConstituencyID: "C1", Subdistrict: "Y", Status: "disputed", Priority: 300, Codes: []string{"ARITH"}},
		{Key: "c/c", StationID: "c", ConstituencyID: "C2", Subdistrict: "X", Status: "provisional", Priority: 10, Codes: []string{"EARLY"}},
	}}
	sortItems(q.Items)
	got := q.Areas(Filter{})
	want := []string{"C1/Y 1 1 300", "C1/X 2 1 90", "C2/X 1 1 10"}
	var gs []string
	for _, a := range got {
		gs = append(gs, fmt.Sprintf("%s/%s %d %d %d", a.ConstituencyID, a.Subdistrict, a.Items, a.Stations, a.TopPriority))
	}
	if !slices.Equal(gs, want) || got[1].Disputed != 1 || got[1].Codes["SHARE_OUTLIER"] != 1 || got[1].Codes["CONFLICT"] != 1 {
		t.Fatalf("areas %v (%+v); want %v, C1/X with one disputed item and one SHARE_OUTLIER", gs, got, want)
	}
	if a := q.Areas(Filter{Constituency: "C1", Subdistrict: "X"}); len(a) != 1 || a[0].Items != 2 {
		t.Fatalf("areas of C1/X: %+v", a)
	}
}
