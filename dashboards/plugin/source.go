package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
)

// Source is one data source's night, read from Kafka by a goroutine it owns. Safe for
// concurrent use: QueryData and streams read it while the reader writes.
type Source struct {
	cfg Settings
	log log.Logger

	mu      sync.RWMutex
	night   *Night
	changed chan struct{} // closed and replaced on every change of the night

	// What CheckHealth and the notices tell: how far the reader is.
	targets  map[topicPartition]int64 // last stable offsets when the reading started
	next     map[topicPartition]int64 // position reached per partition
	caughtUp bool
	records  map[string]int64 // records applied per topic (without prefix)
	rejected map[string]int64 // records no panel can use, per topic
	readErr  error            // the reader's last error; nil when it reads

	cancel context.CancelFunc
	done   chan struct{}
}

// NewSource loads the reference data if set and starts reading; Close stops it.
func NewSource(cfg Settings, logger log.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var country *election.Country
	if cfg.ReferenceDir != "" {
		c, err := election.LoadCountry(os.DirFS(cfg.ReferenceDir))
		if err != nil {
			return nil, fmt.Errorf("%w: referenceDir %s: %v", ErrSettings, cfg.ReferenceDir, err)
		}
		country = c
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Source{
		cfg: cfg, log: logger,
		night:   NewNight(country, cfg.MaxHistory),
		changed: make(chan struct{}),
		next:    map[topicPartition]int64{}, records: map[string]int64{}, rejected: map[string]int64{},
		cancel: cancel, done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		s.read(ctx)
	}()
	return s, nil
}

// Close stops the reader and waits for it.
func (s *Source) Close() {
	s.cancel()
	<-s.done
}

// View runs fn with the night under the read lock; fn must not keep the night.
func (s *Source) View(fn func(n *Night)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.night)
}

// Changed returns a channel closed at the next change of the night.
func (s *Source) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// startCatchUp records the offsets to reach before the night is complete. A new reading
// (after an error) starts from an empty night: it reads every topic from its start again.
func (s *Source) startCatchUp(targets map[topicPartition]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.targets, s.next, s.caughtUp = targets, map[topicPartition]int64{}, false
	s.records, s.rejected = map[string]int64{}, map[string]int64{}
	s.night = NewNight(s.night.country, s.night.maxHistory)
	s.checkCaughtUp()
	s.notify()
}

// applyChunk bounds the records applied under one hold of the write lock, so a query
// waits for at most that many during the catch-up.
const applyChunk = 2000

// applyRecords decodes and applies one partition's records in order.
func (s *Source) applyRecords(topic string, partition int32, recs []*kgo.Record) {
	tp := topicPartition{s.cfg.TopicPrefix + topic, partition}
	for len(recs) > 0 {
		chunk := recs[:min(len(recs), applyChunk)]
		recs = recs[len(chunk):]
		var firstBad error
		s.mu.Lock()
		changed := false
		for _, rec := range chunk {
			s.next[tp] = max(s.next[tp], rec.Offset+1)
			if rec.Attrs.IsControl() {
				continue
			}
			d, err := decodeRecord(topic, rec)
			if err != nil {
				s.rejected[topic]++
				if firstBad == nil {
					firstBad = fmt.Errorf("%s[%d] offset %d: %w", tp.topic, partition, rec.Offset, err)
				}
				continue
			}
			s.records[topic]++
			switch {
			case d.estimate != nil:
				changed = s.night.ApplyEstimate(*d.estimate) || changed
			case d.result != nil:
				changed = s.night.ApplyResult(*d.result) || changed
			case d.anomaly != nil:
				changed = s.night.ApplyAnomaly(*d.anomaly) || changed
			default:
				changed = s.night.DeleteResult(d.tombstone) || changed
			}
		}
		wasCaughtUp := s.caughtUp
		s.checkCaughtUp()
		if changed || s.caughtUp != wasCaughtUp {
			s.notify()
		}
		s.mu.Unlock()
		if firstBad != nil {
			s.log.Warn("votestream: records no panel can use were skipped", "first", firstBad)
		}
	}
}

// checkCaughtUp marks the night complete once every partition reached its target.
// Caller holds mu.
func (s *Source) checkCaughtUp() {
	if s.caughtUp || s.targets == nil {
		return
	}
	for tp, end := range s.targets {
		if s.next[tp] < end {
			return
		}
	}
	s.caughtUp = true
	s.log.Info("votestream: caught up with the topics", "records", s.records)
}

// notify wakes every waiter of Changed. Caller holds mu for writing.
func (s *Source) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// setReadError records the reader's state, logging only changes.
func (s *Source) setReadError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if (err == nil) != (s.readErr == nil) {
		if err != nil {
			s.log.Warn("votestream: cannot read Kafka; retrying", "err", err)
		} else {
			s.log.Info("votestream: reading Kafka again")
		}
	}
	s.readErr = err
}

// Progress is how far the reader is, for health checks and notices.
type Progress struct {
	CaughtUp       bool
	Behind         int64            // records (offsets) still to read to the offsets of the start
	Records        map[string]int64 // applied, per topic
	Rejected       map[string]int64 // skipped, per topic
	Err            error            // the reader's last error
	Estimates      int              // estimates held in the history
	Results        int              // station results held
	Anomalies      int              // anomalies held, open or not
	LatestEstimate time.Time        // data time of the latest estimate; zero before one
}

// Progress reports how far the reader is.
func (s *Source) Progress() Progress {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := Progress{CaughtUp: s.caughtUp, Err: s.readErr, Records: map[string]int64{}, Rejected: map[string]int64{}}
	for tp, end := range s.targets {
		p.Behind += max(0, end-s.next[tp])
	}
	for k, v := range s.records {
		p.Records[k] = v
	}
	for k, v := range s.rejected {
		p.Rejected[k] = v
	}
	p.Estimates, p.Results, p.Anomalies = s.night.Counts()
	if e := s.night.Latest(); e != nil {
		p.LatestEstimate = e.DataTime
	}
	if s.targets == nil && p.Err == nil {
		p.Err = errors.New("connecting to Kafka")
	}
	return p
}
