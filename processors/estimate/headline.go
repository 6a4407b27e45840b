package estimate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"votestream/schemas"
)

// Headline is one line for a terminal: how much has reported, the top parties' shares with
// their 95 % intervals (or that it is too early for shares), and how many constituencies
// have a leader named, likely and called. name gives a party's name for its number.
func Headline(e schemas.Estimate, name func(partyNo int) string, top int) string {
	var b strings.Builder
	pct := 0.0
	if e.StationsTotal > 0 {
		pct = 100 * float64(e.StationsReported) / float64(e.StationsTotal)
	}
	fmt.Fprintf(&b, "%.1f %% of stations (%d/%d)", pct, e.StationsReported, e.StationsTotal)
	switch e.SharesState {
	case schemas.StateTooEarly:
		parties := slices.Clone(e.Parties)
		slices.SortFunc(parties, func(a, c schemas.PartyEstimate) int { return cmp.Compare(c.CountedVotes, a.CountedVotes) })
		b.WriteString(" | shares: too early")
		for _, p := range parties[:min(top, len(parties))] {
			if p.CountedVotes > 0 {
				fmt.Fprintf(&b, " | %s %d counted", name(p.PartyNo), p.CountedVotes)
			}
		}
	default:
		parties := slices.Clone(e.Parties)
		slices.SortFunc(parties, func(a, c schemas.PartyEstimate) int {
			return cmp.Or(cmp.Compare(c.Share, a.Share), cmp.Compare(a.PartyNo, c.PartyNo))
		})
		for _, p := range parties[:min(top, len(parties))] {
			if e.SharesState == schemas.StateCount {
				fmt.Fprintf(&b, " | %s %.1f %% (count)", name(p.PartyNo), 100*p.Share)
			} else {
				fmt.Fprintf(&b, " | %s %.1f %% [%.1f, %.1f]", name(p.PartyNo), 100*p.Share, 100*p.ShareLo, 100*p.ShareHi)
			}
		}
	}
	calls := map[schemas.CallState]int{}
	for _, c := range e.Constituencies {
		calls[c.Call]++
	}
	named := len(e.Constituencies) - calls[schemas.CallTooEarly]
	fmt.Fprintf(&b, " | constituencies: %d with a leader, %d likely, %d called, %d too early",
		named, calls[schemas.CallLikely], calls[schemas.CallCalled], calls[schemas.CallTooEarly])
	return b.String()
}
