package evidencelog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"votestream/evidencelog/tlog"
	"votestream/evidencelog/verify"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/witness"
)

// TestWitness: a witness cosigns the log's checkpoints as it grows, the log publishes the
// cosignatures (a proof bundle then meets a quorum of one), and a forked or rolled-back
// checkpoint signed by the log is caught, kept as evidence and never cosigned.
func TestWitness(t *testing.T) {
	env := testenv.Kafka(t)
	dir, keysDir := t.TempDir(), t.TempDir()
	keyFile, keys := testKeys(t, keysDir)
	wskey, wvkey, err := tlog.GenerateKey("witness.example.org")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(keysDir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := testConfig(env, dir, keyFile, "g")
	cfg.WitnessKeysFile = write("witnesses", wvkey+"\n")
	nt := makeNight(t, env, 400)
	half := len(nt.records) / 2
	produce(t, env, nt.records[:half])
	l, stop := start(t, cfg)
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	firstLeaves := map[string]bool{}
	for _, leaf := range nt.leafOf[:half] {
		firstLeaves[leaf] = true
	}
	waitSize(t, dir, uint64(len(firstLeaves)), time.Minute)
	waitServed(t, l, uint64(len(firstLeaves)))

	wcfg := witness.DefaultConfig()
	wcfg.LogURL, wcfg.LogKeysFile = srv.URL, write("log.pub", strings.Join(keys.PublicKeys, "\n")+"\n")
	wcfg.KeyFile, wcfg.StateFile = write("witness.key", wskey+"\n"), filepath.Join(t.TempDir(), "state")
	wcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := witness.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := w.Check(ctx)
	if err != nil || first == nil {
		t.Fatalf("first check: %v", err)
	}
	witnesses, _ := tlog.WitnessVerifiers([]string{wvkey})
	get := func(path string) []byte { t.Helper(); return testenv.MustGet(t, srv.URL+path) }
	cosigned, err := tlog.Open(get("/cosigned-checkpoint"), keys.Verifiers, witnesses)
	if err != nil || len(cosigned.Cosigners) != 1 || cosigned.Cosigners[0] != "witness.example.org" {
		t.Fatalf("published cosigned checkpoint: %+v %v", cosigned, err)
	}
	// A proof bundle served now carries the cosignature: a quorum of one holds.
	trust, _ := verify.NewTrust(keys.PublicKeys, []string{wvkey}, 1)
	bundle := get(fmt.Sprintf("/proof/%s?size=%d", schemas.LeafHashHex([]byte(nt.leafOf[0])), cosigned.Size))
	if out, err := verify.Inclusion(ctx, trust, bundle, verify.Subject{}, nil, nil); err != nil {
		t.Errorf("bundle with a quorum of one: %v %s", err, out)
	}
	// Unchanged log: nothing new to cosign.
	if again, err := w.Check(ctx); err != nil || again != nil {
		t.Errorf("second check of the same checkpoint: %v, %d bytes", err, len(again))
	}

	// The log grows: the witness checks consistency and cosigns the new checkpoint.
	produce(t, env, nt.records[half:])
	waitSize(t, dir, uint64(len(nt.leaves)), time.Minute)
	if grown, err := w.Check(ctx); err != nil || grown == nil {
		t.Fatalf("check after growth: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// The log (its key) signs another tree of the size the witness last cosigned: a fork.
	last, _ := tlog.Open(get("/checkpoint"), keys.Verifiers, nil)
	forge := func(size uint64) []byte {
		body := fmt.Sprintf("%s\n%d\n%s\n", testOrigin, size, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)))
		b, err := note.Sign(&note.Note{Text: body}, keys.Primary)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := w.Offer(ctx, forge(last.Size)); !errors.Is(err, witness.ErrFork) {
		t.Fatalf("a forked checkpoint: %v, want ErrFork", err)
	}
	if _, err := w.Offer(ctx, forge(last.Size-1)); !errors.Is(err, witness.ErrFork) {
		t.Fatalf("a rolled-back checkpoint: %v, want ErrFork", err)
	}
	// The evidence convinces anyone: verify calls it a fork.
	prefix := fmt.Sprintf("-%d-vs-%d-", last.Size, last.Size)
	seenFiles, _ := filepath.Glob(filepath.Join(filepath.Dir(wcfg.StateFile), "fork-*"+prefix+"seen"))
	if len(seenFiles) != 1 {
		t.Fatalf("fork evidence %v, want one pair of notes for the fork", seenFiles)
	}
	seen, err1 := os.ReadFile(seenFiles[0])
	forked, err2 := os.ReadFile(strings.TrimSuffix(seenFiles[0], "seen") + "new")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	plain, _ := verify.NewTrust(keys.PublicKeys, nil, 0)
	if _, err := verify.Consistency(ctx, plain, seen, forked, nil); !errors.Is(err, verify.ErrFailed) || !strings.Contains(err.Error(), "FORK") {
		t.Errorf("verify on the fork evidence: %v, want FAILED: FORK", err)
	}
	// The state still holds the honest checkpoint: a restarted witness keeps refusing.
	w2, err := witness.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Offer(ctx, forge(last.Size)); !errors.Is(err, witness.ErrFork) {
		t.Errorf("restarted witness and the fork: %v, want ErrFork", err)
	}
}
