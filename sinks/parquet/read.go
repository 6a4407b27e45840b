package parquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// PartitionCut is the range of one partition an export read: [Start, End), End being the
// last stable offset when the export began.
type PartitionCut struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
}

type topicPartition struct {
	topic     string
	partition int32
}

// snapshot is what the cut holds, reduced.
type snapshot struct {
	results   latestResults
	anomalies map[string]*schemas.Anomaly // by anomaly_id: a re-delivered flag is one row
	estimate  *schemas.Estimate
	logCP     *schemas.Checkpoint // the transparency log's newest checkpoint in the cut
	cut       []PartitionCut
	read      int64 // data records read (control records not counted)
	rejected  int64 // records that could not be decoded, skipped
}

// readCut reads every partition of the three topics from its start (estimates: the newest
// EstimateBacklog records) up to the cut, and stops.
func readCut(ctx context.Context, cfg ExportConfig, log *slog.Logger) (*snapshot, error) {
	results := cfg.TopicPrefix + schemas.TopicStationResults
	anomalies := cfg.TopicPrefix + schemas.TopicAnomalies
	estimates := cfg.TopicPrefix + schemas.TopicEstimates
	checkpoints := cfg.TopicPrefix + schemas.TopicCheckpoints
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Seeds...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come through as control records, so the reader sees that it
		// reached the cut even when the last thing before it is a marker.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return nil, fmt.Errorf("parquet: kafka client: %w", err)
	}
	defer cl.Close()

	cut, err := listCut(ctx, kadm.NewClient(cl), cfg, log, results, anomalies, estimates, checkpoints)
	if err != nil {
		return nil, err
	}
	if cfg.afterCut != nil {
		cfg.afterCut()
	}
	snap := &snapshot{results: latestResults{}, anomalies: map[string]*schemas.Anomaly{}, cut: cut}
	next := map[topicPartition]int64{}
	end := map[topicPartition]int64{}
	consume := map[string]map[int32]kgo.Offset{}
	for _, c := range cut {
		tp := topicPartition{c.Topic, c.Partition}
		end[tp] = c.End
		if c.Start >= c.End {
			continue
		}
		next[tp] = c.Start
		if consume[c.Topic] == nil {
			consume[c.Topic] = map[int32]kgo.Offset{}
		}
		consume[c.Topic][c.Partition] = kgo.NewOffset().At(c.Start)
	}
	if len(next) == 0 {
		return snap, nil
	}
	cl.AddConsumePartitions(consume)

	progress := newProgress(cfg.Progress, cfg.ProgressEvery)
	lastRecord := time.Now()
	for len(next) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, cfg.IdleTimeout)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("parquet: fetch error; the client retries", "topic", topic, "partition", p, "err", err)
			}
		})
		got := false
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			tp := topicPartition{p.Topic, p.Partition}
			for _, rec := range p.Records {
				if _, open := next[tp]; !open {
					break // done earlier; these were fetched before the pause took hold
				}
				got = true
				if rec.Offset >= end[tp] {
					// Past the cut, and records come in offset order: nothing before the
					// cut is left, even where compaction left a gap just before it.
					next[tp] = end[tp]
					break
				}
				next[tp] = rec.Offset + 1
				if !rec.Attrs.IsControl() {
					snap.read++
					snap.take(rec, results, log)
				}
			}
			if o, open := next[tp]; open && o >= end[tp] {
				delete(next, tp)
				// Stop fetching what this export will not use.
				cl.PauseFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
			}
		})
		if got {
			lastRecord = time.Now()
		} else if time.Since(lastRecord) >= cfg.IdleTimeout {
			var behind []string
			for tp, o := range next {
				behind = append(behind, fmt.Sprintf("%s[%d] at %d of %d", tp.topic, tp.partition, o, end[tp]))
			}
			slices.Sort(behind)
			return nil, fmt.Errorf("%w: nothing read for %v; behind: %s", ErrIncomplete, cfg.IdleTimeout, strings.Join(behind, ", "))
		}
		progress.tick(snap.read, len(next))
	}
	progress.done(snap.read)
	return snap, nil
}

