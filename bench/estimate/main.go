// Command estimate benchmarks the estimator and scores it on simulated nights.
//
// With no flags it builds a simulated national country (about 95,000 stations), takes half
// of its stations' results into the estimator in a realistic order, and times a full
// recompute of the estimate, printing
//
//	BENCH name=estimate_recompute_95k value=<median ms> unit=ms
//	BENCH name=estimate_apply value=<µs per station result> unit=us
//
// With -baseline KIND it times the same with a simulated previous election attached
// (estimate_recompute_95k_baseline, estimate_apply_baseline).
//
// With -seeds N it instead backtests N simulated national nights (seeds 1..N) of every
// scenario given by -scenarios (all: the whole family), in the order given by -order, two
// nights at a time (-workers), and prints per scenario the pooled table by stage of the
// night: the figures docs/estimation.md records. With -seeds and -baseline none,good,misleading
// it replays each night once per previous-election variant and prints one comparison table.
//
// With -seeds and -generator realnight the nights come from the second generator
// (simulate/realnight) instead: -scenarios names its reporting orders (all: every one),
// -baseline none, previous or both (the default), and the goals and per-band tables are
// printed per (order, baseline).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"votestream/election"
	"votestream/processors/estimate"
	"votestream/schemas"
	"votestream/simulate"
	"votestream/simulate/realnight"
)

