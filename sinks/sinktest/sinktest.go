// Package sinktest is the conformance suite every sink of votestream passes (as Watermill
// makes every pub/sub adapter pass one universal suite): what a store of station results
// must do whatever it is (ClickHouse, a Parquet export, the next one).
//
//   - At least once, across restarts: every committed record produced before a run, or
//     while the sink was down, is in the store after the next run.
//   - Idempotent by key: a record delivered twice (a producer retry, a crash before the
//     commit) is one entry of the store.
//   - The one supersedes rule (schemas.OrderResults): the highest version of a station and
//     ballot is what the store gives, whatever order the versions arrive in.
//   - Read committed: records of an aborted transaction never reach the store.
//   - Commit after write (a continuous sink): once its consumer group has committed an
//     offset, what lies before it is in the store.
//   - Stops on cancel: a continuous sink returns nil when its context ends; a one-shot sink
//     returns the context's error.
//
// A sink joins by writing one test that calls Run with a Factory. The suite needs the real
// broker (internal/testenv) and whatever store the sink writes to.
//
// Not covered yet: surviving an outage of the store mid-run (each sink tests that on its
// own, against a private server).
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// Row is one station result as the store gives it back.
type Row struct {
	Key     string // schemas.StationResultKey: station_id/ballot
	Version int64
}

// Instance is one sink under test, with a store of its own.
type Instance struct {
	// Run runs the sink once over the environment's topics, as one process would; the
	// store and the sink's durable identity (consumer group, output folder) carry over
	// between calls. A continuous sink runs until ctx ends and then returns; a one-shot
	// sink reads what is there and returns.
	Run func(ctx context.Context) error
	// Continuous is set for a sink that follows the topics until cancelled.
	Continuous bool
	// WaitCommitted (a continuous sink) blocks until the sink has committed every record
	// produced so far.
	WaitCommitted func(t *testing.T)
	// Rows returns the station results the store holds, as a reader of it sees them (one
	// row per entry; a duplicate entry shows as two rows).
	Rows func(t *testing.T) []Row
}

// Factory builds an Instance on env (a fresh topic set) for one test.
type Factory func(t *testing.T, env *testenv.KafkaEnv) Instance

// Run runs the whole suite against the sink newSink builds.
func Run(t *testing.T, newSink Factory) {
	t.Run("DeliveryAcrossRestarts", func(t *testing.T) { deliveryAcrossRestarts(t, newSink) })
	t.Run("IdempotentByKey", func(t *testing.T) { idempotentByKey(t, newSink) })
	t.Run("HighestVersionWins", func(t *testing.T) { highestVersionWins(t, newSink) })
	t.Run("AbortedNeverStored", func(t *testing.T) { abortedNeverStored(t, newSink) })
	t.Run("StopsOnCancel", func(t *testing.T) { stopsOnCancel(t, newSink) })
}

var at = time.Date(2023, 5, 14, 18, 0, 0, 0, time.FixedZone("ICT", 7*3600))

// Result is a valid station result of station BKK_1_<n> on the party-list ballot.
func Result(n int, version int64) schemas.StationResult {
	cast := int(100 + version)
	return schemas.StationResult{
		StationID: fmt.Sprintf("BKK_1_%03d", n), ConstituencyID: "BKK_1", Ballot: "partylist", Version: version,
		Status: schemas.StatusProvisional, Stage: schemas.StageProgress, BallotsCast: cast,
		Votes: map[string]int{"31": cast}, CountedAt: at, UpdatedAt: at.Add(time.Duration(version) * time.Second),
		Sources: []schemas.Source{{SubmissionID: "s", VolunteerID: "v", Org: "o", Stage: schemas.StageProgress, Hash: "sha256:00"}},
	}
}

type harness struct {
	t   *testing.T
	env *testenv.KafkaEnv
	in  Instance
	cl  *kgo.Client

	expected map[string]int64 // what the store must hold after the next run
}

func newHarness(t *testing.T, newSink Factory) *harness {
	env := testenv.Kafka(t)
	return &harness{t: t, env: env, in: newSink(t, env), cl: env.Client(t)}
}

func (h *harness) records(results ...schemas.StationResult) []*kgo.Record {
	h.t.Helper()
	var recs []*kgo.Record
	for _, r := range results {
		rec, err := kgorecord.New(h.env.Topic(schemas.TopicStationResults), r)
		if err != nil {
			h.t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func (h *harness) produce(results ...schemas.StationResult) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// One at a time: the order of versions on a partition is the order written here.
	for _, rec := range h.records(results...) {
		if err := h.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			h.t.Fatalf("produce: %v", err)
		}
	}
}

// runOnce runs the sink over what has been produced: a one-shot sink to its end, a
// continuous one until it has committed everything, then stops it.
func (h *harness) runOnce() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if !h.in.Continuous {
		if err := h.in.Run(ctx); err != nil {
			h.t.Fatalf("run: %v", err)
		}
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.in.Run(runCtx) }()
	h.in.WaitCommitted(h.t)
	// Commit after write: what is committed is already in the store, before the sink stops.
	h.check("after the commit, before stopping")
	stop()
	if err := <-done; err != nil {
		h.t.Fatalf("run: %v", err)
	}
}

