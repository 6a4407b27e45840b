package feed

import (
	"encoding/json"
	"testing"

	"votestream/schemas"
)

// The seat simulation's figures reach the summary, the parties and a constituency, and
// match the feed's OpenAPI schemas; while the seats are too_early they are null.
func TestSeatsInAnswers(t *testing.T) {
	doc := loadAPIDoc(t)
	clock := newFakeClock(pollsClose)
	f := newTestFeed(t, func(c *Config) { c.Now, c.PollsClose, c.RateBurst = clock.Now, pollsClose, 1000 })
	f.markReady()
	srv := serve(t, f)
	fetch := func(path string, into any) {
		t.Helper()
		resp, body := get(t, srv.URL+path, keyNation)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		if err := doc.validate(doc.responseSchema(t, pathRoute(path), 200), v, "$"); err != nil {
			t.Errorf("%s does not match its schema: %v\n%s", path, err, body)
		}
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatal(err)
		}
	}
	swing := 0.031
	bkk1 := proj("BKK_1", 2, 0.8, schemas.CallLikely,
		schemas.CandidateEstimate{CandidateNo: 1, ProjectedVotes: 540, WinProbability: 0.15},
		schemas.CandidateEstimate{CandidateNo: 2, ProjectedVotes: 630, WinProbability: 0.85, Swing: &swing},
		schemas.CandidateEstimate{CandidateNo: 3, ProjectedVotes: 140})

	early := estimate("e1", 3, 4, bkk1)
	early.SharesState, early.SeatsState = schemas.StateTooEarly, schemas.StateTooEarly
	f.applyEstimate(early)
	var sum SummaryAnswer
	fetch("/v1/feed/summary", &sum)
	if sum.Estimate == nil || sum.Estimate.SeatsState != schemas.StateTooEarly || sum.Estimate.Parties[0].SeatRange != nil {
		t.Fatalf("too early: summary estimate %+v", sum.Estimate)
	}
	var ca ConstituencyAnswer
	fetch("/v1/feed/constituencies/BKK_1", &ca)
	for _, c := range ca.Constituency.Candidates {
		if c.WinProbability != nil || c.Swing != nil {
			t.Fatalf("too early, yet candidate %d shows %v / %v", c.CandidateNo, c.WinProbability, c.Swing)
		}
	}

	late := estimate("e2", 5, 6, bkk1)
	late.SharesState, late.SeatsState, late.SeatDraws = schemas.StateEstimate, schemas.StateEstimate, 2000
	ranges := map[int]schemas.SeatRange{
		31: {ConstituencySeats: 2, ListSeats: 48, Total: 50, TotalLo90: 49, TotalHi90: 51, TotalLo95: 48, TotalHi95: 52, LargestProbability: 0.7},
		29: {ConstituencySeats: 1, ListSeats: 45, Total: 46, TotalLo90: 45, TotalHi90: 48, TotalLo95: 44, TotalHi95: 49, LargestProbability: 0.3},
		7:  {ListSeats: 7, Total: 7, TotalLo90: 6, TotalHi90: 8, TotalLo95: 6, TotalHi95: 8},
	}
	for i, p := range late.Parties {
		r := ranges[p.PartyNo]
		late.Parties[i].SeatRange = &r
	}
	f.applyEstimate(late)
	fetch("/v1/feed/summary", &sum)
	if sum.Estimate.SeatsState != schemas.StateEstimate || sum.Estimate.SeatDraws != 2000 {
		t.Errorf("summary seats %q, %d draws", sum.Estimate.SeatsState, sum.Estimate.SeatDraws)
	}
	for _, p := range sum.Estimate.Parties {
		if p.SeatRange == nil || *p.SeatRange != ranges[p.PartyNo] {
			t.Errorf("summary party %d: seat range %v, want %+v", p.PartyNo, p.SeatRange, ranges[p.PartyNo])
		}
	}
	var pa PartiesAnswer
	fetch("/v1/feed/parties", &pa)
	for _, p := range pa.Parties {
		if r, ok := ranges[p.PartyNo]; ok && (p.SeatRange == nil || *p.SeatRange != r) {
			t.Errorf("parties: %d has seat range %v, want %+v", p.PartyNo, p.SeatRange, r)
		}
	}
	fetch("/v1/feed/constituencies/BKK_1", &ca)
	want := map[int]float64{1: 0.15, 2: 0.85, 3: 0}
	for _, c := range ca.Constituency.Candidates {
		if c.WinProbability == nil || *c.WinProbability != want[c.CandidateNo] {
			t.Errorf("candidate %d: win probability %v, want %v", c.CandidateNo, c.WinProbability, want[c.CandidateNo])
		}
		if (c.CandidateNo == 2) != (c.Swing != nil) || c.Swing != nil && *c.Swing != swing {
			t.Errorf("candidate %d: swing %v", c.CandidateNo, c.Swing)
		}
	}
}

// pathRoute maps a concrete path to its OpenAPI route.
func pathRoute(path string) string {
	if len(path) > len("/v1/feed/constituencies/") && path[:len("/v1/feed/constituencies/")] == "/v1/feed/constituencies/" {
		return "/v1/feed/constituencies/{id}"
	}
	return path
}
