package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"votestream/evidencelog"
	"votestream/evidencelog/tlog"
	"votestream/schemas"
)

func init() {
	register(&command{
		name:    "evidencelog",
		summary: "keep the transparency log of every report, photo, review, official figure and estimate, with signed checkpoints",
		usage: `[keygen --key FILE --origin NAME]

  keygen  appends a fresh Ed25519 signing key named NAME (the log's origin, e.g.
          votestream.example.org/log) to FILE (created 0600; the last key is the primary,
          every key signs: that is how a key rotates) and writes its public key to FILE.pub`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := evidencelog.DefaultConfig()
			var rf roleFlags
			rf.registerNoRef(fs, "127.0.0.1:9106")
			fs.StringVar(&cfg.Dir, "dir", cfg.Dir, "the log's folder: its C2SP tlog-tiles files, served as they are, and the role's state")
			fs.StringVar(&cfg.KeyFile, "key", "", "signing key file (`votestream evidencelog keygen`); required")
			fs.StringVar(&cfg.WitnessKeysFile, "witness-keys", "", "public keys of the witnesses whose cosignatures the log accepts and publishes, one a line")
			fs.Func("witness-url", "a witness to push each new checkpoint to (C2SP tlog-witness, <URL>/add-checkpoint; its key in --witness-keys); repeat for several", func(v string) error {
				cfg.WitnessURLs = append(cfg.WitnessURLs, v)
				return nil
			})
			rf.groupFlag(fs, "evidencelog", "Kafka consumer group")
			fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP address of the log's public files and proofs; empty serves nothing")
			fs.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", cfg.CheckpointInterval, "how often a checkpoint is signed while the log grows")
			fs.UintVar(&cfg.BatchMaxSize, "batch", cfg.BatchMaxSize, "most leaves handed to Tessera in one batch (everything read while the previous batch was written, up to this)")
			fs.DurationVar(&cfg.BatchMaxAge, "batch-age", cfg.BatchMaxAge, "longest Tessera waits for a batch to fill before writing it")
			fs.IntVar(&cfg.MaxPollRecords, "max-poll", cfg.MaxPollRecords, "most Kafka records per round (integrated, then committed)")
			fs.BoolVar(&cfg.PublishCheckpoints, "publish", cfg.PublishCheckpoints, "produce every checkpoint to checkpoints.v1")
			var cf clickhouseFlags
			cf.register(fs, "")
			fs.StringVar(&cfg.EvidenceDir, "evidence-dir", cfg.EvidenceDir, "ingest's evidence folder, read for the photos of station pages")
			s3Parsed := evidenceS3Flags(fs, &cfg.EvidenceS3, "read station pages' photos from ingest's S3-compatible bucket (host:port) instead of --evidence-dir (read access is enough)")
			fs.StringVar(&cfg.TakedownFile, "takedowns", "", "file of photos withdrawn from station pages, one `sha256:<hex> reason` a line, re-read when it changes")
			pollsCloseFlag(fs, &cfg.PollsClose, "when station pages open to the public")
			origin := fs.String("origin", "", "keygen: the log's name, first line of its checkpoints")
			return func(ctx context.Context, args []string) error {
				if len(args) == 1 && args[0] == "keygen" {
					if cfg.KeyFile == "" || *origin == "" {
						return fmt.Errorf("%w: keygen needs --key and --origin", errUsage)
					}
					vkey, err := appendNoteKey(cfg.KeyFile, *origin)
					if err != nil {
						return err
					}
					fmt.Println(vkey)
					return nil
				}
				if err := noArgs(args); err != nil {
					return err
				}
				cfg.Seeds, cfg.TopicPrefix, cfg.Group = rf.seeds(), rf.topicPrefix(), rf.consumerGroup()
				s3Parsed()
				cfg.ClickHouseAddr, cfg.ClickHouseDatabase, cfg.ClickHouseUser, cfg.ClickHousePassword = cf.addr, cf.database, cf.user, cf.password
				reg := newRegistry()
				cfg.Registerer = reg
				l, err := evidencelog.New(cfg)
				if err != nil {
					return configError(err, evidencelog.ErrConfig)
				}
				return rf.serveReady(ctx, reg, l.Health, l.Run)
			}
		},
	})
	upRoles = append(upRoles, upRole{name: "evidencelog", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		cfg := evidencelog.DefaultConfig()
		cfg.Seeds, cfg.TopicPrefix, cfg.Listen = env.seeds, env.topicPrefix, env.logListen
		cfg.Group = schemas.ConsumerGroup(env.topicPrefix, "evidencelog")
		cfg.Dir = filepath.Join(env.dataDir, "evidencelog")
		cfg.KeyFile = filepath.Join(env.dataDir, "evidencelog.key")
		if err := upLogKey(cfg.KeyFile); err != nil {
			return upStarted{}, err
		}
		var err error
		// up runs a witness of its own (cmd_witness.go), so the demo log gets cosigned.
		if cfg.WitnessKeysFile, err = upWitnessKey(env.dataDir); err != nil {
			return upStarted{}, err
		}
		wl, err := upWitnessListen(env.logListen)
		if err != nil {
			return upStarted{}, err
		}
		cfg.WitnessURLs = []string{"http://" + wl}
		// Station pages (from ClickHouse; photos from ingest's folder) when up has ClickHouse.
		pages := ""
		if env.clickhouse.addr != "" {
			cfg.ClickHouseAddr, cfg.ClickHouseDatabase = env.clickhouse.addr, env.clickhouse.database
			cfg.ClickHouseUser, cfg.ClickHousePassword = env.clickhouse.user, env.clickhouse.password
			cfg.EvidenceDir = filepath.Join(env.dataDir, "evidence")
			pages = "; station pages at /station/<id>"
		}
		cfg.Registerer = env.metrics
		l, err := evidencelog.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		return upStarted{
			describe: fmt.Sprintf("http://%s/checkpoint (C2SP tlog-tiles, proofs at /proof/<leaf hash>%s); log in %s, public key %s.pub", cfg.Listen, pages, cfg.Dir, cfg.KeyFile),
			run:      l.Run,
			ready:    l.Health,
		}, nil
	}})
}

