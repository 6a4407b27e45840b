package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"votestream/schemas"
	"votestream/schemas/provision"
)

func init() {
	register(&command{
		name:    "migrate",
		summary: "create the Kafka topics and bring ClickHouse to the current schema (idempotent)",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			var kf kafkaFlags
			kf.register(fs, defaultKafka)
			var cf clickhouseFlags
			cf.register(fs, defaultClickHouse)
			cluster := fs.String("clickhouse-cluster", "", "ClickHouse cluster (remote_servers name, with Keeper and the {shard} and {replica} macros): create every table Replicated, ON CLUSTER (docs/operations.md); empty: one server")
			printDDL := fs.Bool("print-ddl", false, "print the ClickHouse DDL for --database (and --clickhouse-cluster) instead of running anything")
			return func(ctx context.Context, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if *printDDL {
					return printClickHouseDDL(os.Stdout, cf.database, *cluster)
				}
				if kf.seeds == "" && cf.addr == "" {
					return fmt.Errorf("%w: nothing to migrate: both --kafka and --clickhouse are empty", errUsage)
				}
				if seeds := kf.seedList(); len(seeds) > 0 {
					created, err := ensureTopics(ctx, seeds, kf.topicPrefix)
					if err != nil {
						return err
					}
					slog.Info("kafka topics ready", "broker", kf.seeds, "created", len(created), "prefix", kf.topicPrefix)
				}
				if cf.addr != "" {
					applied, err := migrateClickHouse(ctx, cf, *cluster)
					if err != nil {
						return err
					}
					slog.Info("clickhouse schema ready", "server", cf.addr, "database", cf.database, "cluster", *cluster, "applied", applied)
				}
				return nil
			}
		},
	})
}

// clickhouseFlags are the flags every ClickHouse-using command shares.
type clickhouseFlags struct {
	addr, database, user, password string
}

func (c *clickhouseFlags) register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&c.addr, "clickhouse", defaultAddr, "ClickHouse native protocol host:port")
	fs.StringVar(&c.database, "database", defaultDatabase, "ClickHouse database")
	fs.StringVar(&c.user, "clickhouse-user", "default", "ClickHouse user")
	fs.StringVar(&c.password, "clickhouse-password", "", "ClickHouse password")
}

func (c *clickhouseFlags) options() *clickhouse.Options {
	return &clickhouse.Options{
		Addr:        []string{c.addr},
		Auth:        clickhouse.Auth{Username: c.user, Password: c.password},
		DialTimeout: 10 * time.Second,
	}
}

func migrateClickHouse(ctx context.Context, cf clickhouseFlags, cluster string) ([]string, error) {
	conn, err := clickhouse.Open(cf.options())
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", cf.addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	applied, err := provision.MigrateClickHouseCluster(ctx, conn, cf.database, cluster)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", cf.addr, err)
	}
	return applied, nil
}

// printClickHouseDDL writes every migration's statements for database (in their cluster
// form when cluster is set), each file under a comment naming it.
func printClickHouseDDL(w io.Writer, database, cluster string) error {
	migrations, err := schemas.ClickHouseMigrations()
	if err != nil {
		return err
	}
	if !schemas.ValidDatabaseName(database) {
		return fmt.Errorf("%w: --database %q: want letters, digits and _", errUsage, database)
	}
	for _, m := range migrations {
		stmts, err := m.Statements(database)
		if cluster != "" {
			stmts, err = m.ClusterStatements(database, cluster)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if _, err := fmt.Fprintf(w, "-- %s\n", m.Name); err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := fmt.Fprintf(w, "%s;\n\n", s); err != nil {
				return err
			}
		}
	}
	return nil
}
