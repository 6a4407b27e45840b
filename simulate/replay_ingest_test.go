package simulate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/ingest"
	"votestream/ingest/token"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/simulate"
)

// Replays against a real ingest writing to a real broker: what the phones' retry rules must
// give is every report stored exactly once, however its answers were lost.

// smallNight is a country of 56 stations and its night of about 500 submissions.
func smallNight(t *testing.T) (*simulate.Simulation, *simulate.Night) {
	t.Helper()
	cfg := simulate.SmallConfig(3)
	cfg.Country.StationsScale = 0.02
	sim, err := simulate.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := sim.Night()
	if err != nil {
		t.Fatal(err)
	}
	return sim, n
}

// realIngest serves a real ingest for sim's country on a loopback port, producing to seeds,
// until the test ends. It returns the base URL and the keyring its tokens are signed with.
func realIngest(t *testing.T, sim *simulate.Simulation, seeds []string, prefix string, mutate func(*ingest.Config)) (string, *token.Keyring) {
	t.Helper()
	line, err := token.NewKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, err := token.LoadKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ingest.DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.TokenKeysFile = seeds, prefix, keys
	cfg.Country, cfg.Logger = sim.Country, slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.EvidenceDir, cfg.RatePerVolunteer = t.TempDir(), 0
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, run := testenv.Serve(t, srv.Serve)
	t.Cleanup(func() {
		if err := run.Stop(); err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
	waitUntil(t, "ingest ready", 90*time.Second, func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url, ring
}

// waitUntil polls cond every 100 ms until it holds, failing the test after limit.
func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		<-tick.C
	}
}

func tokens(ring *token.Keyring) func(simulate.Volunteer) (string, error) {
	return func(v simulate.Volunteer) (string, error) {
		now := time.Now()
		return ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: v.ID, Org: v.Org, Role: schemas.RoleStation,
			Stations: v.Stations, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
}

// storedOnce reads the submissions topic until every id the replay was told is stored is
// there, then checks each is there exactly once and nothing else is.
func storedOnce(t *testing.T, env *testenv.KafkaEnv, night *simulate.Night, sum simulate.Summary, refused map[string]bool) {
	t.Helper()
	want := map[string]bool{}
	sends := 0 // a DUPLICATE fault sends an id twice
	for ev := range night.Events() {
		if id := ev.Submission.SubmissionID; !refused[id] {
			want[id] = true
			sends++
		}
	}
	if sends != sum.Stored() {
		t.Errorf("the replay says %d stored, %d sends were not refused", sum.Stored(), sends)
	}
	// Every stored report was acknowledged before the replay ended: the topic's end offsets
	// now cover them all, and anything beyond (a second copy) would be there too.
	topic := env.Topic(schemas.TopicSubmissions)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(env.Client(t)).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of %s: %v %v", topic, err, ends.Error())
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl := env.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]int{}
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s not read to its end offsets in 90 s (partitions left: %v)", topic, left)
		}
		for _, r := range fs.Records() {
			var rep schemas.Report
			if err := kgorecord.Decode(r, &rep); err != nil {
				t.Fatal(err)
			}
			got[rep.SubmissionID]++
			if r.Offset+1 >= left[r.Partition] {
				delete(left, r.Partition)
			}
		}
	}
	for id := range want {
		if got[id] == 0 {
			t.Errorf("submission %s was acknowledged but is not in Kafka", id)
		}
	}
	twice := 0
	for id, n := range got {
		switch {
		case !want[id]:
			t.Errorf("submission %s is in Kafka, but the replay counted it refused", id)
		case n > 1:
			twice++
			t.Errorf("submission %s is in Kafka %d times", id, n)
		}
	}
	t.Logf("%d submissions stored, each once (%d in Kafka more than once)", len(want), twice)
}

// recordingTransport wraps the client so the test learns which ids ingest refused for good.
type recordingTransport struct {
	next    http.RoundTripper
	mu      sync.Mutex
	refused map[string]bool
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := rt.next.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429 {
		rt.mu.Lock()
		rt.refused[submissionID(body)] = true
		rt.mu.Unlock()
	}
	return resp, err
}

func submissionID(body []byte) string {
	var s schemas.Submission
	_ = json.Unmarshal(body, &s)
	return s.SubmissionID
}

