//go:build chaos

package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/ingest/token"
	"votestream/internal/kafkaread"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/simulate"
)

// TestClusterNightBrokerKilled replays a night through 2 ingest, 3 consolidate, 2 sink, an
// estimate and a feed process on a private 3-broker KRaft cluster (replication 3,
// min.insync.replicas 2) storing into a private ClickHouse, and meanwhile: kills with SIGKILL
// the broker leading the first submissions partition a third of the way in, and one
// consolidate and one sink process just after, restarting the broker two thirds in; kills
// every role's process once more with SIGKILL at a random moment (seeded); stops ClickHouse
// for VOTESTREAM_CHAOS_CH_OUTAGE (default 30 s) from a random moment, and the whole Kafka
// cluster for VOTESTREAM_CHAOS_KAFKA_OUTAGE (default 20 s) from a random moment after the
// killed broker is back. Every killed process is
// restarted at once, as compose would. Then: every report acknowledged is in Kafka, every
// station result was published exactly once (versions strictly rising per key, none twice),
// the station results, anomalies and ClickHouse tables equal those of an uninterrupted run
// of as many consolidate and sink processes over the same reports, and no process exited
// other than by the test's SIGKILL.
//
// VOTESTREAM_CHAOS_SCALE sets the night's size (stations scale of the small country,
// default 0.3: about 400 stations); VOTESTREAM_CHAOS_SEED the random moments (default: the
// clock, printed); VOTESTREAM_CHAOS_LOGS keeps the processes' logs.
func TestClusterNightBrokerKilled(t *testing.T) {
	scale := 0.3
	if s := os.Getenv("VOTESTREAM_CHAOS_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 || v > 1 {
			t.Fatalf("VOTESTREAM_CHAOS_SCALE=%q: want a number in (0, 1]", s)
		}
		scale = v
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("VOTESTREAM_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("VOTESTREAM_CHAOS_SEED=%q: want an integer", s)
		}
		seed = v
	}
	chOutage, kafkaOutage := envDuration(t, "VOTESTREAM_CHAOS_CH_OUTAGE", 30*time.Second), envDuration(t, "VOTESTREAM_CHAOS_KAFKA_OUTAGE", 20*time.Second)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("chaos: seed %d (VOTESTREAM_CHAOS_SEED=%d repeats these moments)", seed, seed)
	started := time.Now()
	pk := testenv.OwnKafkaCluster(t, 3)
	t.Logf("chaos: 3-broker cluster up at %v (%s)", pk.Seeds, time.Since(started).Round(time.Second))
	privateCH := testenv.OwnClickHouse(t) // the faulted run's: stopped and restarted below
	faultedDB, referenceDB := privateCH.ClickHouseEnv, testenv.ClickHouse(t)
	bin := buildBinary(t)
	seeds := strings.Join(pk.Seeds, ",")
	adm := pk.Admin(t)

	cfg := simulate.SmallConfig(7)
	cfg.Country.StationsScale = scale
	refDir := t.TempDir()
	_, night, err := simulate.WriteCountry(cfg, refDir)
	if err != nil {
		t.Fatal(err)
	}
	keys, ring := keyFile(t)
	refPrefix := pk.Prefix + "reference."
	runOnce(t, bin, "migrate", "--kafka", seeds, "--clickhouse", faultedDB.Addr, "--database", faultedDB.Database, "--topic-prefix", pk.Prefix)
	runOnce(t, bin, "migrate", "--kafka", seeds, "--clickhouse", referenceDB.Addr, "--database", referenceDB.Database, "--topic-prefix", refPrefix)

	// The faulted deployment.
	var ingests []string
	var procs []*proc
	for i := range 2 {
		addr := freeAddr(t)
		procs = append(procs, startProc(t, bin, fmt.Sprintf("ingest-%d", i+1), "ingest", "--kafka", seeds, "--topic-prefix", pk.Prefix,
			"--ref", refDir, "--keys", keys, "--listen", addr, "--evidence-dir", t.TempDir(), "--rate", "0"))
		ingests = append(ingests, "http://"+addr)
	}
	procs = append(procs, processors(t, bin, "", seeds, pk.Prefix, refDir, faultedDB)...)
	newsroomKeys := filepath.Join(t.TempDir(), "newsroom-keys")
	runOnce(t, bin, "feed", "keygen", "--keys", newsroomKeys, "--newsroom", "chaos")
	procs = append(procs,
		startProc(t, bin, "estimate", "estimate", "--kafka", seeds, "--topic-prefix", pk.Prefix, "--ref", refDir, "--metrics", freeAddr(t)),
		startProc(t, bin, "feed", "feed", "--kafka", seeds, "--topic-prefix", pk.Prefix, "--ref", refDir, "--keys", newsroomKeys,
			"--listen", freeAddr(t), "--metrics", freeAddr(t)))
	for i, u := range ingests {
		waitFor(t, fmt.Sprintf("ingest-%d ready", i+1), 2*time.Minute, func() bool { return httpOK(u + "/readyz") })
	}

	victim := leaderOf(t, adm, pk.Prefix+schemas.TopicSubmissions, 0)
	all := night.Len()
	killAt, killed, restartAt := make(chan struct{}), make(chan struct{}), make(chan struct{})
	// Each process killed once more at a random moment between a tenth and nine tenths of the
	// night; ClickHouse stopped from a random moment between a fifth and a half.
	randomKills := map[int][]*proc{}
	for _, p := range procs {
		at := all/10 + rng.IntN(8*all/10)
		randomKills[at] = append(randomKills[at], p)
	}
	chStopAt := all/5 + rng.IntN(3*all/10)
	// The whole Kafka cluster stopped once the killed broker is back, between three quarters
	// and nine tenths of the night.
	kafkaStopAt := 3*all/4 + rng.IntN(3*all/20)
	brokerBack := make(chan struct{})
	var chDone sync.WaitGroup
	var chStoppedAfter, chBackAfter, kStoppedAfter, kBackAfter atomic.Int64
	replayBegan := time.Now()
	events := func(yield func(simulate.Event) bool) {
		i := 0
		for ev := range night.Events() {
			for _, p := range randomKills[i] {
				p.kill()
				t.Logf("chaos: %s killed with SIGKILL after %d of %d reports were sent", p.name, i, all)
			}
			if i == chStopAt {
				chDone.Add(1)
				go func() { // stopping takes seconds: the replay goes on meanwhile
					defer chDone.Done()
					privateCH.Stop()
					chStoppedAfter.Store(int64(time.Since(replayBegan)))
					time.Sleep(chOutage) // the outage itself, not a synchronisation
					privateCH.Start()
					chBackAfter.Store(int64(time.Since(replayBegan)))
				}()
				t.Logf("chaos: ClickHouse being stopped for %s after %d of %d reports were sent", chOutage, i, all)
			}
			if i == kafkaStopAt {
				<-brokerBack
				chDone.Add(1)
				go func() {
					defer chDone.Done()
					pk.Stop()
					kStoppedAfter.Store(int64(time.Since(replayBegan)))
					time.Sleep(kafkaOutage) // the outage itself, not a synchronisation
					pk.Start()
					kBackAfter.Store(int64(time.Since(replayBegan)))
				}()
				t.Logf("chaos: the whole Kafka cluster being stopped for %s after %d of %d reports were sent", kafkaOutage, i, all)
			}
			switch i {
			case all / 3:
				close(killAt)
			case 2 * all / 3:
				<-killed // the last third is sent with the broker dead, then it restarts
				close(restartAt)
			}
			if !yield(ev) {
				return
			}
			i++
		}
	}
	rt := &recordingTransport{next: http.DefaultTransport, refused: map[string]bool{}}
	rc := simulate.DefaultReplayConfig()
	rc.URL, rc.Speed, rc.Concurrency, rc.Token = roundRobin(t, ingests), 0, 16, tokens(ring)
	rc.RetryBudget = 5 * time.Minute
	rc.Client = &http.Client{Transport: rt}
	type result struct {
		sum simulate.Summary
		err error
	}
	done := make(chan result, 1)
	replayStart := time.Now()
	go func() {
		sum, err := simulate.Replay(context.Background(), rc, events)
		done <- result{sum, err}
	}()
	<-killAt
	pk.Kill(victim)
	close(killed)
	t.Logf("chaos: broker %d (leader of submissions partition 0) killed with SIGKILL after %d of %d reports were sent (%s into the replay)",
		victim, all/3, all, time.Since(replayStart).Round(time.Millisecond))
	// While the broker is away, a consolidator and a sink crash too (restarted, as compose
	// would): exactly once must hold through both.
	for _, p := range procs {
		if p.name == "consolidate-2" || p.name == "sink-1" {
			p.kill()
			t.Logf("chaos: %s killed with SIGKILL", p.name)
		}
	}
	<-restartAt
	restartBegan := time.Now()
	pk.Start()
	close(brokerBack)
	t.Logf("chaos: broker %d restarted after %d reports were sent; up again in %s", victim, 2*all/3, time.Since(restartBegan).Round(time.Second))
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	chDone.Wait()
	t.Logf("chaos: ClickHouse was down from %s to %s into the replay, the whole Kafka cluster from %s to %s",
		time.Duration(chStoppedAfter.Load()).Round(time.Second), time.Duration(chBackAfter.Load()).Round(time.Second),
		time.Duration(kStoppedAfter.Load()).Round(time.Second), time.Duration(kBackAfter.Load()).Round(time.Second))
	t.Logf("chaos: replay of %d reports over 2 ingest processes took %s\n%s", all, time.Since(replayStart).Round(time.Second), res.sum)
	if res.sum.GivenUp != 0 || res.sum.Stored()+res.sum.Refused != res.sum.Events {
		t.Errorf("want every report stored or refused for good, none given up: %s", res.sum)
	}

	// Zero acknowledged reports lost.
	subs := readCommitted(t, pk.Seeds, pk.Prefix+schemas.TopicSubmissions)
	copies := map[string]int{}
	for _, r := range subs {
		var rep schemas.Report
		if err := kgorecord.Decode(r, &rep); err != nil {
			t.Fatal(err)
		}
		copies[rep.SubmissionID]++
	}
	lost, twice := 0, 0
	for ev := range night.Events() {
		if id := ev.Submission.SubmissionID; !rt.isRefused(id) && copies[id] == 0 {
			lost++
			if lost <= 10 {
				t.Errorf("report %s was acknowledged but is not in Kafka", id)
			}
		}
	}
	for _, n := range copies {
		if n > 1 {
			twice++ // a retry that reached the other ingest process: consolidate drops it
		}
	}
	t.Logf("chaos: %d distinct reports in submissions.v1, %d acknowledged reports missing, %d stored twice (by the two ingest processes)", len(copies), lost, twice)

	// The faulted run's station results, once consolidate has read every report.
	waitGroupCaughtUp(t, adm, pk.Prefix+"consolidate", pk.Prefix+schemas.TopicSubmissions)
	waitStable(t, adm, pk.Prefix+schemas.TopicStationResults)
	faulted := latestResults(t, pk.Seeds, pk.Prefix)

	// The uninterrupted run: the same reports, 3 consolidate and 2 sink processes, no faults.
	copyTopic(t, pk.Seeds, subs, refPrefix+schemas.TopicSubmissions)
	processors(t, bin, "reference-", seeds, refPrefix, refDir, referenceDB)
	waitGroupCaughtUp(t, adm, refPrefix+"consolidate", refPrefix+schemas.TopicSubmissions)
	waitStable(t, adm, refPrefix+schemas.TopicStationResults)
	reference := latestResults(t, pk.Seeds, refPrefix)

	// Station results: the same final result per station and ballot.
	if len(faulted) != len(reference) {
		t.Errorf("station results: %d keys in the faulted run, %d in the uninterrupted one", len(faulted), len(reference))
	}
	differ := 0
	for k, want := range reference {
		got, ok := faulted[k]
		if !ok || !reflect.DeepEqual(comparable(got), comparable(want)) {
			differ++
			if differ <= 5 {
				t.Errorf("station result %s differs:\nfaulted   %+v\nreference %+v", k, comparable(got), comparable(want))
			}
		}
	}
	t.Logf("chaos: %d station results, %d differ from the uninterrupted run", len(reference), differ)

	// ClickHouse: each sink has stored the latest version of every result, and the tables
	// agree with each other.
	waitFor(t, "faulted ClickHouse to hold every latest result", 5*time.Minute, func() bool { return chHasLatest(t, faultedDB, faulted) })
	waitFor(t, "reference ClickHouse to hold every latest result", 5*time.Minute, func() bool { return chHasLatest(t, referenceDB, reference) })
	for _, q := range []struct{ what, sql string }{
		{"current station results", `SELECT station_id, ballot, status, stage, ballots_cast, invalid, no_vote, vote_no, votes,
			source_submission_ids, anomalies, decided_by, toString(counted_at) FROM %s.station_results_current ORDER BY station_id, ballot`},
		{"anomaly ids", `SELECT DISTINCT anomaly_id, code, station_id FROM %s.anomalies ORDER BY anomaly_id`},
		{"submission ids", `SELECT DISTINCT submission_id FROM %s.submissions ORDER BY submission_id`},
	} {
		a, b := chRows(t, faultedDB, q.sql), chRows(t, referenceDB, q.sql)
		if !slices.Equal(a, b) {
			t.Errorf("ClickHouse %s: %d rows in the faulted run, %d in the uninterrupted one, not equal (first difference: %s)", q.what, len(a), len(b), firstDiff(a, b))
		} else {
			t.Logf("chaos: ClickHouse %s: %d rows, equal to the uninterrupted run", q.what, len(a))
		}
	}

	kills, exits := 0, 0
	for _, p := range procs {
		kills += len(p.exitsAll())
		if ex := p.unexpectedExits(); len(ex) > 0 {
			exits += len(ex)
			t.Errorf("chaos: %s exited %d times by itself (restarted, as compose would; no role may exit because a dependency is away): %v\n%s", p.name, len(ex), ex, p.tail())
		}
	}
	verdict := "PASS"
	if t.Failed() {
		verdict = "FAIL"
	}
	t.Logf("chaos: verdict %s: broker %d killed and restarted, %d process kills with SIGKILL (every role at a random moment, seed %d), ClickHouse stopped for %s, the whole Kafka cluster for %s, under a night of %d reports; %d acknowledged lost; station results exactly once; ClickHouse compared with an uninterrupted run; %d exits by a process itself (%s in all)",
		verdict, victim, kills-exits, seed, chOutage, kafkaOutage, all, lost, exits, time.Since(started).Round(time.Second))
}

