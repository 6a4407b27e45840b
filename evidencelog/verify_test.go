package evidencelog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"votestream/evidencelog/tlog"
	"votestream/evidencelog/verify"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// copyDir copies the log's public files (not its state) so a test can alter the copy.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return to
}

// flipByte changes one byte of a file in the middle.
func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerify: `votestream verify`'s checks on a real log built from a night: what is in the
// log verifies, anything altered or forged fails with its outcome, a photo not in the log
// is reported as such.
func TestVerify(t *testing.T) {
	env := testenv.Kafka(t)
	dir, keys, nt, stop, srv := serveNight(t, env, 700)
	get := func(path string) []byte { t.Helper(); return testenv.MustGet(t, srv.URL+path) }
	// The log's public keys as a verifier gets them.
	trust, err := verify.NewTrust(strings.Fields(string(get("/log.pub"))), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep := nt.reports[3]
	repJSON, _ := json.Marshal(rep)
	repBundle := get("/proof/" + schemas.LeafHashHex(schemas.ReportLeaf(rep)))
	photoFile := []byte("photo 8") // makeNight's photo 8 is logged (every fourth)
	photoBundle := get("/photo/" + schemas.SHA256Ref(photoFile))
	receipt, _ := json.Marshal(schemas.Receipt{SubmissionID: rep.SubmissionID, Hash: rep.Hash, ReceivedAt: rep.ReceivedAt, LeafHash: schemas.LeafHashHex(schemas.ReportLeaf(rep))})
	final := get("/checkpoint")
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	expect := func(name string, want error, out string, err error) {
		t.Helper()
		switch {
		case want == nil && err != nil:
			t.Errorf("%s: %v, want OK", name, err)
		case want != nil && !errors.Is(err, want):
			t.Errorf("%s: %v (%q), want %v", name, err, out, want)
		case want == nil && !strings.HasPrefix(out, "OK"):
			t.Errorf("%s: report %q does not start with OK", name, out)
		}
	}

	t.Run("inclusion", func(t *testing.T) {
		out, err := verify.Inclusion(ctx, trust, repBundle, verify.Subject{Report: repJSON}, nil, nil)
		expect("report", nil, out, err)
		out, err = verify.Inclusion(ctx, trust, repBundle, verify.Subject{Receipt: receipt}, nil, nil)
		expect("receipt", nil, out, err)
		out, err = verify.Inclusion(ctx, trust, photoBundle, verify.Subject{Photo: photoFile}, final, nil)
		expect("photo against the final checkpoint", nil, out, err)
		out, err = verify.Inclusion(ctx, trust, photoBundle, verify.Subject{Photo: []byte("another photo")}, nil, nil)
		expect("another photo with this bundle", verify.ErrFailed, out, err)
		other := *rep
		other.Votes = map[string]int{"1": 251, "2": 249}
		otherJSON, _ := json.Marshal(other)
		out, err = verify.Inclusion(ctx, trust, repBundle, verify.Subject{Report: otherJSON}, nil, nil)
		expect("a report whose figures were changed", verify.ErrFailed, out, err)
	})

	t.Run("tampered bundle", func(t *testing.T) {
		var pb tlog.Bundle
		if err := json.Unmarshal(repBundle, &pb); err != nil {
			t.Fatal(err)
		}
		alter := func(f func(*tlog.Bundle)) []byte {
			c := pb
			c.Inclusion = append([]string(nil), pb.Inclusion...)
			f(&c)
			b, _ := json.Marshal(c)
			return b
		}
		for name, b := range map[string][]byte{
			"a proof hash": alter(func(b *tlog.Bundle) { b.Inclusion[0] = strings.Repeat("0", 64) }),
			"the index":    alter(func(b *tlog.Bundle) { b.LeafIndex ^= 1 }),
			"the entry":    alter(func(b *tlog.Bundle) { b.Entry = strings.Replace(b.Entry, "constituency", "partylist", 1) }),
			"the checkpoint's root": alter(func(b *tlog.Bundle) {
				lines := strings.SplitN(b.Checkpoint, "\n", 4)
				lines[2] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
				b.Checkpoint = strings.Join(lines, "\n")
			}),
		} {
			out, err := verify.Inclusion(ctx, trust, b, verify.Subject{}, nil, nil)
			expect("altered "+name, verify.ErrFailed, out, err)
		}
		out, err := verify.Inclusion(ctx, trust, []byte("{not json"), verify.Subject{}, nil, nil)
		expect("not a bundle", verify.ErrUnreadable, out, err)
		// A stranger's key: the same bundle does not verify.
		_, vkey, _ := tlog.GenerateKey(testOrigin)
		stranger, _ := verify.NewTrust([]string{vkey}, nil, 0)
		out, err = verify.Inclusion(ctx, stranger, repBundle, verify.Subject{}, nil, nil)
		expect("another log's key", verify.ErrFailed, out, err)
	})

	t.Run("audit", func(t *testing.T) {
		lg, _ := tlog.OpenLog(dir)
		out, err := verify.Audit(ctx, trust, nil, lg, verify.Subject{Photo: photoFile}, nil)
		expect("the log holds the photo", nil, out, err)
		out, err = verify.Audit(ctx, trust, nil, lg, verify.Subject{Photo: []byte("never uploaded")}, nil)
		expect("a photo not in the log", verify.ErrNotInLog, out, err)
		if verify.ExitCode(err) != 4 {
			t.Errorf("exit code %d for a photo not in the log, want 4", verify.ExitCode(err))
		}

		tileCopy := copyDir(t, dir)
		flipByte(t, filepath.Join(tileCopy, "tile", "0", "000"))
		lg, _ = tlog.OpenLog(tileCopy)
		out, err = verify.Audit(ctx, trust, final, lg, verify.Subject{}, nil)
		expect("a tampered hash tile", verify.ErrFailed, out, err)

		entryCopy := copyDir(t, dir)
		entries, _ := filepath.Glob(filepath.Join(entryCopy, "tile", "entries", "000*"))
		if len(entries) == 0 {
			t.Fatal("no entry bundle")
		}
		flipByte(t, entries[0])
		lg, _ = tlog.OpenLog(entryCopy)
		out, err = verify.Audit(ctx, trust, final, lg, verify.Subject{}, nil)
		expect("a tampered entry bundle", verify.ErrFailed, out, err)
	})

	t.Run("consistency and forks", func(t *testing.T) {
		lg, _ := tlog.OpenLog(dir)
		cp, err := tlog.Open(final, keys.Verifiers, nil)
		if err != nil {
			t.Fatal(err)
		}
		sign := func(size uint64, root []byte) []byte {
			body := fmt.Sprintf("%s\n%d\n%s\n", testOrigin, size, base64.StdEncoding.EncodeToString(root))
			b, err := note.Sign(&note.Note{Text: body}, keys.Primary)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		// An honest older checkpoint: the tree of the first 100 leaves, from the entries.
		olderRoot := rootOf(t, lg, 100, cp.Size)
		out, err := verify.Consistency(ctx, trust, sign(100, olderRoot), final, lg)
		expect("an older checkpoint and the final one", nil, out, err)
		// A log that rewrote its first 100 leaves signs a root the final one does not extend.
		out, err = verify.Consistency(ctx, trust, sign(100, bytes.Repeat([]byte{9}, 32)), final, lg)
		expect("a rewritten history", verify.ErrFailed, out, err)
		// Two checkpoints of one size with different roots: a fork.
		out, err = verify.Consistency(ctx, trust, sign(cp.Size, bytes.Repeat([]byte{9}, 32)), final, nil)
		expect("a fork", verify.ErrFailed, out, err)
		if err == nil || !strings.Contains(err.Error(), "FORK") {
			t.Errorf("a fork is not called one: %v", err)
		}
		out, err = verify.Consistency(ctx, trust, sign(100, olderRoot), final, nil)
		expect("sizes differ and no log", verify.ErrUnreadable, out, err)
	})
}

// rootOf computes the root of the first n leaves of a log of size from its entries.
func rootOf(t *testing.T, lg tlog.Log, n, size uint64) []byte {
	t.Helper()
	recs, err := leafRecordsFromLog(context.Background(), lg.ReadEntryBundle, 0, n, size)
	if err != nil {
		t.Fatal(err)
	}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for i := 0; i < len(recs); i += indexRecord {
		if err := r.Append(recs[i:i+32], nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestEstimateLeafProvenance: an estimate's leaf names the estimator's version and settings
// hash when the record carries them.
func TestEstimateLeafProvenance(t *testing.T) {
	est := schemas.Estimate{EstimateID: "e-1842", DataTime: time.Date(2023, 5, 14, 11, 42, 0, 0, time.UTC),
		EstimatorVersion: "votestream@v1.2.3 abc", ConfigHash: "sha256:" + strings.Repeat("0", 64)}
	rec, err := kgorecord.New(schemas.TopicEstimates, est)
	if err != nil {
		t.Fatal(err)
	}
	leaf, ok := estimateLeaf(rec)
	want := `{"kind":"estimate.v1","record":"` + schemas.SHA256Ref(rec.Value) + `","estimate_id":"e-1842","data_time":"2023-05-14T11:42:00Z","estimator_version":"votestream@v1.2.3 abc","config_hash":"sha256:` + strings.Repeat("0", 64) + `"}`
	if !ok || string(leaf) != want {
		t.Errorf("leaf %s, want %s", leaf, want)
	}
}
