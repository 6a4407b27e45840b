package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"votestream/processors/estimate"
	"votestream/simulate/realnight"
)

// realnightVariants are the baselines -generator realnight replays each night with.
var realnightVariants = []string{"none", "previous"}

// realnightRun backtests nights of the second generator (simulate/realnight): every order
// given, seeds first..first+n-1, each night once per baseline variant (none: no baseline;
// previous: the night's independently drawn previous election), and prints the goals
// table and per-band tables as -md does, one row per (order, variant).
func (b backtestRun) realnightRun(orders, variants []string) error {
	for _, o := range orders {
		if realnight.OrderDoc(o) == "" {
			return fmt.Errorf("unknown realnight order %q (want %s)", o, strings.Join(realnight.Orders(), ", "))
		}
	}
	for _, v := range variants {
		if v != "none" && v != "previous" {
			return fmt.Errorf("unknown realnight baseline %q (want none, previous)", v)
		}
	}
	if b.ref != "" {
		if _, err := os.Stat(b.ref); err != nil {
			return fmt.Errorf("reference folder %s is not here (the 2023 structure is kept outside the repository): %w", b.ref, err)
		}
	}
	label := func(order, variant string) string {
		if variant == "none" {
			return order
		}
		return order + " + " + variant
	}
	var names []string
	for _, o := range orders {
		for _, v := range variants {
			names = append(names, label(o, v))
		}
	}
	by := map[string][]*estimate.BacktestTable{}
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan night)
	var wg sync.WaitGroup
	done, total := 0, len(orders)*b.n
	for range b.workers {
		wg.Go(func() {
			for nt := range jobs {
				t0 := time.Now()
				res, err := b.realnightOne(nt, variants)
				mu.Lock()
				done++
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("realnight %s seed %d: %w", nt.scenario, nt.seed, err)
				}
				for v, t := range res {
					by[label(nt.scenario, v)] = append(by[label(nt.scenario, v)], t)
					fmt.Fprintf(os.Stderr, "# [%d/%d] realnight %s seed %d baseline %s: %s\n", done, total, nt.scenario, nt.seed, v, t.Summary().GoalLine())
				}
				fmt.Fprintf(os.Stderr, "# [%d/%d] realnight %s seed %d, %d variants in %.1fs\n", done, total, nt.scenario, nt.seed, len(variants), time.Since(t0).Seconds())
				mu.Unlock()
			}
		})
	}
	for _, o := range orders {
		for seed := b.first; seed < b.first+uint64(b.n); seed++ {
			jobs <- night{o, seed}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	ref := "a synthetic structure"
	if b.ref != "" {
		ref = "the structure of " + b.ref
	}
	fmt.Printf("\nrealnight: %d nights per order, scale %g of %s, order replayed: %s\n", b.n, b.scale, ref, b.order)
	goalsTable(os.Stdout, names, by) // summary.go
	for _, o := range orders {
		for _, v := range variants {
			name := label(o, v)
			s := estimate.Summarize(by[name])
			fmt.Printf("\n**realnight %s** (%s)\n\n", name, realnight.OrderDoc(o))
			if b.md {
				if err := s.FormatMarkdown(os.Stdout); err != nil {
					return err
				}
				fmt.Println()
			} else if err := s.Format(os.Stdout); err != nil {
				return err
			}
			if err := estimate.SeatSummarize(by[name]).FormatMarkdown(os.Stdout); err != nil {
				return err
			}
		}
	}
	return nil
}

// realnightOne builds one realnight night and replays it once per variant.
func (b backtestRun) realnightOne(nt night, variants []string) (map[string]*estimate.BacktestTable, error) {
	cfg := realnight.DefaultConfig()
	cfg.Seed, cfg.RefDir, cfg.Scale, cfg.Order = nt.seed, b.ref, b.scale, nt.scenario
	n, err := realnight.New(cfg)
	if err != nil {
		return nil, err
	}
	if b.writeDir != "" {
		// The night as `votestream backtest --ref D --results D --baseline D/previous` reads it.
		dir := filepath.Join(b.writeDir, fmt.Sprintf("%s-%d", nt.scenario, nt.seed))
		if err := n.Write(dir); err != nil {
			return nil, err
		}
		if err := n.Previous().Write(filepath.Join(dir, "previous")); err != nil {
			return nil, err
		}
	}
	out := map[string]*estimate.BacktestTable{}
	for _, v := range variants {
		bc := estimate.DefaultBacktestConfig()
		bc.Order, bc.Seed = b.order, nt.seed
		bc.Method.GuardMaxWidth = b.guardWidth
		b.tune(&bc.Method)
		if v == "previous" {
			if bc.Baseline, err = estimate.LoadBaseline(n.Previous().FS()); err != nil {
				return nil, err
			}
		}
		t, err := estimate.Backtest(context.Background(), n.Country, n.Results, bc)
		if err != nil {
			return nil, fmt.Errorf("baseline %s: %w", v, err)
		}
		if b.csvDir != "" {
			if err := writeCSV(filepath.Join(b.csvDir, fmt.Sprintf("realnight-%s-%d-%s.csv", nt.scenario, nt.seed, v)), t); err != nil {
				return nil, err
			}
		}
		out[v] = t
	}
	return out, nil
}
