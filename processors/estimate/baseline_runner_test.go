package estimate

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// The role with --baseline on the real broker: the match is a metric, and the published
// estimate carries each candidate's swing against the baseline.
func TestRunnerWithBaseline(t *testing.T) {
	env := testenv.Kafka(t)
	c, r := syntheticNight(t, 8, 12, 40)
	const renamed, missing = 20, 30
	b, err := LoadBaseline(previousOf(c, r, []float64{1.1, 0.9, 1, 1, 1}, renamed, missing, -1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := env.Client(t)
	var recs []*kgo.Record
	order := byReportTime(c, r)
	for _, i := range order[:len(order)/2] {
		s := c.Stations[i]
		for _, bal := range election.Ballots {
			rec, err := kgorecord.New(env.Topic(schemas.TopicStationResults), resultOf(s, bal, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: bal}], schemas.StatusVerified, 1))
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.Baseline, cfg.Registerer = env.Seeds, env.Prefix, c, b, reg
	cfg.Interval = time.Hour
	cfg.Logger = slog.New(slog.DiscardHandler)
	runner, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	consumer := env.Client(t, kgo.ConsumeTopics(env.Topic(schemas.TopicEstimates)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var est schemas.Estimate
	for est.StationsReported < len(order)/2 {
		f := consumer.PollRecords(ctx, 1)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no estimate: %v", err)
		}
		for _, rec := range f.Records() {
			if err := kgorecord.Decode(rec, &est); err != nil {
				t.Fatal(err)
			}
		}
		if est.StationsReported < len(order)/2 {
			runner.Trigger()
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := testutil.ToFloat64(runner.m.baseline.WithLabelValues("station")), float64(len(c.Stations)-renamed-missing); got != want {
		t.Errorf("baseline stations matched metric %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(runner.m.baseline.WithLabelValues("none")); got != renamed+missing {
		t.Errorf("stations without a baseline metric %v, want %d", got, renamed+missing)
	}
	withSwing := 0
	for _, cr := range est.Constituencies {
		for _, d := range cr.Candidates {
			if d.Swing != nil {
				withSwing++
				if *d.Swing < -1 || *d.Swing > 1 {
					t.Errorf("constituency %s candidate %d: swing %v", cr.ConstituencyID, d.CandidateNo, *d.Swing)
				}
			}
		}
	}
	if est.SharesState == schemas.StateEstimate && withSwing == 0 {
		t.Error("no candidate carries a swing")
	}
	t.Logf("state %s, %d candidates with a swing", est.SharesState, withSwing)
}
