package estimate

import (
	"math"
	"time"

	"votestream/schemas"
)

// ToSchema turns a Result into the estimates.v1 message. Projected votes are rounded;
// shares and probabilities are clamped to 0..1 and kept in order (lo <= share <= hi), so
// the message always passes its JSON Schema.
func (r Result) ToSchema(estimateID string, computedAt time.Time) schemas.Estimate {
	out := schemas.Estimate{
		EstimateID:       estimateID,
		DataTime:         r.DataTime,
		ComputedAt:       computedAt,
		StationsReported: r.PartyList.StationsReported,
		StationsTotal:    r.PartyList.StationsTotal,
		EligibleReported: r.PartyList.EligibleReported,
		EligibleTotal:    r.PartyList.EligibleTotal,
		SharesState:      r.SharesState,
		PriorityUsed:     r.Priority.Used,
		Parties:          make([]schemas.PartyEstimate, len(r.Parties)),
		Constituencies:   make([]schemas.ConstituencyEstimate, len(r.Constituencies)),
	}
	for i, p := range r.Parties {
		share := clamp01(p.Share)
		out.Parties[i] = schemas.PartyEstimate{
			PartyNo:        p.PartyNo,
			CountedVotes:   p.Counted,
			ProjectedVotes: roundVotes(p.Projected),
			Share:          share,
			ShareLo:        min(clamp01(p.ShareLo), share),
			ShareHi:        max(clamp01(p.ShareHi), share),
			Seats:          p.Seats,
		}
		if r.SharesState == schemas.StateTooEarly {
			// Withheld: the counted votes stand, nothing projected is published.
			out.Parties[i] = schemas.PartyEstimate{PartyNo: p.PartyNo, CountedVotes: p.Counted}
		}
	}
	for i, c := range r.Constituencies {
		ce := schemas.ConstituencyEstimate{
			ConstituencyID:   c.ID,
			LeaderNo:         c.LeaderNo,
			WinProbability:   clamp01(c.WinProbability),
			Call:             c.Call,
			StationsReported: c.Progress.StationsReported,
			StationsTotal:    c.Progress.StationsTotal,
			EligibleReported: c.Progress.EligibleReported,
			EligibleTotal:    c.Progress.EligibleTotal,
			Candidates:       make([]schemas.CandidateEstimate, len(c.Candidates)),
		}
		for j, d := range c.Candidates {
			ce.Candidates[j] = schemas.CandidateEstimate{CandidateNo: d.No, CountedVotes: d.Counted, ProjectedVotes: roundVotes(d.Projected)}
		}
		out.Constituencies[i] = ce
	}
	r.Seats.fill(&out) // seats.go
	return out
}

func clamp01(x float64) float64 {
	if !(x > 0) { // NaN too
		return 0
	}
	return min(x, 1)
}

func roundVotes(x float64) int64 {
	if !(x > 0) {
		return 0
	}
	return int64(math.Round(x))
}
