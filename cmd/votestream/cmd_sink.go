package main

import (
	"context"
	"flag"

	"votestream/schemas"
	sink "votestream/sinks/clickhouse"
)

func init() {
	register(&command{
		name:    "sink",
		summary: "write every topic into ClickHouse (at least once, idempotent tables)",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			var rf roleFlags
			rf.registerNoRef(fs, "127.0.0.1:9102")
			var cf clickhouseFlags
			cf.register(fs, defaultClickHouse)
			d := sink.DefaultConfig()
			rf.groupFlag(fs, "sink", "Kafka consumer group")
			batch := fs.Int("max-batch", d.MaxBatchRecords, "most records of one Kafka poll (one insert round when the sink keeps up)")
			maxInsert := fs.Int("max-insert", d.MaxInsertRecords, "most records of one insert round when polls pile up behind a running insert (at least --max-batch)")
			ping := fs.Duration("ping-interval", d.PingInterval, "how often ClickHouse is pinged while there is nothing to insert, so /readyz follows it")
			return func(ctx context.Context, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				cfg := sinkConfig(rf.seeds(), rf.topicPrefix(), cf)
				cfg.Group, cfg.MaxBatchRecords, cfg.MaxInsertRecords, cfg.PingInterval = rf.consumerGroup(), *batch, *maxInsert, *ping
				reg := newRegistry()
				cfg.Registerer = reg
				s, err := sink.New(cfg)
				if err != nil {
					return err
				}
				closeLag, err := registerLag(reg, cfg.Seeds, cfg.TopicPrefix, cfg.Group)
				if err != nil {
					return err
				}
				defer closeLag()
				return rf.serveReady(ctx, reg, s.Ready, s.Run)
			}
		},
	})
	upRoles = append(upRoles, upRole{name: "sink", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		if env.clickhouse.addr == "" {
			return upStarted{describe: "off (no --clickhouse)"}, nil
		}
		cfg := sinkConfig(env.seeds, env.topicPrefix, env.clickhouse)
		cfg.Registerer = env.metrics
		s, err := sink.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		return upStarted{describe: "every topic -> ClickHouse database " + env.clickhouse.database, run: s.Run, ready: s.Ready}, nil
	}})
}

func sinkConfig(seeds []string, prefix string, cf clickhouseFlags) sink.Config {
	cfg := sink.DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Group = seeds, prefix, schemas.ConsumerGroup(prefix, "sink")
	cfg.ClickHouseAddr, cfg.Database, cfg.Username, cfg.Password = cf.addr, cf.database, cf.user, cf.password
	return cfg
}
