package feed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// applyChunk bounds the records applied under one hold of the write lock, so a reader
// waits for at most that many.
const applyChunk = 1000

type topicPartition struct {
	topic     string
	partition int32
}

// consume reads the topics into the view until ctx ends (returning nil) or the topics
// cannot be found (returning an error).
func (f *Feed) consume(ctx context.Context) error {
	results := f.cfg.TopicPrefix + schemas.TopicStationResults
	estimates := f.cfg.TopicPrefix + schemas.TopicEstimates
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(f.cfg.Seeds...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come through as control records, so the reader can tell
		// that it has reached the offset each partition had at start even when the last
		// thing there is a marker, which a consumer otherwise never sees.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()

	starts, targets, err := f.startOffsets(ctx, cl, results, estimates)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	next := map[topicPartition]int64{}
	consume := map[string]map[int32]kgo.Offset{}
	for tp, o := range starts {
		next[tp] = o
		if consume[tp.topic] == nil {
			consume[tp.topic] = map[int32]kgo.Offset{}
		}
		consume[tp.topic][tp.partition] = kgo.NewOffset().At(o)
	}
	cl.AddConsumePartitions(consume)
	caughtUp := func() bool {
		for tp, end := range targets {
			if next[tp] < end {
				return false
			}
		}
		return true
	}
	if caughtUp() {
		f.markReady()
	}
	lag := map[topicPartition]int64{}
	var in []input
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if !f.ready.Load() {
			pollCtx, cancel = context.WithTimeout(ctx, f.cfg.CatchUpIdle)
		}
		fetches := cl.PollFetches(pollCtx)
		idle := pollCtx.Err() != nil && fetches.NumRecords() == 0
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				f.log.Warn("feed: fetch error; the client retries", "topic", topic, "partition", p, "err", err)
			}
		})
		in = in[:0]
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			tp := topicPartition{p.Topic, p.Partition}
			for _, rec := range p.Records {
				next[tp] = max(next[tp], rec.Offset+1)
				if rec.Attrs.IsControl() {
					continue
				}
				if it, ok := f.decode(rec, rec.Topic == results); ok {
					in = append(in, it)
				}
				if len(in) == applyChunk {
					f.applyInputs(in)
					in = in[:0]
				}
			}
			if p.Err == nil && p.LastStableOffset >= 0 {
				lag[tp] = max(0, p.LastStableOffset-next[tp])
			}
		})
		if len(in) > 0 {
			f.applyInputs(in)
		}
		f.setLag(lag)
		if !f.ready.Load() {
			switch {
			case caughtUp():
				f.markReady()
			case idle:
				// Idle also when the broker went away: serve a partial night only if the
				// broker answers, so the silence means there is nothing more to read.
				if _, _, err := f.listOffsets(ctx, kadm.NewClient(cl), results, estimates); err != nil {
					f.log.Warn("feed: still catching up; the broker does not answer", "err", err)
					continue
				}
				var behind []string
				for tp, end := range targets {
					if next[tp] < end {
						behind = append(behind, fmt.Sprintf("%s[%d] at %d of %d", tp.topic, tp.partition, next[tp], end))
					}
				}
				f.log.Warn("feed: no record for CatchUpIdle before reaching the offsets of the start; serving what was read",
					"idle", f.cfg.CatchUpIdle, "behind", strings.Join(behind, ", "))
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
			// A tombstone: compaction's way of deleting the result of a station and ballot,
			// keyed station_id/ballot (a station id may itself hold a slash; a ballot not).
			k := string(rec.Key)
			i := strings.LastIndexByte(k, '/')
			if i < 0 {
				f.m.records.WithLabelValues(schemas.TopicStationResults, "rejected").Inc()
				return input{}, false
			}
			return input{tombstone: [2]string{k[:i], k[i+1:]}}, true
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

func (f *Feed) setLag(lag map[topicPartition]int64) {
	sums := map[string]int64{}
	for tp, n := range lag {
		sums[strings.TrimPrefix(tp.topic, f.cfg.TopicPrefix)] += n
	}
	for topic, n := range sums {
		f.m.lag.WithLabelValues(topic).Set(float64(n))
	}
}

// startOffsets lists, for every partition of the two topics, where to start reading and
// the offset to reach before the view is ready (the last stable offset at start). Station
// results are read from the start (the compacted topic is the state); of estimates only
// the newest EstimateBacklog records. It retries with back-off for up to StartTimeout.
func (f *Feed) startOffsets(ctx context.Context, cl *kgo.Client, results, estimates string) (starts, targets map[topicPartition]int64, err error) {
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(f.cfg.StartTimeout)
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		starts, targets, err = f.listOffsets(ctx, adm, results, estimates)
		if err == nil {
			return starts, targets, nil
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, nil, fmt.Errorf("list offsets after %d attempts: %w", attempt, err)
		}
		f.log.Warn("feed: cannot list topic offsets yet; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (f *Feed) listOffsets(ctx context.Context, adm *kadm.Client, results, estimates string) (starts, targets map[topicPartition]int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	first, err := adm.ListStartOffsets(ctx, results, estimates)
	if err != nil {
		return nil, nil, err
	}
	stable, err := adm.ListCommittedOffsets(ctx, results, estimates)
	if err != nil {
		return nil, nil, err
	}
	starts, targets = map[topicPartition]int64{}, map[topicPartition]int64{}
	collect := func(lo kadm.ListedOffsets, into map[topicPartition]int64) error {
		var bad error
		lo.Each(func(o kadm.ListedOffset) {
			if o.Err != nil && bad == nil {
				bad = fmt.Errorf("%s[%d]: %w", o.Topic, o.Partition, o.Err)
			}
			into[topicPartition{o.Topic, o.Partition}] = o.Offset
		})
		return bad
	}
	if err := collect(first, starts); err != nil {
		return nil, nil, err
	}
	if err := collect(stable, targets); err != nil {
		return nil, nil, err
	}
	for _, topic := range []string{results, estimates} {
		found := false
		for tp := range targets {
			found = found || tp.topic == topic
		}
		if !found {
			return nil, nil, fmt.Errorf("%w: %s", errTopicMissing, topic)
		}
	}
	for tp, end := range targets {
		if tp.topic == estimates {
			starts[tp] = max(starts[tp], end-int64(f.cfg.EstimateBacklog))
		}
	}
	return starts, targets, nil
}
