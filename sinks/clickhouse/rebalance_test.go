package clickhouse_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/testenv"
	"votestream/schemas"
	sink "votestream/sinks/clickhouse"
)

// TestRebalanceMidStream: a second sink joins the group while the first has a backlog in
// its pipeline (a round inserting, the next polled). The first drains and lets the
// rebalance through, the second takes partitions and stores records too, both keep
// running, and every record is stored: none lost, one row per key after folding.
func TestRebalanceMidStream(t *testing.T) {
	f := newFixture(t)
	const group = "sink-rebalance"
	n := 0
	produce := func(count int) {
		for range count {
			f.produce(schemas.TopicSubmissions, report(n))
			n++
		}
	}
	produce(600)
	start := func() (*testenv.Background, *prometheus.Registry) {
		cfg := f.config(group)
		cfg.MaxBatchRecords, cfg.MaxInsertRecords = 10, 30
		reg := prometheus.NewRegistry()
		cfg.Registerer = reg
		s, err := sink.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return testenv.RunInBackground(t, s.Run), reg
	}
	stored := func(reg *prometheus.Registry) float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "votestream_sink_records_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	a, regA := start()
	deadline := time.Now().Add(2 * time.Minute)
	for stored(regA) == 0 {
		a.Running()
		if time.Now().After(deadline) {
			t.Fatal("the first sink stored nothing in 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, regB := start()
	// Keep records coming until the second sink has stored some: it only gets records
	// once the rebalance has given it partitions.
	for stored(regB) == 0 {
		a.Running()
		b.Running()
		if time.Now().After(deadline) {
			t.Fatalf("the second sink stored nothing in 2 minutes (the first stored %.0f)", stored(regA))
		}
		produce(12)
	}
	f.waitCommitted(group)
	a.Running()
	b.Running()
	if err := a.Stop(); err != nil {
		t.Errorf("first sink: %v", err)
	}
	if err := b.Stop(); err != nil {
		t.Errorf("second sink: %v", err)
	}
	t.Logf("%d records: the first sink committed %.0f, the second %.0f", n, stored(regA), stored(regB))
	if got := f.count("SELECT uniqExact(submission_id) FROM submissions"); got != uint64(n) {
		t.Errorf("%d distinct submissions stored, want %d", got, n)
	}
	if got := f.count("SELECT count() FROM submissions FINAL"); got != uint64(n) {
		t.Errorf("%d rows after folding duplicates, want %d", got, n)
	}
}
