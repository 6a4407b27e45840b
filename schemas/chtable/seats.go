package chtable

import (
	"fmt"
	"math"

	"votestream/schemas"
)

// The seat simulation's tables (0013_estimate_seats.sql).
var (
	EstimateSeats = Table{"estimate_seats", []string{
		"estimate_id", "data_time", "seats_state", "seat_draws", "party_no", "constituency_seats", "list_seats",
		"total", "total_lo90", "total_hi90", "total_lo95", "total_hi95", "largest_probability"}}
	EstimateRaces = Table{"estimate_races", []string{
		"estimate_id", "data_time", "constituency_id", "candidate_no", "win_probability", "swing"}}
)

// EstimateSeatRows are an estimate's estimate_seats rows (one per party, all 0 while the
// seats are too_early) and estimate_races rows (one per constituency, only when the seats
// are published). A message from before seats existed has none.
func EstimateSeatRows(e schemas.Estimate) (seats, races [][]any, err error) {
	if e.SeatsState == "" {
		return nil, nil, nil
	}
	fail := func(what string, err error) ([][]any, [][]any, error) {
		return nil, nil, fmt.Errorf("chtable: estimate %s: %s: %w", e.EstimateID, what, err)
	}
	draws, err := u32(e.SeatDraws)
	if err != nil {
		return fail("seat_draws", err)
	}
	data := dateTime(e.DataTime)
	for _, p := range e.Parties {
		no, err := u16(p.PartyNo)
		if err != nil {
			return fail("party_no", err)
		}
		var s schemas.SeatRange
		if p.SeatRange != nil {
			s = *p.SeatRange
		}
		n := make([]uint16, 7)
		for i, v := range []int{s.ConstituencySeats, s.ListSeats, s.Total, s.TotalLo90, s.TotalHi90, s.TotalLo95, s.TotalHi95} {
			if n[i], err = u16(v); err != nil {
				return fail(fmt.Sprintf("party %d seats", p.PartyNo), err)
			}
		}
		seats = append(seats, []any{e.EstimateID, data, string(e.SeatsState), draws, no,
			n[0], n[1], n[2], n[3], n[4], n[5], n[6], s.LargestProbability})
	}
	if e.SeatsState == schemas.StateTooEarly {
		return seats, nil, nil
	}
	for _, c := range e.Constituencies {
		nos := make([]uint16, len(c.Candidates))
		win := make([]float64, len(c.Candidates))
		swing := make([]float64, len(c.Candidates))
		for i, d := range c.Candidates {
			if nos[i], err = u16(d.CandidateNo); err != nil {
				return fail(c.ConstituencyID+" candidate_no", err)
			}
			win[i], swing[i] = d.WinProbability, math.NaN()
			if d.Swing != nil {
				swing[i] = *d.Swing
			}
		}
		races = append(races, []any{e.EstimateID, data, c.ConstituencyID, nos, win, swing})
	}
	return seats, races, nil
}

// appendSeatRows adds the seat tables to an estimate's rows when they have any.
func appendSeatRows(out []Rows, seats, races [][]any) []Rows {
	if len(seats) > 0 {
		out = append(out, Rows{Table: EstimateSeats, Rows: seats})
	}
	if len(races) > 0 {
		out = append(out, Rows{Table: EstimateRaces, Rows: races})
	}
	return out
}
