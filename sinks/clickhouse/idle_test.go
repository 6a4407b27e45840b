package clickhouse_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/testenv"
	"votestream/schemas"
	sink "votestream/sinks/clickhouse"
)

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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	f.waitCommitted(group) // caught up: from here on the sink is idle
	if err := s.Ready(); err != nil {
		t.Fatalf("caught up but not ready: %v", err)
	}
	if up := clickhouseUp(t, reg); up != 1 {
		t.Fatalf("dependency_up %v before the outage, want 1", up)
	}

	pc.Stop()
	stopped := time.Now()
	testenv.WaitFor(t, "readiness false with no insert", 30*time.Second, func() bool { return s.Ready() != nil })
	t.Logf("not ready %v after ClickHouse stopped: %v", time.Since(stopped).Round(time.Millisecond), s.Ready())
	if up := clickhouseUp(t, reg); up != 0 {
		t.Errorf("dependency_up %v while ClickHouse is stopped, want 0", up)
	}

	pc.Start()
	started := time.Now()
	testenv.WaitFor(t, "ready again with no insert", 30*time.Second, func() bool { return s.Ready() == nil })
	t.Logf("ready %v after ClickHouse answered again", time.Since(started).Round(time.Millisecond))
	if up := clickhouseUp(t, reg); up != 1 {
		t.Errorf("dependency_up %v after ClickHouse came back, want 1", up)
	}

	f.produce(schemas.TopicSubmissions, report(2))
	f.waitCommitted(group)
	cancel()
	if err := <-done; err != nil {
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
