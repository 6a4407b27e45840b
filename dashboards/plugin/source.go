package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/kafkaread"
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
	reader   *kafkaread.Reader // the current reading; nil before it started
	readings int               // readings started: each one reads the night from the start
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
		records: map[string]int64{}, rejected: map[string]int64{},
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

// startCatchUp begins a reading that r has started. A new reading (after an error) starts
// from an empty night: it reads every topic from its start again.
func (s *Source) startCatchUp(r *kafkaread.Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reader, s.caughtUp, s.readErr = r, false, nil
	s.readings++
	s.records, s.rejected = map[string]int64{}, map[string]int64{}
	s.night = NewNight(s.night.country, s.night.maxHistory)
	s.setCaughtUp(r.CaughtUp())
	s.notify()
}

// applyChunk bounds the records applied under one hold of the write lock, so a query
// waits for at most that many during the catch-up.
const applyChunk = 2000

// applyRecords decodes and applies one poll's records in order; caughtUp is the reader's
// word on whether every partition has reached the cut.
func (s *Source) applyRecords(recs []*kgo.Record, caughtUp bool) {
	for first := true; first || len(recs) > 0; first = false {
		chunk := recs[:min(len(recs), applyChunk)]
		recs = recs[len(chunk):]
		var firstBad error
		s.mu.Lock()
		changed := false
		for _, rec := range chunk {
			topic := strings.TrimPrefix(rec.Topic, s.cfg.TopicPrefix)
			d, err := decodeRecord(topic, rec)
			if err != nil {
				s.rejected[topic]++
				if firstBad == nil {
					firstBad = fmt.Errorf("%s[%d] offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
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
		if len(recs) == 0 {
			s.setCaughtUp(caughtUp) // only with the poll's last record applied
		}
		if changed || s.caughtUp != wasCaughtUp {
			s.notify()
		}
		s.mu.Unlock()
		if firstBad != nil {
			s.log.Warn("votestream: records no panel can use were skipped", "first", firstBad)
		}
	}
}

// setCaughtUp records the reader's word, logging the moment the night is complete. Caller
// holds mu.
func (s *Source) setCaughtUp(caughtUp bool) {
	if caughtUp && !s.caughtUp {
		s.log.Info("votestream: caught up with the topics", "records", s.records)
	}
	s.caughtUp = caughtUp
}

// notify wakes every waiter of Changed. Caller holds mu for writing.
func (s *Source) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// setReadError records the reader's state, logging and notifying only changes.
func (s *Source) setReadError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if (err == nil) != (s.readErr == nil) {
		if err != nil {
			s.log.Warn("votestream: cannot read Kafka; retrying", "err", err)
		} else {
			s.log.Info("votestream: reading Kafka again")
		}
		defer s.notify() // waiters on Changed see the reader's state change too
	}
	s.readErr = err
}

// Progress is how far the reader is, for health checks and notices.
type Progress struct {
	CaughtUp       bool
	Behind         int64            // records behind the last stable offsets, as of the last fetch; 0 before one
	Records        map[string]int64 // applied, per topic
	Rejected       map[string]int64 // skipped, per topic
	Err            error            // the reader's last error
	Estimates      int              // estimates held in the history
	Results        int              // station results held
	Anomalies      int              // anomalies held, open or not
	LatestEstimate time.Time        // data time of the latest estimate; zero before one
	Readings       int              // readings of the night started (more than 1: reread after an error)
}

// Progress reports how far the reader is.
func (s *Source) Progress() Progress {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := Progress{CaughtUp: s.caughtUp, Err: s.readErr, Records: map[string]int64{}, Rejected: map[string]int64{}, Readings: s.readings}
	if s.reader != nil && !s.caughtUp {
		for _, n := range s.reader.Lag() {
			p.Behind += n
		}
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
	if s.reader == nil && p.Err == nil {
		p.Err = errors.New("connecting to Kafka")
	}
	return p
}
