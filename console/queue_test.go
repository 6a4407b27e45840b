package console

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
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
	// Sources naming different leaders: stake 1; disputed: weight 3.
	it := Item{Status: "disputed", Codes: []string{"CONFLICT"}, Sources: []Source{
		{Figures: Figures{BallotsCast: 100, Votes: map[string]int{"1": 60, "2": 40}}},
		{Figures: Figures{BallotsCast: 100, Votes: map[string]int{"1": 40, "2": 60}}},
	}}
	it.prioritise(race{"1": 1000, "2": 1000}, names, nil)
	if it.Priority != 300 || it.Severity != "hard" {
		t.Fatalf("disputed, leaders differ: %d %s; want 300 hard", it.Priority, it.Severity)
	}
	// The same dispute where the challenger's organisation agreed with 2 of its 10 settled
	// reports: stake 0.2, so 3 x (25 + 15) = 120.
	poor := Item{Status: "disputed", Codes: []string{"CONFLICT"}, Sources: []Source{
		{Figures: Figures{BallotsCast: 100, Votes: map[string]int{"1": 60, "2": 40}}, Track: &Track{Org: Record{Agreed: 30, Reports: 30}}},
		{Figures: Figures{BallotsCast: 100, Votes: map[string]int{"1": 40, "2": 60}}, Track: &Track{Volunteer: Record{Agreed: 0, Reports: 1}, Org: Record{Agreed: 2, Reports: 10}}},
	}}
	poor.prioritise(race{"1": 1000, "2": 1000}, names, nil)
	if poor.Priority != 120 {
		t.Fatalf("dispute raised by a poor record: %d (%v); want 120", poor.Priority, poor.Why)
	}
	// A newcomer (fewer than minRecord settled reports, organisation unknown) is not doubted.
	if c := (&Track{Volunteer: Record{Agreed: 0, Reports: minRecord - 1}}).credibility(); c != 1 {
		t.Fatalf("newcomer's credibility %v; want 1", c)
	}
	// A soft flag on a station of 100 ballots in a race won by 400: stake 0.25.
	soft := Item{Status: "corroborated", Codes: []string{"SHARE_OUTLIER"}, Flags: []Flag{{Code: "SHARE_OUTLIER", Severity: "soft"}},
		Result: Figures{BallotsCast: 100, Votes: map[string]int{"1": 60, "2": 40}}}
	soft.prioritise(race{"1": 1000, "2": 600}, names, nil) // the race without the station
	if soft.Priority != 88 {                               // 2 x (25 + 75 x 100/400) = 87.5, rounded
		t.Fatalf("soft, small stake: %d (%v); want 88", soft.Priority, soft.Why)
	}
	// The same soft flag in a race won by 50: stake 1, above a hard item that changes nothing.
	close := soft
	close.prioritise(race{"1": 1000, "2": 950}, names, nil)
	hardIdle := Item{Status: "disputed", Codes: []string{"ARITH"}, Sources: []Source{{Figures: Figures{BallotsCast: 10, Votes: map[string]int{"1": 10}}}}}
	hardIdle.prioritise(race{"1": 5000, "2": 1000}, names, nil)
	if close.Priority != 200 || hardIdle.Priority >= close.Priority {
		t.Fatalf("close soft %d, idle hard %d; want 200 above it", close.Priority, hardIdle.Priority)
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
