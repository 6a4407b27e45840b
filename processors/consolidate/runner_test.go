package consolidate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// waitTimeout bounds every wait for the consolidator to catch up. Tests never assert on
// time; a run that needs longer than this is stuck.
const waitTimeout = 40 * time.Second

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig(env *testenv.KafkaEnv, country *election.Country, group, txnID string) Config {
	cfg := DefaultConfig()
	cfg.Seeds = env.Seeds
	cfg.TopicPrefix = env.Prefix
	cfg.Group = env.Prefix + group
	cfg.TransactionalID = env.Prefix + txnID
	cfg.TransactionTimeout = 10 * time.Second
	cfg.SessionTimeout = 12 * time.Second
	cfg.MaxPollRecords = 300
	cfg.Rules.Country = country
	cfg.Logger = quietLogger()
	if os.Getenv("VOTESTREAM_TEST_LOG") != "" {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// start runs a consolidator until the returned stop is called; stop returns Run's error.
func start(t *testing.T, cfg Config) (stop func() error) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := c.Run(ctx)
		if err != nil {
			t.Logf("Run returned: %v", err)
		}
		done <- err
	}()
	stopped := false
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func produce(t *testing.T, env *testenv.KafkaEnv, recs []*kgo.Record) {
	t.Helper()
	cl := env.Client(t, kgo.MaxBufferedRecords(len(recs)+1))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func record(t *testing.T, env *testenv.KafkaEnv, topic string, v any) *kgo.Record {
	t.Helper()
	r, err := kgorecord.New(env.Topic(topic), v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reportRecords(t *testing.T, env *testenv.KafkaEnv, reports []simReport) []*kgo.Record {
	recs := make([]*kgo.Record, len(reports))
	for i, r := range reports {
		recs[i] = record(t, env, schemas.TopicSubmissions, r.rep)
		if r.flags != "" {
			recs[i].Headers = append(recs[i].Headers, kgo.RecordHeader{Key: schemas.HeaderFlags, Value: []byte(r.flags)})
		}
	}
	return recs
}

// outputLog is what a read_committed consumer sees on the output topics, in log order.
type outputLog struct {
	results   map[string][]schemas.StationResult // by record key
	anomalies []schemas.Anomaly
	dead      []*kgo.Record
}

// latest returns the current result of every key: its last record in log order.
func (o *outputLog) latest() map[string]schemas.StationResult {
	m := map[string]schemas.StationResult{}
	for k, rs := range o.results {
		m[k] = rs[len(rs)-1]
	}
	return m
}

// follow reads the output topics from the start with read_committed until cond holds.
func follow(t *testing.T, env *testenv.KafkaEnv, cond func(*outputLog) bool) *outputLog {
	t.Helper()
	cl := env.Client(t,
		kgo.ConsumeTopics(env.Topic(schemas.TopicStationResults), env.Topic(schemas.TopicAnomalies), env.Topic(schemas.TopicDeadLetter)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	o := &outputLog{results: map[string][]schemas.StationResult{}}
	for !cond(o) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("outputs never reached the expected state: %d keys, %d anomalies, %d dead letters", len(o.results), len(o.anomalies), len(o.dead))
		}
		fs.EachRecord(func(r *kgo.Record) {
			switch strings.TrimPrefix(r.Topic, env.Prefix) {
			case schemas.TopicStationResults:
				var res schemas.StationResult
				if err := kgorecord.Decode(r, &res); err != nil {
					t.Fatalf("result: %v", err)
				}
				o.results[string(r.Key)] = append(o.results[string(r.Key)], res)
			case schemas.TopicAnomalies:
				var a schemas.Anomaly
				if err := kgorecord.Decode(r, &a); err != nil {
					t.Fatalf("anomaly: %v", err)
				}
				o.anomalies = append(o.anomalies, a)
			default:
				o.dead = append(o.dead, r)
			}
		})
	}
	return o
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestRunEndToEnd: reports, a review and an official figure through the real broker come
// out as the rules say; records that can never be processed go to the dead-letter topic.
func TestRunEndToEnd(t *testing.T) {
	env := testenv.Kafka(t)
	cc := testCountry(t)
	var recs []*kgo.Record
	for _, b := range []*rb{
		f1(report("a1", "S01", c, final, "alice", "OrgA", 30)),
		f1(report("b1", "S01", c, final, "bob", "OrgB", 31)),
		f1(report("d1", "S02", c, final, "dan", "OrgD", 32)),
		f2(report("e1", "S02", c, final, "eve", "OrgE", 33)),
		f1(report("g1", "S03", c, final, "gus", "OrgG", 34)),
	} {
		recs = append(recs, record(t, env, schemas.TopicSubmissions, b.r))
	}
	unknown := f1(report("z1", "S99", c, final, "zed", "OrgZ", 35)).r
	recs = append(recs, record(t, env, schemas.TopicSubmissions, unknown))
	garbage := &kgo.Record{Topic: env.Topic(schemas.TopicSubmissions), Key: []byte("S01"), Value: []byte("{not json"),
		Headers: kgorecord.Headers(schemas.EnvelopeHeaders(schemas.SchemaReport))}
	recs = append(recs, garbage)
	rev := review("r1", "lead-1", schemas.RoleDistrictLead, 50)
	rev.StationID, rev.AcceptSubmissionID = "S02", "e1"
	recs = append(recs, record(t, env, schemas.TopicReviews, rev))
	bad := review("r2", "vol-9", schemas.RoleStation, 51)
	bad.StationID, bad.AcceptSubmissionID = "S01", "a1"
	recs = append(recs, record(t, env, schemas.TopicReviews, bad))
	recs = append(recs, record(t, env, schemas.TopicOfficial, schemas.Official{OfficialID: "o1", StationID: "S03", Ballot: c,
		BallotsCast: 500, Invalid: 10, NoVote: 5, Votes: map[string]int{"1": 240, "2": 160, "3": 85},
		EnteredBy: "lead-1", Role: schemas.RoleDistrictLead, ReceivedAt: minute(90)}))
	produce(t, env, recs)

	stop := start(t, testConfig(env, cc, "g", "t"))
	want := map[string]schemas.Status{
		"S01/constituency": schemas.StatusCorroborated,
		"S02/constituency": schemas.StatusVerified,
		"S03/constituency": schemas.StatusDisputed,
	}
	out := follow(t, env, func(o *outputLog) bool {
		got := o.latest()
		for k, s := range want {
			if got[k].Status != s {
				return false
			}
		}
		return len(o.dead) == 3 && len(o.anomalies) >= 2
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := out.latest()
	if r := got["S02/constituency"]; r.DecidedBy != "lead-1" || figuresOf(&r) != keyF2 {
		t.Errorf("S02 decided by %q with %s, want lead-1 with %s", r.DecidedBy, figuresOf(&r), keyF2)
	}
	if r := got["S03/constituency"]; !slices.Equal(r.Anomalies, []string{"OFFICIAL_MISMATCH"}) {
		t.Errorf("S03 codes %v", r.Anomalies)
	}
	var codes []string
	for _, a := range out.anomalies {
		codes = append(codes, a.Code)
	}
	if slices.Sort(codes); !slices.Equal(codes, []string{"CONFLICT", "OFFICIAL_MISMATCH"}) {
		t.Errorf("anomalies %v, want CONFLICT and OFFICIAL_MISMATCH once each", codes)
	}
	reasons := map[string]string{}
	for _, d := range out.dead {
		reasons[header(d, schemas.HeaderSourceTopic)+"@"+header(d, schemas.HeaderSourceOffset)] = header(d, schemas.HeaderReason)
	}
	for _, want := range []string{"unknown station", "undecodable", "only a district lead or the war room"} {
		if !slices.ContainsFunc(slices.Collect(maps.Values(reasons)), func(r string) bool { return strings.Contains(r, want) }) {
			t.Errorf("no dead letter with reason %q: %v", want, reasons)
		}
	}
}

// expectedResults consolidates the night with the Ledger alone: what the topic must hold at
// the end, whatever happened to the processes on the way.
func expectedResults(t *testing.T, n *simNight) (map[string]schemas.StationResult, map[string]bool) {
	l, out := n.runLedger(t, 6)
	want := map[string]schemas.StationResult{}
	l.Stations(func(_ int32, st *Station) {
		for _, b := range election.Ballots {
			if r, ok := st.Result(b); ok {
				want[ResultKey(r.StationID, r.Ballot)] = r
			}
		}
	})
	ids := map[string]bool{}
	for _, o := range out {
		if o.Anomaly != nil {
			ids[o.Anomaly.AnomalyID] = true
		}
	}
	return want, ids
}

// content is a result without its version: what must be identical between runs.
func content(r schemas.StationResult) string {
	r.Version = 0
	r.UpdatedAt = r.UpdatedAt.UTC()
	r.CountedAt = r.CountedAt.UTC()
	js, _ := json.Marshal(r)
	return string(js)
}

func caughtUp(want map[string]schemas.StationResult) func(*outputLog) bool {
	return func(o *outputLog) bool {
		if len(o.results) < len(want) {
			return false
		}
		got := o.latest()
		for k, w := range want {
			if content(got[k]) != content(w) {
				return false
			}
		}
		return true
	}
}

// checkLog compares the topics with the Ledger-only run: every key's current result
// identical but for the version, versions strictly growing per key, and the anomaly ids the
// same set, each exactly once (the ids on the topic are read back after a rebuild).
func checkLog(t *testing.T, o *outputLog, want map[string]schemas.StationResult, wantIDs map[string]bool) {
	t.Helper()
	got := o.latest()
	if len(got) != len(want) {
		t.Errorf("%d keys on the topic, want %d", len(got), len(want))
	}
	for k, w := range want {
		if content(got[k]) != content(w) {
			t.Errorf("%s:\n got %s\nwant %s", k, content(got[k]), content(w))
		}
	}
	for k, rs := range o.results {
		for i := 1; i < len(rs); i++ {
			if rs[i].Version <= rs[i-1].Version {
				t.Errorf("%s: version %d after %d", k, rs[i].Version, rs[i-1].Version)
			}
		}
	}
	seen := map[string]int{}
	for _, a := range o.anomalies {
		seen[a.AnomalyID]++
		if seen[a.AnomalyID] == 2 {
			t.Errorf("anomaly %s (%s) published twice", a.AnomalyID, a.Code)
		}
		if !wantIDs[a.AnomalyID] {
			t.Errorf("anomaly %s %s on %s not raised by the Ledger-only run", a.AnomalyID, a.Code, a.StationID)
		}
	}
	for id := range wantIDs {
		if seen[id] == 0 {
			t.Errorf("anomaly %s missing from the topic", id)
		}
	}
}

// TestConsolidatorChild is the consolidator process TestKillAndRestart kills with SIGKILL;
// it only runs when that test starts it.
func TestConsolidatorChild(t *testing.T) {
	if os.Getenv("VOTESTREAM_CONSOLIDATE_CHILD") == "" {
		t.Skip("started by TestKillAndRestart only")
	}
	seed, _ := strconv.ParseUint(os.Getenv("CHILD_SEED"), 10, 64)
	n := loadSimNight(t, seed, 3, 0.1)
	env := &testenv.KafkaEnv{Seeds: strings.Split(os.Getenv(testenv.EnvKafka), ","), Prefix: os.Getenv("CHILD_PREFIX")}
	cfg := testConfig(env, n.country, "g", "t")
	cfg.Group, cfg.TransactionalID = os.Getenv("CHILD_GROUP"), os.Getenv("CHILD_TXN")
	cfg.MaxPollRecords = 50 // many small transactions: the kill lands in the middle of one
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("child consolidating")
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKillAndRestart: a consolidator killed with SIGKILL in the middle of a night, then
// started again, leaves exactly the station results an uninterrupted run gives.
func TestKillAndRestart(t *testing.T) {
	env := testenv.Kafka(t)
	const seed = 3
	n := loadSimNight(t, seed, 3, 0.1)
	want, wantIDs := expectedResults(t, n)
	produce(t, env, reportRecords(t, env, n.reports))

	cfg := testConfig(env, n.country, "g", "t")
	child := exec.Command(os.Args[0], "-test.run=^TestConsolidatorChild$", "-test.count=1")
	child.Env = append(os.Environ(), "VOTESTREAM_CONSOLIDATE_CHILD=1", "CHILD_SEED="+strconv.Itoa(seed),
		"CHILD_PREFIX="+env.Prefix, "CHILD_GROUP="+cfg.Group, "CHILD_TXN="+cfg.TransactionalID)
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a third of the results are out, in the middle of the stream.
	mid := follow(t, env, func(o *outputLog) bool { return len(o.results) >= len(want)/3 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err == nil {
		t.Fatal("the child exited cleanly before the kill")
	}
	if caughtUp(want)(mid) {
		t.Fatal("the child finished before it was killed: nothing was tested")
	}
	t.Logf("killed after %d of %d keys were published", len(mid.results), len(want))

	stop := start(t, cfg) // same group and transactional id: the broker aborts the child's open transaction
	out := follow(t, env, caughtUp(want))
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkLog(t, out, want, wantIDs)
}

// TestRebalance: two consolidators share the partitions; one joins mid-stream and the other
// leaves later. Nothing is lost or doubled. The night has no reused photos or spread
// volunteers: those are found only within one process (see Ledger), and with two processes
// a pair split between them is missed by design.
func TestRebalance(t *testing.T) {
	env := testenv.Kafka(t)
	n := loadSimNight(t, 5, 3, 0.1)
	n.reports = slices.DeleteFunc(n.reports, func(r simReport) bool {
		return r.flags != "" || slices.ContainsFunc(n.faults, func(f simulateFault) bool {
			return f.SubmissionID == r.rep.SubmissionID && (f.Kind == "PHOTO_REUSE" || f.Kind == "SPREAD")
		})
	})
	want, wantIDs := expectedResults(t, n)
	recs := reportRecords(t, env, n.reports)
	half := len(recs) / 2

	produce(t, env, recs[:half])
	stopA := start(t, testConfig(env, n.country, "g", "a"))
	follow(t, env, func(o *outputLog) bool { return len(o.results) >= len(want)/4 })
	stopB := start(t, testConfig(env, n.country, "g", "b"))
	produce(t, env, recs[half:])
	follow(t, env, func(o *outputLog) bool { return len(o.results) >= len(want)*3/4 })
	if err := stopA(); err != nil {
		t.Fatalf("A: %v", err)
	}
	out := follow(t, env, caughtUp(want))
	if err := stopB(); err != nil {
		t.Fatalf("B: %v", err)
	}
	checkLog(t, out, want, wantIDs)
}

// GroupTransactSession hands onRevoked at most one revocation between two ends of a
// transaction, so after two rebalances with no transaction between them the second
// revocation never reaches the Consolidator. The next assignment alone must then say what
// is held: a partition kept by mistake is another member's, and a cross-partition flag on
// one of its stations would publish a stale result for it.
func TestRebalancesWithoutTransactionBetween(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seeds = []string{"127.0.0.1:1"}
	cfg.Rules = *testRules(t)
	cfg.Logger = quietLogger()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Never connects: sync reads only the client's committed offsets, none here, so every
	// partition it takes on is rebuilt from nothing without a fetch.
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	assignment := func(ps ...int32) map[string][]int32 {
		m := map[string][]int32{}
		for _, topic := range c.in {
			m[topic] = ps
		}
		return m
	}
	step := func(what string, want ...int32) {
		t.Helper()
		if err := c.sync(ctx, cl, nil); err != nil {
			t.Fatalf("%s: sync: %v", what, err)
		}
		if got := c.ledger.Partitions(); !slices.Equal(got, want) {
			t.Fatalf("%s: ledger holds partitions %v, want %v", what, got, want)
		}
	}
	c.onAssigned(ctx, cl, assignment(0, 1, 2, 3, 4, 5))
	step("alone in the group", 0, 1, 2, 3, 4, 5)
	c.onRevoked(ctx, cl, assignment(0, 1, 2, 3, 4, 5))
	c.onAssigned(ctx, cl, assignment(0, 1, 2))
	step("a second member joined", 0, 1, 2)
	// A third member joins before any transaction: the session swallows the revocation.
	c.onAssigned(ctx, cl, assignment(0, 1))
	step("a third member joined", 0, 1)
}

// Records polled just before a rebalance can name a partition revoked by the time sync
// runs: their transaction aborts, and the partition must not be taken on for them.
func TestRecordsOfARevokedPartition(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seeds = []string{"127.0.0.1:1"}
	cfg.Rules = *testRules(t)
	cfg.Logger = quietLogger()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Seeds...)) // never connects, as above
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	c.onAssigned(ctx, cl, map[string][]int32{c.in[0]: {0, 1}})
	polled := []*kgo.Record{{Topic: c.in[0], Partition: 1}, {Topic: c.in[0], Partition: 2}}
	if err := c.sync(ctx, cl, polled); err != nil {
		t.Fatal(err)
	}
	if got := c.ledger.Partitions(); !slices.Equal(got, []int32{0, 1}) {
		t.Fatalf("ledger holds partitions %v, want [0 1]", got)
	}
}
