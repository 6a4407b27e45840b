package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"votestream/processors/estimate"
	"votestream/schemas"
	"votestream/simulate"
)

func baselineKinds() []string {
	var ks []string
	for k := range simulate.PreviousKinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// compareBaselines replays every (scenario, seed) night once per baseline variant (none: no
// baseline; else a simulated previous election of that kind) and prints per scenario and
// variant the figures the baseline should move: coverage, the mean and largest share error,
// leaders right and the interval width at 20 %.
func (b backtestRun) compareBaselines(names, variants []string) error {
	for _, v := range variants {
		if _, ok := simulate.PreviousKinds[v]; !ok && v != "none" {
			return fmt.Errorf("unknown baseline variant %q (want none, %s)", v, strings.Join(baselineKinds(), ", "))
		}
	}
	type key struct{ scenario, variant string }
	tables := map[key][]*estimate.BacktestTable{}
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan night)
	var wg sync.WaitGroup
	done, total := 0, len(names)*b.n
	for range b.workers {
		wg.Go(func() {
			for nt := range jobs {
				t0 := time.Now()
				res, err := b.oneWithBaselines(nt, variants)
				mu.Lock()
				done++
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s seed %d: %w", nt.scenario, nt.seed, err)
				}
				for v, t := range res {
					tables[key{nt.scenario, v}] = append(tables[key{nt.scenario, v}], t)
				}
				fmt.Fprintf(os.Stderr, "# [%d/%d] %s seed %d, %d variants in %.1fs\n", done, total, nt.scenario, nt.seed, len(variants), time.Since(t0).Seconds())
				mu.Unlock()
			}
		})
	}
	for _, name := range names {
		if simulate.ScenarioDoc(name) == "" {
			close(jobs)
			wg.Wait()
			return fmt.Errorf("unknown scenario %q", name)
		}
		for seed := b.first; seed < b.first+uint64(b.n); seed++ {
			jobs <- night{name, seed}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("\n%d nights per scenario, scale %g, order %s\n\n", b.n, b.scale, b.order)
	fmt.Println("| scenario | baseline | coverage (night) | lowest band coverage | mean max error 5-50 % (pts) | max error at 10 % | leaders right at 20 % | median width at 20 % | first published | leaders right (night) | wrong likely per 1,000 | flip-flops |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, name := range names {
		for _, v := range variants {
			ts := tables[key{name, v}]
			s := estimate.Summarize(ts)
			tot := s.Total()
			low := math.NaN()
			for _, band := range s.Bands {
				if c := band.Coverage(); !math.IsNaN(c) && (math.IsNaN(low) || c < low) {
					low = c
				}
			}
			var errSum float64
			var errN int
			for _, t := range ts {
				for _, r := range t.Rows {
					if r.SharesState == schemas.StateEstimate && r.ShareReported >= 0.05 && r.ShareReported < 0.5 {
						errSum += r.MaxShareError
						errN++
					}
				}
			}
			fmt.Printf("| `%s` | %s | %.3f | %.3f | %.2f | %.2f | %.3f | %.2f | %.3f | %.3f | %.2f | %d |\n", name, v, tot.Coverage(), low,
				errSum/float64(max(errN, 1)), s.At10, float64(s.LeadersRight20)/float64(max(s.LeadersNamed20, 1)),
				median(s.Widths20), s.FirstPublished, float64(tot.LeadersRight)/float64(max(tot.LeadersRight+tot.LeadersWrong, 1)),
				1000*float64(tot.LikelyWrong)/float64(max(tot.Likely, 1)), s.FlipFlops)
		}
	}
	return nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// oneWithBaselines simulates one night and replays it once per variant.
func (b backtestRun) oneWithBaselines(nt night, variants []string) (map[string]*estimate.BacktestTable, error) {
	sim, err := simulated(nt.scenario, nt.seed, b.scale, b.ref)
	if err != nil {
		return nil, err
	}
	out := map[string]*estimate.BacktestTable{}
	for _, v := range variants {
		cfg := estimate.DefaultBacktestConfig()
		cfg.Order, cfg.Seed = b.order, nt.seed
		b.tune(&cfg.Method)
		if v != "none" {
			prev, err := sim.PreviousElection(simulate.PreviousKinds[v]())
			if err != nil {
				return nil, err
			}
			if cfg.Baseline, err = estimate.LoadBaseline(prev.FS()); err != nil {
				return nil, err
			}
		}
		t, err := estimate.Backtest(context.Background(), sim.Country, sim.Truth.Results(), cfg)
		if err != nil {
			return nil, fmt.Errorf("baseline %s: %w", v, err)
		}
		if b.csvDir != "" {
			if err := writeCSV(filepath.Join(b.csvDir, fmt.Sprintf("%s-%d-%s.csv", nt.scenario, nt.seed, v)), t); err != nil {
				return nil, err
			}
		}
		out[v] = t
	}
	return out, nil
}
