package estimate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/width"

	"votestream/schemas"
)

// Board is a terminal's view of an estimate, a few lines wide enough for a reader across
// the room: how much has reported, then per party (the top ones) its share with the 95 %
// interval, its seats with their 90 % range and its chance of the most seats, or "too early"
// while the guard withholds them, then the constituencies' calls. Columns are aligned by
// display width, so Thai names (whose vowel and tone marks take no column) line up. name
// gives a party's name for its number.
func Board(e schemas.Estimate, name func(partyNo int) string, top int) []string {
	pct := 0.0
	if e.StationsTotal > 0 {
		pct = 100 * float64(e.StationsReported) / float64(e.StationsTotal)
	}
	head := fmt.Sprintf("%.1f %% of stations reported (%d of %d)", pct, e.StationsReported, e.StationsTotal)
	switch e.SharesState {
	case schemas.StateCount:
		head += " · every station is in: shares are the count"
	case schemas.StateTooEarly:
		head += " · too early for shares and seats: counted votes only"
	}
	if e.SeatDraws > 0 {
		head += fmt.Sprintf(" · seats from %d simulated nights", e.SeatDraws)
	}
	lines := []string{head}

	parties := slices.Clone(e.Parties)
	early := e.SharesState == schemas.StateTooEarly
	slices.SortFunc(parties, func(a, b schemas.PartyEstimate) int {
		if early {
			return cmp.Or(cmp.Compare(b.CountedVotes, a.CountedVotes), cmp.Compare(a.PartyNo, b.PartyNo))
		}
		return cmp.Or(cmp.Compare(seatTotal(b), seatTotal(a)), cmp.Compare(b.Share, a.Share), cmp.Compare(a.PartyNo, b.PartyNo))
	})
	parties = parties[:min(top, len(parties))]
	rows := [][]string{{"party", "share", "95 % interval", "seats", "90 % range", "P(most seats)"}}
	if early {
		rows = [][]string{{"party", "counted votes", "share", "seats"}}
	}
	for _, p := range parties {
		if early {
			rows = append(rows, []string{name(p.PartyNo), fmt.Sprintf("%d", p.CountedVotes), "too early", "too early"})
			continue
		}
		share, interval := fmt.Sprintf("%.1f %%", 100*p.Share), fmt.Sprintf("[%.1f, %.1f]", 100*p.ShareLo, 100*p.ShareHi)
		if e.SharesState == schemas.StateCount {
			interval = "(count)"
		}
		seats, rng, most := fmt.Sprintf("%d", p.Seats), "-", "-"
		if r := p.SeatRange; r != nil {
			seats = fmt.Sprintf("%d", r.Total)
			rng = fmt.Sprintf("[%d, %d]", r.TotalLo90, r.TotalHi90)
			most = fmt.Sprintf("%.0f %%", 100*r.LargestProbability)
		} else {
			seats += " list" // an estimate without the seat simulation: party-list seats only
		}
		rows = append(rows, []string{name(p.PartyNo), share, interval, seats, rng, most})
	}
	lines = append(lines, alignColumns(rows)...)

	calls := map[schemas.CallState]int{}
	for _, c := range e.Constituencies {
		calls[c.Call]++
	}
	named := len(e.Constituencies) - calls[schemas.CallTooEarly]
	lines = append(lines, fmt.Sprintf("constituencies: %d of %d with a leader named (%d leading, %d likely, %d called), %d too early",
		named, len(e.Constituencies), calls[schemas.CallLeading], calls[schemas.CallLikely], calls[schemas.CallCalled], calls[schemas.CallTooEarly]))
	return lines
}

func seatTotal(p schemas.PartyEstimate) int {
	if p.SeatRange != nil {
		return p.SeatRange.Total
	}
	return p.Seats
}

// alignColumns pads every cell to its column's display width: the first column (names) to
// the left, the others to the right; two spaces between columns.
func alignColumns(rows [][]string) []string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], DisplayWidth(c))
		}
	}
	out := make([]string, len(rows))
	for n, r := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-DisplayWidth(c))
			if i > 0 {
				b.WriteString("  ")
				b.WriteString(pad)
				b.WriteString(c)
				continue
			}
			b.WriteString(c)
			if len(r) > 1 {
				b.WriteString(pad)
			}
		}
		out[n] = b.String()
	}
	return out
}

// DisplayWidth is the number of terminal columns s takes: combining marks (Thai vowels
// above and below, tone marks) and format characters take none, East Asian wide and
// fullwidth characters two, everything else one.
func DisplayWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case width.LookupRune(r).Kind() == width.EastAsianWide || width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			w += 2
		default:
			w++
		}
	}
	return w
}