// expect sets what the store must hold after the next run: key -> version.
func (h *harness) expect(want map[string]int64) { h.expected = want }

// check compares the store with what is expected: one row per key, each at its version.
func (h *harness) check(when string) {
	h.t.Helper()
	rows := h.in.Rows(h.t)
	got := map[string]int64{}
	for _, r := range rows {
		if _, dup := got[r.Key]; dup {
			h.t.Fatalf("%s: key %s stored twice: %v", when, r.Key, rows)
		}
		got[r.Key] = r.Version
	}
	if !maps.Equal(got, h.expected) {
		h.t.Fatalf("%s: store holds %v, want %v", when, got, h.expected)
	}
}

func deliveryAcrossRestarts(t *testing.T, newSink Factory) {
	h := newHarness(t, newSink)
	var first []schemas.StationResult
	for n := range 5 {
		first = append(first, Result(n, 1))
	}
	h.produce(first...)
	h.expect(map[string]int64{key(0): 1, key(1): 1, key(2): 1, key(3): 1, key(4): 1})
	h.runOnce()
	h.check("after the first run")
	// Written while the sink was down: new stations, and a newer version of an old one.
	h.produce(Result(5, 1), Result(6, 1), Result(0, 2))
	h.expect(map[string]int64{key(0): 2, key(1): 1, key(2): 1, key(3): 1, key(4): 1, key(5): 1, key(6): 1})
	h.runOnce()
	h.check("after the restart")
}

func idempotentByKey(t *testing.T, newSink Factory) {
	h := newHarness(t, newSink)
	// The same records twice, as a producer retry or a replay would deliver them.
	h.produce(Result(0, 1), Result(1, 3))
	h.produce(Result(0, 1), Result(1, 3))
	h.expect(map[string]int64{key(0): 1, key(1): 3})
	h.runOnce()
	h.check("after duplicates")
	// And once more through a second run over the same records.
	h.runOnce()
	h.check("after a second run")
}

func highestVersionWins(t *testing.T, newSink Factory) {
	h := newHarness(t, newSink)
	// Version 2 of station 0 arrives after version 4; station 1 in order.
	h.produce(Result(0, 1), Result(0, 4), Result(0, 2), Result(1, 1), Result(1, 2), Result(1, 3))
	h.expect(map[string]int64{key(0): 4, key(1): 3})
	h.runOnce()
	h.check("versions out of order")
	// Which arrival order is stored must follow schemas.OrderResults, the rule every reader uses.
	if schemas.OrderResults(2, 4) != schemas.Older {
		t.Fatal("schemas.OrderResults no longer says a lower version is older")
	}
}

func abortedNeverStored(t *testing.T, newSink Factory) {
	h := newHarness(t, newSink)
	h.produce(Result(0, 1))
	tx := h.env.Client(t, kgo.TransactionalID("sinktest-"+h.env.Prefix))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, h.records(Result(0, 9), Result(7, 9))...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	// The abort returns before its markers are on the partitions; a record produced before
	// a marker lands would leave the marker last, which no consumer ever commits past. Wait
	// until no transaction is open: the last stable offset equals the high watermark.
	h.waitNoOpenTransaction(ctx)
	// After the aborted batch, on the same partitions (so none ends in a marker, which no
	// consumer ever commits past): lower versions, which lose to the aborted ones if those
	// were stored.
	h.produce(Result(0, 2), Result(7, 2), Result(1, 1))
	h.expect(map[string]int64{key(0): 2, key(7): 2, key(1): 1})
	h.runOnce()
	h.check("after an aborted transaction")
}

// waitNoOpenTransaction polls the results topic until every partition's last stable offset
// is its high watermark.
func (h *harness) waitNoOpenTransaction(ctx context.Context) {
	h.t.Helper()
	adm := kadm.NewClient(h.cl)
	topic := h.env.Topic(schemas.TopicStationResults)
	for {
		stable, err1 := adm.ListCommittedOffsets(ctx, topic)
		ends, err2 := adm.ListEndOffsets(ctx, topic)
		open := 0
		if err1 == nil && err2 == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if s, ok := stable.Lookup(o.Topic, o.Partition); !ok || s.Offset != o.Offset {
					open++
				}
			})
			if open == 0 {
				return
			}
		}
		if ctx.Err() != nil {
			h.t.Fatalf("a transaction still open on %s (%d partitions; errors %v, %v)", topic, open, err1, err2)
		}
		time.Sleep(20 * time.Millisecond) // polling the broker's offsets: there is no notification
	}
}

func stopsOnCancel(t *testing.T, newSink Factory) {
	h := newHarness(t, newSink)
	h.produce(Result(0, 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := h.in.Run(ctx)
	switch {
	case h.in.Continuous && err != nil:
		t.Fatalf("a continuous sink cancelled: %v, want nil", err)
	case !h.in.Continuous && !errors.Is(err, context.Canceled):
		t.Fatalf("a one-shot sink cancelled: %v, want context.Canceled", err)
	}
	// And a run after it still delivers everything.
	h.expect(map[string]int64{key(0): 1})
	h.runOnce()
	h.check("after a cancelled run")
}

func key(n int) string {
	r := Result(n, 1)
	return schemas.StationResultKey(r.StationID, r.Ballot)
}
