// Command estimate benchmarks the estimator and scores it on simulated nights.
//
// With no flags it builds a simulated national country (about 95,000 stations), takes half
// of its stations' results into the estimator in a realistic order, and times a full
// recompute of the estimate, printing
//
//	BENCH name=estimate_recompute_95k value=<median ms> unit=ms
//	BENCH name=estimate_apply value=<µs per station result> unit=us
//
// With -seeds N it instead backtests N simulated national nights (seeds 1..N) in the
// order given by -order and prints each night's summary and the pooled one: the figures
// docs/estimation.md records.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"votestream/election"
	"votestream/processors/estimate"
	"votestream/schemas"
	"votestream/simulate"
)

func main() {
	seeds := flag.Int("seeds", 0, "backtest this many simulated national nights (seeds 1..N) instead of timing")
	first := flag.Uint64("first-seed", 1, "first seed of -seeds")
	order := flag.String("order", string(estimate.OrderBiased), "backtest order: biased, random or file")
	scale := flag.Float64("scale", 1, "fraction of the country to simulate (simulate's Scale)")
	ref := flag.String("ref", "", "simulate on the structure of this reference folder (simulate's RefDir) instead of a synthetic country")
	csvDir := flag.String("csv", "", "with -seeds: write each night's table as night-<seed>.csv in this folder")
	verbose := flag.Bool("v", false, "with -seeds: print every night's table")
	flag.Parse()
	log.SetFlags(0)

	if *seeds > 0 {
		if err := backtest(*first, *seeds, estimate.Order(*order), *scale, *ref, *csvDir, *verbose); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := bench(*scale, *ref); err != nil {
		log.Fatal(err)
	}
}

func simulated(seed uint64, scale float64, ref string) (*simulate.Simulation, error) {
	cfg := simulate.DefaultConfig()
	cfg.Seed = seed
	cfg.Country.Scale = scale
	cfg.Country.RefDir = ref
	return simulate.Generate(cfg)
}

func backtest(first uint64, n int, order estimate.Order, scale float64, ref, csvDir string, verbose bool) error {
	var tables []*estimate.BacktestTable
	for seed := first; seed < first+uint64(n); seed++ {
		t0 := time.Now()
		sim, err := simulated(seed, scale, ref)
		if err != nil {
			return err
		}
		results := sim.Truth.Results()
		gen := time.Since(t0)
		cfg := estimate.DefaultBacktestConfig()
		cfg.Order, cfg.Seed = order, seed
		t0 = time.Now()
		table, err := estimate.Backtest(context.Background(), sim.Country, results, cfg)
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		fmt.Printf("# seed %d: %d stations, simulated in %.1fs, backtest in %.1fs\n", seed, len(sim.Country.Stations), gen.Seconds(), time.Since(t0).Seconds())
		if verbose {
			if err := table.Format(os.Stdout); err != nil {
				return err
			}
		} else if err := table.Summary().Format(os.Stdout); err != nil {
			return err
		}
		if csvDir != "" {
			f, err := os.Create(filepath.Join(csvDir, fmt.Sprintf("night-%d.csv", seed)))
			if err != nil {
				return err
			}
			if err := table.WriteCSV(f); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
		tables = append(tables, table)
	}
	fmt.Print("# all nights: ")
	return estimate.Summarize(tables).Format(os.Stdout)
}

func bench(scale float64, ref string) error {
	sim, err := simulated(1, scale, ref)
	if err != nil {
		return err
	}
	c := sim.Country
	est, err := estimate.NewEstimator(c, estimate.DefaultMethod())
	if err != nil {
		return err
	}
	// Half the night, in report-time order: the state a recompute meets at its busiest.
	idx := make([]int, len(c.Stations))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ta, tb := sim.Truth.ReportTime(a), sim.Truth.ReportTime(b)
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	results := make([]schemas.StationResult, 0, len(idx))
	for _, i := range idx[:len(idx)/2] {
		s := c.Stations[i]
		for _, b := range election.Ballots {
			t := sim.Truth.Tally(i, b)
			results = append(results, schemas.StationResult{
				StationID: s.ID, ConstituencyID: s.ConstituencyID, Ballot: string(b), Version: 1,
				Status: schemas.StatusCorroborated, Stage: schemas.StageFinal,
				BallotsCast: t.BallotsCast, Invalid: t.Invalid, NoVote: t.NoVote, Votes: election.FormatVotes(t.Votes),
			})
		}
	}
	t0 := time.Now()
	for _, r := range results {
		if err := est.Apply(r); err != nil {
			return err
		}
	}
	apply := time.Since(t0)

	const runs = 15
	var times []float64
	for range runs {
		t0 := time.Now()
		res := est.Estimate()
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
		if res.PartyList.StationsReported == 0 {
			return fmt.Errorf("nothing reported")
		}
	}
	slices.Sort(times)
	fmt.Printf("BENCH name=estimate_recompute_95k value=%.2f unit=ms\n", times[runs/2])
	fmt.Printf("BENCH name=estimate_apply value=%.2f unit=us\n", float64(apply.Microseconds())/float64(len(results)))
	return nil
}
