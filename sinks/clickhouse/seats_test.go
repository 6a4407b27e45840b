package clickhouse_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"votestream/schemas"
)

// The seats of an estimate go from estimates.v1 through Kafka and the sink into
// estimate_seats and estimate_races: the published run's ranges and probabilities read back
// as sent, the swing's absence as nan, and a too_early run stores its state with no ranges.
func TestEstimateSeatsRoundTrip(t *testing.T) {
	f := newFixture(t)
	const group = "sink-seats"
	swing := -0.042
	early := schemas.Estimate{EstimateID: "e-early", DataTime: at, ComputedAt: at, StationsReported: 2, StationsTotal: 900,
		SharesState: schemas.StateTooEarly, SeatsState: schemas.StateTooEarly,
		Parties: []schemas.PartyEstimate{{PartyNo: 31, CountedVotes: 120}, {PartyNo: 29, CountedVotes: 100}}}
	late := schemas.Estimate{EstimateID: "e-late", DataTime: at.Add(60e9), ComputedAt: at.Add(61e9), StationsReported: 400, StationsTotal: 900,
		SharesState: schemas.StateEstimate, SeatsState: schemas.StateEstimate, SeatDraws: 2000,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 31, Share: 0.38, ShareLo: 0.36, ShareHi: 0.4, Seats: 39, SeatRange: &schemas.SeatRange{
				ConstituencySeats: 112, ListSeats: 39, Total: 151, TotalLo90: 139, TotalHi90: 163, TotalLo95: 136, TotalHi95: 166, LargestProbability: 0.81}},
			{PartyNo: 29, Share: 0.3, ShareLo: 0.28, ShareHi: 0.32, Seats: 30, SeatRange: &schemas.SeatRange{
				ConstituencySeats: 104, ListSeats: 30, Total: 134, TotalLo90: 121, TotalHi90: 147, TotalLo95: 118, TotalHi95: 150, LargestProbability: 0.19}},
		},
		Constituencies: []schemas.ConstituencyEstimate{{ConstituencyID: "BKK_1", LeaderNo: 7, WinProbability: 0.7, Call: schemas.CallLeading,
			Candidates: []schemas.CandidateEstimate{{CandidateNo: 1, WinProbability: 0.31}, {CandidateNo: 7, WinProbability: 0.69, Swing: &swing}}}}}
	f.produce(schemas.TopicEstimates, early, late)
	stop := f.start(group)
	f.waitCommitted(group)
	stop()

	ctx := context.Background()
	type seatRow struct {
		id, state                string
		draws                    uint32
		party, cons, list, total uint16
		lo90, hi90, lo95, hi95   uint16
		largest                  float64
	}
	rows, err := f.c.Conn.Query(ctx, "SELECT estimate_id, seats_state, seat_draws, party_no, constituency_seats, list_seats, total, total_lo90, total_hi90, total_lo95, total_hi95, largest_probability FROM estimate_seats FINAL ORDER BY estimate_id, party_no")
	if err != nil {
		t.Fatal(err)
	}
	var got []seatRow
	for rows.Next() {
		var r seatRow
		if err := rows.Scan(&r.id, &r.state, &r.draws, &r.party, &r.cons, &r.list, &r.total, &r.lo90, &r.hi90, &r.lo95, &r.hi95, &r.largest); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	rows.Close()
	want := []seatRow{
		{"e-early", "too_early", 0, 29, 0, 0, 0, 0, 0, 0, 0, 0},
		{"e-early", "too_early", 0, 31, 0, 0, 0, 0, 0, 0, 0, 0},
		{"e-late", "estimate", 2000, 29, 104, 30, 134, 121, 147, 118, 150, 0.19},
		{"e-late", "estimate", 2000, 31, 112, 39, 151, 139, 163, 136, 166, 0.81},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("estimate_seats\n got %+v\nwant %+v", got, want)
	}
	if n := f.count("SELECT count() FROM estimate_seats_latest WHERE estimate_id = 'e-late'"); n != 2 {
		t.Errorf("estimate_seats_latest has %d rows of the newest run, want 2", n)
	}

	var nos []uint16
	var win, sw []float64
	if err := f.c.Conn.QueryRow(ctx, "SELECT candidate_no, win_probability, swing FROM estimate_races WHERE estimate_id = 'e-late' AND constituency_id = 'BKK_1'").Scan(&nos, &win, &sw); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nos, []uint16{1, 7}) || !slices.Equal(win, []float64{0.31, 0.69}) || len(sw) != 2 || !math.IsNaN(sw[0]) || sw[1] != swing {
		t.Errorf("estimate_races: candidates %v, win %v, swing %v", nos, win, sw)
	}
	if n := f.count("SELECT count() FROM estimate_races WHERE estimate_id = 'e-early'"); n != 0 {
		t.Errorf("a too_early run stored %d race rows, want none", n)
	}
}
