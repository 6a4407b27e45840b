package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"votestream/evidencelog/tlog"
	"votestream/evidencelog/verify"
)

// verifyError carries verify's exit status through run.
type verifyError struct{ err error }

func (e verifyError) Error() string { return e.err.Error() }
func (e verifyError) Unwrap() error { return e.err }
func (e verifyError) ExitCode() int { return verify.ExitCode(e.err) }

func init() {
	register(&command{
		name:    "verify",
		summary: "check offline that a report, photo or receipt is in the transparency log, and that checkpoints are consistent",
		usage: `--log-key FILE (--bundle FILE [--photo F|--report F|--receipt F] [--checkpoint F [--log L]]
                    | --old FILE --new FILE --log L | --log L [--checkpoint F] [--photo F|--report F|--receipt F])

Three checks, all offline but for --log given as a URL:
  inclusion    --bundle: the proof bundle (GET /proof/<leaf hash> or /photo/sha256:<hex> of the
               log) verifies against its signed checkpoint, and is the proof of the photo file,
               report JSON or receipt given. With --checkpoint (e.g. the night's final one, as
               a newsroom cites it) the bundle's checkpoint must be that tree or a prefix of it
               (a prefix needs --log for the consistency proof).
  consistency  --old and --new: two checkpoints of the log, the newer extending the older;
               two of one size with different roots are a fork.
  audit        --log alone: every entry and tile of the log's files (a folder copy or URL)
               adds up to the checkpoint; with --photo/--report/--receipt, where it is.

Exit status: 0 verified; 1 FAILED (altered, forged, inconsistent, too few witnesses, not the
leaf named); 2 bad usage; 3 cannot check (unreadable input, log unreachable); 4 the audited
log does not hold the photo, report or receipt.`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			logKey := fs.String("log-key", "", "the log's public keys, one a line (GET /log.pub); required")
			witnessKeys := fs.String("witness-keys", "", "public keys of the witnesses you trust, one a line")
			quorum := fs.Int("quorum", 0, "how many of --witness-keys must have cosigned the checkpoint")
			bundle := fs.String("bundle", "", "proof bundle JSON to check")
			photo := fs.String("photo", "", "photo file that must be the proven leaf")
			report := fs.String("report", "", "report JSON (with submission_id and received_at) that must be the proven leaf")
			receipt := fs.String("receipt", "", "ingest's receipt JSON whose leaf_hash must be the proven leaf")
			checkpoint := fs.String("checkpoint", "", "a signed checkpoint file: the tree to check against (default for audit: the log's newest)")
			older := fs.String("old", "", "consistency: the older checkpoint file")
			newer := fs.String("new", "", "consistency: the newer checkpoint file")
			logLoc := fs.String("log", "", "the log's files: a folder copy, or its URL (http(s)://host/...)")
			return func(ctx context.Context, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if *logKey == "" {
					return fmt.Errorf("%w: --log-key is required (the log's public keys, from GET /log.pub)", errUsage)
				}
				subjects := 0
				for _, s := range []string{*photo, *report, *receipt} {
					if s != "" {
						subjects++
					}
				}
				if subjects > 1 {
					return fmt.Errorf("%w: give at most one of --photo, --report, --receipt", errUsage)
				}
				mode := ""
				switch {
				case *bundle != "" && *older == "" && *newer == "":
					mode = "inclusion"
				case *older != "" && *newer != "" && *bundle == "":
					mode = "consistency"
				case *bundle == "" && *older == "" && *newer == "" && *logLoc != "":
					mode = "audit"
				default:
					return fmt.Errorf("%w: give --bundle, or --old and --new, or --log alone (see --help)", errUsage)
				}
				r, err := runVerify(ctx, mode, verifyInputs{
					logKey: *logKey, witnessKeys: *witnessKeys, quorum: *quorum, bundle: *bundle,
					photo: *photo, report: *report, receipt: *receipt, checkpoint: *checkpoint,
					older: *older, newer: *newer, log: *logLoc,
				})
				fmt.Print(r)
				if err != nil {
					return verifyError{err}
				}
				return nil
			}
		},
	})
}

type verifyInputs struct {
	logKey, witnessKeys                        string
	quorum                                     int
	bundle, photo, report, receipt, checkpoint string
	older, newer, log                          string
}

func runVerify(ctx context.Context, mode string, in verifyInputs) (string, error) {
	read := func(path, what string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", verify.ErrUnreadable, what, err)
		}
		return b, nil
	}
	logKeys, err := tlog.LoadVerifiers(in.logKey)
	if err != nil {
		return "", fmt.Errorf("%w: %w", verify.ErrUnreadable, err)
	}
	var wkeys []string
	if in.witnessKeys != "" {
		if wkeys, err = tlog.LoadVerifiers(in.witnessKeys); err != nil {
			return "", fmt.Errorf("%w: %w", verify.ErrUnreadable, err)
		}
	}
	trust, err := verify.NewTrust(logKeys, wkeys, in.quorum)
	if err != nil {
		return "", err
	}
	var s verify.Subject
	var errs []error
	var b []byte
	b, err = read(in.photo, "photo")
	s.Photo, errs = b, append(errs, err)
	b, err = read(in.report, "report")
	s.Report, errs = b, append(errs, err)
	b, err = read(in.receipt, "receipt")
	s.Receipt, errs = b, append(errs, err)
	cp, err := read(in.checkpoint, "checkpoint")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	var lg tlog.Log
	if in.log != "" {
		if lg, err = tlog.OpenLog(in.log); err != nil {
			return "", fmt.Errorf("%w: %w", verify.ErrUnreadable, err)
		}
	}
	switch mode {
	case "inclusion":
		bundle, err := read(in.bundle, "bundle")
		if err != nil {
			return "", err
		}
		return verify.Inclusion(ctx, trust, bundle, s, cp, lg)
	case "consistency":
		o, err := read(in.older, "older checkpoint")
		if err != nil {
			return "", err
		}
		n, err := read(in.newer, "newer checkpoint")
		if err != nil {
			return "", err
		}
		return verify.Consistency(ctx, trust, o, n, lg)
	default:
		return verify.Audit(ctx, trust, cp, lg, s, func(done, total uint64) {
			if done%(64*1024) < 256 || done == total {
				fmt.Fprintf(os.Stderr, "verify: %d of %d entries read\n", done, total)
			}
		})
	}
}
