package clickhouse_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	running := func() {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("Run returned: %v", err)
		default:
		}
	}
	f.waitCommitted(group)

	pc.Stop()
	start := time.Now()
	for i := before; i < total; i++ {
		f.produce(schemas.TopicSubmissions, report(i))
	}
	for s.Ready() == nil { // the sink notices at its next insert
		running()
		if time.Since(start) > time.Minute {
			t.Fatal("still ready a minute after ClickHouse stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("not ready %v after ClickHouse stopped: %v", time.Since(start).Round(time.Millisecond), s.Ready())
	outage := testenv.OutageLength(t, 45*time.Second)
	for time.Since(start) < outage { // the outage itself, not a synchronisation
		running()
		time.Sleep(time.Second)
	}
	pc.Start()
	f.waitCommitted(group)
	running()
	if err := s.Ready(); err != nil {
		t.Errorf("caught up but not ready: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
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
