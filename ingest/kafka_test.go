package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/ingest/token"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// Integration tests against the real broker (VOTESTREAM_KAFKA). A 202 must mean the record
// is in the topic: each test reads the topic back.

// kafkaHarness is a harness whose Server produces to a real broker.
func kafkaHarness(t testing.TB, seeds []string, prefix string, mutate func(*Config), opts ...Option) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Seeds = seeds
	cfg.TopicPrefix = prefix
	cfg.Country = testCountry(t)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.EvidenceDir = t.TempDir()
	cfg.RatePerVolunteer = 0
	cfg.ShutdownGrace = 5 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{t: t, keys: testKeyring(t), staff: testStaffKeyring(t), console: testConsoleKeys(t), clock: &testClock{now: testNow}}
	s, err := New(cfg, append([]Option{WithKeyring(h.keys), WithStaffKeyring(h.staff), WithConsoleKeys(h.console), WithClock(h.clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	h.s = s
	h.volunteer = issueFor(t, h, "ilaw-0001")
	h.lead = issueLead(t, h)
	return h
}

func issueFor(t testing.TB, h *harness, id string) string {
	return issue(t, h.keys, tokenClaimsStation(id, "BKK_1_0001"))
}

// readAll consumes topic from the start until stop says it has seen enough, or fails the
// test after a bounded wait.
func readAll(t *testing.T, env *testenv.KafkaEnv, topic string, stop func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl := env.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for !stop(recs) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %s before the deadline; wanted more", len(recs), topic)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s[%d]: %v", topic, p, err) })
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func submissionIDs(t *testing.T, recs []*kgo.Record) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, r := range recs {
		var rep schemas.Report
		if err := kgorecord.Decode(r, &rep); err != nil {
			t.Fatal(err)
		}
		ids[rep.SubmissionID]++
	}
	return ids
}

