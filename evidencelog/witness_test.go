package evidencelog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"golang.org/x/mod/sumdb/note"

	"votestream/evidencelog/tlog"
	"votestream/evidencelog/verify"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
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

// TestWitnessPush: the log pushes each new checkpoint to a registered witness (C2SP
// tlog-witness add-checkpoint, with a consistency proof from the size the witness last
// cosigned) and publishes the cosignature it answers, the witness never fetching; a witness
// away is retried with back-off and catches up once back; a witness that lost its state
// answers 409 with its size and is pushed again from there; a forked checkpoint pushed to it
// is caught and kept as evidence.
func TestWitnessPush(t *testing.T) {
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
	// The witness's address must be known before the log starts, the log's before the
	// witness is built: the witness's server forwards to whatever handler is current.
	var current atomic.Pointer[http.Handler]
	away := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	current.Store(&away)
	wsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*current.Load()).ServeHTTP(w, r) }))
	defer wsrv.Close()

	cfg := testConfig(env, dir, keyFile, "g")
	cfg.WitnessKeysFile = write("witnesses", wvkey+"\n")
	cfg.WitnessURLs = []string{wsrv.URL}
	nt := makeNight(t, env, 300)
	third := len(nt.records) / 3
	l, stop := start(t, cfg)
	lsrv := httptest.NewServer(l.Handler())
	defer lsrv.Close()

	newWitness := func(state string) *witness.Witness {
		wcfg := witness.DefaultConfig()
		wcfg.LogURL, wcfg.LogKeysFile = lsrv.URL, write("log.pub", strings.Join(keys.PublicKeys, "\n")+"\n")
		wcfg.KeyFile, wcfg.StateFile = write("witness.key", wskey+"\n"), state
		wcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		w, err := witness.New(wcfg)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	witnesses, _ := tlog.WitnessVerifiers([]string{wvkey})
	// cosignedAt waits until the log publishes a checkpoint of at least n leaves cosigned
	// by the witness.
	cosignedAt := func(n uint64) *tlog.Checkpoint {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			code, b := testenv.Get(t, lsrv.URL+"/cosigned-checkpoint")
			if code == http.StatusOK {
				if cp, err := tlog.Open(b, keys.Verifiers, witnesses); err == nil && cp.Size >= n && len(cp.Cosigners) == 1 {
					return cp
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint of %d leaves cosigned by the witness within a minute (last answer %d %s)", n, code, b)
			}
			<-tick.C
		}
	}
	size := func() uint64 { waitServed(t, l, 1); cp, _ := l.cps.newest(); return cp.Size }

	// Away: pushes fail and are retried with back-off, then given up for newer ones.
	produce(t, env, nt.records[:third])
	waitSize(t, dir, 1, time.Minute)
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for testutil.ToFloat64(l.m.pushes.WithLabelValues(strings.TrimPrefix(wsrv.URL, "http://"), "error")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no failed push was retried while the witness was away")
		}
		<-tick.C
	}

	// Back: it is pushed the newest checkpoint (old 0: it never cosigned) and cosigns it
	// without ever fetching one.
	state := filepath.Join(t.TempDir(), "state")
	w := newWitness(state)
	h := w.Handler()
	current.Store(&h)
	produce(t, env, nt.records[third:2*third])
	first := cosignedAt(size())
	// Growth: pushed with a consistency proof from the size it cosigned.
	produce(t, env, nt.records[2*third:])
	waitSize(t, dir, uint64(len(nt.leaves)), time.Minute)
	grown := cosignedAt(uint64(len(nt.leaves)))
	if grown.Size <= first.Size {
		t.Fatalf("cosigned %d after %d", grown.Size, first.Size)
	}
	if n := testutil.ToFloat64(l.m.pushes.WithLabelValues(strings.TrimPrefix(wsrv.URL, "http://"), "cosigned")); n < 2 {
		t.Errorf("%v pushes cosigned, want at least 2", n)
	}

	// A witness that lost its state (a new one at the same address) says 409 with size 0;
	// the log pushes again from there.
	w2 := newWitness(filepath.Join(t.TempDir(), "state"))
	h2 := w2.Handler()
	current.Store(&h2)
	conflicts := testutil.ToFloat64(l.m.pushes.WithLabelValues(strings.TrimPrefix(wsrv.URL, "http://"), "size_conflict"))
	var more []*kgo.Record
	for i := range 20 {
		rec, err := kgorecord.New(env.Topic(schemas.TopicEvidence), schemas.Evidence{Evidence: schemas.SHA256Ref([]byte(fmt.Sprintf("late photo %d", i))), Bytes: 10, ReceivedAt: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		more = append(more, rec)
	}
	produce(t, env, more)
	last := cosignedAt(grown.Size + 1)
	if got := testutil.ToFloat64(l.m.pushes.WithLabelValues(strings.TrimPrefix(wsrv.URL, "http://"), "size_conflict")); got <= conflicts {
		t.Errorf("size conflicts %v -> %v: the new witness's 409 was not seen", conflicts, got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Pushed requests the witness must refuse.
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(wsrv.URL+"/add-checkpoint", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type") + " " + string(b)
	}
	if code, b := post("old x\n\n" + string(last.Raw)); code != http.StatusBadRequest {
		t.Errorf("a malformed push: %d %s, want 400", code, b)
	}
	unsigned := fmt.Sprintf("%s\n%d\n%s\n\n", testOrigin, last.Size, base64.StdEncoding.EncodeToString(last.Root[:]))
	if code, b := post("old 0\n\n" + unsigned); code != http.StatusForbidden {
		t.Errorf("an unsigned checkpoint: %d %s, want 403", code, b)
	}
	if code, b := post("old 5\n\n" + string(last.Raw)); code != http.StatusConflict || !strings.HasPrefix(b, "text/x.tlog.size "+strconv.FormatUint(last.Size, 10)) {
		t.Errorf("a push from a size the witness did not cosign: %d %q, want 409 with %d", code, b, last.Size)
	}
	// The log's key signs another tree of the size last cosigned: a fork, kept as evidence.
	body := fmt.Sprintf("%s\n%d\n%s\n", testOrigin, last.Size, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	forged, err := note.Sign(&note.Note{Text: body}, keys.Primary)
	if err != nil {
		t.Fatal(err)
	}
	if code, b := post(fmt.Sprintf("old %d\n\n%s", last.Size, forged)); code != http.StatusConflict || !strings.Contains(b, "FORK") {
		t.Errorf("a forked checkpoint pushed: %d %s, want 409 FORK", code, b)
	}
	if ev, _ := filepath.Glob(filepath.Join(filepath.Dir(w2.StateFile()), "fork-*-seen")); len(ev) != 1 {
		t.Errorf("fork evidence %v, want one pair of notes", ev)
	}
	if _, err := w2.Check(context.Background()); !errors.Is(err, witness.ErrFork) {
		t.Errorf("after a fork the witness checks: %v, want ErrFork", err)
	}
}

// TestWitnessStaleFetch: a checkpoint the witness fetched before a newer one was cosigned
// (a push arriving while the fetch was under way) is stale, not the log going back: Check
// answers nothing new and no fork. The same checkpoint offered after the newer one was
// cosigned is still a rollback (ErrFork). A national night of `votestream up` stopped on
// this race (docs/benchmarks.md).
func TestWitnessStaleFetch(t *testing.T) {
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
	nt := makeNight(t, env, 200)
	half := len(nt.records) / 2
	produce(t, env, nt.records[:half])
	cfg := testConfig(env, dir, keyFile, "g")
	cfg.WitnessKeysFile = write("witnesses", wvkey+"\n")
	l, stop := start(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	firstLeaves := map[string]bool{}
	for _, leaf := range nt.leafOf[:half] {
		firstLeaves[leaf] = true
	}
	waitSize(t, dir, uint64(len(firstLeaves)), time.Minute)
	waitServed(t, l, uint64(len(firstLeaves)))

	// The log's handler, but for /checkpoint when a push is due: the push (Offer of the
	// newest checkpoint) is cosigned first, then the checkpoint captured earlier is served.
	var (
		mu      sync.Mutex // the handler's goroutines and the test's
		w       *witness.Witness
		stale   []byte // set: the next /checkpoint pushes, then serves this
		pushed  bool
		pushErr error
	)
	h := l.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		push := r.URL.Path == "/checkpoint" && stale != nil && !pushed
		pushed = pushed || push
		wit, old := w, stale
		mu.Unlock()
		if push { // Offer reads tiles through this server: mu is not held
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			_, err := wit.Offer(r.Context(), rec.Body.Bytes())
			mu.Lock()
			pushErr = err
			mu.Unlock()
			_, _ = rw.Write(old)
			return
		}
		h.ServeHTTP(rw, r)
	}))
	defer srv.Close()

	wcfg := witness.DefaultConfig()
	wcfg.LogURL, wcfg.LogKeysFile = srv.URL, write("log.pub", strings.Join(keys.PublicKeys, "\n")+"\n")
	wcfg.KeyFile, wcfg.StateFile = write("witness.key", wskey+"\n"), filepath.Join(t.TempDir(), "state")
	wcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	wit, err := witness.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if first, err := wit.Check(ctx); err != nil || first == nil {
		t.Fatalf("first check: %v", err)
	}
	old := testenv.MustGet(t, srv.URL+"/checkpoint")
	mu.Lock()
	w, stale = wit, old
	mu.Unlock()

	produce(t, env, nt.records[half:])
	waitSize(t, dir, uint64(len(nt.leaves)), time.Minute)
	waitServed(t, l, uint64(len(nt.leaves)))
	got, err := wit.Check(ctx)
	mu.Lock()
	if !pushed || pushErr != nil {
		t.Fatalf("the push during the fetch: done %v, %v", pushed, pushErr)
	}
	mu.Unlock()
	if err != nil || got != nil {
		t.Fatalf("a checkpoint fetched before the push was cosigned: %v, %d bytes; want stale (nil, nil)", err, len(got))
	}
	if forks, _ := filepath.Glob(filepath.Join(filepath.Dir(wcfg.StateFile), "fork-*")); len(forks) != 0 {
		t.Fatalf("fork evidence written for a stale fetch: %v", forks)
	}
	// Offered now, after the newer one was cosigned, the same checkpoint is the log going back.
	if _, err := wit.Offer(ctx, old); !errors.Is(err, witness.ErrFork) {
		t.Errorf("the older checkpoint offered after the newer: %v, want ErrFork", err)
	}
}
