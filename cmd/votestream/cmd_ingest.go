package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/ingest"
	"votestream/ingest/roster"
	"votestream/ingest/token"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

func init() {
	register(&command{
		name:    "ingest",
		summary: "serve the volunteers' HTTP endpoint and write reports to Kafka",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := ingest.DefaultConfig()
			var rf roleFlags
			rf.register(fs, "") // ingest serves /metrics on --listen
			fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen address")
			fs.DurationVar(&cfg.Linger, "linger", cfg.Linger, "how long the producer waits to fill a batch")
			fs.IntVar(&cfg.MaxBufferedRecords, "max-buffered", cfg.MaxBufferedRecords, "records waiting in the producer before requests wait for space")
			fs.DurationVar(&cfg.MaxClockSkew, "clock-skew", cfg.MaxClockSkew, "how far in the future counted_at may be")
			fs.DurationVar(&cfg.DedupeTTL, "dedupe-ttl", cfg.DedupeTTL, "how long an accepted submission id is remembered for idempotent retries")
			fs.IntVar(&cfg.DedupeMaxEntries, "dedupe-max", cfg.DedupeMaxEntries, "most submission ids remembered")
			fs.DurationVar(&cfg.WarmupTimeout, "dedupe-warmup", cfg.WarmupTimeout, "at start, read back the last --dedupe-ttl of submissions from Kafka for at most this long, answering submissions 503 STARTING meanwhile; 0 disables")
			fs.StringVar(&cfg.TokenKeysFile, "keys", "", "token key file (`<key id> <base64 secret>` per line, the last active); required")
			fs.StringVar(&cfg.StaffKeysFile, "staff-keys", "", "key file of district leads', the war room's and the desk's tokens, separate from --keys; empty refuses every privileged token")
			fs.StringVar(&cfg.ConsoleKeysFile, "console-keys", "", "key file shared with the review console (its --console-keys; `staff keygen --console-keys FILE`): reviews and official figures of privileged tokens are then taken only when the console signed them (403 CONSOLE_ONLY otherwise); empty takes a staff token alone, with a warning")
			fs.DurationVar(&cfg.ConsoleSkew, "console-skew", cfg.ConsoleSkew, "how far the console's signing time may be from this clock")
			fs.StringVar(&cfg.RevocationFile, "revocations", "", "file of revoked volunteer and token ids, one per line, re-read when it changes")
			fs.StringVar(&cfg.EvidenceDir, "evidence-dir", cfg.EvidenceDir, "folder of the content-addressed evidence store (unless --evidence-s3-endpoint is set)")
			s3Parsed := evidenceS3Flags(fs, &cfg.EvidenceS3, "S3-compatible server (host:port, no scheme) that keeps evidence photos instead of --evidence-dir; the bucket is checked at start")
			fs.BoolVar(&cfg.EvidenceS3.CreateBucket, "evidence-s3-create-bucket", cfg.EvidenceS3.CreateBucket, "create the evidence bucket when missing, instead of failing at start")
			fs.StringVar(&cfg.EvidenceLogURL, "evidence-log-url", "", "the transparency log's public address; receipts then name where their proof is fetched")
			fs.StringVar(&cfg.SpreadPolicy, "spread-policy", cfg.SpreadPolicy, "a report outside the volunteer's scope: flag (accept, SPREAD anomaly) or refuse (403)")
			fs.Float64Var(&cfg.RatePerVolunteer, "rate", cfg.RatePerVolunteer, "requests per second one volunteer may sustain; 0 disables")
			fs.IntVar(&cfg.RateBurst, "rate-burst", cfg.RateBurst, "requests one volunteer may make at once after being idle")
			fs.DurationVar(&cfg.ProduceTimeout, "produce-timeout", cfg.ProduceTimeout, "longest wait for Kafka's acknowledgement before answering 503")
			fs.Int64Var(&cfg.MaxBodyBytes, "max-body", cfg.MaxBodyBytes, "largest request body in bytes (413 beyond)")
			fs.Int64Var(&cfg.MaxEvidenceBytes, "max-evidence", cfg.MaxEvidenceBytes, "largest evidence photo in bytes (413 beyond)")
			fs.IntVar(&cfg.ClaimCap, "claim-cap", cfg.ClaimCap, "most volunteers who may claim one station before the day")
			fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file, re-read at each handshake; with --tls-key")
			fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key of --tls-cert")
			acme := fs.String("acme-domains", "", "serve HTTPS with certificates from Let's Encrypt for these comma-separated domains (TLS-ALPN-01 on --listen, which must be reachable on port 443)")
			fs.StringVar(&cfg.ACMECacheDir, "acme-cache", cfg.ACMECacheDir, "folder keeping the ACME account key and certificates")
			return func(ctx context.Context, args []string) error {
				country, reg, err := rf.start(args)
				if err != nil {
					return err
				}
				cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.Registry = rf.seeds(), rf.topicPrefix(), country, reg
				s3Parsed()
				for _, d := range strings.Split(*acme, ",") {
					if d = strings.TrimSpace(d); d != "" {
						cfg.ACMEDomains = append(cfg.ACMEDomains, d)
					}
				}
				if os.Getenv("GOGC") == "" {
					debug.SetGCPercent(ingest.GCPercent) // ingest.GCPercent says why
				}
				srv, err := ingest.New(cfg)
				if err != nil {
					return err
				}
				return srv.Run(ctx)
			}
		},
	})

	register(&command{
		name:    "volunteers",
		summary: "import organisations' rosters, find people listed twice, issue volunteer tokens",
		usage: `import --roster FILE[,FILE...] --keys FILE --out FILE [--link-base URL [--qr-dir DIR]] [--clickhouse ADDR --ref DIR]
       | coverage [--clickhouse ADDR] [--uncovered]
       | reissue --keys FILE --out TOKENS --volunteer ID --link-base URL [--qr-dir DIR] [--kafka ADDR]
       | keygen --keys FILE

  import  reads every roster CSV (org, volunteer_id, name, phone, role, scope), reports
          the same phone number in two listings, and writes a token per volunteer; with
          --link-base, personal links to the form (one phone each) and their QR codes;
          with --clickhouse, the roster (hashes only) for coverage
  coverage prints, per constituency, stations with 0, 1 and 2+ volunteers and from how
          many organisations (newest roster of each organisation, claims, reassignments)
  reissue gives a volunteer a new personal link (a lost or changed phone) and, through
          fieldwork.v1, makes ingest refuse their older links; prints the link
  keygen  appends a fresh signing key to the key file (creating it), making it active`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			d := roster.DefaultImportConfig()
			rosters := fs.String("roster", "", "import: roster CSV files, comma-separated")
			keys := fs.String("keys", "", "token key file")
			staffKeys := fs.String("staff-keys", "", "import: key file of privileged tokens (district_lead, war_room rows), separate from --keys")
			out := fs.String("out", "", "import: tokens CSV to write (mode 0600)")
			salt := fs.String("salt", "", "import: phone-hash salt file, created when missing; give the same file to every import of the night so one person is recognised across organisations and imports")
			validFor := fs.Duration("valid-for", d.ValidFor, "import: how long tokens stay valid")
			skipDups := fs.Bool("skip-duplicates", false, "import: issue a token only to the first listing of a duplicated phone")
			ref := fs.String("ref", "", "import: reference data folder to check every scope against")
			linkBase := fs.String("link-base", "", "import: the form's address (https://...): tokens become personal links that work on the first phone that opens them, and the tokens file gets a link column")
			qrDir := fs.String("qr-dir", "", "import: with --link-base, write each volunteer's link as a PNG QR code in this folder")
			var cf clickhouseFlags
			cf.register(fs, "")
			uncovered := fs.Bool("uncovered", false, "coverage: also list every station no volunteer covers")
			volunteer := fs.String("volunteer", "", "reissue: the volunteer id whose link to replace, as the tokens file (--out) lists it")
			by := fs.String("by", "", "reissue: who asked for it (kept in the event)")
			var kf kafkaFlags
			kf.register(fs, defaultKafka)
			keyID := fs.String("key-id", "", "keygen: id of the new key (default k<unix time>)")
			return func(ctx context.Context, args []string) error {
				if len(args) != 1 || (args[0] != "import" && args[0] != "keygen" && args[0] != "coverage" && args[0] != "reissue") {
					return fmt.Errorf("%w: want `volunteers import ...`, `volunteers coverage`, `volunteers reissue ...` or `volunteers keygen --keys FILE`", errUsage)
				}
				if args[0] == "coverage" {
					if cf.addr == "" {
						cf.addr = defaultClickHouse
					}
					return printCoverage(ctx, cf, *uncovered)
				}
				if *keys == "" {
					return fmt.Errorf("%w: --keys is required", errUsage)
				}
				if args[0] == "reissue" {
					return reissue(ctx, kf, roster.ReissueConfig{
						TokensFile: *out, TokenKeysFile: *keys, VolunteerID: *volunteer,
						LinkBase: *linkBase, QRDir: *qrDir, By: *by,
					})
				}
				if args[0] == "keygen" {
					id := *keyID
					if id == "" {
						id = fmt.Sprintf("k%d", time.Now().Unix())
					}
					return appendKey(*keys, id)
				}
				cfg := roster.DefaultImportConfig()
				for _, r := range strings.Split(*rosters, ",") {
					if r = strings.TrimSpace(r); r != "" {
						cfg.Rosters = append(cfg.Rosters, r)
					}
				}
				cfg.StaffKeysFile = *staffKeys
				cfg.Out, cfg.TokenKeysFile, cfg.SaltFile, cfg.ValidFor, cfg.SkipDuplicates = *out, *keys, *salt, *validFor, *skipDups
				cfg.LinkBase, cfg.QRDir, cfg.Progress = *linkBase, *qrDir, os.Stderr
				if *salt != "" {
					if err := ensureSalt(*salt); err != nil {
						return err
					}
				}
				if len(cfg.Rosters) == 0 || cfg.Out == "" {
					return fmt.Errorf("%w: import needs --roster and --out", errUsage)
				}
				if *ref != "" {
					c, err := loadCountry(*ref)
					if err != nil {
						return err
					}
					cfg.Country = c
				}
				sum, err := roster.Import(cfg)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "volunteers: %d read, %d tokens written to %s (expire %s), %d without phone, %d phone numbers listed more than once, %d skipped\n",
					sum.Volunteers, sum.Issued, cfg.Out, sum.ExpiresAt.Format(time.RFC3339), sum.NoPhone, len(sum.Duplicates), sum.Skipped)
				if sum.QRCodes > 0 {
					fmt.Fprintf(os.Stderr, "volunteers: %d QR codes written to %s (each holds a personal link: send it to that volunteer only)\n", sum.QRCodes, cfg.QRDir)
				}
				if cf.addr != "" {
					if err := writeRoster(ctx, cf, sum, cfg.Country); err != nil {
						return err
					}
				}
				if len(sum.Duplicates) > 0 {
					return roster.WriteDuplicates(os.Stderr, sum.Duplicates)
				}
				return nil
			}
		},
	})
}

