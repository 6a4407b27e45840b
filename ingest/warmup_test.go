package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

func TestDedupeRemember(t *testing.T) {
	d := newDedupe(10*time.Minute, 3)
	t0 := testNow
	rc := func(id string, at time.Time) schemas.Receipt {
		return schemas.Receipt{SubmissionID: id, Hash: "h", ReceivedAt: at}
	}
	remember := func(id, hash string, age time.Duration) bool {
		at := t0.Add(-age)
		return d.remember("submission/"+id, hash, "v", rc(id, at), at, t0)
	}
	has := func(ids ...string) {
		t.Helper()
		if len(d.m) != len(ids) {
			t.Fatalf("store holds %d ids, want %v", len(d.m), ids)
		}
		for _, id := range ids {
			if _, ok := d.m["submission/"+id]; !ok {
				t.Fatalf("%s forgotten; want %v", id, ids)
			}
		}
	}

	// Past the TTL at now (10 minutes, the bound included, as begin's expiry has it): not stored.
	if remember("a", "h", 12*time.Minute) || remember("b", "h", 10*time.Minute) {
		t.Fatal("stored an id older than the TTL")
	}
	if !remember("c", "h", 9*time.Minute) || !remember("d", "h", 5*time.Minute) {
		t.Fatal("refused an id within the TTL")
	}
	// The id again, later and with another body: the first acceptance stays.
	if remember("c", "h-other", 3*time.Minute) {
		t.Fatal("a second record of c replaced the first")
	}
	has("c", "d")

	// A remembered id answers like one settled in this process: the first receipt, or 409.
	e, st := d.begin("submission/c", "h", "v", t0)
	select {
	case <-e.done:
	default:
		t.Fatal("remembered entry not settled")
	}
	if st != dedupePending || !e.ok || e.receipt != rc("c", t0.Add(-9*time.Minute)) {
		t.Fatalf("retry of c: state %v ok %v receipt %+v", st, e.ok, e.receipt)
	}
	if _, st := d.begin("submission/c", "h-other", "v", t0); st != dedupeConflict {
		t.Fatalf("c with another body: %v, want conflict", st)
	}
	if _, st := d.begin("submission/c", "h", "w", t0); st != dedupeConflict {
		t.Fatalf("c from another volunteer: %v, want conflict", st)
	}

	// The size bound: the 4th id forgets the oldest (c).
	if !remember("e", "h", 4*time.Minute) || !remember("f", "h", 2*time.Minute) {
		t.Fatal("refused an id within the TTL")
	}
	has("d", "e", "f")

	// The TTL, 6 minutes on: d (added 5 minutes before t0) and e (4 minutes) are 11 and 10
	// minutes old and forgotten; f (8 minutes old) stays beside the new x.
	if _, st := d.begin("submission/x", "h", "v", t0.Add(6*time.Minute)); st != dedupeNew {
		t.Fatalf("x: %v", st)
	}
	has("f", "x")
}

func TestRememberSubmissionsOrder(t *testing.T) {
	d := newDedupe(10*time.Minute, 3)
	at := func(m int) time.Time { return testNow.Add(time.Duration(m) * time.Minute) }
	ws := func(id, hash string, m int) warmSubmission {
		return warmSubmission{key: "submission/" + id, hash: hash, volunteer: "v", receivedAt: at(m)}
	}
	// Two partitions read one after the other: p0 holds a(-9), c(-3); p1 holds b(-8), d(-2).
	subs := []warmSubmission{ws("a", "h", -9), ws("c", "h", -3), ws("b", "h", -8), ws("d", "h", -2)}
	if n := d.rememberSubmissions(subs, testNow); n != 4 {
		t.Fatalf("stored %d, want 4 (a, b, c, d; then the bound of 3 forgot the oldest, a)", n)
	}
	// In time order a, b, c, d with room for 3: a is forgotten, not the last one read (d).
	var keys []string
	for _, s := range d.queue[d.head:] {
		if d.m[s.key] == s.entry {
			keys = append(keys, s.key)
		}
	}
	if got := strings.Join(keys, " "); got != "submission/b submission/c submission/d" {
		t.Fatalf("queue %q, want b c d", got)
	}
	// An id produced twice (a retry that reached ingest after an earlier restart without a
	// warm-up), read in the other order: the first acceptance (h1, at -9) is the one kept.
	d = newDedupe(10*time.Minute, 10)
	d.rememberSubmissions([]warmSubmission{ws("a", "h2", -1), ws("a", "h1", -9)}, testNow)
	if e := d.m["submission/a"]; e == nil || e.hash != "h1" || !e.receipt.ReceivedAt.Equal(at(-9)) {
		t.Fatalf("a remembered as %+v, want the first acceptance (h1, 9 minutes before)", e)
	}
}

