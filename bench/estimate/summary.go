package main

import (
	"fmt"
	"io"
	"math"

	"votestream/processors/estimate"
	"votestream/simulate"
)

// goalsTable prints one Markdown row per scenario with the figures the goals of issue 10
// are stated in (docs/estimation.md), held-out scenarios marked.
func goalsTable(w io.Writer, names []string, by map[string][]*estimate.BacktestTable) {
	fmt.Fprintln(w, "\n| scenario | coverage, parties >= 1 % | worst published band | max error at 10 % (pts) | leaders right at 20 % | median width at 20 %, parties >= 10 % (pts) | published at 1-2 stations | first published by (worst night) | wrong likely (per 1,000) | constituencies ever wrong likely | wrong called |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	f := func(x float64, prec int) string {
		if math.IsNaN(x) {
			return "-"
		}
		return fmt.Sprintf("%.*f", prec, x)
	}
	for _, name := range names {
		s := estimate.Summarize(by[name])
		t := s.Total()
		worst, worstBand := math.NaN(), ""
		for b, st := range s.Bands {
			if c := st.Coverage(); !math.IsNaN(c) && (math.IsNaN(worst) || c < worst) {
				worst, worstBand = c, estimate.BandName(b)
			}
		}
		label := name
		if simulate.HeldOut(name) {
			label += " (held out)"
		}
		at10 := f(s.At10, 2)
		if s.Unpublished10 == s.Nights {
			at10 = "not published"
		} else if s.Unpublished10 > 0 {
			at10 += fmt.Sprintf(" (not published on %d of %d)", s.Unpublished10, s.Nights)
		}
		lr := math.NaN()
		if s.LeadersNamed20 > 0 {
			lr = float64(s.LeadersRight20) / float64(s.LeadersNamed20)
		}
		wl := math.NaN()
		if t.Likely > 0 {
			wl = 1000 * float64(t.LikelyWrong) / float64(t.Likely)
		}
		med := math.NaN()
		if n := len(s.Widths20); n > 0 {
			med = estimate.BandStats{Widths: s.Widths20}.MedianWidth()
		}
		fmt.Fprintf(w, "| %s | %s | %s (%s) | %s | %s | %s | %d | %.1f %% | %d/%d (%s) | %d/%d | %d/%d |\n",
			label, f(t.Coverage(), 3), f(worst, 3), worstBand, at10, f(lr, 3), f(med, 2), s.PublishedEarly,
			100*s.FirstPublished, t.LikelyWrong, t.Likely, f(wl, 2), s.WrongLikelyCons, s.Constituencies, t.CalledWrong, t.Called)
	}
}
