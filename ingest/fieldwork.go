package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/backoff"
	"votestream/internal/kafkaready"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// fieldState is what fieldwork.v1 says, applied in log order: which device each personal
// link is bound to, which tokens a reissue superseded, which volunteers guard which
// stations (claims within the cap, reassignments) and who checked in.
//
// The topic has one partition and is never compacted nor expired, so every ingest process
// that reads it from the start arrives at the same state, and decisions that must be
// unique across processes (the first activation of a link wins; a claim is within the cap
// if fewer claims were active before it) are taken by the log's order, not by whichever
// process answered first: a handler produces its event, waits until its own follower has
// applied that offset, and then reads the decision. Safe for concurrent use.
type fieldState struct {
	claimCap int

	mu       sync.RWMutex
	next     int64         // offset of the next record to apply
	ready    bool          // the follower reached the end offsets taken at start
	changed  chan struct{} // closed and replaced whenever next or ready changes
	bound    map[string]string
	reissued map[string]reissue
	claims   map[string][]string             // station -> volunteers with an active claim, in order
	decided  map[string]string               // claim event id -> ClaimAccepted or ClaimRefused
	assigned map[string][]string             // volunteer -> stations moved to them
	checkins map[string]map[string]time.Time // volunteer -> station -> first check-in
}

type reissue struct {
	tokenID  string
	issuedAt time.Time
}

func newFieldState(claimCap int) *fieldState {
	return &fieldState{
		claimCap: claimCap,
		changed:  make(chan struct{}),
		bound:    map[string]string{},
		reissued: map[string]reissue{},
		claims:   map[string][]string{},
		decided:  map[string]string{},
		assigned: map[string][]string{},
		checkins: map[string]map[string]time.Time{},
	}
}

// apply folds the record at offset into the state. Records must come in offset order;
// one already applied is ignored.
func (f *fieldState) apply(ev *schemas.FieldEvent, offset int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if offset < f.next {
		return
	}
	if ev != nil {
		f.applyLocked(ev)
	}
	f.next = offset + 1
	f.broadcastLocked()
}

func (f *fieldState) applyLocked(ev *schemas.FieldEvent) {
	switch ev.Kind {
	case schemas.FieldActivate:
		if _, ok := f.bound[ev.TokenID]; !ok {
			f.bound[ev.TokenID] = ev.DeviceKey
		}
	case schemas.FieldReissue:
		if r, ok := f.reissued[ev.VolunteerID]; !ok || ev.IssuedAt.After(r.issuedAt) {
			f.reissued[ev.VolunteerID] = reissue{tokenID: ev.TokenID, issuedAt: ev.IssuedAt}
		}
	case schemas.FieldClaim:
		if ev.Status != schemas.ClaimRequested {
			return // the answer written for ClickHouse; the decision is the request's place in the log
		}
		if _, seen := f.decided[ev.EventID]; seen {
			return
		}
		holders := f.claims[ev.StationID]
		switch {
		case slices.Contains(holders, ev.VolunteerID):
			f.decided[ev.EventID] = schemas.ClaimAccepted
		case len(holders) < f.claimCap:
			f.claims[ev.StationID] = append(holders, ev.VolunteerID)
			f.decided[ev.EventID] = schemas.ClaimAccepted
		default:
			f.decided[ev.EventID] = schemas.ClaimRefused
		}
	case schemas.FieldUnclaim:
		f.claims[ev.StationID] = slices.DeleteFunc(f.claims[ev.StationID], func(v string) bool { return v == ev.VolunteerID })
	case schemas.FieldAssign:
		if !slices.Contains(f.assigned[ev.VolunteerID], ev.StationID) {
			f.assigned[ev.VolunteerID] = append(f.assigned[ev.VolunteerID], ev.StationID)
		}
	case schemas.FieldCheckin:
		m := f.checkins[ev.VolunteerID]
		if m == nil {
			m = map[string]time.Time{}
			f.checkins[ev.VolunteerID] = m
		}
		if _, ok := m[ev.StationID]; !ok {
			m[ev.StationID] = ev.At
		}
	}
}

func (f *fieldState) broadcastLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fieldState) setReady() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ready {
		f.ready = true
		f.broadcastLocked()
	}
}

// isReady reports whether the state holds at least everything logged before ingest started.
func (f *fieldState) isReady() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.ready
}

// waitApplied blocks until the record at offset is applied or ctx ends.
func (f *fieldState) waitApplied(ctx context.Context, offset int64) error {
	for {
		f.mu.RLock()
		done, ch := f.next > offset, f.changed
		f.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// boundKey returns the device key a token is bound to, "" when it is not bound.
func (f *fieldState) boundKey(tokenID string) string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.bound[tokenID]
}

// superseded reports whether a reissue made the token (of volunteer, issued at issuedAt)
// stop working.
func (f *fieldState) superseded(volunteer, tokenID string, issuedAt time.Time) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.reissued[volunteer]
	return ok && tokenID != r.tokenID && !issuedAt.After(r.issuedAt)
}

// decision returns a claim's outcome once its request is applied.
func (f *fieldState) decision(eventID string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.decided[eventID]
	return d, ok
}