// upLogKey creates up's log key when missing.
func upLogKey(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		_, err := appendNoteKey(path, "votestream.localhost/log")
		return err
	}
	return nil
}

// upWitnessKey creates up's witness key (<data>/witness.key) and the log's file of witness
// public keys (<data>/witnesses.pub) when missing, and returns the latter.
func upWitnessKey(dataDir string) (string, error) {
	key, pub := filepath.Join(dataDir, "witness.key"), filepath.Join(dataDir, "witnesses.pub")
	if _, err := os.Stat(pub); err == nil {
		return pub, nil
	}
	skey, vkey, err := tlog.GenerateKey("witness.localhost")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(key, []byte(skey+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("witness key: %w", err)
	}
	if err := os.WriteFile(pub, []byte(vkey+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("witness key: %w", err)
	}
	return pub, nil
}

// appendNoteKey adds a fresh Ed25519 note signing key named name to the key file (created
// 0600), writes the public keys of every key in it to <file>.pub, and returns the new one.
func appendNoteKey(path, name string) (string, error) {
	skey, vkey, err := tlog.GenerateKey(name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errUsage, err)
	}
	if old, err := tlog.LoadSigners(path); err == nil && old.Primary.Name() != name {
		return "", fmt.Errorf("%w: %s holds keys named %q: every key of one log has its origin as name", errUsage, path, old.Primary.Name())
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("key file: %w", err)
	}
	if _, err := fmt.Fprintln(f, skey); err != nil {
		f.Close()
		return "", fmt.Errorf("key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("key file %s: %w", path, err)
	}
	all, err := tlog.LoadSigners(path)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path+".pub", []byte(strings.Join(all.PublicKeys, "\n")+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("public key file: %w", err)
	}
	fmt.Fprintf(os.Stderr, "evidencelog: key appended to %s (now the primary); public keys in %s.pub\n", path, path)
	return vkey, nil
}
