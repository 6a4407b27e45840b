package main

import (
	"math"
	"testing"

	"votestream/processors/estimate"
	"votestream/schemas"
)

// meanError is the mean over published steps between 5 and 50 % of stations reported of
// the largest party-list share error (points).
func meanError(ts []*estimate.BacktestTable) float64 {
	var sum float64
	var n int
	for _, t := range ts {
		for _, r := range t.Rows {
			if r.SharesState == schemas.StateEstimate && r.ShareReported >= 0.05 && r.ShareReported < 0.5 {
				sum += r.MaxShareError
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// With a simulated previous election (national, regional, constituency and station swings;
// some stations renumbered, new or closed; a new party), the estimate is closer to the count
// than without, at no lower coverage; with a misleading one (weakly correlated), the
// intervals still hold the final share at least 90 % of the time.
func TestBaselineBacktest(t *testing.T) {
	for _, scenario := range []string{"default", "capital-last"} {
		t.Run(scenario, func(t *testing.T) {
			t.Parallel()
			b := backtestRun{first: 1, n: 2, order: estimate.OrderBiased, scale: testScale, workers: 1}
			byVariant := map[string][]*estimate.BacktestTable{}
			for seed := uint64(1); seed <= 2; seed++ {
				res, err := b.oneWithBaselines(night{scenario, seed}, []string{"none", "good", "misleading"})
				if err != nil {
					t.Fatal(err)
				}
				for v, tb := range res {
					byVariant[v] = append(byVariant[v], tb)
				}
			}
			cov := map[string]float64{}
			for v, ts := range byVariant {
				s := estimate.Summarize(ts)
				cov[v] = s.Total().Coverage()
				t.Logf("%s: coverage %.3f, mean largest error 5-50 %% %.3f pts, %s", v, cov[v], meanError(ts), s.GoalLine())
				if tot := s.Total(); tot.CalledWrong > 0 {
					t.Errorf("%s: %d wrong called", v, tot.CalledWrong)
				}
			}
			if eg, en := meanError(byVariant["good"]), meanError(byVariant["none"]); !(eg < en) {
				t.Errorf("good baseline: mean largest error %.3f pts, not below %.3f without", eg, en)
			}
			if cov["good"] < min(cov["none"], 0.95)-0.01 {
				t.Errorf("good baseline: coverage %.3f, below %.3f without", cov["good"], cov["none"])
			}
			if cov["misleading"] < 0.9 {
				t.Errorf("misleading baseline: coverage %.3f, want >= 0.90", cov["misleading"])
			}
		})
	}
}
