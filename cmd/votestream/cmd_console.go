package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"votestream/console"
	"votestream/ingest/s3store"
	"votestream/ingest/token"
	"votestream/schemas"
)

func init() {
	register(&command{
		name:    "console",
		summary: "serve the review console of district leads and the war room, and the decision desk: the queue API, evidence photos, calls and the web app",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := console.DefaultConfig()
			var cf clickhouseFlags
			cf.register(fs, defaultClickHouse)
			var kf kafkaFlags // the decision desk's calls.v1 and estimates.v1; --kafka "" turns the desk off
			kf.register(fs, defaultKafka)
			ref := fs.String("ref", "", "reference data folder; required")
			metrics := fs.String("metrics", "127.0.0.1:9107", "address serving Prometheus /metrics; empty disables")
			fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen address of the console (web app and API)")
			fs.StringVar(&cfg.TokenKeysFile, "keys", "", "token key file, the one ingest verifies with; required")
			fs.StringVar(&cfg.RevocationFile, "revocations", "", "file of revoked volunteer and token ids, as ingest reads it")
			fs.StringVar(&cfg.IngestURL, "ingest", cfg.IngestURL, "ingest's base URL: decisions and official figures are sent there")
			fs.StringVar(&cfg.EvidenceDir, "evidence-dir", cfg.EvidenceDir, "ingest's evidence folder, read here (unless --evidence-s3-endpoint is set)")
			s3 := s3store.DefaultConfig()
			fs.StringVar(&s3.Endpoint, "evidence-s3-endpoint", "", "S3-compatible server (host:port) holding ingest's evidence bucket, instead of --evidence-dir")
			fs.StringVar(&s3.Bucket, "evidence-s3-bucket", s3.Bucket, "evidence bucket")
			fs.StringVar(&s3.Region, "evidence-s3-region", s3.Region, "evidence bucket's region")
			fs.StringVar(&s3.Prefix, "evidence-s3-prefix", s3.Prefix, "key prefix of evidence objects (<prefix>sha256/<hex>)")
			insecure := fs.Bool("evidence-s3-insecure", false, "talk plain HTTP to the evidence server")
			fs.StringVar(&s3.AccessKey, "evidence-s3-access-key", s3.AccessKey, "access key of the evidence bucket (read access is enough)")
			fs.StringVar(&s3.SecretKey, "evidence-s3-secret-key", s3.SecretKey, "secret key of the evidence bucket; better given as VOTESTREAM_EVIDENCE_S3_SECRET_KEY")
			fs.DurationVar(&cfg.Refresh, "refresh", cfg.Refresh, "how often the queue is re-read from ClickHouse")
			return func(ctx context.Context, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				country, err := loadCountry(*ref)
				if err != nil {
					return err
				}
				cfg.Country = country
				cfg.Seeds, cfg.TopicPrefix = kf.seedList(), kf.topicPrefix
				cfg.ClickHouseAddr, cfg.Database, cfg.Username, cfg.Password = cf.addr, cf.database, cf.user, cf.password
				if s3.Endpoint != "" {
					s3.Secure = !*insecure
					cfg.EvidenceS3 = &s3
				}
				reg := newRegistry()
				cfg.Registerer = reg
				c, err := console.New(cfg)
				if err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				return withMetrics(ctx, *metrics, reg, c.Run)
			}
		},
	})
	upRoles = append(upRoles, upRole{name: "console", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		if env.clickhouse.addr == "" {
			return upStarted{describe: "off (no --clickhouse)"}, nil
		}
		cfg := console.DefaultConfig()
		cfg.Country, cfg.TokenKeysFile, cfg.Listen = env.country, env.keysFile, env.consoleListen
		cfg.ClickHouseAddr, cfg.Database, cfg.Username, cfg.Password = env.clickhouse.addr, env.clickhouse.database, env.clickhouse.user, env.clickhouse.password
		cfg.IngestURL = "http://" + env.listen
		cfg.Seeds, cfg.TopicPrefix = env.seeds, env.topicPrefix
		cfg.EvidenceDir = filepath.Join(env.dataDir, "evidence")
		cfg.Registerer = env.metrics
		c, err := console.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		tokens, err := consoleTokens(env)
		if err != nil {
			return upStarted{}, err
		}
		return upStarted{describe: "http://" + cfg.Listen + " (review console; sign-in tokens for the war room and one lead in " + tokens + ")", run: c.Run}, nil
	}})
}

// consoleTokens writes <data>/console-tokens.txt: a war room token and a district lead's
// for the first constituency, valid a day, so that `up` can be tried at once.
func consoleTokens(env upEnv) (string, error) {
	ring, err := token.LoadKeyring(env.keysFile)
	if err != nil {
		return "", err
	}
	now := time.Now()
	issue := func(c token.Claims) (string, error) {
		c.TokenID, c.IssuedAt, c.ExpiresAt = token.NewTokenID(), now, now.Add(24*time.Hour)
		return ring.Issue(c)
	}
	war, err := issue(token.Claims{VolunteerID: "up-war-room", Org: "war room", Role: schemas.RoleWarRoom})
	if err != nil {
		return "", err
	}
	cons := env.country.Constituencies[0].ID
	lead, err := issue(token.Claims{VolunteerID: "up-lead-" + cons, Org: "war room", Role: schemas.RoleDistrictLead, Constituency: cons})
	if err != nil {
		return "", err
	}
	desk, err := issue(token.Claims{VolunteerID: "up-desk", Org: "war room", Role: schemas.RoleDesk})
	if err != nil {
		return "", err
	}
	path := filepath.Join(env.dataDir, "console-tokens.txt")
	err = writeFileAtomic(path, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "# votestream up: review console tokens, valid until %s\nwar_room %s\ndistrict_lead %s %s\ndesk %s (/desk.html)\n",
			now.Add(24*time.Hour).Format(time.RFC3339), war, cons, lead, desk)
		return err
	})
	if err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o600)
}
