package feed

import (
	"context"
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/kafkaread"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// applyChunk bounds the records applied under one hold of the write lock, so a reader
// waits for at most that many.
const applyChunk = 1000

// consume reads the topics into the view until ctx ends (returning nil) or the topics
// cannot be found (returning an error).
func (f *Feed) consume(ctx context.Context) error {
	results := f.cfg.TopicPrefix + schemas.TopicStationResults
	rd, err := kafkaread.New(kafkaread.Config{
		Seeds: f.cfg.Seeds,
		// Station results from the start (the compacted topic is the state); of estimates
		// only the newest EstimateBacklog records.
		Topics:        []kafkaread.Topic{{Name: results}, {Name: f.cfg.TopicPrefix + schemas.TopicEstimates, Newest: f.cfg.EstimateBacklog}},
		Live:          true,
		List:          kafkaread.ListCurve.Within(f.cfg.StartTimeout),
		WaitForTopics: true,
		Logger:        f.log,
	})
	if err != nil {
		return err
	}
	defer rd.Close()
	if err := rd.Start(ctx); err != nil {
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
		}
		b, err := rd.Poll(pollCtx)
		cancel()
		if ctx.Err() != nil || errors.Is(err, kafkaread.ErrClosed) {
			return nil
		}
		idle := err != nil && b.Read == 0
		in = in[:0]
		for _, rec := range b.Records {
			if it, ok := f.decode(rec, rec.Topic == results); ok {
				in = append(in, it)
			}
			if len(in) == applyChunk {
				f.applyInputs(in)
				in = in[:0]
			}
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
					f.log.Warn("feed: still catching up; the broker does not answer", "err", err)
					continue
				}
				f.log.Warn("feed: no record for CatchUpIdle before reaching the offsets of the start; serving what was read",
					"idle", f.cfg.CatchUpIdle, "behind", strings.Join(rd.Behind(), ", "))
				f.markReady()
			}
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