// envDuration is the duration in the environment variable name, or def.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a duration such as 30s", name, s)
	}
	return v
}

// processors starts 3 consolidate and 2 sink processes on the topics under prefix, storing
// into db: the faulted deployment and the uninterrupted one have the same shape, since
// detectors that look across stations (PHOTO_REUSE, the outliers) see only the partitions
// their process holds.
func processors(t *testing.T, bin, name, seeds, prefix, refDir string, db *testenv.ClickHouseEnv) []*proc {
	t.Helper()
	var procs []*proc
	for i := range 3 {
		procs = append(procs, startProc(t, bin, fmt.Sprintf("%sconsolidate-%d", name, i+1), "consolidate", "--kafka", seeds, "--topic-prefix", prefix,
			"--ref", refDir, "--group", prefix+"consolidate", "--transactional-id", fmt.Sprintf("%sconsolidate-%d", prefix, i+1),
			"--metrics", freeAddr(t)))
	}
	for i := range 2 {
		procs = append(procs, startProc(t, bin, fmt.Sprintf("%ssink-%d", name, i+1), "sink", "--kafka", seeds, "--topic-prefix", prefix,
			"--clickhouse", db.Addr, "--database", db.Database, "--group", prefix+"sink", "--metrics", freeAddr(t)))
	}
	return procs
}

