package parquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/kafkaread"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// PartitionCut is the range of one partition an export read: [Start, End), End being the
// last stable offset when the export began.
type PartitionCut = kafkaread.Partition

// snapshot is what the cut holds, reduced.
type snapshot struct {
	results   latestResults
	anomalies map[string]*schemas.Anomaly // by anomaly_id: a re-delivered flag is one row
	estimate  *schemas.Estimate
	// history holds every estimate read, by estimate_id (a re-published run is one).
	history  map[string]*schemas.Estimate
	logCP    *schemas.Checkpoint // the transparency log's newest checkpoint in the cut
	calls    []*schemas.Call     // calls.v1 in topic order
	cut      []PartitionCut
	read     int64 // data records read (control records not counted)
	rejected int64 // records that could not be decoded, skipped
}

func newSnapshot() *snapshot {
	return &snapshot{results: latestResults{}, anomalies: map[string]*schemas.Anomaly{}, history: map[string]*schemas.Estimate{}}
}

// readCut reads every partition of the topics from its start (estimates: the newest
// EstimateBacklog records) up to the cut, and stops.
func readCut(ctx context.Context, cfg ExportConfig, log *slog.Logger) (*snapshot, error) {
	results := cfg.TopicPrefix + schemas.TopicStationResults
	estimates := kafkaread.Topic{Name: cfg.TopicPrefix + schemas.TopicEstimates, Newest: cfg.EstimateBacklog}
	if cfg.History {
		estimates.Newest = 0
	}
	rd, err := kafkaread.New(kafkaread.Config{
		Seeds: cfg.Seeds,
		Topics: []kafkaread.Topic{
			{Name: cfg.TopicPrefix + schemas.TopicAnomalies},
			estimates,
			{Name: results},
			{Name: cfg.TopicPrefix + schemas.TopicCheckpoints, Newest: cfg.CheckpointBacklog},
			{Name: cfg.TopicPrefix + schemas.TopicCalls},
		},
		// A wrong prefix fails at once: retrying will not make it right.
		List:   kafkaread.ListCurve.Within(cfg.StartTimeout),
		Logger: log.With("role", "export"),
	})
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	defer rd.Close()
	if err := rd.Start(ctx); err != nil {
		if errors.Is(err, kafkaread.ErrTopicMissing) {
			return nil, fmt.Errorf("%w: %w", ErrTopicMissing, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("parquet: %w", err)
	}
	if cfg.afterCut != nil {
		cfg.afterCut()
	}
	snap := newSnapshot()
	snap.cut = rd.Cut()
	progress := newProgress(cfg.Progress, cfg.ProgressEvery)
	lastRecord := time.Now()
	for !rd.CaughtUp() {
		pollCtx, cancel := context.WithTimeout(ctx, cfg.IdleTimeout)
		b, _ := rd.Poll(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, rec := range b.Records {
			snap.read++
			snap.take(rec, results, log)
		}
		if b.Read > 0 {
			lastRecord = time.Now()
		} else if time.Since(lastRecord) >= cfg.IdleTimeout {
			return nil, fmt.Errorf("%w: nothing read for %v; behind: %s", ErrIncomplete, cfg.IdleTimeout, strings.Join(rd.Behind(), ", "))
		}
		progress.tick(snap.read, len(rd.Behind()))
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
		s.history[m.EstimateID] = m
	case *schemas.Call:
		s.calls = append(s.calls, m)
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