func init() {
	upRoles = append(upRoles, upRole{name: "ingest", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		cfg := ingest.DefaultConfig()
		cfg.Listen, cfg.Seeds, cfg.TopicPrefix, cfg.TokenKeysFile = env.listen, env.seeds, env.topicPrefix, env.keysFile
		cfg.Country, cfg.Registry = env.country, env.metrics
		cfg.StaffKeysFile, cfg.ConsoleKeysFile = env.staffKeysFile, env.consoleKeysFile
		cfg.EvidenceDir = filepath.Join(env.dataDir, "evidence")
		cfg.EvidenceLogURL = "http://" + env.logListen
		srv, err := ingest.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		return upStarted{describe: fmt.Sprintf("http://%s (the volunteers' form at /; POST /v1/submissions, /v1/reviews, /v1/official; /metrics, /openapi.json); tokens signed by %s", env.listen, env.keysFile), run: srv.Run}, nil
	}})
}

// appendKey adds a fresh key line to the key file, creating it with mode 0600.
func appendKey(path, id string) error {
	line, err := token.NewKeyLine(id)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return fmt.Errorf("key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("key file %s: %w", path, err)
	}
	fmt.Fprintf(os.Stderr, "key %s appended to %s (now the active key)\n", id, path)
	return nil
}

