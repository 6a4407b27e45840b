package evidencelog

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"votestream/internal/testenv"
)

// TestKafkaOutage: the broker goes away after half a night is in the log, for longer than
// the group's session. The writer does not exit: it reports Kafka down, logs the outage
// once at each end, and once the broker is back logs the rest of the night: every leaf
// exactly once, as an uninterrupted run.
func TestKafkaOutage(t *testing.T) {
	pk := testenv.OwnKafka(t)
	env := pk.KafkaEnv
	dir := t.TempDir()
	keyFile, keys := testKeys(t, t.TempDir())
	nt := makeNight(t, env, 200)
	half := len(nt.records) / 2
	produce(t, env, nt.records[:half])
	first := map[string]bool{}
	for _, leaf := range nt.leafOf[:half] {
		first[leaf] = true
	}

	var logs testenv.LogBuffer
	cfg := testConfig(env, dir, keyFile, "g")
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	running := func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run returned: %v", err)
			return false
		default:
			return true
		}
	}
	waitSize(t, dir, uint64(len(first)), 3*time.Minute)
	mark := logs.Mark()
	pk.Stop()
	outage := 35 * time.Second
	if s := os.Getenv("VOTESTREAM_OUTAGE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("VOTESTREAM_OUTAGE_SECONDS=%q", s)
		}
		outage = time.Duration(n) * time.Second
	}
	start := time.Now()
	deadline := start.Add(time.Minute)
	for running() && l.Health() == nil { // a state, polled
		if time.Now().After(deadline) {
			t.Fatal("Kafka still reported up a minute after the broker stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("not ready %v after the broker stopped: %v", time.Since(start).Round(time.Millisecond), l.Health())
	for time.Since(start) < outage { // the outage itself, not a synchronisation
		running()
		time.Sleep(time.Second)
	}
	pk.Start()
	produce(t, env, nt.records[half:])
	waitSize(t, dir, uint64(len(nt.leaves)), 3*time.Minute)
	running()
	deadline = time.Now().Add(time.Minute)
	for l.Health() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("caught up but Kafka still reported down: %v", l.Health())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	_, entries := readEntries(t, dir, keys.PublicKeys)
	checkExactlyOnce(t, entries, nt.leaves)
	down, up := logs.CountSince(mark, `msg="waiting for kafka"`), logs.CountSince(mark, `msg="kafka recovered"`)
	t.Logf("outage of %v: %d 'waiting for kafka' lines, %d 'kafka recovered'", outage, down, up)
	if down == 0 || down != up || down > 2 {
		t.Errorf("%d 'waiting for kafka' and %d 'kafka recovered' log lines for one outage: want one of each per change of state", down, up)
	}
}