// comparable is a station result without what depends on the run rather than the reports:
// the version (how many times it was republished).
func comparable(r schemas.StationResult) schemas.StationResult {
	r.Version = 0
	return r
}

// latestResults reads station-results.v1 under prefix to its stable end, checks each key's
// versions rise strictly (each result published exactly once) and returns the latest.
func latestResults(t *testing.T, seeds []string, prefix string) map[string]schemas.StationResult {
	t.Helper()
	latest := map[string]schemas.StationResult{}
	seen := map[string]int64{}
	for _, r := range readCommitted(t, seeds, prefix+schemas.TopicStationResults) {
		var res schemas.StationResult
		if err := kgorecord.Decode(r, &res); err != nil {
			t.Fatal(err)
		}
		k := string(r.Key)
		if prev, ok := seen[k]; ok && res.Version <= prev {
			t.Errorf("%s: %s version %d published after version %d: not exactly once", prefix, k, res.Version, prev)
		}
		seen[k] = res.Version
		latest[k] = res
	}
	return latest
}

// readCommitted reads a topic from its start to its last stable offset, as a read_committed
// consumer sees it (internal/kafkaread, as the export reads).
func readCommitted(t *testing.T, seeds []string, topic string) []*kgo.Record {
	t.Helper()
	r, err := kafkaread.New(kafkaread.Config{Seeds: seeds, Topics: []kafkaread.Topic{{Name: topic}},
		List: kafkaread.ListCurve.Within(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	var out []*kgo.Record
	for !r.CaughtUp() {
		b, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("%s not read to its stable offsets (behind: %v): %v", topic, r.Behind(), err)
		}
		out = append(out, b.Records...)
	}
	return out
}

// copyTopic produces recs, partition for partition, to topic.
func copyTopic(t *testing.T, seeds []string, recs []*kgo.Record, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
	}
	if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
		t.Fatalf("copy to %s: %v", topic, err)
	}
}

