package estimate

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

var errBadForTest = errors.New("test: not a station result")

// TestKafkaOutage: the broker goes away after half the night has been estimated, for
// longer than ProduceTimeout, while an estimate is asked for. The runner does not exit: it
// reports itself not ready, logs the outage once, and when the broker is back reads the
// rest of the night, dead-letters the one corrupt record once, and publishes the count,
// as an uninterrupted run does.
func TestKafkaOutage(t *testing.T) {
	pk := testenv.OwnKafka(t)
	env := pk.KafkaEnv
	c, r := syntheticNight(t, 7, 8, 20)
	var recs []*kgo.Record
	for _, s := range c.Stations {
		for _, b := range election.Ballots {
			for v, status := range []schemas.Status{schemas.StatusDisputed, schemas.StatusVerified} {
				rec, err := kgorecord.New(env.Topic(schemas.TopicStationResults), resultOf(s, b, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: b}], status, int64(v+1)))
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rec)
			}
		}
	}
	half := len(recs) / 2
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := env.Client(t).ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(recs[:half]...)

	var logs testenv.LogBuffer
	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country = env.Seeds, env.Prefix, c
	cfg.Interval = time.Second
	cfg.ProduceTimeout = 10 * time.Second // shorter than the outage: a delivery fails in it
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	runner, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	running := func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run returned: %v", err)
			return false
		default:
			return true
		}
	}
	reported := func() int {
		est, ok := runner.Latest()
		if !ok {
			return 0
		}
		return est.StationsReported
	}

	const slow = 3 * time.Minute // bounds on waits, not timings
	testenv.WaitFor(t, "an estimate of the first half", slow, func() bool { return running() && reported() > 0 })
	before := reported()
	mark := logs.Mark()
	pk.Stop()
	outage := testenv.OutageLength(t, 40*time.Second)
	start := time.Now()
	runner.Trigger() // an estimate to deliver while the broker is away
	// And a dead letter, through the same path a corrupt record read just before the
	// outage takes (it once ended Run after ProduceTimeout).
	dlClient := env.Client(t, kgo.RecordDeliveryTimeout(cfg.ProduceTimeout))
	dlDone := make(chan error, 1)
	go func() {
		bad := &kgo.Record{Topic: env.Topic(schemas.TopicStationResults), Key: []byte("x"), Value: []byte("{")}
		dlDone <- runner.sendDeadLetters(ctx, dlClient, []*kgo.Record{kgorecord.DeadLetter(env.Topic(schemas.TopicDeadLetter), "estimate", bad, errBadForTest)})
	}()
	testenv.WaitFor(t, "readiness false after the broker stopped", time.Minute, func() bool { return running() && runner.Ready() != nil })
	t.Logf("not ready %v after the broker stopped: %v", time.Since(start).Round(time.Millisecond), runner.Ready())
	for time.Since(start) < outage { // the outage itself, not a synchronisation
		running()
		time.Sleep(time.Second)
	}
	select {
	case err := <-dlDone:
		t.Fatalf("dead letter given up while the broker was away: %v", err)
	default:
	}
	if got := reported(); got != before {
		t.Errorf("an estimate of %d stations delivered while the broker was away (had %d)", got, before)
	}
	pk.Start()
	corrupt := &kgo.Record{Topic: env.Topic(schemas.TopicStationResults),
		Key: []byte(schemas.StationResultKey(c.Stations[0].ID, string(election.BallotPartyList))), Value: []byte("{not json")}
	produce(append(recs[half:], corrupt)...)
	testenv.WaitFor(t, "the whole night estimated after the outage", slow, func() bool {
		return running() && reported() == len(c.Stations)
	})
	if err := <-dlDone; err != nil {
		t.Errorf("dead letter of the outage: %v", err)
	}
	if err := runner.Ready(); err != nil {
		t.Errorf("caught up but not ready: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	est, _ := runner.Latest()
	checkIsTheCount(t, c, r, est)

	// Dead letters are produced without transactions: the end offset counts them.
	lctx, lcancel := context.WithTimeout(context.Background(), time.Minute)
	defer lcancel()
	ends, err := env.Admin(t).ListEndOffsets(lctx, env.Topic(schemas.TopicDeadLetter))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	if n != 2 {
		t.Errorf("%d dead letters, want 2 (the one held during the outage, the corrupt record)", n)
	}
	down, up := logs.CountSince(mark, `msg="waiting for kafka"`), logs.CountSince(mark, `msg="kafka recovered"`)
	t.Logf("outage of %v: %d 'waiting for kafka' lines, %d 'kafka recovered'", outage, down, up)
	if down == 0 || down != up || down > 2 {
		t.Errorf("%d 'waiting for kafka' and %d 'kafka recovered' log lines for one outage: want one of each per change of state", down, up)
	}
}
