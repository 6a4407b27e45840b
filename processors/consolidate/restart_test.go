package consolidate

import (
	"context"
	"sync/atomic"
	"testing"

	"votestream/internal/testenv"
)

// TestAnomaliesExactlyOnceAcrossRestarts: a consolidator stopped ten times right after its
// rebuild (a few transactions in, where the flags a rebuild finds are published) leaves
// every anomaly id on anomalies.v1 exactly once, and the same ids and results as an
// uninterrupted Ledger-only run. Before anomaly ids were read back, outliers cleared along
// the way and cross-partition flags were raised again after each rebuild.
func TestAnomaliesExactlyOnceAcrossRestarts(t *testing.T) {
	env := testenv.Kafka(t)
	n := loadSimNight(t, 11, 3, 0.5)
	want, wantIDs := expectedResults(t, n)
	produce(t, env, reportRecords(t, env, n.reports))

	cfg := testConfig(env, n.country, "g", "t")
	cfg.MaxPollRecords = 200
	const restarts = 10
	// Each run commits a slice of the night, so the ten rebuilds land all along it.
	perRun := int64(len(n.reports) / cfg.MaxPollRecords / (restarts + 2))
	if perRun < 1 {
		perRun = 1
	}
	for i := range restarts {
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var commits atomic.Int64
		c.onCommit = func() {
			if commits.Add(1) >= perRun {
				cancel()
			}
		}
		err = c.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if commits.Load() < perRun {
			t.Fatalf("run %d stopped after %d transactions, want %d", i+1, commits.Load(), perRun)
		}
	}
	stop := start(t, cfg)
	follow(t, env, caughtUp(want))
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Read everything back once the last process has stopped: nothing is in flight.
	var total int
	out := follow(t, env, func(o *outputLog) bool {
		total = len(o.anomalies)
		return caughtUp(want)(o) && total >= len(wantIDs)
	})
	perID, perCode := map[string]int{}, map[string]int{}
	for _, a := range out.anomalies {
		perID[a.AnomalyID]++
		perCode[a.Code]++
	}
	dups := 0
	for id, k := range perID {
		if k > 1 {
			dups++
			t.Errorf("anomaly %s on the topic %d times", id, k)
		}
	}
	t.Logf("%d restarts: %d anomaly records for %d ids (%d repeated), %d expected ids; records by code %v", restarts, total, len(perID), dups, len(wantIDs), perCode)
	checkLog(t, out, want, wantIDs)
}
