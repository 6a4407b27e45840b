package evidencelog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/evidencelog/tlog"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

const testOrigin = "votestream.test/log"

// writeKey writes a fresh signing key file for the test log and returns its path and the
// log's verifiers.
func writeKey(t testing.TB, dir string) string {
	t.Helper()
	skey, _, err := tlog.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "log.key")
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testKeys is writeKey's file in dir and the signers it holds.
func testKeys(t testing.TB, dir string) (string, *tlog.Signers) {
	t.Helper()
	path := writeKey(t, dir)
	keys, err := tlog.LoadSigners(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, keys
}

// serveNight runs a log (group "g") over a night of n records until it has integrated and
// serves them all, and serves its API on srv (closed when t ends). stop stops the log.
func serveNight(t *testing.T, env *testenv.KafkaEnv, n int) (dir string, keys *tlog.Signers, nt *night, stop func() error, srv *httptest.Server) {
	t.Helper()
	dir = t.TempDir()
	keyFile, keys := testKeys(t, t.TempDir())
	nt = makeNight(t, env, n)
	produce(t, env, nt.records)
	l, stop := start(t, testConfig(env, dir, keyFile, "g"))
	waitSize(t, dir, uint64(len(nt.leaves)), time.Minute)
	waitServed(t, l, uint64(len(nt.leaves)))
	srv = httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	return dir, keys, nt, stop, srv
}

func testConfig(env *testenv.KafkaEnv, dir, keyFile, group string) Config {
	cfg := DefaultConfig()
	// The group is the test's own (its topics' prefix): groups and static member ids are
	// broker-wide, and other tests, other helpers' among them, run at the same time.
	cfg.Seeds, cfg.TopicPrefix, cfg.Group = env.Seeds, env.Prefix, env.Prefix+group
	cfg.Dir, cfg.KeyFile = dir, keyFile
	cfg.CheckpointInterval = 100 * time.Millisecond
	cfg.BatchMaxAge = 20 * time.Millisecond
	cfg.Listen = ""
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// night is a small night's records: reports, photos, a report delivered twice (one leaf),
// and a record no decoder reads (logged by the hash of its bytes).
type night struct {
	records []*kgo.Record
	leafOf  []string       // the leaf of each record
	leaves  map[string]int // leaf -> how many times it must be in the log (always 1)
	reports []*schemas.Report
	photos  []string
}

func makeNight(t testing.TB, env *testenv.KafkaEnv, n int) *night {
	t.Helper()
	nt := &night{leaves: map[string]int{}}
	at := time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC)
	add := func(topic string, v any, leaf []byte) {
		rec, err := kgorecord.New(env.Topic(topic), v)
		if err != nil {
			t.Fatal(err)
		}
		nt.records = append(nt.records, rec)
		nt.leafOf = append(nt.leafOf, string(leaf))
		nt.leaves[string(leaf)] = 1
	}
	for i := range n {
		photo := schemas.SHA256Ref([]byte(fmt.Sprintf("photo %d", i)))
		sub := schemas.Submission{
			SubmissionID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), StationID: fmt.Sprintf("10%02d%04d", i%77, i),
			Ballot: "constituency", Stage: schemas.StageFinal, CountedAt: at, BallotsCast: 500, Votes: map[string]int{"1": 250, "2": 250},
			Evidence: []string{photo},
		}
		rep := &schemas.Report{
			Submission:  sub,
			VolunteerID: "vol-" + strconv.Itoa(i), Org: "ilaw", Role: "station",
			ReceivedAt: at.Add(time.Duration(i) * time.Millisecond), Hash: schemas.CanonicalHash(sub),
		}
		nt.reports = append(nt.reports, rep)
		add(schemas.TopicSubmissions, rep, schemas.ReportLeaf(rep))
		if i%4 == 0 {
			nt.photos = append(nt.photos, photo)
			add(schemas.TopicEvidence, schemas.Evidence{Evidence: photo, Bytes: 1000, VolunteerID: rep.VolunteerID, ReceivedAt: rep.ReceivedAt}, schemas.PhotoLeaf(photo))
		}
	}
	// The same report again (a producer retry): the same leaf, logged once.
	again, err := kgorecord.New(env.Topic(schemas.TopicSubmissions), nt.reports[0])
	if err != nil {
		t.Fatal(err)
	}
	nt.records = append(nt.records, again)
	nt.leafOf = append(nt.leafOf, nt.leafOf[0])
	// A record that is not a report: logged as record.v1 of its bytes.
	junk := []byte(`{"not":"a report"}`)
	junkLeaf := string(schemas.RecordLeaf(schemas.LeafRecord, junk, schemas.LeafField{Name: "topic", Value: schemas.TopicSubmissions}))
	nt.records = append(nt.records, &kgo.Record{Topic: env.Topic(schemas.TopicSubmissions), Value: junk})
	nt.leafOf = append(nt.leafOf, junkLeaf)
	nt.leaves[junkLeaf] = 1
	return nt
}

