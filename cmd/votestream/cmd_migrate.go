package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
)

func init() {
	register(&command{
		name:    "migrate",
		summary: "create the Kafka topics and bring ClickHouse to the current schema (idempotent)",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			var kf kafkaFlags
			kf.register(fs, defaultKafka)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("%w: unexpected arguments %q", errUsage, args)
				}
				if seeds := kf.seedList(); len(seeds) > 0 {
					created, err := ensureTopics(ctx, seeds, kf.topicPrefix)
					if err != nil {
						return err
					}
					slog.Info("kafka topics ready", "created", created, "prefix", kf.topicPrefix)
				}
				return nil
			}
		},
	})
}
