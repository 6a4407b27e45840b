package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"votestream/election"
	"votestream/processors/estimate"
	"votestream/schemas"
)

// upLatestEstimate is the estimate role's newest estimate when `up` runs it (set before the
// roles start; nil otherwise): the terminal's headline reads it.
var upLatestEstimate func() (schemas.Estimate, bool)

func init() {
	register(&command{
		name:    "estimate",
		summary: "estimate party-list shares and seats and constituency leaders with calls, every few seconds and on SIGUSR1",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := estimate.DefaultConfig()
			var rf roleFlags
			rf.register(fs, "127.0.0.1:9104")
			fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "how often an estimate is published when results changed")
			baseline := fs.String("baseline", "", "a previous election's results (results-set CSV: station_votes.csv, optional parties.csv, candidates.csv), per station or per constituency: project the change from it; empty projects by level alone")
			return func(ctx context.Context, args []string) error {
				country, reg, err := rf.start(args)
				if err != nil {
					return err
				}
				if cfg.Baseline, err = loadBaseline(*baseline); err != nil {
					return err
				}
				cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.Registerer = rf.seeds(), rf.topicPrefix(), country, reg
				r, err := estimate.New(cfg)
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				return rf.serveReady(ctx, reg, r.Ready, func(ctx context.Context) error {
					g, gctx := errgroup.WithContext(ctx)
					g.Go(func() error { return r.Run(gctx) })
					g.Go(func() error { triggerOnSignal(gctx, r.Trigger); return nil })
					return g.Wait()
				})
			}
		},
	})
	upRoles = append(upRoles, upRole{name: "estimate", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		cfg := estimate.DefaultConfig()
		cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.Registerer = env.seeds, env.topicPrefix, env.country, env.metrics
		var err error
		if cfg.Baseline, err = loadBaseline(env.baselineDir); err != nil {
			return upStarted{}, err
		}
		r, err := estimate.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		upLatestEstimate = r.Latest
		return upStarted{describe: fmt.Sprintf("station-results -> estimates every %v", cfg.Interval), run: r.Run, ready: r.Ready}, nil
	}})

	register(&command{
		name:    "backtest",
		summary: "replay a results set through the estimator in a realistic order and score every step",
		usage:   "--ref DIR --results DIR",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			d := estimate.DefaultBacktestConfig()
			ref := fs.String("ref", "", "reference data folder (with stations and candidates); required")
			results := fs.String("results", "", "results set folder: station_totals.csv, station_votes.csv, optional report_times.csv; required")
			order := fs.String("order", string(d.Order), "reporting order: biased (small and rural first, or report_times.csv), random, or file (report_times.csv)")
			seed := fs.Uint64("seed", d.Seed, "seed of the random and modelled orders")
			steps := fs.Int("steps", d.Steps, "evenly spaced shares of stations reported to score")
			out := fs.String("out", "", "also write the table as CSV to this file")
			baseline := fs.String("baseline", "", "a previous election's results folder to project the change from (as `estimate --baseline`)")
			return func(ctx context.Context, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if *results == "" {
					return fmt.Errorf("%w: --results is required", errUsage)
				}
				cfg := estimate.DefaultBacktestConfig()
				cfg.Order, cfg.Seed, cfg.Steps = estimate.Order(*order), *seed, *steps
				if err := cfg.Validate(); err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				country, err := loadCountry(*ref)
				if err != nil {
					return err
				}
				res, err := election.LoadResults(os.DirFS(*results), country)
				if err != nil {
					return fmt.Errorf("results %s: %w", *results, err)
				}
				if cfg.Baseline, err = loadBaseline(*baseline); err != nil {
					return err
				}
				if cfg.Baseline != nil {
					m, err := estimate.MatchBaseline(country, cfg.Baseline)
					if err != nil {
						return fmt.Errorf("%w: --baseline %s: %v", errUsage, *baseline, err)
					}
					slog.Info("baseline", "stations_matched", m.Stations, "stations_from_constituency", m.StationsFromCons,
						"stations_total", m.StationsTotal, "ids_unmatched", m.IDsUnmatched, "parties_with_baseline", m.Parties, "parties_without", m.PartiesLeft)
				}
				start := time.Now()
				slog.Info("backtesting", "stations", len(country.Stations), "order", cfg.Order, "steps", cfg.Steps)
				t, err := estimate.Backtest(ctx, country, res, cfg)
				if err != nil {
					return err
				}
				if err := t.Format(os.Stdout); err != nil {
					return err
				}
				slog.Info("backtest done", "took", time.Since(start).Round(time.Millisecond))
				if *out != "" {
					return writeFileAtomic(*out, t.WriteCSV)
				}
				return nil
			}
		},
	})
}

// triggerOnSignal calls trigger on every SIGUSR1 until ctx ends: an on-demand estimate.
func triggerOnSignal(ctx context.Context, trigger func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			slog.Info("estimate requested (SIGUSR1)")
			trigger()
		}
	}
}

// loadBaseline reads --baseline; "" is none.
func loadBaseline(dir string) (*estimate.Baseline, error) {
	if dir == "" {
		return nil, nil
	}
	b, err := estimate.LoadBaseline(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("%w: --baseline %s: %v", errUsage, dir, err)
	}
	return b, nil
}