// ensureSalt creates a salt file of 32 random bytes (hex, mode 0600) when none exists.
func ensureSalt(path string) error {
	if _, err := os.Stat(path); err == nil || !os.IsNotExist(err) {
		return err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("salt: %w", err)
	}
	if err := writeFileAtomic(path, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, hex.EncodeToString(b))
		return err
	}); err != nil {
		return fmt.Errorf("salt: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("salt: %w", err)
	}
	fmt.Fprintf(os.Stderr, "volunteers: new phone-hash salt written to %s; keep it for every import of the night\n", path)
	return nil
}

// writeRoster sends the imported roster (hashes only) to ClickHouse for coverage.
func writeRoster(ctx context.Context, cf clickhouseFlags, sum roster.Summary, country *election.Country) error {
	if country == nil {
		return fmt.Errorf("%w: --clickhouse needs --ref, to place each station in its constituency", errUsage)
	}
	// Coverage counts every station of the reference data, covered or not.
	if err := loadReference(ctx, cf, country); err != nil {
		return err
	}
	opts := cf.options()
	opts.Auth.Database = cf.database
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return fmt.Errorf("volunteers: ClickHouse: %w", err)
	}
	defer conn.Close()
	n, err := roster.WriteRoster(ctx, conn, sum.Entries, country, sum.IssuedAt)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "volunteers: %d roster rows (no names, no phone numbers) written to ClickHouse %s/%s\n", n, cf.addr, cf.database)
	return nil
}

