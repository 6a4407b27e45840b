package estimate

import (
	"fmt"
	"io"
	"strings"

	"votestream/election"
	"votestream/schemas"
)

// Scoring the seat simulation in the backtest: do the 90 % and 95 % seat ranges hold each
// party's final seats (the final count's constituency winners plus its largest-remainder
// list seats), and are the largest-party probabilities calibrated (Brier score, and
// reliability by probability bucket)?

// seatScoreMinSeats: parties scored for coverage are those with at least this many final
// seats (a party with none is trivially inside [0, 0]).
const seatScoreMinSeats = 5

// SeatScore scores one step's seats (published steps only; zero otherwise).
type SeatScore struct {
	Parties, In90, In95 int     // parties with >= seatScoreMinSeats final seats; ranges holding them
	Brier               float64 // Σ over parties of (P(largest) - outcome)², outcome 1 for the final largest (1/n on a tie)
	Scored              bool
	bucketN             [nReliability]int
	bucketP, bucketY    [nReliability]float64
}

// Reliability buckets of the largest-party probability.
const nReliability = 5

var reliabilityEdges = [nReliability + 1]float64{0, 0.1, 0.3, 0.7, 0.9, 1.0000001}

func reliabilityBucket(p float64) int {
	for b := range nReliability {
		if p < reliabilityEdges[b+1] {
			return b
		}
	}
	return nReliability - 1
}

// seatScore compares a step's seats with the final count.
func (f *finalResult) seatScore(res Result) SeatScore {
	var s SeatScore
	sr := res.Seats
	if sr.State != schemas.StateEstimate && sr.State != schemas.StateCount || len(sr.Parties) != len(res.Parties) {
		return s
	}
	K := len(res.Parties)
	key := make(map[int]int, K)
	for k, p := range res.Parties {
		key[p.PartyNo] = k
	}
	final := make([]int, K)
	copy(final, f.seats)
	for c, cr := range res.Constituencies {
		winner := 0
		for _, d := range cr.Candidates {
			if f.winners[c][d.No] && (winner == 0 || d.No < winner) {
				winner = d.No
			}
		}
		for _, d := range cr.Candidates {
			if d.No == winner {
				if k, ok := key[d.PartyNo]; ok && d.PartyNo != election.NoParty {
					final[k]++
				}
			}
		}
	}
	most := 0
	for _, v := range final {
		most = max(most, v)
	}
	tied := 0
	for _, v := range final {
		if v == most {
			tied++
		}
	}
	s.Scored = true
	for k, p := range sr.Parties {
		y := 0.0
		if final[k] == most {
			y = 1 / float64(tied)
		}
		d := p.LargestProbability - y
		s.Brier += d * d
		if p.LargestProbability > 0 || y > 0 {
			b := reliabilityBucket(p.LargestProbability)
			s.bucketN[b]++
			s.bucketP[b] += p.LargestProbability
			s.bucketY[b] += y
		}
		if final[k] < seatScoreMinSeats {
			continue
		}
		s.Parties++
		if p.TotalLo90 <= final[k] && final[k] <= p.TotalHi90 {
			s.In90++
		}
		if p.TotalLo95 <= final[k] && final[k] <= p.TotalHi95 {
			s.In95++
		}
	}
	return s
}

// SeatStats pools SeatScores over steps.
type SeatStats struct {
	Steps, Parties, In90, In95 int
	BrierSum                   float64
	bucketN                    [nReliability]int
	bucketP, bucketY           [nReliability]float64
}

func (a *SeatStats) add(s SeatScore) {
	if !s.Scored {
		return
	}
	a.Steps++
	a.Parties += s.Parties
	a.In90 += s.In90
	a.In95 += s.In95
	a.BrierSum += s.Brier
	for b := range nReliability {
		a.bucketN[b] += s.bucketN[b]
		a.bucketP[b] += s.bucketP[b]
		a.bucketY[b] += s.bucketY[b]
	}
}

func (a *SeatStats) merge(o SeatStats) {
	a.Steps += o.Steps
	a.Parties += o.Parties
	a.In90 += o.In90
	a.In95 += o.In95
	a.BrierSum += o.BrierSum
	for b := range nReliability {
		a.bucketN[b] += o.bucketN[b]
		a.bucketP[b] += o.bucketP[b]
		a.bucketY[b] += o.bucketY[b]
	}
}

// Coverage90 and Coverage95 are the shares of (step, party) pairs whose range held the final
// seats; Brier the mean Brier score per step. NaN without scored steps.
func (a SeatStats) Coverage90() float64 { return ratio(a.In90, a.Parties) }
func (a SeatStats) Coverage95() float64 { return ratio(a.In95, a.Parties) }
func (a SeatStats) Brier() float64 {
	if a.Steps == 0 {
		return ratio(0, 0)
	}
	return a.BrierSum / float64(a.Steps)
}

// Reliability is per bucket of the largest-party probability: its range, the pairs in it,
// their mean probability and how often the party was in fact the largest.
func (a SeatStats) Reliability() []string {
	var out []string
	for b := range nReliability {
		if a.bucketN[b] == 0 {
			continue
		}
		n := float64(a.bucketN[b])
		out = append(out, fmt.Sprintf("%.0f-%.0f %%: %d, said %.2f, was %.2f", 100*reliabilityEdges[b], min(100, 100*reliabilityEdges[b+1]),
			a.bucketN[b], a.bucketP[b]/n, a.bucketY[b]/n))
	}
	return out
}

// SeatSummary is the seats' score of one or several nights, by stage band.
type SeatSummary struct {
	Bands [nBands]SeatStats
}

// SeatSummarize pools the seat scores of several nights by band (the count left out, as in
// Summarize).
func SeatSummarize(tables []*BacktestTable) SeatSummary {
	var s SeatSummary
	for _, t := range tables {
		for i, r := range t.Rows {
			if i == len(t.Rows)-1 && r.ShareReported >= 1 {
				continue
			}
			s.Bands[bandOf(r.ShareReported)].add(r.Seats)
		}
	}
	return s
}

// Total pools the bands.
func (s SeatSummary) Total() SeatStats {
	var t SeatStats
	for _, b := range s.Bands {
		t.merge(b)
	}
	return t
}

// FormatMarkdown prints the seats' table by band and the reliability of the largest-party
// probability over the night.
func (s SeatSummary) FormatMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| stations reported | steps with seats | parties >= %d seats | 90 %% range holds | 95 %% range holds | Brier, largest party |\n", seatScoreMinSeats)
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for i, st := range s.Bands {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s |\n", bandNames[i], st.Steps, st.Parties,
			fmtFloat(st.Coverage90(), 3), fmtFloat(st.Coverage95(), 3), fmtFloat(st.Brier(), 3))
	}
	t := s.Total()
	fmt.Fprintf(&b, "\nseats: 90 %% range %s, 95 %% range %s, Brier %s; largest-party probability by bucket (pairs, said, was): %s\n",
		fmtFloat(t.Coverage90(), 3), fmtFloat(t.Coverage95(), 3), fmtFloat(t.Brier(), 3), strings.Join(t.Reliability(), "; "))
	_, err := io.WriteString(w, b.String())
	return err
}
