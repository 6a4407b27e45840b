package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/sync/errgroup"
)

// upEnv is what `votestream up` hands to each role it runs in its process.
type upEnv struct {
	seeds       []string
	topicPrefix string
	clickhouse  clickhouseFlags // addr "" when no ClickHouse is configured
	dataDir     string          // where roles of this process keep files (evidence, exports)
}

// upRole is one role `up` runs; start prepares it without blocking.
type upRole struct {
	name  string
	start func(ctx context.Context, env upEnv) (upStarted, error)
}

// upStarted is a prepared role: a line for the table of what is running, its blocking Run
// (returning promptly when ctx is cancelled; nil when the role is off), and its metrics.
type upStarted struct {
	name     string // set by up
	describe string
	run      func(context.Context) error
	metrics  []prometheus.Collector
}

// upRoles is filled by the role files as roles land, in start order.
var upRoles []upRole

func init() {
	register(&command{
		name:    "up",
		summary: "run every built role in one process (embedded Kafka when --kafka is empty)",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			var kf kafkaFlags
			kf.register(fs, "")
			var cf clickhouseFlags
			cf.register(fs, "")
			dataDir := fs.String("data", "var/up", "folder for this process's files (embedded broker data, evidence)")
			metrics := fs.String("metrics", "127.0.0.1:9100", "address serving Prometheus /metrics for every role; empty disables")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("%w: unexpected arguments %q", errUsage, args)
				}
				return runUp(ctx, kf, cf, *dataDir, *metrics)
			}
		},
	})
}

func runUp(ctx context.Context, kf kafkaFlags, cf clickhouseFlags, dataDir, metricsAddr string) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	env := upEnv{seeds: kf.seedList(), topicPrefix: kf.topicPrefix, clickhouse: cf, dataDir: dataDir}
	broker := "Kafka " + strings.Join(env.seeds, ",")
	if len(env.seeds) == 0 {
		// No broker configured: franz-go's kfake runs transactions and read_committed
		// correctly (DESIGN.md §5), so one process can hold the whole pipeline.
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dataDir+"/kfake"))
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		defer cluster.Close()
		env.seeds = cluster.ListenAddrs()
		broker = "embedded Kafka-protocol broker (kfake) " + strings.Join(env.seeds, ",")
	}
	if _, err := ensureTopics(ctx, env.seeds, env.topicPrefix); err != nil {
		return err
	}

	var started []upStarted
	tw := tabwriter.NewWriter(os.Stderr, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "votestream up: running\n")
	fmt.Fprintf(tw, "  broker\t%s\n", broker)
	if cf.addr != "" {
		applied, err := migrateClickHouse(ctx, cf)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "  clickhouse\t%s database %s (%d migrations applied now)\n", cf.addr, cf.database, len(applied))
	}
	var cs []prometheus.Collector
	for _, r := range upRoles {
		st, err := r.start(ctx, env)
		if err != nil {
			tw.Flush()
			return fmt.Errorf("start %s: %w", r.name, err)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", r.name, st.describe)
		if st.run != nil {
			st.name = r.name
			started = append(started, st)
			cs = append(cs, st.metrics...)
		}
	}
	if metricsAddr != "" {
		fmt.Fprintf(tw, "  metrics\thttp://%s/metrics\n", metricsAddr)
	}
	var missing []string
	for _, c := range commands {
		if c.notBuilt {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(tw, "  not built yet\t%s\n", strings.Join(sortedCopy(missing), ", "))
	}
	fmt.Fprintf(tw, "Stop with Ctrl-C.\n")
	tw.Flush()
	err := withMetrics(ctx, metricsAddr, cs, func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		for _, st := range started {
			g.Go(func() error {
				if err := st.run(gctx); err != nil && gctx.Err() == nil {
					return fmt.Errorf("%s: %w", st.name, err)
				}
				return nil
			})
		}
		<-gctx.Done()
		return g.Wait()
	})
	slog.Info("votestream up: stopped")
	return err
}
