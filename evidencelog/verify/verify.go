// Package verify is what `votestream verify` checks, offline, for anyone: that a report, a
// photo or a receipt is in the transparency log (a proof bundle against a signed
// checkpoint, optionally cosigned by enough witnesses), that two checkpoints are consistent
// (one log, append-only), and that a copy of the log's files adds up to a checkpoint.
//
// It trusts nothing it is given but the log's public keys and the witnesses' keys. Each
// failure wraps one of the sentinel errors below, which ExitCode maps onto the command's
// exit status.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"votestream/evidencelog/tlog"
	"votestream/schemas"
)

// Outcomes other than success. Exit codes: 1 Failed, 2 (usage, in cmd), 3 Unreadable,
// 4 NotInLog.
var (
	// ErrFailed: the evidence does not verify: an altered proof, entry, tile or checkpoint,
	// a checkpoint not signed by the log, two inconsistent checkpoints, too few witnesses,
	// or a leaf that is not the one the report, photo or receipt names.
	ErrFailed = errors.New("verify: FAILED")
	// ErrUnreadable: an input is not what it should be (not a bundle, not a checkpoint,
	// not a report), or the log's files cannot be read.
	ErrUnreadable = errors.New("verify: cannot check")
	// ErrNotInLog: the log's files were read in full and the leaf is not among them.
	ErrNotInLog = errors.New("verify: NOT IN THE LOG")
)

// ExitCode is the exit status for an error of this package: 0 for nil.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrNotInLog):
		return 4
	case errors.Is(err, ErrUnreadable):
		return 3
	default:
		return 1
	}
}

// Trust is what a verifier trusts: the log's public keys and, optionally, witnesses and how
// many of them must have cosigned.
type Trust struct {
	Log       []note.Verifier
	Witnesses []note.Verifier
	Quorum    int
}

