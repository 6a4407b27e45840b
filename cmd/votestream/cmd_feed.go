package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"votestream/internal/newsroomsql"
	"votestream/schemas"
	"votestream/sinks/feed"
)

func init() {
	register(&command{
		name:    "feed",
		summary: "serve newsrooms the live results and estimates as HTTP JSON and Server-Sent Events",
		usage: `[keygen --keys FILE --newsroom NAME [--test] | newsroom add|revoke NAME --keys FILE]

  keygen          appends a fresh API key for a newsroom to the key file (created 0600) and prints it
                  (--test: a test key, which only a --test-mode feed takes)
  newsroom add    makes a newsroom's API key and its own read-only ClickHouse user (a file in
                  --clickhouse-users, with its limits and quota) and prints both secrets once
  newsroom revoke removes the newsroom's keys and its ClickHouse user`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := feed.DefaultConfig()
			var rf roleFlags
			rf.register(fs, "127.0.0.1:9105")
			fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen address")
			fs.StringVar(&cfg.KeysFile, "keys", "", "newsroom API key file, one `KEY NEWSROOM NAME` per line, re-read while running; required")
			fs.IntVar(&cfg.MaxStreamsPerNewsroom, "max-streams", cfg.MaxStreamsPerNewsroom, "event streams one newsroom may hold open")
			fs.IntVar(&cfg.RingSize, "ring", cfg.RingSize, "events kept for clients resuming with Last-Event-ID")
			pollsCloseFlag(fs, &cfg.PollsClose, "when polls close and the embargo on results lifts")
			fs.Float64Var(&cfg.RateLimit, "rate", cfg.RateLimit, "requests a second each newsroom may make on average (a key file `!limit` line overrides it)")
			fs.IntVar(&cfg.RateBurst, "burst", cfg.RateBurst, "requests a newsroom may make at once after a quiet spell")
			fs.DurationVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "the transparency log's checkpoints reach the summary and the stream at most this often (the newest held back goes out when it is up)")
			fs.StringVar(&cfg.Attribution, "attribution", cfg.Attribution, "licence and attribution line in every payload")
			fs.BoolVar(&cfg.TestMode, "test-mode", false, "serve a simulated night (needs its --topic-prefix): every payload says \"test\": true, only test keys (keygen --test) work")
			testKey := fs.Bool("test", false, "keygen: make a test key, for the --test-mode feed only")
			fs.BoolVar(&cfg.AccessLog, "access-log", cfg.AccessLog, "log one line per request (with its X-Request-Id)")
			newsroom := fs.String("newsroom", "", "keygen: the newsroom the key is for")
			nf := newsroomFlags{limits: newsroomsql.DefaultLimits()}
			fs.StringVar(&nf.usersDir, "clickhouse-users", defaultUsersDir(), "newsroom add/revoke: the ClickHouse server's users.d folder")
			fs.StringVar(&nf.database, "sql-database", "votestream", "newsroom add: the main database; the newsroom's ClickHouse user reads only its public copy, NAME_public")
			fs.StringVar(&cfg.SQLUsersDir, "sql-embargo-users", "", "the ClickHouse users.d folder whose newsroom users the feed keeps under the embargo (granted NAME_public only from polls close); empty: not managed")
			var cf clickhouseFlags
			cf.register(fs, "")
			fs.StringVar(&cfg.SQLRole, "sql-embargo-role", "", "current ClickHouse (SQL access management): the newsrooms' role the feed creates and grants --database's NAME_public only from polls close, through --clickhouse as a user with access management; empty: not managed")
			fs.StringVar(&cfg.SQLSharedUser, "newsroom-user", "", "with --sql-embargo-role: the newsrooms' shared ClickHouse user the feed creates with the role (password: --newsroom-password)")
			fs.StringVar(&cfg.SQLSharedPassword, "newsroom-password", "", "the shared newsroom user's password (set it by environment, VOTESTREAM_NEWSROOM_PASSWORD)")
			fs.DurationVar(&nf.limits.MaxExecutionTime, "sql-max-time", nf.limits.MaxExecutionTime, "newsroom add: longest a query may run")
			fs.Uint64Var(&nf.limits.MaxRowsToRead, "sql-max-rows", nf.limits.MaxRowsToRead, "newsroom add: most rows a query may read")
			fs.Uint64Var(&nf.limits.MaxMemoryUsage, "sql-max-memory", nf.limits.MaxMemoryUsage, "newsroom add: most bytes of memory a query may use")
			fs.IntVar(&nf.limits.QueriesPerHour, "sql-queries-per-hour", nf.limits.QueriesPerHour, "newsroom add: the user's quota of queries an hour")
			fs.IntVar(&nf.limits.Priority, "sql-priority", nf.limits.Priority, "newsroom add: ClickHouse priority of its queries (the war room's is 0; higher yields)")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 && args[0] == "newsroom" {
					nf.embargoed = time.Now().Before(cfg.PollsClose)
					if cfg.SQLRole != "" { // SQL access management (current ClickHouse)
						if cf.addr == "" {
							return fmt.Errorf("%w: newsroom with --sql-embargo-role needs --clickhouse (a user with access management)", errUsage)
						}
						conn, err := clickhouse.Open(cf.options())
						if err != nil {
							return fmt.Errorf("feed: ClickHouse: %w", err)
						}
						defer conn.Close()
						nf.sqlRole, nf.database = cfg.SQLRole, cf.database
						nf.sqlExec = func(ctx context.Context, q string) error { return conn.Exec(ctx, q) }
					}
					return runNewsroom(os.Stdout, cfg.KeysFile, nf, args[1:])
				}
				if len(args) == 1 && args[0] == "keygen" {
					if cfg.KeysFile == "" || *newsroom == "" {
						return fmt.Errorf("%w: keygen needs --keys and --newsroom", errUsage)
					}
					appendKey := feed.AppendKey
					if *testKey {
						appendKey = feed.AppendTestKey
					}
					key, err := appendKey(cfg.KeysFile, *newsroom)
					if err != nil {
						return err
					}
					fmt.Println(key)
					return nil
				}
				if cfg.SQLUsersDir != "" {
					if fi, err := os.Stat(cfg.SQLUsersDir); err != nil || !fi.IsDir() {
						return fmt.Errorf("%w: --sql-embargo-users %s: not a folder (the ClickHouse server's users.d)", errUsage, cfg.SQLUsersDir)
					}
				}
				if cfg.SQLRole != "" {
					if cf.addr == "" {
						return fmt.Errorf("%w: --sql-embargo-role needs --clickhouse (a user with access management)", errUsage)
					}
					conn, err := clickhouse.Open(cf.options())
					if err != nil {
						return fmt.Errorf("feed: ClickHouse: %w", err)
					}
					defer conn.Close()
					cfg.SQLExec = func(ctx context.Context, q string) error { return conn.Exec(ctx, q) }
					cfg.SQLPublicDatabase = schemas.PublicDatabase(cf.database)
				}
				country, reg, err := rf.start(args)
				if err != nil {
					return err
				}
				cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.Registerer = rf.seeds(), rf.topicPrefix(), country, reg
				f, err := feed.New(cfg)
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				return rf.serveReady(ctx, reg, f.Health, f.Run)
			}
		},
	})
	upRoles = append(upRoles, upRole{name: "feed", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		cfg := feed.DefaultConfig()
		cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.Listen = env.seeds, env.topicPrefix, env.country, env.feedListen
		cfg.Registerer = env.metrics
		cfg.KeysFile = filepath.Join(env.dataDir, "newsroom-keys")
		note := "keys in " + cfg.KeysFile
		if _, err := os.Stat(cfg.KeysFile); os.IsNotExist(err) {
			key, err := feed.AppendKey(cfg.KeysFile, "up")
			if err != nil {
				return upStarted{}, err
			}
			note = "try: curl -H 'Authorization: Bearer " + key + "' http://" + cfg.Listen + "/v1/feed/summary"
		}
		f, err := feed.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		return upStarted{describe: "http://" + cfg.Listen + "/v1/feed/... (JSON, SSE at /v1/feed/events); " + note, run: f.Run, ready: f.Health}, nil
	}})
}