func main() {
	seeds := flag.Int("seeds", 0, "backtest this many simulated national nights (seeds first-seed..) per scenario instead of timing")
	first := flag.Uint64("first-seed", 1, "first seed of -seeds")
	order := flag.String("order", string(estimate.OrderBiased), "backtest order: biased, random or file")
	scale := flag.Float64("scale", 1, "fraction of the country to simulate (simulate's Scale)")
	ref := flag.String("ref", "", "simulate on the structure of this reference folder (simulate's RefDir) instead of a synthetic country")
	scens := flag.String("scenarios", simulate.ScenarioDefault, "with -seeds: comma-separated scenarios, or all ("+strings.Join(simulate.Scenarios(), ", ")+")")
	workers := flag.Int("workers", 2, "with -seeds: nights simulated and replayed at once")
	csvDir := flag.String("csv", "", "with -seeds: write each night's table as <scenario>-<seed>.csv in this folder")
	md := flag.Bool("md", false, "with -seeds: print the per-band tables as Markdown (for docs/estimation.md)")
	verbose := flag.Bool("v", false, "with -seeds: print every night's table")
	baseline := flag.String("baseline", "", "with -seeds: comma-separated previous-election variants to replay each night with (none, "+strings.Join(baselineKinds(), ", ")+"), printing a comparison table; empty: none only, the usual tables")
	guardWidth := flag.Float64("guard-width", estimate.DefaultMethod().GuardMaxWidth, "with -seeds: the guard's widest interval (Method.GuardMaxWidth, 0-1); 1 scores every step past the station and region rules, to see how honest wide intervals would have been")
	imbalance := flag.Float64("imbalance", estimate.DefaultMethod().Imbalance, "with -seeds: Method.Imbalance, the weight of the subdistricts' covariate imbalance term (0 off)")
	imbRestr := flag.Float64("imbalance-reported", estimate.DefaultMethod().ImbalanceReported, "with -seeds: Method.ImbalanceReported (1: the covariates' spread over the whole country only)")
	logit := flag.Bool("logit-intervals", estimate.DefaultMethod().LogitIntervals, "with -seeds: Method.LogitIntervals (the shares' intervals on the logit scale)")
	kindShift := flag.Bool("kind-shift", estimate.DefaultMethod().KindShift, "with -seeds: Method.KindShift (selection within a kind of station)")
	generator := flag.String("generator", "simulate", "with -seeds: where the nights come from: simulate, or realnight (the second generator; -scenarios then names its orders: all, "+strings.Join(realnight.Orders(), ", ")+"; -baseline none,previous)")
	writeDir := flag.String("write", "", "with -generator realnight: also write each night (reference data, results with report times, previous/ baseline) into DIR/<order>-<seed>")
	flag.Parse()
	log.SetFlags(0)

	if *seeds > 0 && *generator == "realnight" {
		orders := realnight.Orders()
		if *scens != simulate.ScenarioDefault && *scens != "all" {
			orders = strings.Split(*scens, ",")
		}
		variants := realnightVariants
		if *baseline != "" {
			variants = strings.Split(*baseline, ",")
		}
		run := backtestRun{first: *first, n: *seeds, order: estimate.Order(*order), scale: *scale, ref: *ref,
			csvDir: *csvDir, verbose: *verbose, md: *md, workers: max(*workers, 1), guardWidth: *guardWidth, imbalance: imbalance, imbRestr: imbRestr, logit: logit, kindShift: kindShift, writeDir: *writeDir}
		if err := run.realnightRun(orders, variants); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *generator != "simulate" {
		log.Fatalf("unknown -generator %q (want simulate or realnight; realnight needs -seeds)", *generator)
	}
	if *seeds > 0 {
		names := strings.Split(*scens, ",")
		if *scens == "all" {
			names = simulate.Scenarios()
		}
		run := backtestRun{first: *first, n: *seeds, order: estimate.Order(*order), scale: *scale, ref: *ref,
			csvDir: *csvDir, verbose: *verbose, md: *md, workers: max(*workers, 1), guardWidth: *guardWidth, imbalance: imbalance, imbRestr: imbRestr, logit: logit, kindShift: kindShift}
		if *baseline != "" {
			if err := run.compareBaselines(names, strings.Split(*baseline, ",")); err != nil {
				log.Fatal(err)
			}
			return
		}
		if err := run.all(names); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := bench(*scale, *ref, *baseline); err != nil {
		log.Fatal(err)
	}
}

func simulated(scenario string, seed uint64, scale float64, ref string) (*simulate.Simulation, error) {
	cfg := simulate.DefaultConfig()
	cfg.Seed = seed
	cfg.Scenario = scenario
	cfg.Country.Scale = scale
	cfg.Country.RefDir = ref
	return simulate.Generate(cfg)
}

type backtestRun struct {
	first       uint64
	n           int
	order       estimate.Order
	scale       float64
	ref, csvDir string
	verbose, md bool
	workers     int
	guardWidth  float64
	// Method.Imbalance and ImbalanceReported from the flags (whose defaults are DefaultMethod's); nil in tests: the defaults.
	imbalance, imbRestr *float64
	logit               *bool  // Method.LogitIntervals from its flag; nil in tests
	kindShift           *bool  // Method.KindShift
	writeDir            string // -generator realnight: write each night here too
}

// tune sets the Method fields the flags name.
func (b backtestRun) tune(m *estimate.Method) {
	if b.imbalance != nil {
		m.Imbalance = *b.imbalance
	}
	if b.imbRestr != nil {
		m.ImbalanceReported = *b.imbRestr
	}
	if b.logit != nil {
		m.LogitIntervals = *b.logit
	}
	if b.kindShift != nil {
		m.KindShift = *b.kindShift
	}
}

type night struct {
	scenario string
	seed     uint64
}

type nightResult struct {
	night
	table *estimate.BacktestTable
	took  time.Duration
	err   error
}

// all replays every (scenario, seed) night with a bounded pool of workers and prints each
// scenario's pooled summary in scenario order.
func (b backtestRun) all(names []string) error {
	var nights []night
	for _, name := range names {
		if simulate.ScenarioDoc(name) == "" {
			return fmt.Errorf("unknown scenario %q (want %s)", name, strings.Join(simulate.Scenarios(), ", "))
		}
		for seed := b.first; seed < b.first+uint64(b.n); seed++ {
			nights = append(nights, night{name, seed})
		}
	}
	jobs := make(chan night)
	results := make(chan nightResult)
	var wg sync.WaitGroup
	for range b.workers {
		wg.Go(func() {
			for nt := range jobs {
				t0 := time.Now()
				table, err := b.one(nt)
				results <- nightResult{night: nt, table: table, took: time.Since(t0), err: err}
			}
		})
	}
	go func() {
		for _, nt := range nights {
			jobs <- nt
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	byScenario := map[string][]*estimate.BacktestTable{}
	var firstErr error
	done := 0
	for r := range results {
		done++
		if r.err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s seed %d: %w", r.scenario, r.seed, r.err)
			}
			continue
		}
		fmt.Fprintf(os.Stderr, "# [%d/%d] %s seed %d in %.1fs: %s\n", done, len(nights), r.scenario, r.seed, r.took.Seconds(), r.table.Summary().GoalLine())
		if b.verbose {
			if err := r.table.Format(os.Stdout); err != nil {
				return err
			}
		}
		byScenario[r.scenario] = append(byScenario[r.scenario], r.table)
	}
	if firstErr != nil {
		return firstErr
	}
	if b.md {
		goalsTable(os.Stdout, names, byScenario) // summary.go
	}
	for _, name := range names {
		s := estimate.Summarize(byScenario[name])
		if b.md {
			fmt.Printf("\n**%s** (%s)\n\n", name, simulate.ScenarioDoc(name))
			if err := s.FormatMarkdown(os.Stdout); err != nil {
				return err
			}
			fmt.Println()
			if err := estimate.SeatSummarize(byScenario[name]).FormatMarkdown(os.Stdout); err != nil { // the seats' score
				return err
			}
			continue
		}
		fmt.Printf("## %s: %s\n", name, simulate.ScenarioDoc(name))
		if err := s.Format(os.Stdout); err != nil {
			return err
		}
		if err := estimate.SeatSummarize(byScenario[name]).FormatMarkdown(os.Stdout); err != nil { // the seats' score
			return err
		}
	}
	return nil
}

// one simulates and replays one night.
func (b backtestRun) one(nt night) (*estimate.BacktestTable, error) {
	sim, err := simulated(nt.scenario, nt.seed, b.scale, b.ref)
	if err != nil {
		return nil, err
	}
	cfg := estimate.DefaultBacktestConfig()
	cfg.Order, cfg.Seed = b.order, nt.seed
	cfg.Method.GuardMaxWidth = b.guardWidth
	b.tune(&cfg.Method)
	table, err := estimate.Backtest(context.Background(), sim.Country, sim.Truth.Results(), cfg)
	if err != nil {
		return nil, err
	}
	if b.csvDir != "" {
		if err := writeCSV(filepath.Join(b.csvDir, fmt.Sprintf("%s-%d.csv", nt.scenario, nt.seed)), table); err != nil {
			return nil, err
		}
	}
	return table, nil
}

func writeCSV(path string, t *estimate.BacktestTable) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := t.WriteCSV(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func bench(scale float64, ref, baseline string) error {
	sim, err := simulated(simulate.ScenarioDefault, 1, scale, ref)
	if err != nil {
		return err
	}
	c := sim.Country
	est, err := estimate.NewEstimator(c, estimate.DefaultMethod())
	if err != nil {
		return err
	}
	suffix := ""
	if baseline != "" && baseline != "none" {
		// The recompute with a previous election of that kind attached (two level models).
		kind, ok := simulate.PreviousKinds[baseline]
		if !ok {
			return fmt.Errorf("unknown baseline variant %q", baseline)
		}
		prev, err := sim.PreviousElection(kind())
		if err != nil {
			return err
		}
		b, err := estimate.LoadBaseline(prev.FS())
		if err != nil {
			return err
		}
		if _, err := est.SetBaseline(c, b); err != nil {
			return err
		}
		suffix = "_baseline"
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
	// CPU time per recompute as well: wall time suffers on a shared machine.
	rcpu0 := cpuTime()
	for range runs {
		t0 := time.Now()
		res := est.Estimate()
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
		if res.PartyList.StationsReported == 0 {
			return fmt.Errorf("nothing reported")
		}
	}
	rcpu := (cpuTime() - rcpu0).Seconds() * 1000 / runs
	slices.Sort(times)
	fmt.Printf("BENCH name=estimate_recompute_95k%s value=%.2f unit=ms\n", suffix, times[runs/2])
	fmt.Printf("BENCH name=estimate_recompute_95k%s_cpu value=%.2f unit=ms\n", suffix, rcpu)
	fmt.Printf("BENCH name=estimate_apply%s value=%.2f unit=us\n", suffix, float64(apply.Microseconds())/float64(len(results)))

	// The seat simulation alone (part of every recompute above): default draws, every race.
	// Wall time suffers on a shared machine; the process's CPU time per run says what the
	// simulation costs (it runs on one goroutine).
	res := est.Estimate()
	times = times[:0]
	cpu0 := cpuTime()
	for range runs {
		t0 := time.Now()
		est.Seats(res)
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	cpu := (cpuTime() - cpu0).Seconds() * 1000 / runs
	slices.Sort(times)
	name := fmt.Sprintf("estimate_seats_%dx%d", estimate.DefaultSeatMethod().Draws, len(res.Constituencies))
	fmt.Printf("BENCH name=%s value=%.2f unit=ms\n", name, times[runs/2])
	fmt.Printf("BENCH name=%s_cpu value=%.2f unit=ms\n", name, cpu)
	return nil
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
