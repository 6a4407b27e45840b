package consolidate

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"votestream/internal/testenv"
)

// TestKafkaOutage: the broker goes away in the middle of a night for longer than the
// transaction and session timeouts. The consolidator does not exit: it reports itself not
// ready, logs the outage once, and when the broker is back finishes the night with exactly
// the results and anomalies of an uninterrupted run, nothing lost or doubled.
func TestKafkaOutage(t *testing.T) {
	pk := testenv.OwnKafka(t)
	env := pk.KafkaEnv
	n := loadSimNight(t, 3, 3, 0.1)
	want, wantIDs := expectedResults(t, n)
	recs := reportRecords(t, env, n.reports)
	half := len(recs) / 2
	produce(t, env, recs[:half])

	var logs testenv.LogBuffer
	cfg := testConfig(env, n.country, "g", "t")
	cfg.MaxPollRecords = 50 // many transactions: the outage lands in the middle of one
	level := slog.LevelInfo
	if os.Getenv("VOTESTREAM_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	running := func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run returned during the outage: %v", err)
			return false
		default:
			return true
		}
	}

	// Bounds on waits, not timings: a loaded machine and a broker just back are slow.
	const slow = 3 * time.Minute
	followWithin(t, env, slow, func(o *outputLog) bool { return len(o.results) >= len(want)/6 })
	before := logs.Mark()
	pk.Stop()
	outage := testenv.OutageLength(t, 45*time.Second)
	start := time.Now()
	testenv.WaitFor(t, "readiness false after the broker stopped", time.Minute, func() bool { return running() && c.Ready() != nil })
	t.Logf("not ready %v after the broker stopped: %v", time.Since(start).Round(time.Millisecond), c.Ready())
	for time.Since(start) < outage { // the outage itself, not a synchronisation
		running()
		time.Sleep(time.Second)
	}
	pk.Start()
	produce(t, env, recs[half:])
	out := followWithin(t, env, slow, caughtUp(want))
	running()
	if err := c.Ready(); err != nil {
		t.Errorf("caught up but not ready: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkLog(t, out, want, wantIDs)
	down, up := logs.CountSince(before, `msg="waiting for kafka"`), logs.CountSince(before, `msg="kafka recovered"`)
	t.Logf("outage of %v: %d 'waiting for kafka' lines, %d 'kafka recovered'", outage, down, up)
	if down == 0 || down != up || down > 2 {
		t.Errorf("%d 'waiting for kafka' and %d 'kafka recovered' log lines for one outage: want one of each per change of state", down, up)
	}
}