// NewTrust reads the log's public key lines and the witnesses' (which may be empty).
func NewTrust(logKeys, witnessKeys []string, quorum int) (Trust, error) {
	var t Trust
	var err error
	if len(logKeys) == 0 {
		return t, fmt.Errorf("%w: no public key of the log", ErrUnreadable)
	}
	if t.Log, err = tlog.LogVerifiers(logKeys); err != nil {
		return t, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if t.Witnesses, err = tlog.WitnessVerifiers(witnessKeys); err != nil {
		return t, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if quorum < 0 || quorum > len(witnessKeys) {
		return t, fmt.Errorf("%w: a quorum of %d out of %d witness keys", ErrUnreadable, quorum, len(witnessKeys))
	}
	t.Quorum = quorum
	return t, nil
}

// Checkpoint opens a signed checkpoint and applies the quorum.
func (t Trust) Checkpoint(raw []byte) (*tlog.Checkpoint, error) {
	cp, err := tlog.Open(raw, t.Log, t.Witnesses)
	if err != nil {
		if errors.Is(err, tlog.ErrSignature) {
			return nil, fmt.Errorf("%w: %w", ErrFailed, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if err := tlog.RequireQuorum(cp, t.Quorum); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	return cp, nil
}

// Subject is what a proof bundle must be about; at most one field is set. With none, the
// bundle is checked on its own (its entry against its leaf hash).
type Subject struct {
	Photo   []byte // the photo file's bytes
	Report  []byte // a report as JSON (submissions.v1 value, or the ClickHouse row's JSON)
	Receipt []byte // ingest's receipt JSON, naming the leaf hash
}

// Leaf returns the leaf hash the subject stands for, and a line saying what it is.
func (s Subject) Leaf() (hash [32]byte, what string, err error) {
	switch {
	case s.Photo != nil:
		sum := sha256.Sum256(s.Photo)
		ref := "sha256:" + hex.EncodeToString(sum[:])
		return schemas.LeafHash(schemas.PhotoLeaf(ref)), "photo " + ref, nil
	case s.Report != nil:
		var rep schemas.Report
		if err := json.Unmarshal(s.Report, &rep); err != nil {
			return hash, "", fmt.Errorf("%w: the report is not JSON of a report: %v", ErrUnreadable, err)
		}
		if rep.SubmissionID == "" || rep.ReceivedAt.IsZero() {
			return hash, "", fmt.Errorf("%w: the report lacks submission_id or received_at (the receipt's)", ErrUnreadable)
		}
		// The hash the log holds is of the figures; recompute it rather than trust a copy.
		computed := schemas.CanonicalHash(rep.Submission)
		if rep.Hash != "" && rep.Hash != computed {
			return hash, "", fmt.Errorf("%w: the report's figures hash to %s, not to the hash it carries (%s): it was altered", ErrFailed, computed, rep.Hash)
		}
		rep.Hash = computed
		return schemas.LeafHash(schemas.ReportLeaf(&rep)), fmt.Sprintf("report %s of station %s (%s, %s)", rep.SubmissionID, rep.StationID, rep.Ballot, rep.Stage), nil
	case s.Receipt != nil:
		var rc schemas.Receipt
		if err := json.Unmarshal(s.Receipt, &rc); err != nil {
			return hash, "", fmt.Errorf("%w: the receipt is not JSON: %v", ErrUnreadable, err)
		}
		h, ok := schemas.ParseLeafHashHex(rc.LeafHash)
		if !ok {
			return hash, "", fmt.Errorf("%w: the receipt has no leaf_hash (issued before the log existed?)", ErrUnreadable)
		}
		return h, "receipt of " + rc.SubmissionID, nil
	}
	return hash, "", nil
}

// Inclusion checks a proof bundle offline: the checkpoint's signature and quorum, the audit
// path, the entry against the leaf hash, and that the leaf is the subject's. When later is
// set (a checkpoint the verifier trusts, e.g. the night's final one) the bundle's
// checkpoint must be the same tree or, with log to build the proof, a prefix of it.
// It returns a report for people.
func Inclusion(ctx context.Context, t Trust, bundle []byte, s Subject, later []byte, log tlog.Log) (string, error) {
	pb, err := tlog.ParseBundle(bundle)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	cp, err := pb.Verify(t.Log, t.Witnesses)
	if err != nil {
		if errors.Is(err, tlog.ErrCheckpoint) {
			return "", fmt.Errorf("%w: %w", ErrUnreadable, err)
		}
		return "", fmt.Errorf("%w: %w", ErrFailed, err)
	}
	if err := tlog.RequireQuorum(cp, t.Quorum); err != nil {
		return "", fmt.Errorf("%w: %w", ErrFailed, err)
	}
	want, what, err := s.Leaf()
	if err != nil {
		return "", err
	}
	if what != "" && hex.EncodeToString(want[:]) != strings.ToLower(pb.LeafHash) {
		return "", fmt.Errorf("%w: the bundle proves leaf %s, but the %s is leaf %x", ErrFailed, pb.LeafHash, what, want)
	}
	if what == "" {
		what = "leaf " + pb.LeafHash
	}
	var b strings.Builder
	fmt.Fprintf(&b, "OK: %s is leaf %d of log %s\n", what, pb.LeafIndex, cp.Origin)
	fmt.Fprintf(&b, "    proven against the checkpoint of %d leaves, root %x\n", cp.Size, cp.Root)
	if len(cp.Cosigners) > 0 {
		fmt.Fprintf(&b, "    cosigned by %s\n", strings.Join(cp.Cosigners, ", "))
	}
	if pb.Entry != "" {
		fmt.Fprintf(&b, "    entry: %s\n", pb.Entry)
	}
	if later != nil {
		lcp, err := t.Checkpoint(later)
		if err != nil {
			return "", err
		}
		line, err := consistent(ctx, cp, lcp, log)
		if err != nil {
			return "", err
		}
		b.WriteString(line)
	}
	return b.String(), nil
}

// Consistency checks that the tree of the newer checkpoint extends the older's: both signed
// by the log, the proof built from log's tiles (needed unless the sizes are equal).
func Consistency(ctx context.Context, t Trust, older, newer []byte, log tlog.Log) (string, error) {
	a, err := t.Checkpoint(older)
	if err != nil {
		return "", err
	}
	b, err := t.Checkpoint(newer)
	if err != nil {
		return "", err
	}
	if a.Size > b.Size {
		a, b = b, a
	}
	return consistent(ctx, a, b, log)
}

func consistent(ctx context.Context, a, b *tlog.Checkpoint, log tlog.Log) (string, error) {
	if a.Size == b.Size {
		if a.Root != b.Root {
			// Two signed trees of one size: the log showed different people different logs.
			return "", fmt.Errorf("%w: FORK: two checkpoints of %d leaves with different roots (%x, %x), both signed by the log", ErrFailed, a.Size, a.Root, b.Root)
		}
		return fmt.Sprintf("OK: the checkpoints of %d leaves are the same tree\n", a.Size), nil
	}
	if log == nil {
		return "", fmt.Errorf("%w: checkpoints of %d and %d leaves: a consistency proof needs the log's tiles (--log)", ErrUnreadable, a.Size, b.Size)
	}
	path, err := tlog.ConsistencyProof(ctx, log, a.Size, b.Size)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if err := tlog.VerifyConsistency(a, b, path); err != nil {
		return "", fmt.Errorf("%w: %w", ErrFailed, err)
	}
	return fmt.Sprintf("OK: the log of %d leaves (root %x) extends the log of %d leaves (root %x): nothing was changed or removed\n", b.Size, b.Root, a.Size, a.Root), nil
}

// Audit reads every entry and tile of the log's files up to the checkpoint and checks that
// they add up to it; with a subject it also says where the subject's leaf is, or fails with
// ErrNotInLog. progress may be nil.
func Audit(ctx context.Context, t Trust, checkpoint []byte, log tlog.Log, s Subject, progress func(done, total uint64)) (string, error) {
	if checkpoint == nil {
		raw, err := log.ReadCheckpoint(ctx)
		if err != nil {
			return "", fmt.Errorf("%w: the log's checkpoint: %w", ErrUnreadable, err)
		}
		checkpoint = raw
	}
	cp, err := t.Checkpoint(checkpoint)
	if err != nil {
		return "", err
	}
	want, what, err := s.Leaf()
	if err != nil {
		return "", err
	}
	var find *[32]byte
	if what != "" {
		find = &want
	}
	var prog func(uint64)
	if progress != nil {
		prog = func(done uint64) { progress(done, cp.Size) }
	}
	res, err := tlog.Audit(ctx, log, cp, find, prog)
	if err != nil {
		if errors.Is(err, tlog.ErrAudit) {
			return "", fmt.Errorf("%w: %w", ErrFailed, err)
		}
		return "", fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "OK: the log's %d entries and %d tiles add up to the checkpoint of %s (root %x)\n", res.Leaves, res.Tiles, cp.Origin, cp.Root)
	if find != nil {
		if res.Found < 0 {
			return b.String(), fmt.Errorf("%w: the %s (leaf %x) is not among the %d entries", ErrNotInLog, what, want, res.Leaves)
		}
		fmt.Fprintf(&b, "OK: the %s is leaf %d\n", what, res.Found)
	}
	return b.String(), nil
}
