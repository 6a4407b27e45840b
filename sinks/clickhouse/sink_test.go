package clickhouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/schemas/provision"
	sink "votestream/sinks/clickhouse"
)

var at = time.Date(2023, 5, 14, 17, 40, 0, 0, time.UTC)

type fixture struct {
	t   *testing.T
	k   *testenv.KafkaEnv
	c   *testenv.ClickHouseEnv
	cl  *kgo.Client
	adm *kadm.Client
}

func newFixture(t *testing.T) *fixture {
	return newFixtureOn(t, testenv.ClickHouse(t))
}

// newFixtureOn is newFixture on a given database (a private server's).
func newFixtureOn(t *testing.T, c *testenv.ClickHouseEnv) *fixture {
	k := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := provision.MigrateClickHouse(ctx, c.Conn, c.Database); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cl := k.Client(t)
	return &fixture{t: t, k: k, c: c, cl: cl, adm: kadm.NewClient(cl)}
}

func (f *fixture) produce(topic string, msgs ...any) {
	f.t.Helper()
	var recs []*kgo.Record
	for _, m := range msgs {
		r, err := kgorecord.New(f.k.Topic(topic), m)
		if err != nil {
			f.t.Fatalf("record: %v", err)
		}
		recs = append(recs, r)
	}
	if err := f.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		f.t.Fatalf("produce: %v", err)
	}
}

func (f *fixture) config(group string) sink.Config {
	cfg := sink.DefaultConfig()
	cfg.Seeds = f.k.Seeds
	cfg.TopicPrefix = f.k.Prefix
	cfg.Group = group
	cfg.ClickHouseAddr = f.c.Addr
	cfg.Database = f.c.Database
	return cfg
}

// start runs a sink in the background; the returned stop cancels it and waits for Run.
func (f *fixture) start(group string) (stop func()) {
	f.t.Helper()
	s, err := sink.New(f.config(group))
	if err != nil {
		f.t.Fatalf("sink.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("sink.Run: %v", err)
		}
	}
}

// waitCommitted blocks until group has committed every record currently in the sink's
// topics: the sink commits only after its insert returned, so the rows are then stored.
func (f *fixture) waitCommitted(group string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topics := sink.Topics(f.k.Prefix)
	ends, err := f.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		f.t.Fatalf("end offsets: %v", err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		committed, err := f.adm.FetchOffsets(ctx, group)
		if err == nil {
			behind := 0
			ends.Each(func(o kadm.ListedOffset) {
				c, ok := committed.Lookup(o.Topic, o.Partition)
				if o.Offset > 0 && (!ok || c.At < o.Offset) {
					behind++
				}
			})
			if behind == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			f.t.Fatalf("group %s did not commit every record in time (last error %v)", group, err)
		case <-tick.C:
		}
	}
}