// stationClaims returns the volunteers holding a claim on station, in order.
func (f *fieldState) stationClaims(station string) []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.Clone(f.claims[station])
}

// assignedTo returns the stations moved to a volunteer, claims within the cap included.
func (f *fieldState) assignedTo(volunteer string) []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := slices.Clone(f.assigned[volunteer])
	for st, holders := range f.claims {
		if slices.Contains(holders, volunteer) && !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	slices.Sort(out)
	return out
}

// checkedIn returns the stations a volunteer checked in at, with the time.
func (f *fieldState) checkedIn(volunteer string) map[string]time.Time {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := map[string]time.Time{}
	for k, v := range f.checkins[volunteer] {
		out[k] = v
	}
	return out
}

// fieldLog appends events to fieldwork.v1 and returns their offsets. The production log is
// Kafka (kafkaFieldLog); tests may apply directly.
type fieldLog interface {
	append(ctx context.Context, ev *schemas.FieldEvent) (int64, error)
}

// errFieldUnavailable: fieldwork.v1 could not be written or followed in time.
var errFieldUnavailable = errors.New("ingest: fieldwork log unavailable")

// kafkaFieldLog produces with ingest's own producer (acks from all in-sync replicas).
type kafkaFieldLog struct {
	prod  producer
	topic string
}

func (l kafkaFieldLog) append(ctx context.Context, ev *schemas.FieldEvent) (int64, error) {
	rec, err := kgorecord.New(l.topic, ev)
	if err != nil {
		return 0, err
	}
	type res struct {
		off int64
		err error
	}
	ch := make(chan res, 1)
	l.prod.Produce(ctx, rec, func(r *kgo.Record, err error) { ch <- res{r.Offset, err} })
	select {
	case r := <-ch:
		if r.err != nil {
			return 0, fmt.Errorf("%w: %w", errFieldUnavailable, r.err)
		}
		return r.off, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", errFieldUnavailable, ctx.Err())
	}
}

// followFieldwork reads fieldwork.v1 from its start into s.field, marks the state ready once
// it reached the end offsets taken when it began, and goes on following the topic until
// ctx ends. On a Kafka error it marks Kafka down (one log line per outage), waits with a
// capped back-off and starts again from where it got to, however long Kafka is away.
func (s *Server) followFieldwork(ctx context.Context) {
	topic := s.cfg.TopicPrefix + schemas.TopicFieldwork
	retry := followCurve.Start()
	for ctx.Err() == nil {
		began := time.Now()
		err := s.followOnce(ctx, topic)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > followCurve.Max {
			retry.Reset() // it had been following: a new failure starts the curve again
		}
		s.kafka.Down(fmt.Errorf("following %s: %w", topic, err))
		wait, _ := retry.Next()
		s.log.Debug("ingest: following fieldwork.v1 failed; retrying", "wait", wait, "err", err)
		if backoff.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// followCurve is the wait before following fieldwork.v1 again after a failure: from
// 500 ms, doubling, at most 15 s.
var followCurve = backoff.Exponential(500*time.Millisecond, 15*time.Second)

func (s *Server) followOnce(ctx context.Context, topic string) error {
	base := []kgo.Opt{
		kgo.SeedBrokers(s.cfg.Seeds...),
		kgo.ClientID("votestream-ingest-fieldwork"),
		kgo.DialTimeout(5 * time.Second),
		kgo.WithHooks(kafkaready.Hook(s.kafka)),
	}
	var end int64 = -1
	if !s.field.isReady() {
		admCl, err := kgo.NewClient(base...)
		if err != nil {
			return err
		}
		ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		admCl.Close()
		if err != nil {
			return fmt.Errorf("end offset of %s: %w", topic, err)
		}
		if o, ok := ends.Lookup(topic, 0); ok {
			end = o.Offset
		}
	}
	s.field.mu.RLock()
	from := s.field.next
	s.field.mu.RUnlock()
	if end >= 0 && from >= end {
		s.field.setReady()
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			var ev schemas.FieldEvent
			if err := kgorecord.Decode(r, &ev); err != nil {
				s.log.Warn("ingest: undecodable fieldwork.v1 record skipped", "offset", r.Offset, "err", err)
				s.field.apply(nil, r.Offset)
			} else {
				s.field.apply(&ev, r.Offset)
			}
			if end >= 0 && r.Offset+1 >= end {
				s.field.setReady()
			}
		})
	}
}

// logField appends ev and waits until this process's follower has applied it, so that the
// caller can read the decision its place in the log gave it. Bounded by ProduceTimeout.
func (s *Server) logField(ctx context.Context, ev *schemas.FieldEvent) *APIError {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	defer cancel()
	off, err := s.fieldLog.append(ctx, ev)
	if err == nil {
		err = s.field.waitApplied(ctx, off)
	}
	if err != nil {
		s.log.Warn("ingest: fieldwork event not settled", "kind", ev.Kind, "err", err)
		return apiErr(CodeKafkaUnavailable, "", "not stored: Kafka did not acknowledge within %s; retry with the same id after the Retry-After delay", s.cfg.ProduceTimeout)
	}
	return nil
}