// waitGroupCaughtUp waits until group has committed every record of topic.
func waitGroupCaughtUp(t *testing.T, adm *kadm.Client, group, topic string) {
	t.Helper()
	waitFor(t, group+" to consume all of "+topic, 5*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lags, err := adm.Lag(ctx, group)
		if err != nil {
			return false
		}
		l, ok := lags[group]
		if !ok || l.Error() != nil {
			return false
		}
		ps, ok := l.Lag[topic]
		if !ok || len(ps) == 0 {
			return false
		}
		for _, p := range ps {
			if p.Err != nil || p.Lag != 0 || p.Commit.At < 0 && p.End.Offset > 0 {
				return false
			}
		}
		return true
	})
}

// waitStable waits until every partition of topic has its last stable offset at its end: no
// transaction open or awaiting its markers. A consumer group's commit returns before the
// commit markers of the output partitions are written, and a read_committed reader stops at
// the last stable offset, so without this the last transaction's results can be missed.
func waitStable(t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	waitFor(t, topic+" to have no transaction pending", 2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil || ends.Error() != nil {
			return false
		}
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil || stable.Error() != nil {
			return false
		}
		n := 0
		for _, e := range ends[topic] {
			st, ok := stable.Lookup(topic, e.Partition)
			if !ok || st.Offset != e.Offset {
				return false
			}
			n++
		}
		return n > 0
	})
}