func TestKafkaAcceptedMeansInTopic(t *testing.T) {
	env := testenv.Kafka(t)
	h := kafkaHarness(t, env.Seeds, env.Prefix, nil)
	id := func(n int) string { return fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a%04d", n) }

	first := h.post("/v1/submissions", h.volunteer, validSub().with("submission_id", id(1)).json())
	if first.status != 202 {
		t.Fatalf("single: %d %s", first.status, first.body)
	}
	batch := "[" + validSub().with("submission_id", id(2)).json() + "," +
		validSub().with("submission_id", id(3), "ballot", "partylist", "votes", map[string]int{"7": 10}).json() + "]"
	if r := h.post("/v1/submissions", h.volunteer, batch); r.status != 202 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	// A retry, then a changed body under the same id, then a sentinel on the same station
	// (so the same partition, in order): once the sentinel is read, anything the retry might
	// have produced would have been read before it.
	dup := h.post("/v1/submissions", h.volunteer, validSub().with("submission_id", id(1)).json())
	if dup.status != 202 || !dup.receipt(t).Duplicate || dup.receipt(t).Hash != first.receipt(t).Hash {
		t.Fatalf("retry: %d %s", dup.status, dup.body)
	}
	if r := h.post("/v1/submissions", h.volunteer, validSub().with("submission_id", id(1), "invalid", 10).json()); r.status != 409 {
		t.Fatalf("changed body: %d %s", r.status, r.body)
	}
	if r := h.post("/v1/submissions", h.volunteer, validSub().with("submission_id", id(4), "stage", "progress").json()); r.status != 202 {
		t.Fatalf("sentinel: %d %s", r.status, r.body)
	}
	recs := readAll(t, env, env.Topic(schemas.TopicSubmissions), func(rs []*kgo.Record) bool {
		return submissionIDs(t, rs)[id(4)] > 0
	})
	ids := submissionIDs(t, recs)
	for n := 1; n <= 4; n++ {
		if ids[id(n)] != 1 {
			t.Errorf("submission %d is in the topic %d times, want once", n, ids[id(n)])
		}
	}
	for _, r := range recs {
		if string(r.Key) != "BKK_1_0001" {
			t.Errorf("record key %q", r.Key)
		}
	}

	review := `{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency",
		"accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0001","reason":"matches the signed form"}`
	if r := h.post("/v1/reviews", h.lead, review); r.status != 202 {
		t.Fatalf("review: %d %s", r.status, r.body)
	}
	official := `{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000001","station_id":"BKK_1_0001","ballot":"constituency",
		"ballots_cast":412,"invalid":9,"no_vote":4,"votes":{"1":230,"2":120,"5":49}}`
	if r := h.post("/v1/official", h.lead, official); r.status != 202 {
		t.Fatalf("official: %d %s", r.status, r.body)
	}
	rv := readAll(t, env, env.Topic(schemas.TopicReviews), func(rs []*kgo.Record) bool { return len(rs) >= 1 })
	of := readAll(t, env, env.Topic(schemas.TopicOfficial), func(rs []*kgo.Record) bool { return len(rs) >= 1 })
	var gotReview schemas.Review
	var gotOfficial schemas.Official
	if err := kgorecord.Decode(rv[0], &gotReview); err != nil || gotReview.ReviewerID != "lead-bkk1" {
		t.Fatalf("review record: %v %+v", err, gotReview)
	}
	if err := kgorecord.Decode(of[0], &gotOfficial); err != nil || gotOfficial.EnteredBy != "lead-bkk1" || gotOfficial.BallotsCast != 412 {
		t.Fatalf("official record: %v %+v", err, gotOfficial)
	}
	if r := h.do(http.MethodGet, "/readyz", "", "", nil); r.status != 200 {
		t.Fatalf("readyz with a broker: %d %s", r.status, r.body)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestKafkaUnreachable(t *testing.T) {
	testenv.Kafka(t) // same skip rule as the other integration tests
	h := kafkaHarness(t, []string{closedPort(t)}, "", func(c *Config) {
		c.ProduceTimeout = time.Second
		c.RetryAfter = 3 * time.Second
	})
	// The answer comes, as 503 with Retry-After, rather than a hang (the test's own timeout
	// is the only clock here).
	r := h.post("/v1/submissions", h.volunteer, validSub().json())
	if code, _ := r.errorCode(); r.status != 503 || code != CodeKafkaUnavailable || r.header.Get("Retry-After") != "3" {
		t.Fatalf("unreachable broker: %d %s Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	batch := "[" + validSub().with("submission_id", "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0002").json() + "]"
	if r := h.post("/v1/submissions", h.volunteer, batch); r.status != 503 {
		t.Fatalf("batch, unreachable broker: %d %s", r.status, r.body)
	}
	if r := h.do(http.MethodGet, "/readyz", "", "", nil); r.status != 503 {
		t.Fatalf("readyz without a broker: %d", r.status)
	}
}

// TestKafkaBrokerRestart stops a private broker for 30 s (VOTESTREAM_OUTAGE_SECONDS) and
// restarts it while a client keeps sending, retrying each submission with the same id
// until it is accepted, as the app does. Ingest stays up, answers 503, reports Kafka down
// (Health, the dependency gauge) with one log line at each end of the outage, and every
// acknowledged submission is in the topic afterwards.
func TestKafkaBrokerRestart(t *testing.T) {
	pk := testenv.OwnKafka(t)
	logs := &lockedBuffer{}
	h := kafkaHarness(t, pk.Seeds, pk.Prefix, func(c *Config) {
		c.ProduceTimeout = time.Second
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	stations := []string{"BKK_1_0001", "BKK_1_0002"}
	tok := issue(t, h.staff, tokenClaimsLead())

	var (
		mu       sync.Mutex
		acked    []string
		refusals int
	)
	ackedN := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	refusedN := func() int { mu.Lock(); defer mu.Unlock(); return refusals }
	progress := make(chan struct{}, 1)
	notify := func() {
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(3 * time.Minute)
		for !cond() {
			select {
			case <-progress:
			case <-deadline:
				t.Fatalf("timed out waiting for %s (acked %d, refused %d)", what, ackedN(), refusedN())
			}
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ctx.Err() == nil; n++ {
			id := fmt.Sprintf("5e000000-0000-4000-8000-%012d", n)
			body := validSub().with("submission_id", id, "station_id", stations[n%2]).json()
			for ctx.Err() == nil { // retry the same id until accepted
				r := h.post("/v1/submissions", tok, body)
				mu.Lock()
				if r.status == 202 {
					acked = append(acked, id)
				} else {
					refusals++
				}
				mu.Unlock()
				notify()
				if r.status == 202 {
					break
				}
				if r.status != 503 {
					t.Errorf("status %d: %s", r.status, r.body)
					return
				}
			}
		}
	}()

	waitFor("submissions before the stop", func() bool { return ackedN() >= 50 })
	mark := len(logs.String())
	pk.Stop()
	stopped := time.Now()
	before := refusedN()
	waitFor("503s while the broker is down", func() bool { return refusedN() >= before+3 })
	waitFor("Kafka reported down", func() bool { return h.s.Health() != nil })
	outage := 30 * time.Second
	if v := os.Getenv("VOTESTREAM_OUTAGE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("VOTESTREAM_OUTAGE_SECONDS=%q", v)
		}
		outage = time.Duration(n) * time.Second
	}
	for time.Since(stopped) < outage { // the outage itself, not a synchronisation
		time.Sleep(time.Second)
	}
	pk.Start()
	afterRestart := ackedN()
	waitFor("submissions after the restart", func() bool { return ackedN() >= afterRestart+50 })
	stop()
	wg.Wait()

	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	recs := readAll(t, pk.KafkaEnv, pk.Topic(schemas.TopicSubmissions), func(rs []*kgo.Record) bool {
		ids := submissionIDs(t, rs)
		for _, id := range want {
			if ids[id] == 0 {
				return false
			}
		}
		return true
	})
	ids := submissionIDs(t, recs)
	dups := 0
	for _, n := range ids {
		dups += n - 1
	}
	t.Logf("acknowledged %d, refused with 503 %d, records %d, duplicate records %d", len(want), refusedN(), len(recs), dups)
	if err := h.s.Health(); err != nil {
		t.Errorf("accepting again but Kafka reported down: %v", err)
	}
	after := logs.String()[mark:]
	if os.Getenv("VOTESTREAM_TEST_LOG") != "" {
		t.Log(after)
	}
	down, up := strings.Count(after, `msg="waiting for kafka"`), strings.Count(after, `msg="kafka recovered"`)
	t.Logf("outage of %v: %d 'waiting for kafka' lines, %d 'kafka recovered'", outage, down, up)
	if down == 0 || down != up || down > 2 {
		t.Errorf("%d 'waiting for kafka' and %d 'kafka recovered' log lines for one outage: want one of each per change of state", down, up)
	}
	if !strings.HasPrefix(pk.Seeds[0], "127.0.0.1:") {
		t.Fatalf("private broker at %v", pk.Seeds)
	}
}

func tokenClaimsStation(id string, stations ...string) token.Claims {
	return token.Claims{VolunteerID: id, Role: schemas.RoleStation, Stations: stations}
}

func tokenClaimsLead() token.Claims {
	return token.Claims{VolunteerID: "lead-bkk1", Org: "war room", Role: schemas.RoleDistrictLead, Constituency: "BKK_1"}
}

func issueLead(t testing.TB, h *harness) string { return issue(t, h.staff, tokenClaimsLead()) }