// serveHarness runs h's server on a loopback listener until the test ends, waits for its
// warm-up to end, and returns its base URL.
func serveHarness(t *testing.T, h *harness) string {
	t.Helper()
	url := serveStarting(t, h)
	select {
	case <-h.s.warmed:
	case <-time.After(2 * time.Minute):
		t.Fatal("the warm-up did not end")
	}
	return url
}

// serveStarting is serveHarness without waiting for the warm-up.
func serveStarting(t *testing.T, h *harness) string {
	t.Helper()
	url, run := testenv.Serve(t, h.s.Serve)
	t.Cleanup(func() {
		if err := run.Stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return url
}

// httpDo sends a request over the network, unlike harness.do, which calls the handler.
func httpDo(t *testing.T, method, url, tok, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestKafkaDedupeWarmup restarts ingest between a submission and its retry: the new process
// must answer the retry with the first receipt and produce nothing, from what it read back
// from the topic at start.
func TestKafkaDedupeWarmup(t *testing.T) {
	env := testenv.Kafka(t)
	const (
		idX = "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a1001" // BKK_1_0001
		idY = "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a1002" // CNX_1_0001, most likely another partition
		idZ = "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a1003" // BKK_1_0001, a minute later
	)
	bodyX := validSub().with("submission_id", idX).json()
	bodyY := validSub().with("submission_id", idY, "station_id", "CNX_1_0001", "votes", map[string]int{"1": 403}).json()

	// Server A accepts X and Y at testNow, then stops.
	a := kafkaHarness(t, env.Seeds, env.Prefix, nil)
	tok := issue(t, a.keys, tokenClaimsStation("ilaw-0001", "BKK_1_0001", "CNX_1_0001"))
	first := map[string]schemas.Receipt{}
	for id, body := range map[string]string{idX: bodyX, idY: bodyY} {
		r := a.post("/v1/submissions", tok, body)
		if r.status != 202 || r.receipt(t).Duplicate {
			t.Fatalf("server A, %s: %d %s", id, r.status, r.body)
		}
		first[id] = r.receipt(t)
	}
	a.s.Close()

	// Server B starts a minute later on the same topics.
	b := kafkaHarness(t, env.Seeds, env.Prefix, nil)
	b.clock.Advance(time.Minute)
	url := serveHarness(t, b)
	for id, body := range map[string]string{idX: bodyX, idY: bodyY} {
		r := httpDo(t, http.MethodPost, url+"/v1/submissions", tok, body)
		if r.status != 202 {
			t.Fatalf("server B, retry of %s: %d %s", id, r.status, r.body)
		}
		got, want := r.receipt(t), first[id]
		want.Duplicate = true
		// A receipt made by B would say received_at = testNow + 1 minute.
		if got.SubmissionID != want.SubmissionID || got.Hash != want.Hash || !got.ReceivedAt.Equal(testNow) || !got.Duplicate {
			t.Fatalf("server B, retry of %s: receipt %+v, want %+v", id, got, want)
		}
	}
	if r := httpDo(t, http.MethodPost, url+"/v1/submissions", tok, validSub().with("submission_id", idX, "invalid", 10).json()); r.status != 409 {
		t.Fatalf("server B, X's id with another body: %d %s", r.status, r.body)
	}
	other := issueFor(t, b, "ilaw-0002")
	if r := httpDo(t, http.MethodPost, url+"/v1/submissions", other, bodyX); r.status != 409 {
		t.Fatalf("server B, X's body from another volunteer: %d %s", r.status, r.body)
	}
	if r := httpDo(t, http.MethodGet, url+"/metrics", "", ""); !bytes.Contains(r.body, []byte("\nvotestream_ingest_dedupe_warmup_ids 2\n")) {
		t.Errorf("metrics without votestream_ingest_dedupe_warmup_ids 2:\n%s", r.body)
	}
	// Z goes to X's partition after the retries: once Z is read, a record the retry of X
	// produced would have been read before it.
	if r := httpDo(t, http.MethodPost, url+"/v1/submissions", tok, validSub().with("submission_id", idZ, "stage", "progress").json()); r.status != 202 {
		t.Fatalf("server B, Z: %d %s", r.status, r.body)
	}
	recs := readAll(t, env, env.Topic(schemas.TopicSubmissions), func(rs []*kgo.Record) bool {
		return submissionIDs(t, rs)[idZ] > 0
	})
	ids := submissionIDs(t, recs)
	for _, id := range []string{idX, idY, idZ} {
		if ids[id] != 1 {
			t.Errorf("%s is in the topic %d times, want once", id, ids[id])
		}
	}

	// Server C starts 30.5 minutes after A: X and Y (30.5 minutes old) are past the 30-minute
	// TTL and not read back; Z (29.5 minutes old) is.
	c := kafkaHarness(t, env.Seeds, env.Prefix, nil)
	c.clock.Advance(DefaultConfig().DedupeTTL + 30*time.Second)
	url = serveHarness(t, c)
	if n := c.s.dedupe.len(); n != 1 {
		t.Fatalf("server C remembers %d ids, want 1 (Z)", n)
	}
	r := httpDo(t, http.MethodPost, url+"/v1/submissions", tok, bodyX)
	if r.status != 202 || r.receipt(t).Duplicate || !r.receipt(t).ReceivedAt.Equal(c.clock.Now()) {
		t.Fatalf("server C, X after the TTL: %d %s, want a new receipt", r.status, r.body)
	}
	r = httpDo(t, http.MethodPost, url+"/v1/submissions", tok, validSub().with("submission_id", idZ, "stage", "progress").json())
	if r.status != 202 || !r.receipt(t).Duplicate {
		t.Fatalf("server C, retry of Z: %d %s, want the first receipt", r.status, r.body)
	}
}

// lockedBuffer is a log destination the test reads while the server may write.
type lockedBuffer = testenv.LogBuffer

// TestWarmupWithoutKafka: with no broker, the warm-up gives up after WarmupTimeout, says so,
// and ingest serves anyway.
func TestWarmupWithoutKafka(t *testing.T) {
	logs := &lockedBuffer{}
	h := kafkaHarness(t, []string{closedPort(t)}, "", func(c *Config) {
		c.WarmupTimeout = 500 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	url := serveHarness(t, h)
	if r := httpDo(t, http.MethodGet, url+"/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "partly warmed") || !strings.Contains(out, "ids=0") {
		t.Fatalf("no warning of the failed warm-up in the log:\n%s", out)
	}
}

// TestServesWhileWarming: a broker that accepts connections and never answers holds the
// warm-up for its whole timeout; meanwhile ingest answers at once: alive, not ready, and
// submissions refused with 503 STARTING and Retry-After rather than kept waiting.
func TestServesWhileWarming(t *testing.T) {
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() { // owned by the cleanup below, which closes the listener and so ends it
		defer close(accepted)
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		hung.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	})
	h := kafkaHarness(t, []string{hung.Addr().String()}, "", func(c *Config) { c.WarmupTimeout = time.Hour })
	url := serveStarting(t, h)

	if r := httpDo(t, http.MethodGet, url+"/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz while warming: %d %s", r.status, r.body)
	}
	if r := httpDo(t, http.MethodGet, url+"/readyz", "", ""); r.status != 503 || !bytes.Contains(r.body, []byte(`"starting"`)) || r.header.Get("Retry-After") == "" {
		t.Fatalf("readyz while warming: %d %s", r.status, r.body)
	}
	r := httpDo(t, http.MethodPost, url+"/v1/submissions", h.volunteer, validSub().json())
	if code, _ := r.errorCode(); r.status != 503 || code != CodeStarting || r.header.Get("Retry-After") != "1" {
		t.Fatalf("submission while warming: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
	}
	select {
	case <-h.s.warmed:
		t.Fatal("the warm-up ended against a broker that never answers")
	default:
	}
}

func TestConfigWarmupTimeout(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {time.Minute, true}, {-time.Second, false}} {
		cfg := DefaultConfig()
		cfg.WarmupTimeout = tc.d
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("WarmupTimeout %v: Validate %v", tc.d, err)
		}
	}
}

// BenchmarkKafkaDedupeWarmup times the warm-up over a topic of warmupBenchRecords reports
// (produced once, spread over all partitions and the last 25 minutes): one op is one start.
//
//	VOTESTREAM_KAFKA=127.0.0.1:29092 go test ./ingest/ -run '^$' -bench KafkaDedupeWarmup -benchtime 3x
func BenchmarkKafkaDedupeWarmup(b *testing.B) {
	const warmupBenchRecords = 200000
	env := testenv.Kafka(b)
	stations := []string{"BKK_1_0001", "BKK_1_0002", "BKK_2_0001", "CNX_1_0001"}
	cl := env.Client(b, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(50000))
	ctx := context.Background()
	for i := range warmupBenchRecords {
		at := testNow.Add(-25 * time.Minute).Add(time.Duration(i) * 25 * time.Minute / warmupBenchRecords)
		rep := schemas.Report{
			Submission: schemas.Submission{
				SubmissionID: fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-%012d", i), StationID: stations[i%len(stations)],
				Ballot: "constituency", Stage: schemas.StageFinal, CountedAt: at.Add(-10 * time.Minute),
				BallotsCast: 412, Invalid: 9, NoVote: 4, Votes: map[string]int{"1": 230, "2": 120, "5": 49},
			},
			VolunteerID: fmt.Sprintf("ilaw-%05d", i%20000), Org: "iLaw", Role: schemas.RoleStation,
			ReceivedAt: at.UTC(), Hash: fmt.Sprintf("sha256:%064d", i),
		}
		rec, err := kgorecord.New(env.Topic(schemas.TopicSubmissions), rep)
		if err != nil {
			b.Fatal(err)
		}
		rec.Timestamp = at
		// Round-robin over partitions, as many stations would spread.
		rec.Key = fmt.Appendf(nil, "%s-%d", rep.StationID, i%97)
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		h := kafkaHarness(b, env.Seeds, env.Prefix, nil)
		h.s.warmDedupe(ctx)
		if n := h.s.dedupe.len(); n != warmupBenchRecords {
			b.Fatalf("warmed %d ids, want %d", n, warmupBenchRecords)
		}
	}
	b.ReportMetric(float64(warmupBenchRecords)*float64(b.N)/b.Elapsed().Seconds(), "ids/s")
}

// TestKafkaWarmupReadsNewestShare: with a store of at most DedupeMaxEntries ids, the warm-up
// reads only each partition's share of the newest records, so the ids it keeps are the
// latest, the ones a phone is still retrying.
func TestKafkaWarmupReadsNewestShare(t *testing.T) {
	env := testenv.Kafka(t)
	a := kafkaHarness(t, env.Seeds, env.Prefix, nil)
	var bodies []string
	for i := range 5 { // one station, so one partition, in this order
		body := validSub().with("submission_id", fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a20%02d", i), "stage", "progress").json()
		if r := a.post("/v1/submissions", a.volunteer, body); r.status != 202 {
			t.Fatalf("server A, submission %d: %d %s", i, r.status, r.body)
		}
		bodies = append(bodies, body)
	}
	a.s.Close()

	// share = max/partitions + 1 = 2 records of that partition: the last two.
	partitions := 0
	for _, tp := range schemas.Topics {
		if tp.Name == schemas.TopicSubmissions {
			partitions = int(tp.Partitions)
		}
	}
	b := kafkaHarness(t, env.Seeds, env.Prefix, func(c *Config) { c.DedupeMaxEntries = partitions })
	b.clock.Advance(time.Minute)
	url := serveHarness(t, b)
	for i, body := range bodies {
		r := httpDo(t, http.MethodPost, url+"/v1/submissions", b.volunteer, body)
		if want := i >= 3; r.status != 202 || r.receipt(t).Duplicate != want {
			t.Errorf("retry of submission %d: %d %s, want duplicate=%v", i, r.status, r.body, want)
		}
	}
}
