package estimate

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

func TestConfigValidate(t *testing.T) {
	c, _ := syntheticNight(t, 1, 2, 5)
	good := DefaultConfig()
	good.Seeds, good.Country = []string{"127.0.0.1:9092"}, c
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, edit := range map[string]func(*Config){
		"no seeds":         func(c *Config) { c.Seeds = nil },
		"no country":       func(c *Config) { c.Country = nil },
		"no stations":      func(c *Config) { c.Country = &election.Country{} },
		"zero interval":    func(c *Config) { c.Interval = 0 },
		"zero idle":        func(c *Config) { c.CatchUpIdle = 0 },
		"zero produce":     func(c *Config) { c.ProduceTimeout = 0 },
		"bad method":       func(c *Config) { c.Method.LikelyProbability = 1 },
		"bad size classes": func(c *Config) { c.Method.SizeClasses = 0 },
	} {
		cfg := good
		edit(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
}

// A whole small night of final results goes through the real broker: the first estimate
// published once the runner has caught up reports every station, and it is the count:
// shares, seats and winners exactly, every constituency called. An on-demand trigger then
// publishes again without waiting for the interval.
func TestRunnerPublishesTheCountOfAFullNight(t *testing.T) {
	env := testenv.Kafka(t)
	c, r := syntheticNight(t, 21, 12, 25)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	prod := env.Client(t)
	var recs []*kgo.Record
	for _, s := range c.Stations {
		for _, b := range election.Ballots {
			// An earlier, disputed version first: the final one must replace it.
			for v, status := range []schemas.Status{schemas.StatusDisputed, schemas.StatusVerified} {
				rec, err := kgorecord.New(env.Topic(schemas.TopicStationResults), resultOf(s, b, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: b}], status, int64(v+1)))
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rec)
			}
		}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country = env.Seeds, env.Prefix, c
	cfg.Interval = time.Hour // only the catch-up and the trigger publish in this test
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
	next := func() schemas.Estimate {
		t.Helper()
		for {
			f := consumer.PollRecords(ctx, 1)
			if err := ctx.Err(); err != nil {
				t.Fatalf("no estimate: %v", err)
			}
			for _, rec := range f.Records() {
				var est schemas.Estimate
				if err := kgorecord.Decode(rec, &est); err != nil {
					t.Fatal(err)
				}
				return est
			}
		}
	}
	est := next()
	// The catch-up estimate may come a couple of records before the very end (transaction
	// markers are allowed for); a trigger then brings the rest.
	for est.StationsReported < len(c.Stations) {
		runner.Trigger()
		est = next()
	}
	checkIsTheCount(t, c, r, est)

	runner.Trigger()
	again := next()
	if again.EstimateID == est.EstimateID || again.StationsReported != len(c.Stations) {
		t.Errorf("triggered estimate %s reports %d stations, after %s", again.EstimateID, again.StationsReported, est.EstimateID)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	// Only once Run has returned: the consumer can see a record before the producer has its
	// acknowledgement, and Latest is set after the acknowledgement.
	if latest, ok := runner.Latest(); !ok || latest.EstimateID != again.EstimateID {
		t.Errorf("Latest = %s, %v; want %s", latest.EstimateID, ok, again.EstimateID)
	}
}

func TestSplitResultKey(t *testing.T) {
	for _, tc := range []struct {
		station string
		ballot  election.Ballot
	}{
		{"BKK_1_0001", election.BallotPartyList},
		{"BKK/1/0001", election.BallotConstituency}, // a station id may hold a slash
	} {
		key := schemas.StationResultKey(tc.station, string(tc.ballot))
		if s, b, ok := splitResultKey([]byte(key)); !ok || s != tc.station || b != tc.ballot {
			t.Errorf("%q: %q %q %v, want %q %q", key, s, b, ok, tc.station, tc.ballot)
		}
	}
	if _, _, ok := splitResultKey([]byte("no-slash")); ok {
		t.Error("a key without a slash was split")
	}
}

func checkIsTheCount(t *testing.T, c *election.Country, r *election.Results, est schemas.Estimate) {
	t.Helper()
	party, cons := truthOf(c, r)
	valid := 0
	for _, v := range party {
		valid += v
	}
	seats, err := election.AllocatePartyList(party, election.PartyListSeats)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range est.Parties {
		want := float64(party[p.PartyNo]) / float64(valid)
		if p.Share != want || p.ShareLo != want || p.ShareHi != want || p.ProjectedVotes != int64(party[p.PartyNo]) ||
			p.CountedVotes != int64(party[p.PartyNo]) || p.Seats != seats[p.PartyNo] {
			t.Errorf("party %d: %+v, want share %v, %d votes, %d seats", p.PartyNo, p, want, party[p.PartyNo], seats[p.PartyNo])
		}
	}
	if len(est.Constituencies) != len(c.Constituencies) {
		t.Fatalf("%d constituencies, want %d", len(est.Constituencies), len(c.Constituencies))
	}
	for _, ce := range est.Constituencies {
		winner, best := 0, -1
		for no, v := range cons[ce.ConstituencyID] {
			if v > best || (v == best && no < winner) {
				winner, best = no, v
			}
		}
		if ce.LeaderNo != winner || ce.Call != schemas.CallCalled || ce.WinProbability != 1 || ce.StationsReported != ce.StationsTotal {
			t.Errorf("%s: leader %d call %s p=%v (%d/%d stations), want %d called", ce.ConstituencyID, ce.LeaderNo, ce.Call,
				ce.WinProbability, ce.StationsReported, ce.StationsTotal, winner)
		}
		for _, d := range ce.Candidates {
			if d.ProjectedVotes != int64(cons[ce.ConstituencyID][d.CandidateNo]) {
				t.Errorf("%s candidate %d: %d projected, want %d", ce.ConstituencyID, d.CandidateNo, d.ProjectedVotes, cons[ce.ConstituencyID][d.CandidateNo])
			}
		}
	}
}

// A station result the estimator cannot use goes to dead-letter.v1 with the dead-letter
// headers (stage estimate, the reason, where it came from), and its delivery is awaited.
func TestRunnerDeadLetters(t *testing.T) {
	env := testenv.Kafka(t)
	c, r := syntheticNight(t, 22, 2, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := c.Stations[0]
	good := resultOf(s, election.BallotPartyList, r.Tallies[election.StationBallot{StationID: s.ID, Ballot: election.BallotPartyList}], schemas.StatusVerified, 1)
	bad := good
	bad.StationID = "NOWHERE_9_999"
	var recs []*kgo.Record
	for _, sr := range []schemas.StationResult{bad, good} {
		rec, err := kgorecord.New(env.Topic(schemas.TopicStationResults), sr)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if err := env.Client(t).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country = env.Seeds, env.Prefix, c
	cfg.Logger = slog.New(slog.DiscardHandler)
	runner, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	dead := env.Client(t, kgo.ConsumeTopics(env.Topic(schemas.TopicDeadLetter)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var rec *kgo.Record
	for rec == nil {
		f := dead.PollRecords(ctx, 1)
		if ctx.Err() != nil {
			t.Fatal("no dead letter")
		}
		if rs := f.Records(); len(rs) > 0 {
			rec = rs[0]
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	d, ok := schemas.ParseDeadLetter(kgorecord.FromHeaders(rec.Headers))
	if !ok || d.Stage != "estimate" || d.SourceTopic != env.Topic(schemas.TopicStationResults) || d.SourceOffset != 0 ||
		!strings.Contains(d.Reason, "NOWHERE_9_999") {
		t.Errorf("dead letter %+v (%v)", d, ok)
	}
	if string(rec.Value) != string(recs[0].Value) {
		t.Error("the dead letter does not carry the source value")
	}
}