// chHasLatest: the database's current results are exactly latest's keys at latest's versions.
func chHasLatest(t *testing.T, db *testenv.ClickHouseEnv, latest map[string]schemas.StationResult) bool {
	t.Helper()
	rows, err := chRowsErr(db, `SELECT station_id, ballot, version FROM %s.station_results_current`)
	if err != nil || len(rows) != len(latest) { // a pooled connection from before the outage may fail once
		return false
	}
	for _, r := range rows {
		f := strings.Split(r, "\t")
		res, ok := latest[schemas.StationResultKey(f[0], f[1])]
		if !ok || strconv.FormatInt(res.Version, 10) != f[2] {
			return false
		}
	}
	return true
}

// chRows runs a query (%s: the database) and returns each row as tab-joined text.
func chRows(t *testing.T, db *testenv.ClickHouseEnv, query string) []string {
	t.Helper()
	out, err := chRowsErr(db, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func chRowsErr(db *testenv.ClickHouseEnv, query string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := db.Conn.Query(ctx, fmt.Sprintf(query, db.Database))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(reflect.ValueOf(v).Elem().Interface())
		}
		out = append(out, strings.Join(parts, "\t"))
	}
	return out, rows.Err()
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("row %d: %q vs %q", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("one is a prefix of the other (%d vs %d rows)", len(a), len(b))
}

// leaderOf is the broker leading a partition now.
func leaderOf(t *testing.T, adm *kadm.Client, topic string, partition int32) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := td[topic].Partitions[partition]
	if !ok || p.Leader < 1 {
		t.Fatalf("%s[%d] has no leader: %+v", topic, partition, td[topic])
	}
	return int(p.Leader)
}

// roundRobin is a load balancer in front of the ingest processes, as the proxy is in the
// deployment: each request to the next one.
func roundRobin(t *testing.T, backends []string) string {
	t.Helper()
	var n atomic.Uint64
	var refusedOnce atomic.Bool
	targets := make([]*url.URL, len(backends))
	for i, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[n.Add(1)%uint64(len(targets))])
		},
		// A killed ingest process refuses connections until it is restarted: a 502, which
		// the phones retry, as a load balancer's would be; one log line, not thousands.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if refusedOnce.CompareAndSwap(false, true) {
				t.Logf("chaos: proxy: %v (answered 502; later ones not logged)", err)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

func keyFile(t *testing.T) (string, *token.Keyring) {
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
	return keys, ring
}

func tokens(ring *token.Keyring) func(simulate.Volunteer) (string, error) {
	return func(v simulate.Volunteer) (string, error) {
		now := time.Now()
		return ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: v.ID, Org: v.Org, Role: schemas.RoleStation,
			Stations: v.Stations, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
}

// recordingTransport remembers which submission ids ingest refused for good (a 4xx other
// than 408 and 429): those are not expected in Kafka.
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
		var s schemas.Submission
		_ = json.Unmarshal(body, &s)
		rt.mu.Lock()
		rt.refused[s.SubmissionID] = true
		rt.mu.Unlock()
	}
	return resp, err
}

func (rt *recordingTransport) isRefused(id string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.refused[id]
}

func httpOK(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitFor polls cond every 200 ms until it holds, failing the test after limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		<-tick.C
	}
}
