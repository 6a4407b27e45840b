package clickhouse_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/testenv"
	"votestream/schemas"
	sink "votestream/sinks/clickhouse"
)

// TestClickHouseOutage: the sink's ClickHouse server stops in the middle of a stream for
// longer than the insert retries once lasted. The sink does not exit: it says it is not
// ready, logs the outage once, and when the server is back stores every record exactly
// as an uninterrupted run does (one row per submission after folding, none missing).
func TestClickHouseOutage(t *testing.T) {
	pc := testenv.OwnClickHouse(t)
	f := newFixtureOn(t, pc.ClickHouseEnv)
	const group, before, total = "sink-outage", 200, 500
	for i := range before {
		f.produce(schemas.TopicSubmissions, report(i))
	}
	var logs testenv.LogBuffer
	cfg := f.config(group)
	cfg.MaxBatchRecords = 50
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := sink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := testenv.RunInBackground(t, s.Run)
	f.waitCommitted(group)

	pc.Stop()
	start := time.Now()
	for i := before; i < total; i++ {
		f.produce(schemas.TopicSubmissions, report(i))
	}
	for s.Ready() == nil { // the sink notices at its next insert
		run.Running()
		if time.Since(start) > time.Minute {
			t.Fatal("still ready a minute after ClickHouse stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("not ready %v after ClickHouse stopped: %v", time.Since(start).Round(time.Millisecond), s.Ready())
	outage := testenv.OutageLength(t, 45*time.Second)
	for time.Since(start) < outage { // the outage itself, not a synchronisation
		run.Running()
		time.Sleep(time.Second)
	}
	pc.Start()
	f.waitCommitted(group)
	run.Running()
	if err := s.Ready(); err != nil {
		t.Errorf("caught up but not ready: %v", err)
	}
	if err := run.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := f.count("SELECT uniqExact(submission_id) FROM submissions"); n != total {
		t.Errorf("%d distinct submissions stored, want %d", n, total)
	}
	if n := f.count("SELECT count() FROM submissions FINAL"); n != total {
		t.Errorf("%d rows after folding duplicates, want %d", n, total)
	}
	down, up := logs.Count(`msg="waiting for clickhouse"`), logs.Count(`msg="clickhouse recovered"`)
	t.Logf("outage of %v: %d 'waiting for clickhouse' lines, %d 'clickhouse recovered'", outage, down, up)
	if down == 0 || down != up || down > 2 {
		t.Errorf("%d 'waiting for clickhouse' and %d 'clickhouse recovered' lines for one outage: want one of each", down, up)
	}
}

// TestClickHouseIdleOutage: with nothing to insert, the sink still notices its ClickHouse
// server stopping and coming back (it pings while idle): readiness and
// votestream_dependency_up{role="sink",dependency="clickhouse"} follow the server within
// seconds, with one log line each way, and records produced afterwards are stored.
func TestClickHouseIdleOutage(t *testing.T) {
	pc := testenv.OwnClickHouse(t)
	f := newFixtureOn(t, pc.ClickHouseEnv)
	const group = "sink-idle-outage"
	f.produce(schemas.TopicSubmissions, report(0), report(1))
	var logs testenv.LogBuffer
	reg := prometheus.NewRegistry()
	cfg := f.config(group)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.Registerer = reg
	s, err := sink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := testenv.RunInBackground(t, s.Run)
	f.waitCommitted(group) // caught up: from here on the sink is idle
	if err := s.Ready(); err != nil {
		t.Fatalf("caught up but not ready: %v", err)
	}
	if up := clickhouseUp(t, reg); up != 1 {
		t.Fatalf("dependency_up %v before the outage, want 1", up)
	}

	pc.Stop()
	stopped := time.Now()
	testenv.WaitFor(t, "readiness false with no insert", 30*time.Second, func() bool { return run.Running() && s.Ready() != nil })
	t.Logf("not ready %v after ClickHouse stopped: %v", time.Since(stopped).Round(time.Millisecond), s.Ready())
	if up := clickhouseUp(t, reg); up != 0 {
		t.Errorf("dependency_up %v while ClickHouse is stopped, want 0", up)
	}

	pc.Start()
	started := time.Now()
	testenv.WaitFor(t, "ready again with no insert", 30*time.Second, func() bool { return run.Running() && s.Ready() == nil })
	t.Logf("ready %v after ClickHouse answered again", time.Since(started).Round(time.Millisecond))
	if up := clickhouseUp(t, reg); up != 1 {
		t.Errorf("dependency_up %v after ClickHouse came back, want 1", up)
	}

	f.produce(schemas.TopicSubmissions, report(2))
	f.waitCommitted(group)
	if err := run.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := f.count("SELECT uniqExact(submission_id) FROM submissions"); n != 3 {
		t.Errorf("%d distinct submissions stored, want 3", n)
	}
	down, up := logs.Count(`msg="waiting for clickhouse"`), logs.Count(`msg="clickhouse recovered"`)
	if down != 1 || up != 1 {
		t.Errorf("%d 'waiting for clickhouse' and %d 'clickhouse recovered' lines for one idle outage: want one of each", down, up)
	}
}

// clickhouseUp is the sink's votestream_dependency_up gauge for ClickHouse, as gathered from reg.
func clickhouseUp(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range families {
		if mf.GetName() != "votestream_dependency_up" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "dependency" && l.GetValue() == "clickhouse" {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatal("no votestream_dependency_up{dependency=\"clickhouse\"} gathered")
	return 0
}
