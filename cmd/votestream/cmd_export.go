package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"votestream/sinks/parquet"
)

func init() {
	register(&command{
		name:    "export",
		summary: "export a consistent cut of results, anomalies, the latest estimate and the night's estimate history as Parquet (and Arrow) for analysts",
		usage:   "--out DIR --ref DIR",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := parquet.DefaultConfig()
			var rf roleFlags
			rf.register(fs, "")
			fs.StringVar(&cfg.OutDir, "out", "", "folder to write into (created; an earlier export there is replaced); required")
			fs.BoolVar(&cfg.Arrow, "arrow", false, "also write the station results and the estimate history as Arrow IPC streams (*.arrows)")
			fs.BoolVar(&cfg.History, "history", cfg.History, "write every estimate of the night (estimate_history_*.parquet), reading the whole estimates topic; --history=false exports only the latest")
			pollsCloseFlag(fs, &cfg.PollsClose, "when polls close: before it the export refuses (EMBARGOED), as the newsroom feed does")
			fs.BoolVar(&cfg.IgnoreEmbargo, "ignore-embargo", false, "export before polls close: for the war room's own tools only, never for files that leave it")
			fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "fail when no record arrives for this long before the cut is read")
			return func(ctx context.Context, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if cfg.OutDir == "" {
					return fmt.Errorf("%w: --out is required", errUsage)
				}
				country, err := rf.country()
				if err != nil {
					return err
				}
				cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.Progress = rf.seeds(), rf.topicPrefix(), country, os.Stderr
				start := time.Now()
				sum, err := parquet.Export(ctx, cfg)
				if err != nil {
					return err
				}
				slog.Info("export written", "dir", cfg.OutDir, "rows", sum.Rows, "data_time", sum.DataTime,
					"estimate", sum.EstimateID, "skipped", sum.RecordsSkipped, "took", time.Since(start).Round(time.Millisecond))
				return nil
			}
		},
	})
}