func produce(t testing.TB, env *testenv.KafkaEnv, recs []*kgo.Record) {
	t.Helper()
	// Topics just created may be unknown to a busy broker for a moment: keep retrying
	// within the deadline rather than four times.
	cl := env.Client(t, kgo.UnknownTopicRetries(-1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// readEntries reads every entry of the log in dir as its newest checkpoint commits to it,
// after checking the checkpoint's signature and that the entries and tiles add up to it.
func readEntries(t testing.TB, dir string, logKeys []string) (*tlog.Checkpoint, [][]byte) {
	t.Helper()
	ctx := context.Background()
	lg, err := tlog.OpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := lg.ReadCheckpoint(ctx)
	if err != nil {
		t.Fatalf("read checkpoint: %v", err)
	}
	vs, err := tlog.LogVerifiers(logKeys)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.Open(raw, vs, nil)
	if err != nil {
		t.Fatalf("open checkpoint: %v", err)
	}
	if _, err := tlog.Audit(ctx, lg, cp, nil, nil); err != nil {
		t.Fatalf("audit: %v", err)
	}
	var out [][]byte
	for ri := range layout.Range(0, cp.Size, cp.Size) {
		b, err := lg.ReadEntryBundle(ctx, ri.Index, ri.Partial)
		if err != nil {
			t.Fatal(err)
		}
		var eb api.EntryBundle
		if err := eb.UnmarshalText(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, eb.Entries[ri.First:ri.First+ri.N]...)
	}
	return cp, out
}

// checkExactlyOnce fails unless the entries are exactly the wanted leaves, each once.
func checkExactlyOnce(t testing.TB, entries [][]byte, want map[string]int) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range entries {
		seen[string(e)]++
	}
	for leaf := range want {
		if seen[leaf] != 1 {
			t.Errorf("leaf %s is in the log %d times, want once", leaf, seen[leaf])
		}
	}
	for leaf, n := range seen {
		if want[leaf] == 0 {
			t.Errorf("leaf %s (%d times) in the log was never produced", leaf, n)
		}
	}
	if len(entries) != len(want) {
		t.Errorf("the log holds %d leaves, want %d", len(entries), len(want))
	}
}

// logSize reads the size of the newest checkpoint in dir, 0 when there is none yet.
func logSize(dir string) uint64 {
	raw, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return 0
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(lines[1], 10, 64)
	return n
}

// waitSize polls the published checkpoint until it commits to at least n leaves.
func waitSize(t testing.TB, dir string, n uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for logSize(dir) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log's checkpoint is at %d leaves after %v, want %d", logSize(dir), within, n)
		}
		<-tick.C
	}
}

// waitServed polls until the log's API proves against a checkpoint of at least n leaves
// (it picks up each checkpoint tessera publishes within 100 ms).
func waitServed(t testing.TB, l *Log, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if cp, _ := l.cps.newest(); cp != nil && cp.Size >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API has no checkpoint of %d leaves", n)
		}
		<-tick.C
	}
}