func (f *fixture) count(query string) uint64 {
	f.t.Helper()
	var n uint64
	if err := f.c.Conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func report(i int) schemas.Report {
	return schemas.Report{
		Submission: schemas.Submission{
			SubmissionID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			// Seven constituencies: the report topics are placed by constituency
			// (internal/partition), and the rebalance test needs records on several partitions.
			StationID: fmt.Sprintf("BKK_%d_%04d", i%7+1, i%7),
			Ballot:    "partylist", Stage: schemas.StageFinal, CountedAt: at,
			BallotsCast: 500, Invalid: 10, NoVote: 5, Votes: map[string]int{"31": 300, "29": 185},
		},
		VolunteerID: fmt.Sprintf("vol-%d", i), Org: "ilaw", Role: schemas.RoleStation,
		ReceivedAt: at.Add(time.Duration(i) * time.Second), Hash: fmt.Sprintf("sha256:%064d", i),
	}
}

func result(station string, version int64, cast int) schemas.StationResult {
	return schemas.StationResult{
		StationID: station, ConstituencyID: "BKK_1", Ballot: "partylist", Version: version,
		Status: schemas.StatusProvisional, Stage: schemas.StageProgress, BallotsCast: cast,
		Votes: map[string]int{"31": cast}, CountedAt: at, UpdatedAt: at.Add(time.Duration(version) * time.Second),
		Sources: []schemas.Source{{SubmissionID: "s", VolunteerID: "v", Org: "o", Stage: schemas.StageProgress, Hash: "sha256:00"}},
	}
}

// TestDeliveryAfterRestart: records produced while the sink is down are stored once it is
// back, and nothing stored before is lost.
func TestDeliveryAfterRestart(t *testing.T) {
	f := newFixture(t)
	const group = "sink-restart"
	for i := range 50 {
		f.produce(schemas.TopicSubmissions, report(i))
	}
	stop := f.start(group)
	f.waitCommitted(group)
	stop()
	if n := f.count("SELECT uniqExact(submission_id) FROM submissions"); n != 50 {
		t.Fatalf("after first run: %d submissions stored, want 50", n)
	}
	for i := 50; i < 120; i++ {
		f.produce(schemas.TopicSubmissions, report(i))
	}
	stop = f.start(group)
	f.waitCommitted(group)
	stop()
	if n := f.count("SELECT uniqExact(submission_id) FROM submissions"); n != 120 {
		t.Fatalf("after restart: %d submissions stored, want 120", n)
	}
}

// TestIdempotentRedelivery: a second consumer group re-reads every record from the start
// (what a crash before a commit does); the tables still hold one row per key.
func TestIdempotentRedelivery(t *testing.T) {
	f := newFixture(t)
	for i := range 30 {
		f.produce(schemas.TopicSubmissions, report(i))
	}
	f.produce(schemas.TopicAnomalies, schemas.Anomaly{
		AnomalyID: "a1", Code: schemas.AnomalyArith, Severity: schemas.SeveritySoft, StationID: "BKK_1_0001",
		Ballot: "partylist", Message: "votes + invalid + no_vote = 499, ballots cast 500", DetectedAt: at,
		Evidence: map[string]string{"sum": "499", "ballots_cast": "500"},
	})
	for _, group := range []string{"sink-a", "sink-b"} {
		stop := f.start(group)
		f.waitCommitted(group)
		stop()
	}
	if n := f.count("SELECT count() FROM submissions"); n != 60 {
		t.Fatalf("raw rows %d, want 60: the second group should have re-delivered every record", n)
	}
	if n := f.count("SELECT count() FROM submissions FINAL"); n != 30 {
		t.Fatalf("rows after folding duplicates %d, want 30", n)
	}
	if n := f.count("SELECT count() FROM anomalies FINAL"); n != 1 {
		t.Fatalf("anomalies after folding duplicates %d, want 1", n)
	}
}

// TestOrderingPerKey: station results arrive in version order per station; the current
// view gives the highest version of each, whatever the merge state.
func TestOrderingPerKey(t *testing.T) {
	f := newFixture(t)
	for v := int64(1); v <= 5; v++ {
		f.produce(schemas.TopicStationResults, result("BKK_1_0001", v, int(100*v)), result("BKK_1_0002", v, int(10*v)))
	}
	const group = "sink-order"
	stop := f.start(group)
	f.waitCommitted(group)
	stop()
	rows, err := f.c.Conn.Query(context.Background(), "SELECT station_id, version, ballots_cast FROM station_results_current ORDER BY station_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[string][2]uint64{"BKK_1_0001": {5, 500}, "BKK_1_0002": {5, 50}}
	got := 0
	for rows.Next() {
		var station string
		var version uint64
		var cast uint32
		if err := rows.Scan(&station, &version, &cast); err != nil {
			t.Fatal(err)
		}
		if w := want[station]; w[0] != version || w[1] != uint64(cast) {
			t.Errorf("%s: version %d ballots_cast %d, want %v", station, version, cast, w)
		}
		got++
	}
	if got != 2 {
		t.Fatalf("%d current rows, want 2", got)
	}
}

// TestDeadLetter: a record that cannot be decoded goes to the dead-letter topic with the
// reason, and does not stop the records after it.
func TestDeadLetter(t *testing.T) {
	f := newFixture(t)
	bad := &kgo.Record{Topic: f.k.Topic(schemas.TopicSubmissions), Key: []byte("BKK_1_0001"), Value: []byte(`{"not":"a report"`),
		Headers: []kgo.RecordHeader{{Key: "schema", Value: []byte("report.v1")}, {Key: "content-type", Value: []byte("application/json")}}}
	if err := f.cl.ProduceSync(context.Background(), bad).FirstErr(); err != nil {
		t.Fatal(err)
	}
	f.produce(schemas.TopicSubmissions, report(1))
	const group = "sink-dl"
	stop := f.start(group)
	f.waitCommitted(group)
	stop()
	if n := f.count("SELECT count() FROM submissions"); n != 1 {
		t.Fatalf("%d submissions stored, want 1 (the good record after the bad one)", n)
	}
	cons := f.k.Client(t, kgo.ConsumeTopics(f.k.Topic(schemas.TopicDeadLetter)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no dead letter arrived")
		}
		var found bool
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == schemas.HeaderReason && len(h.Value) > 0 && string(r.Value) == string(bad.Value) {
					found = true
				}
			}
		})
		if found {
			return
		}
	}
}

func TestConfigValidate(t *testing.T) {
	base := sink.DefaultConfig()
	base.Seeds, base.ClickHouseAddr = []string{"127.0.0.1:1"}, "127.0.0.1:2"
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, mutate := range map[string]func(*sink.Config){
		"no seeds":    func(c *sink.Config) { c.Seeds = nil },
		"no addr":     func(c *sink.Config) { c.ClickHouseAddr = "" },
		"bad db":      func(c *sink.Config) { c.Database = "x; DROP" },
		"no group":    func(c *sink.Config) { c.Group = "" },
		"zero batch":  func(c *sink.Config) { c.MaxBatchRecords = 0 },
		"no attempts": func(c *sink.Config) { c.InsertAttempts = 0 },
	} {
		c := base
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