// take decodes one data record of the cut into the snapshot; a record that cannot be decoded
// is counted, logged and skipped (an export of the rest is worth more than none).
func (s *snapshot) take(rec *kgo.Record, resultsTopic string, log *slog.Logger) {
	if rec.Value == nil {
		if rec.Topic == resultsTopic && s.results.Forget(string(rec.Key)) {
			return
		}
		s.reject(log, fmt.Errorf("%s[%d]@%d: empty value with key %q", rec.Topic, rec.Partition, rec.Offset, rec.Key))
		return
	}
	v, err := kgorecord.DecodeAny(rec)
	if err != nil {
		s.reject(log, err)
		return
	}
	switch m := v.(type) {
	case *schemas.StationResult:
		s.results.Apply(m)
	case *schemas.Anomaly:
		s.anomalies[m.AnomalyID] = m
	case *schemas.Estimate:
		if newerEstimate(m, s.estimate) {
			s.estimate = m
		}
	case *schemas.Checkpoint:
		// The largest tree; of one size, the record with the most cosignatures.
		if c := s.logCP; c == nil || m.Size > c.Size || (m.Size == c.Size && len(m.Cosigners) > len(c.Cosigners)) {
			s.logCP = m
		}
	default:
		s.reject(log, fmt.Errorf("%s[%d]@%d: unexpected message %T", rec.Topic, rec.Partition, rec.Offset, v))
	}
}

func (s *snapshot) reject(log *slog.Logger, err error) {
	s.rejected++
	// The first few say what is wrong; thousands of copies would say nothing more.
	if s.rejected <= 10 {
		log.Warn("parquet: record skipped", "err", err)
	}
}

// listCut lists the cut, retrying with back-off for up to StartTimeout.
func listCut(ctx context.Context, adm *kadm.Client, cfg ExportConfig, log *slog.Logger, topics ...string) ([]PartitionCut, error) {
	deadline := time.Now().Add(cfg.StartTimeout)
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cut, err := listOffsets(ctx, adm, cfg, topics)
		if err == nil || errors.Is(err, ErrTopicMissing) {
			return cut, err
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, fmt.Errorf("parquet: list offsets after %d attempts: %w", attempt, err)
		}
		log.Warn("parquet: cannot list topic offsets yet; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func listOffsets(ctx context.Context, adm *kadm.Client, cfg ExportConfig, topics []string) ([]PartitionCut, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	first, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	// The last stable offset: what a read_committed reader can see now.
	stable, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	byTP := map[topicPartition]*PartitionCut{}
	var bad error
	check := func(o kadm.ListedOffset) bool {
		switch {
		case o.Err == nil:
			return true
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
			// kadm lists a missing topic as partition -1 with this error; retrying will not
			// make a wrong prefix right.
			bad = fmt.Errorf("%w: %s", ErrTopicMissing, o.Topic)
		case bad == nil:
			bad = fmt.Errorf("%s[%d]: %w", o.Topic, o.Partition, o.Err)
		}
		return false
	}
	stable.Each(func(o kadm.ListedOffset) {
		if check(o) {
			byTP[topicPartition{o.Topic, o.Partition}] = &PartitionCut{Topic: o.Topic, Partition: o.Partition, End: o.Offset}
		}
	})
	first.Each(func(o kadm.ListedOffset) {
		if c := byTP[topicPartition{o.Topic, o.Partition}]; check(o) && c != nil {
			c.Start = o.Offset
		}
	})
	if bad != nil {
		return nil, bad
	}
	cut := make([]PartitionCut, 0, len(byTP))
	for _, c := range byTP {
		switch c.Topic {
		case cfg.TopicPrefix + schemas.TopicEstimates:
			c.Start = max(c.Start, c.End-int64(cfg.EstimateBacklog))
		case cfg.TopicPrefix + schemas.TopicCheckpoints:
			c.Start = max(c.Start, c.End-int64(cfg.CheckpointBacklog))
		}
		cut = append(cut, *c)
	}
	for _, topic := range topics {
		if !slices.ContainsFunc(cut, func(c PartitionCut) bool { return c.Topic == topic }) {
			return nil, fmt.Errorf("%w: %s", ErrTopicMissing, topic)
		}
	}
	slices.SortFunc(cut, func(a, b PartitionCut) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return cut, nil
}

// progress prints the records read and their rate at most once per interval.
type progress struct {
	w          io.Writer
	every      time.Duration
	start      time.Time
	last       time.Time
	lastRecord int64
}

func newProgress(w io.Writer, every time.Duration) *progress {
	now := time.Now()
	return &progress{w: w, every: every, start: now, last: now}
}

func (p *progress) tick(read int64, partitionsLeft int) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	rate := float64(read-p.lastRecord) / now.Sub(p.last).Seconds()
	fmt.Fprintf(p.w, "export: %d records read, %.0f records/s, %d partitions short of the cut\n", read, rate, partitionsLeft)
	p.last, p.lastRecord = now, read
}

func (p *progress) done(read int64) {
	if p.w == nil {
		return
	}
	d := time.Since(p.start)
	fmt.Fprintf(p.w, "export: %d records read in %v (%.0f records/s)\n", read, d.Round(time.Millisecond), float64(read)/max(d.Seconds(), 1e-9))
}
