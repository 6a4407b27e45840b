package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"votestream/evidencelog/tlog"
	"votestream/witness"
)

func init() {
	upRoles = append(upRoles, upRole{name: "witness", start: func(ctx context.Context, env upEnv) (upStarted, error) {
		cfg := witness.DefaultConfig()
		var err error
		logKey := filepath.Join(env.dataDir, "evidencelog.key")
		if err := upLogKey(logKey); err != nil {
			return upStarted{}, err
		}
		if _, err := upWitnessKey(env.dataDir); err != nil {
			return upStarted{}, err
		}
		cfg.LogURL, cfg.LogKeysFile = "http://"+env.logListen, logKey+".pub"
		if cfg.Listen, err = upWitnessListen(env.logListen); err != nil {
			return upStarted{}, err
		}
		cfg.KeyFile, cfg.StateFile = filepath.Join(env.dataDir, "witness.key"), filepath.Join(env.dataDir, "witness", "state")
		cfg.Registerer = env.metrics
		w, err := witness.New(cfg)
		if err != nil {
			return upStarted{}, err
		}
		return upStarted{describe: "a local witness (" + w.Name() + ") taking the checkpoints " + cfg.LogURL + " pushes to http://" + cfg.Listen + "/add-checkpoint, and fetching one every " + cfg.Interval.String() + " (partners run their own: docs/evidence-log.md)", run: w.Run}, nil
	}})
	register(&command{
		name:    "witness",
		summary: "cosign the transparency log's checkpoints after checking each extends the last (run by a partner organisation)",
		usage: `[keygen --key FILE --name NAME]

  keygen  writes a fresh Ed25519 witness key named NAME (e.g. witness.example.org) to FILE
          (created 0600, refused if it exists) and prints the public key to give the log's
          operators (their --witness-keys file) and to verifiers (verify --witness-keys)

Exits 1 with the evidence written beside --state when the log forks.`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			cfg := witness.DefaultConfig()
			fs.StringVar(&cfg.LogURL, "log", "", "the log's public address, e.g. https://log.example.org; required")
			fs.StringVar(&cfg.LogKeysFile, "log-key", "", "the log's public keys (GET /log.pub, checked out of band); required")
			fs.StringVar(&cfg.KeyFile, "key", "", "this witness's private key file; required")
			fs.StringVar(&cfg.StateFile, "state", cfg.StateFile, "file of the last checkpoint cosigned (fork evidence goes beside it)")
			fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "time between two checks")
			fs.BoolVar(&cfg.Post, "post", cfg.Post, "post each cosignature of a fetched checkpoint to the log")
			fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP address where the log pushes checkpoints (C2SP tlog-witness POST /add-checkpoint); empty: fetch only")
			metrics := fs.String("metrics", "127.0.0.1:9107", "address serving Prometheus /metrics; empty disables")
			name := fs.String("name", "", "keygen: the witness's name")
			return func(ctx context.Context, args []string) error {
				if len(args) == 1 && args[0] == "keygen" {
					if cfg.KeyFile == "" || *name == "" {
						return fmt.Errorf("%w: keygen needs --key and --name", errUsage)
					}
					skey, vkey, err := tlog.GenerateKey(*name)
					if err != nil {
						return fmt.Errorf("%w: %v", errUsage, err)
					}
					f, err := os.OpenFile(cfg.KeyFile, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
					if err != nil {
						return fmt.Errorf("witness key: %w", err)
					}
					if _, err := fmt.Fprintln(f, skey); err != nil {
						f.Close()
						return fmt.Errorf("witness key: %w", err)
					}
					if err := f.Close(); err != nil {
						return fmt.Errorf("witness key: %w", err)
					}
					fmt.Println(vkey)
					return nil
				}
				if err := noArgs(args); err != nil {
					return err
				}
				reg := newRegistry()
				cfg.Registerer = reg
				w, err := witness.New(cfg)
				if err != nil {
					return configError(err, witness.ErrConfig)
				}
				return withMetrics(ctx, *metrics, reg, w.Run)
			}
		},
	})
}

// upWitnessListen is where up's witness takes pushed checkpoints: the log's host, the next
// port (127.0.0.1:8096 by default).
func upWitnessListen(logListen string) (string, error) {
	host, port, err := net.SplitHostPort(logListen)
	if err != nil {
		return "", fmt.Errorf("%w: --log-listen %q: %v", errUsage, logListen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p >= 65535 {
		return "", fmt.Errorf("%w: --log-listen %q: a fixed port is needed (the witness listens on the next one)", errUsage, logListen)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1)), nil
}
