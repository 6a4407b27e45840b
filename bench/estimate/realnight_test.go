// TestRealnightCoverage was kept out of `make test` by a build tag while the estimator
// failed it (the rural-city order, docs/estimation.md "A night from another generator");
// it passes since the subdistricts' covariate imbalance term (imbalance.go) and runs with
// every `go test ./...`, unchanged. About 5 s.

package main

import (
	"context"
	"testing"

	"votestream/processors/estimate"
	"votestream/simulate/realnight"
)

// realnightTestScale is the small synthetic country of the realnight test: 12
// constituencies, about 1,800 stations.
const realnightTestScale = 0.2

// Nights of the second generator (simulate/realnight: heavy-tailed station effects, hidden
// districts, split tickets, orders simulate does not have), every order, two seeds, with
// and without the night's previous election as baseline: in every stage band where shares
// were published (at least 40 party-step pairs), the 95 % intervals hold the final share
// of the parties with at least 1 % of the vote at least 90 % of the time; nothing is
// published at 1 or 2 stations; no `called` is wrong.
func TestRealnightCoverage(t *testing.T) {
	for _, order := range realnight.Orders() {
		for _, variant := range realnightVariants {
			t.Run(order+"/"+variant, func(t *testing.T) {
				t.Parallel()
				var tables []*estimate.BacktestTable
				for seed := uint64(1); seed <= 2; seed++ {
					rc := realnight.DefaultConfig()
					rc.Seed, rc.Scale, rc.Order = seed, realnightTestScale, order
					n, err := realnight.New(rc)
					if err != nil {
						t.Fatal(err)
					}
					cfg := estimate.DefaultBacktestConfig()
					cfg.Seed = seed
					if variant == "previous" {
						if cfg.Baseline, err = estimate.LoadBaseline(n.Previous().FS()); err != nil {
							t.Fatal(err)
						}
					}
					table, err := estimate.Backtest(context.Background(), n.Country, n.Results, cfg)
					if err != nil {
						t.Fatal(err)
					}
					tables = append(tables, table)
				}
				s := estimate.Summarize(tables)
				for b, st := range s.Bands {
					if st.Major >= 40 && st.Coverage() < 0.9 {
						t.Errorf("band %s: intervals held the final share in %d of %d cases (%.3f), want >= 0.9",
							estimate.BandName(b), st.Covered, st.Major, st.Coverage())
					}
				}
				if s.PublishedEarly > 0 {
					t.Errorf("shares published at 1 or 2 stations on %d nights", s.PublishedEarly)
				}
				if tot := s.Total(); tot.CalledWrong > 0 {
					t.Errorf("%d wrong called of %d", tot.CalledWrong, tot.Called)
				}
				t.Log(s.GoalLine())
			})
		}
	}
}
