package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"votestream/processors/consolidate"
	"votestream/schemas"
)

func init() {
	register(&command{
		name:    "consolidate",
		summary: "deduplicate and consolidate reports into station results, flag anomalies (exactly once)",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := consolidate.DefaultConfig()
			var rf roleFlags
			rf.register(fs, "127.0.0.1:9103")
			rf.groupFlag(fs, "consolidate", "consumer group shared by every consolidator of a deployment")
			fs.StringVar(&cfg.TransactionalID, "transactional-id", "", "unique per process, stable across its restarts (default <group>-<host name>)")
			fs.DurationVar(&cfg.TransactionTimeout, "txn-timeout", cfg.TransactionTimeout, "broker aborts a transaction open longer than this")
			fs.DurationVar(&cfg.SessionTimeout, "session-timeout", cfg.SessionTimeout, "group session timeout")
			fs.IntVar(&cfg.MaxPollRecords, "max-poll", cfg.MaxPollRecords, "most records per transaction")
			fs.DurationVar(&cfg.RebuildTimeout, "rebuild-timeout", cfg.RebuildTimeout, "longest rebuild of the state on start or rebalance; a longer one is tried again")
			rulesFlags(fs, &cfg.Rules)
			return func(ctx context.Context, args []string) error {
				country, reg, err := rf.start(args)
				if err != nil {
					return err
				}
				cfg.Seeds, cfg.TopicPrefix, cfg.Rules.Country, cfg.Registerer = rf.seeds(), rf.topicPrefix(), country, reg
				cfg.Group = rf.consumerGroup()
				if cfg.TransactionalID == "" { // the flag's "" stood for the documented default
					if cfg.TransactionalID, err = transactionalID(cfg.Group); err != nil {
						return err
					}
				}
				c, err := consolidate.New(cfg)
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				closeLag, err := registerLag(reg, cfg.Seeds, cfg.TopicPrefix, cfg.Group)
				if err != nil {
					return err
				}
				defer closeLag()
				return rf.serveReady(ctx, reg, c.Ready, c.Run)
			}
		},
	})
	upRoles = append(upRoles, upRole{name: "consolidate", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		cfg := consolidate.DefaultConfig()
		cfg.Seeds, cfg.TopicPrefix, cfg.Rules.Country, cfg.Registerer = env.seeds, env.topicPrefix, env.country, env.metrics
		cfg.Group = schemas.ConsumerGroup(env.topicPrefix, "consolidate")
		var err error
		if cfg.TransactionalID, err = transactionalID(cfg.Group); err != nil {
			return upStarted{}, err
		}
		c, err := consolidate.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		return upStarted{describe: "submissions, reviews, official -> station-results, anomalies (transactions)", run: c.Run, ready: c.Ready}, nil
	}})
}

// transactionalID is consolidate's default transactional id: <group>-<host name>, stable
// across restarts of one process and, the group carrying the topic prefix, apart per prefix.
func transactionalID(group string) (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("%w: no --transactional-id and no host name: %v", errUsage, err)
	}
	return group + "-" + host, nil
}

// rulesFlags maps the consolidation thresholds onto flags.
func rulesFlags(fs *flag.FlagSet, r *consolidate.Rules) {
	pollsCloseFlag(fs, &r.PollsClose, "when polls closed")
	fs.DurationVar(&r.EarlyTolerance, "early-tolerance", r.EarlyTolerance, "allowance for phone clocks before EARLY")
	fs.Float64Var(&r.OutlierZ, "outlier-z", r.OutlierZ, "robust z-score above which turnout or a share is an outlier")
	fs.IntVar(&r.OutlierMinStations, "outlier-min-stations", r.OutlierMinStations, "other final stations a constituency needs before outliers are judged")
	fs.IntVar(&r.OutlierSubdistrictMin, "outlier-subdistrict-min", r.OutlierSubdistrictMin, "final stations of a subdistrict that make its median the expected turnout and shares")
	fs.BoolVar(&r.OutlierAcrossPartitions, "outliers-across-partitions", r.OutlierAcrossPartitions, "compare a station with its constituency in every partition held, not only its own: only for topics not placed by constituency (a restart may then raise a different set of outlier ids)")
	fs.IntVar(&r.SpreadMaxStations, "spread-max-stations", r.SpreadMaxStations, "distinct stations one volunteer may report before SPREAD")
	fs.IntVar(&r.BallotGapAbs, "ballot-gap", r.BallotGapAbs, "BALLOT_GAP beyond this many ballots (or --ballot-gap-rel)")
	fs.Float64Var(&r.BallotGapRel, "ballot-gap-rel", r.BallotGapRel, "BALLOT_GAP beyond this fraction of ballots cast")
	fs.Float64Var(&r.BlockZ, "block-z", r.BlockZ, "z above which one organisation's finals in a constituency are a shifted block (BLOCK_SHIFT)")
	fs.IntVar(&r.BlockMinStations, "block-min-stations", r.BlockMinStations, "finals an organisation needs in a constituency before BLOCK_SHIFT judges them")
}