// start runs a log in the background; stop cancels it and returns Run's error.
func start(t testing.TB, cfg Config) (*Log, func() error) {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	select {
	case <-l.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	var stopped bool
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return l, stop
}

// TestLogNight: every record of a night is in the log exactly once, a redelivered one too;
// the published files add up to the signed checkpoint; every report's and photo's proof
// from the HTTP API verifies offline; a photo not in the log is said to be absent.
func TestLogNight(t *testing.T) {
	env := testenv.Kafka(t)
	dir, keys, nt, stop, srv := serveNight(t, env, 600)

	cp, entries := readEntries(t, dir, keys.PublicKeys)
	checkExactlyOnce(t, entries, nt.leaves)
	if cp.Origin != testOrigin {
		t.Errorf("origin %q, want %q", cp.Origin, testOrigin)
	}

	get := func(path string) (int, []byte) { t.Helper(); return testenv.Get(t, srv.URL+path) }
	checkBundle := func(what string, b []byte, wantLeaf []byte) {
		t.Helper()
		pb, err := tlog.ParseBundle(b)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got, err := pb.Verify(keys.Verifiers, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if pb.Entry != string(wantLeaf) || got.Size < pb.LeafIndex+1 {
			t.Errorf("%s: entry %s in a tree of %d, want %s", what, pb.Entry, got.Size, wantLeaf)
		}
	}
	for _, rep := range nt.reports[:50] {
		leaf := schemas.ReportLeaf(rep)
		code, b := get("/proof/" + schemas.LeafHashHex(leaf))
		if code != http.StatusOK {
			t.Fatalf("proof of %s: %d %s", rep.SubmissionID, code, b)
		}
		checkBundle("report "+rep.SubmissionID, b, leaf)
	}
	// A station page links each report by its submission id and hash: the proof of exactly
	// its leaf (ClickHouse keeps the receipt time only to the second).
	for _, rep := range nt.reports[:50] {
		code, b := get("/report/" + rep.SubmissionID + "?hash=" + rep.Hash)
		if code != http.StatusOK {
			t.Fatalf("proof of report %s by id: %d %s", rep.SubmissionID, code, b)
		}
		checkBundle("report by id "+rep.SubmissionID, b, schemas.ReportLeaf(rep))
	}
	if code, b := get("/report/" + nt.reports[1].SubmissionID); code != http.StatusOK || !strings.Contains(string(b), nt.reports[1].SubmissionID) {
		t.Errorf("report by id without its hash: %d %s", code, b)
	}
	for path, want := range map[string]int{
		"/report/" + nt.reports[1].SubmissionID + "?hash=" + nt.reports[2].Hash: http.StatusNotFound, // another report's hash
		"/report/00000000-0000-4000-8000-999999999999":                          http.StatusNotFound,
		"/report/" + nt.reports[1].SubmissionID + "?hash=sha1:00":               http.StatusBadRequest,
		"/report/a%20b": http.StatusBadRequest,
	} {
		if code, b := get(path); code != want {
			t.Errorf("GET %s: %d %s, want %d", path, code, b, want)
		}
	}
	// The form, on ingest's origin, fetches these: the log's public answers allow any origin.
	for _, path := range []string{"/checkpoint", "/proof/" + schemas.LeafHashHex(schemas.ReportLeaf(nt.reports[0])), "/log.pub"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != http.StatusOK || got != "*" {
			t.Errorf("GET %s: %d, Access-Control-Allow-Origin %q, want 200 and *", path, resp.StatusCode, got)
		}
	}
	for _, p := range nt.photos[:10] {
		code, b := get("/photo/" + p)
		if code != http.StatusOK {
			t.Fatalf("proof of photo %s: %d %s", p, code, b)
		}
		checkBundle("photo "+p, b, schemas.PhotoLeaf(p))
	}
	if code, b := get("/photo/" + schemas.SHA256Ref([]byte("never uploaded"))); code != http.StatusNotFound || !strings.Contains(string(b), "NOT_IN_LOG") {
		t.Errorf("a photo not in the log: %d %s, want 404 NOT_IN_LOG", code, b)
	}
	if code, b := get("/photo/sha256:zz"); code != http.StatusBadRequest {
		t.Errorf("a bad digest: %d %s, want 400", code, b)
	}
	// Every checkpoint reached checkpoints.v1, signed.
	cl := env.Client(t, kgo.ConsumeTopics(env.Topic(schemas.TopicCheckpoints)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var top uint64
	for top < cp.Size && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var m schemas.Checkpoint
			if err := kgorecord.Decode(r, &m); err != nil {
				t.Errorf("checkpoints.v1: %v", err)
				return
			}
			c, err := tlog.Open([]byte(m.Note), keys.Verifiers, nil)
			if err != nil || int64(c.Size) != m.Size {
				t.Errorf("checkpoints.v1 record of size %d: %v", m.Size, err)
				return
			}
			top = max(top, c.Size)
		})
	}
	if top < cp.Size {
		t.Errorf("checkpoints.v1 reached %d, the log %d", top, cp.Size)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestRestart: records produced while the log is stopped are appended after a restart, and
// the leaves of the first run are not appended again although the second run reads the
// whole topic again (its group's offsets reset by a new group name).
func TestRestart(t *testing.T) {
	env := testenv.Kafka(t)
	dir := t.TempDir()
	keyFile, keys := testKeys(t, t.TempDir())
	nt := makeNight(t, env, 300)
	half := len(nt.records) / 2
	produce(t, env, nt.records[:half])
	first := map[string]bool{}
	for _, leaf := range nt.leafOf[:half] {
		first[leaf] = true
	}
	_, stop := start(t, testConfig(env, dir, keyFile, "g1"))
	waitSize(t, dir, uint64(len(first)), time.Minute)
	firstCP, firstEntries := readEntries(t, dir, keys.PublicKeys)
	checkExactlyOnce(t, firstEntries, func() map[string]int {
		m := map[string]int{}
		for l := range first {
			m[l] = 1
		}
		return m
	}())
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	produce(t, env, nt.records[half:])
	// The leaf index as an operating-system crash may leave it: short of the log, its tail
	// torn and wrong. The next start must rebuild it from the log rather than trust it.
	idxPath := filepath.Join(dir, stateDir, indexFile)
	raw, err := os.ReadFile(idxPath)
	if err != nil || len(raw) < indexRecord*10 {
		t.Fatalf("leaf index: %d bytes, %v", len(raw), err)
	}
	torn := append(raw[:len(raw)-indexRecord*5], []byte("garbage")...)
	torn[len(torn)-40] ^= 0xff
	if err := os.WriteFile(idxPath, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	// A new group reads everything again: every leaf of the first run is a duplicate.
	l2, stop := start(t, testConfig(env, dir, keyFile, "g2"))
	waitSize(t, dir, uint64(len(nt.leaves)), time.Minute)
	waitServed(t, l2, uint64(len(nt.leaves)))
	// The rebuilt index finds every report by its submission id, of both runs.
	srv2 := httptest.NewServer(l2.Handler())
	defer srv2.Close()
	for _, rep := range []*schemas.Report{nt.reports[0], nt.reports[len(nt.reports)/2], nt.reports[len(nt.reports)-1]} {
		b := testenv.MustGet(t, srv2.URL+"/report/"+rep.SubmissionID+"?hash="+rep.Hash)
		if pb, err := tlog.ParseBundle(b); err != nil || pb.Entry != string(schemas.ReportLeaf(rep)) {
			t.Errorf("report %s after the index was rebuilt: %v %s", rep.SubmissionID, err, b)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	cp, entries := readEntries(t, dir, keys.PublicKeys)
	checkExactlyOnce(t, entries, nt.leaves)
	// The checkpoint of the first run is a prefix of the last: its consistency proof,
	// built from the files, verifies; and the archive serves it.
	lg, _ := tlog.OpenLog(dir)
	path, err := tlog.ConsistencyProof(context.Background(), lg, firstCP.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyConsistency(firstCP, cp, path); err != nil {
		t.Errorf("first run's checkpoint %d and the last %d: %v", firstCP.Size, cp.Size, err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateDir, "checkpoints", strconv.FormatUint(firstCP.Size, 10))); err != nil {
		t.Errorf("the first run's checkpoint is not archived: %v", err)
	}
	for i, e := range firstEntries {
		if string(entries[i]) != string(e) {
			t.Fatalf("leaf %d changed across the restart", i)
		}
	}
}

// TestLogChild is the log writer TestKillMidNight kills with SIGKILL.
func TestLogChild(t *testing.T) {
	if os.Getenv("VOTESTREAM_EVIDENCELOG_CHILD") == "" {
		t.Skip("started by TestKillMidNight only")
	}
	env := &testenv.KafkaEnv{Seeds: strings.Split(os.Getenv(testenv.EnvKafka), ","), Prefix: os.Getenv("CHILD_PREFIX")}
	cfg := testConfig(env, os.Getenv("CHILD_DIR"), os.Getenv("CHILD_KEY"), "g")
	// Small rounds and batches: the kill lands between an integration and its commit.
	cfg.MaxPollRecords, cfg.BatchMaxSize = 97, 31
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKillMidNight: a log writer killed with SIGKILL in the middle of a night, then started
// again with the same group, leaves every record's leaf in the log exactly once.
func TestKillMidNight(t *testing.T) {
	env := testenv.Kafka(t)
	dir := t.TempDir()
	keyFile, keys := testKeys(t, t.TempDir())
	nt := makeNight(t, env, 2400)
	produce(t, env, nt.records)

	child := exec.Command(os.Args[0], "-test.run=^TestLogChild$", "-test.count=1")
	child.Env = append(os.Environ(), "VOTESTREAM_EVIDENCELOG_CHILD=1", "CHILD_PREFIX="+env.Prefix, "CHILD_DIR="+dir, "CHILD_KEY="+keyFile)
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	waitSize(t, dir, uint64(len(nt.leaves)/3), 2*time.Minute)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err == nil {
		t.Fatal("the child exited cleanly before the kill")
	}
	at := logSize(dir)
	if at >= uint64(len(nt.leaves)) {
		t.Fatal("the child finished before it was killed: nothing was tested")
	}
	t.Logf("killed at a checkpoint of %d of %d leaves", at, len(nt.leaves))

	_, stop := start(t, testConfig(env, dir, keyFile, "g"))
	waitSize(t, dir, uint64(len(nt.leaves)), 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, entries := readEntries(t, dir, keys.PublicKeys)
	checkExactlyOnce(t, entries, nt.leaves)
}