// printCoverage prints per constituency how many stations have 0, 1 and 2+ volunteers.
func printCoverage(ctx context.Context, cf clickhouseFlags, uncovered bool) error {
	opts := cf.options()
	opts.Auth.Database = cf.database
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return fmt.Errorf("volunteers: ClickHouse: %w", err)
	}
	defer conn.Close()
	cov, err := roster.Coverage(ctx, conn)
	if err != nil {
		return err
	}
	if err := roster.WriteCoverage(os.Stdout, cov); err != nil {
		return err
	}
	if !uncovered {
		return nil
	}
	ids, err := roster.UncoveredStations(ctx, conn)
	if err != nil {
		return err
	}
	fmt.Printf("\n%d stations with no volunteer:\n", len(ids))
	for _, id := range ids {
		fmt.Println(id)
	}
	return nil
}

// reissue issues the new link, writes the reissue event to fieldwork.v1 and waits for
// Kafka's acknowledgement, and only then saves the tokens file and prints the link.
func reissue(ctx context.Context, kf kafkaFlags, cfg roster.ReissueConfig) error {
	if cfg.TokensFile == "" || cfg.VolunteerID == "" || cfg.LinkBase == "" {
		return fmt.Errorf("%w: reissue needs --out (the tokens file), --volunteer and --link-base", errUsage)
	}
	r, err := roster.Reissue(cfg)
	if err != nil {
		return err
	}
	rec, err := kgorecord.New(kf.topicPrefix+schemas.TopicFieldwork, &r.Event)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kf.seedList()...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return fmt.Errorf("volunteers: Kafka: %w", err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(pctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("volunteers: the reissue event was not stored in %s, so nothing changed: %w", rec.Topic, err)
	}
	if err := roster.SaveReissued(cfg, r); err != nil {
		fmt.Println(r.Link) // the old links are retired already: the new one must not be lost
		return fmt.Errorf("volunteers: new link printed above, but %w", err)
	}
	fmt.Fprintf(os.Stderr, "volunteers: %s has a new link; their older links stop working at ingest now\n", cfg.VolunteerID)
	fmt.Println(r.Link)
	return nil
}
