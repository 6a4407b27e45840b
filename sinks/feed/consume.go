package feed

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/backoff"
	"votestream/internal/kafkaread"
	"votestream/internal/kafkaready"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// applyChunk bounds the records applied under one hold of the write lock, so a reader
// waits for at most that many.
const applyChunk = 1000

// startCurve is the wait before listing the topics again after a round of StartTimeout
// failed: from 500 ms, doubling, at most 15 s, for as long as it takes.
var startCurve = backoff.Exponential(500*time.Millisecond, 15*time.Second)

// consume reads the topics into the view until ctx ends (returning nil) or the topics
// cannot be found (returning an error). Kafka being away, at start or later, is waited
// for, however long: the kafka dependency is down meanwhile (one log line when the wait
// starts, one when it ends) and reading goes on from where it was.
func (f *Feed) consume(ctx context.Context) error {
	results := f.cfg.TopicPrefix + schemas.TopicStationResults
	calls := f.cfg.TopicPrefix + schemas.TopicCalls
	checkpoints := f.cfg.TopicPrefix + schemas.TopicCheckpoints
	gate := &checkpointGate{every: f.cfg.CheckpointEvery}
	rd, err := kafkaread.New(kafkaread.Config{
		Seeds: f.cfg.Seeds,
		// Station results from the start (the compacted topic is the state); of estimates
		// only the newest EstimateBacklog records.
		// and the desk's calls whole (calls.go); of the log's checkpoints the newest few (one
		// origin may be cosigned again after a newer one of the same size).
		Topics: []kafkaread.Topic{{Name: results}, {Name: f.cfg.TopicPrefix + schemas.TopicEstimates, Newest: f.cfg.EstimateBacklog},
			{Name: calls}, {Name: checkpoints, Newest: 8}},
		Live:          true,
		List:          kafkaread.ListCurve.Within(f.cfg.StartTimeout),
		WaitForTopics: true,
		Logger:        f.log,
		ClientOpts:    []kgo.Opt{kgo.WithHooks(kafkaready.Hook(f.kafka))},
	})
	if err != nil {
		return err
	}
	defer rd.Close()
	if err := f.start(ctx, rd, results, f.cfg.TopicPrefix+schemas.TopicEstimates, calls, checkpoints); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if rd.CaughtUp() {
		f.markReady()
	}
	var in []input
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if !f.ready.Load() {
			pollCtx, cancel = context.WithTimeout(ctx, f.cfg.CatchUpIdle)
		} else if due := gate.due(); !due.IsZero() {
			pollCtx, cancel = context.WithDeadline(ctx, due) // a held checkpoint goes out on time
		}
		b, err := rd.Poll(pollCtx)
		cancel()
		if ctx.Err() != nil || errors.Is(err, kafkaread.ErrClosed) {
			return nil
		}
		idle := err != nil && b.Read == 0
		in = in[:0]
		for _, rec := range b.Records {
			if rec.Topic == calls {
				if c, ok := f.decodeCall(rec); ok {
					in = append(in, input{call: c})
				}
			} else if rec.Topic == checkpoints {
				if cp, ok := f.decodeCheckpoint(rec); ok {
					if cp = gate.offer(cp, time.Now()); cp != nil {
						in = append(in, input{cp: cp})
					}
				}
			} else if it, ok := f.decode(rec, rec.Topic == results); ok {
				in = append(in, it)
			}
			if len(in) == applyChunk {
				f.applyInputs(in)
				in = in[:0]
			}
		}
		if cp := gate.release(time.Now()); cp != nil {
			in = append(in, input{cp: cp})
		}
		if len(in) > 0 {
			f.applyInputs(in)
		}
		f.setLag(rd.Lag())
		if !f.ready.Load() {
			switch {
			case b.CaughtUp:
				f.markReady()
			case idle:
				// Idle also when the broker went away: serve a partial night only if the
				// broker answers, so the silence means there is nothing more to read.
				if err := rd.Ping(ctx); err != nil {
					f.kafka.Down(err) // logged once per outage, not once per CatchUpIdle
					continue
				}
				f.kafka.Up()
				f.log.Warn("feed: no record for CatchUpIdle before reaching the offsets of the start; serving what was read",
					"idle", f.cfg.CatchUpIdle, "behind", strings.Join(rd.Behind(), ", "))
				f.markReady()
			}
		}
	}
}

// start waits until Kafka serves the topics (see kafkaready) and lists their cut. A round
// of listing that runs out of StartTimeout while the broker is away is followed, after a
// back-off, by another, for as long as it takes; a topic missing for two minutes or a
// refusal is returned.
func (f *Feed) start(ctx context.Context, rd *kafkaread.Reader, topics ...string) error {
	adm := kadm.NewClient(rd.Client())
	need := kafkaready.Need{Topics: topics}
	retry := startCurve.Start()
	for {
		if err := kafkaready.Wait(ctx, adm, need, f.kafka); err != nil {
			return err
		}
		err := rd.Start(ctx)
		if err == nil || ctx.Err() != nil || !errors.Is(err, backoff.ErrExhausted) {
			return err
		}
		f.kafka.Down(err)
		wait, _ := retry.Next() // unbounded: only ctx ends the wait
		if backoff.Sleep(ctx, wait) != nil {
			return ctx.Err()
		}
	}
}

// decode turns a record into an input for the view; false for a record nobody can use,
// which is counted and logged.
func (f *Feed) decode(rec *kgo.Record, isResult bool) (input, bool) {
	if isResult {
		if rec.Value == nil {
			// A tombstone: compaction's way of deleting the result of a station and ballot.
			station, ballot, ok := schemas.ParseStationResultKey(string(rec.Key))
			if !ok {
				f.m.records.WithLabelValues(schemas.TopicStationResults, "rejected").Inc()
				return input{}, false
			}
			return input{tombstone: [2]string{station, ballot}}, true
		}
		var sr schemas.StationResult
		if err := kgorecord.Decode(rec, &sr); err != nil {
			f.m.records.WithLabelValues(schemas.TopicStationResults, "rejected").Inc()
			f.warnRejected(err)
			return input{}, false
		}
		return input{sr: &sr}, true
	}
	var e schemas.Estimate
	if err := kgorecord.Decode(rec, &e); err != nil {
		f.m.records.WithLabelValues(schemas.TopicEstimates, "rejected").Inc()
		f.warnRejected(err)
		return input{}, false
	}
	return input{est: &e}, true
}

func (f *Feed) setLag(lag map[string]int64) {
	for topic, n := range lag {
		f.m.lag.WithLabelValues(strings.TrimPrefix(topic, f.cfg.TopicPrefix)).Set(float64(n))
	}
}