// TestReplayLostReceiptsStoredOnce: a proxy between the phones and a real ingest hands every
// third submission to ingest and then cuts the connection before the receipt gets back. The
// replay must retry those with the same id and count them duplicate-accepted, and Kafka must
// hold every report exactly once.
func TestReplayLostReceiptsStoredOnce(t *testing.T) {
	env := testenv.Kafka(t)
	sim, night := smallNight(t)
	url, ring := realIngest(t, sim, env.Seeds, env.Prefix, nil)

	var mu sync.Mutex
	tries := map[string]int{}
	cut := 0
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := submissionID(body)
		mu.Lock()
		tries[id]++
		lose := tries[id] == 1 && len(tries)%3 == 0
		if lose {
			cut++
		}
		mu.Unlock()
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, url+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if lose { // ingest answered; the phone never hears it
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(answer)
	}))
	t.Cleanup(proxy.Close)

	rt := &recordingTransport{next: http.DefaultTransport, refused: map[string]bool{}}
	rc := simulate.DefaultReplayConfig()
	rc.URL, rc.Speed, rc.Concurrency, rc.Token = proxy.URL, 0, 8, tokens(ring)
	rc.Client = &http.Client{Transport: rt}
	sum, err := simulate.Replay(context.Background(), rc, night.Events())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("receipts cut: %d\n%s", cut, sum)
	if sum.GivenUp != 0 || sum.OutcomeUnknown != cut || sum.DuplicateAccepted < cut || sum.Stored()+sum.Refused != sum.Events {
		t.Errorf("want every cut receipt retried and found stored (cut %d): %s", cut, sum)
	}
	storedOnce(t, env, night, sum, rt.refused)
}

// TestReplayRidesKafkaOutage stops a private broker in the middle of a replay and starts it
// again: ingest answers 503 KAFKA_UNAVAILABLE meanwhile (or times out), the phones keep
// retrying with the same ids, and when the broker is back every report is stored, each
// exactly once; none is given up.
func TestReplayRidesKafkaOutage(t *testing.T) {
	pk := testenv.OwnKafka(t)
	sim, night := smallNight(t)
	url, ring := realIngest(t, sim, pk.Seeds, pk.Prefix, func(c *ingest.Config) {
		c.ProduceTimeout, c.RetryAfter = time.Second, time.Second
	})

	// The night in three parts: the first sent with the broker up, the second after it is
	// stopped, the last after it is back.
	all := night.Len()
	stopped, restarted := make(chan struct{}), make(chan struct{})
	wantStop := make(chan struct{})
	events := func(yield func(simulate.Event) bool) {
		i := 0
		for ev := range night.Events() {
			switch i {
			case all / 3:
				close(wantStop)
				<-stopped
			case 2 * all / 3:
				<-restarted
			}
			if !yield(ev) {
				return
			}
			i++
		}
	}
	rt := &recordingTransport{next: http.DefaultTransport, refused: map[string]bool{}}
	rc := simulate.DefaultReplayConfig()
	rc.URL, rc.Speed, rc.Concurrency, rc.Token = url, 0, 8, tokens(ring)
	rc.RetryBudget = 5 * time.Minute
	rc.Client = &http.Client{Transport: rt}
	type result struct {
		sum simulate.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := simulate.Replay(context.Background(), rc, events)
		done <- result{sum, err}
	}()

	<-wantStop
	pk.Stop()
	close(stopped)
	outageStart := time.Now()
	// Hold the broker down until ingest has refused six tries per phone in flight: more than
	// the five tries after which the old client gave up.
	waitUntil(t, "503 KAFKA_UNAVAILABLE answers", 3*time.Minute, func() bool {
		return kafkaUnavailable(t, url) >= 6*rc.Concurrency
	})
	pk.Start()
	outage := time.Since(outageStart)
	close(restarted)
	var r result
	select {
	case r = <-done:
	case <-time.After(8 * time.Minute):
		t.Fatal("replay did not end within 8 minutes")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	sum := r.sum
	t.Logf("broker down for %v, ingest answered 503 KAFKA_UNAVAILABLE %d times\n%s", outage.Round(time.Second), kafkaUnavailable(t, url), sum)
	if sum.GivenUp != 0 || sum.Unknown != 0 || sum.Stored()+sum.Refused != sum.Events || sum.OutcomeUnknown == 0 {
		t.Errorf("want every submission stored or refused, none given up, and the outage felt: %s", sum)
	}
	storedOnce(t, pk.KafkaEnv, night, sum, rt.refused)
}

// kafkaUnavailable reads ingest's count of submissions answered 503 KAFKA_UNAVAILABLE.
func kafkaUnavailable(t *testing.T, url string) int {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, `votestream_ingest_items_total{kind="submission",outcome="KAFKA_UNAVAILABLE"} `); ok {
			n, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return int(n)
		}
	}
	return 0
}
