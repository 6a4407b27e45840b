package evidencelog

import (
	"log/slog"
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
	run := testenv.RunInBackground(t, l.Run)
	waitSize(t, dir, uint64(len(first)), 3*time.Minute)
	mark := logs.Mark()
	pk.Stop()
	outage := testenv.OutageLength(t, 35*time.Second)
	start := time.Now()
	testenv.WaitFor(t, "Kafka reported down after the broker stopped", time.Minute, func() bool { return run.Running() && l.Health() != nil })
	t.Logf("not ready %v after the broker stopped: %v", time.Since(start).Round(time.Millisecond), l.Health())
	for time.Since(start) < outage { // the outage itself, not a synchronisation
		run.Running()
		time.Sleep(time.Second)
	}
	pk.Start()
	produce(t, env, nt.records[half:])
	waitSize(t, dir, uint64(len(nt.leaves)), 3*time.Minute)
	run.Running()
	testenv.WaitFor(t, "caught up and Kafka reported up", time.Minute, func() bool { return l.Health() == nil })
	if err := run.Stop(); err != nil {
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
