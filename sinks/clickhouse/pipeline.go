package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"votestream/internal/backoff"
	"votestream/schemas/chtable"
)

// The sink is a two-stage pipeline. Run's goroutine polls Kafka and decodes records into a
// round (rows by table, dead letters, the offsets they end at); the storer goroutine inserts
// one round at a time and then commits its offsets asynchronously (franz-go orders commits),
// so the next round is fetched and decoded while this one inserts, and no insert waits for a
// commit. While the storer is busy, polls accumulate into the waiting round up to
// MaxInsertRecords: under a backlog the inserts grow, when caught up they stay small.
//
// What made the sink at-least-once before still holds: a round's offsets are committed only
// after all its rows (and dead letters) are stored, and the rounds of one partition are
// stored in poll order. Rebalances stay blocked from a poll until the pipeline is empty
// and its commits answered (BlockRebalanceOnPoll): when franz-go signals that a rebalance
// waits (OnPartitionsCallbackBlocked), the poller stops polling, drains, and allows it, so
// no partition moves while its rows are half-stored or its commit is in flight.

// round is what one insert round stores.
type round struct {
	tables  map[tableKey]tableRows
	order   []tableKey // tables in the order first seen
	dead    []*kgo.Record
	offsets map[string]map[int32]kgo.EpochOffset // the next offset to read, per partition
	records int
}

// tableKey names one insert of a round: a table's rows held column by column (the fast
// reader's) and its rows held as chtable builds them (every other record of that table)
// are two inserts.
type tableKey struct {
	name    string
	columns bool
}

func newRound() *round {
	return &round{tables: map[tableKey]tableRows{}, offsets: map[string]map[int32]kgo.EpochOffset{}}
}

// offset notes that r is part of the round.
func (b *round) offset(r *kgo.Record) {
	b.records++
	b.setOffset(r.Topic, r.Partition, kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1})
}

func (b *round) setOffset(topic string, p int32, o kgo.EpochOffset) {
	ps := b.offsets[topic]
	if ps == nil {
		ps = map[int32]kgo.EpochOffset{}
		b.offsets[topic] = ps
	}
	if at, ok := ps[p]; !ok || at.Less(o) {
		ps[p] = o
	}
}

// add appends rows to their table's insert; rows is the round's from then on.
func (b *round) add(rows tableRows) {
	_, columns := rows.(*genericRows)
	k := tableKey{rows.table().Name, !columns}
	if t, ok := b.tables[k]; ok {
		t.merge(rows)
		return
	}
	b.tables[k] = rows
	b.order = append(b.order, k)
}

// byTable is the round's inserts grouped by table, tables in the order first seen: a
// table's rows read column by column and those built by chtable are two inserts, kept in
// the order of their table's first rows.
func (b *round) byTable() [][]tableRows {
	var out [][]tableRows
	at := map[string]int{}
	for _, k := range b.order {
		i, ok := at[k.name]
		if !ok {
			i = len(out)
			at[k.name] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], b.tables[k])
	}
	return out
}

// results returns the round's station_results columns, made on first use with room for n rows.
func (b *round) results(n int) *resultColumns {
	k := tableKey{chtable.StationResults.Name, true}
	if t, ok := b.tables[k]; ok {
		return t.(*resultColumns)
	}
	c := newResultColumns(n)
	b.add(c)
	return c
}

// reports returns the round's submissions columns, made on first use with room for n rows.
func (b *round) reports(n int) *reportColumns {
	k := tableKey{chtable.Submissions.Name, true}
	if t, ok := b.tables[k]; ok {
		return t.(*reportColumns)
	}
	c := newReportColumns(n)
	b.add(c)
	return c
}

// merge appends o, polled after b, to b.
func (b *round) merge(o *round) {
	for _, k := range o.order {
		b.add(o.tables[k])
	}
	b.dead = append(b.dead, o.dead...)
	for topic, ps := range o.offsets {
		for p, off := range ps {
			b.setOffset(topic, p, off)
		}
	}
	b.records += o.records
}

// pipeline hands rounds from the poller to the storer.
type pipeline struct {
	mu      sync.Mutex
	cond    *sync.Cond
	next    *round // polled and decoded, not yet taken by the storer
	busy    bool   // the storer is storing a round
	commits int    // commits issued and not yet answered
	stopped bool   // the poller is done: the storer takes no more rounds
	exited  bool   // the storer has returned
	err     error  // why the storer failed
}

func newPipeline() *pipeline {
	p := &pipeline{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// put hands b to the storer, merged into the waiting round, waiting while that round holds
// max records or more. It returns false once the storer has ended.
func (p *pipeline) put(b *round, max int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.next != nil && p.next.records >= max && !p.exited {
		p.cond.Wait()
	}
	if p.exited {
		return false
	}
	if p.next == nil {
		p.next = b
	} else {
		p.next.merge(b)
	}
	p.cond.Broadcast()
	return true
}

// take waits for a round and marks the storer busy; nil once the poller has stopped.
func (p *pipeline) take() *round {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.next == nil && !p.stopped {
		p.cond.Wait()
	}
	if p.stopped {
		return nil
	}
	b := p.next
	p.next, p.busy = nil, true
	p.cond.Broadcast()
	return b
}

// stored ends the storer's current round; a commit of it, if issued, counts as pending.
func (p *pipeline) stored(committing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy = false
	if committing {
		p.commits++
	}
	p.cond.Broadcast()
}

func (p *pipeline) committed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.commits--
	p.cond.Broadcast()
}

// exit records the storer's end and why (nil on a stop).
func (p *pipeline) exit(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy, p.exited, p.err = false, true, err
	p.cond.Broadcast()
}

// drain waits until every round handed over is stored (or the storer has ended) and every
// commit issued has been answered.
func (p *pipeline) drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.busy || p.commits > 0 || (p.next != nil && !p.exited) {
		p.cond.Wait()
	}
}

// stop tells the storer to take no more rounds.
func (p *pipeline) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	p.cond.Broadcast()
}

func (p *pipeline) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// rebalanceGate is how franz-go's "a rebalance waits for you" signal reaches the poller:
// it is noted, and a poll in progress is cut short so the poller can drain and allow it.
type rebalanceGate struct {
	mu     sync.Mutex
	want   bool
	cancel context.CancelFunc // of the poll in progress, if any
}

// blocked is the OnPartitionsCallbackBlocked hook (franz-go calls it on its own goroutine).
func (g *rebalanceGate) blocked(context.Context, *kgo.Client) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.want = true
	if g.cancel != nil {
		g.cancel()
	}
}

// polling registers the cancel of a poll about to start (nil when it has returned).
func (g *rebalanceGate) polling(cancel context.CancelFunc) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel = cancel
	if cancel != nil && g.want {
		cancel()
	}
}

// take reports whether a rebalance waits, and forgets it: the caller allows it next.
func (g *rebalanceGate) take() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.want
	g.want = false
	return w
}

// runPipeline is Run once the services answer.
func (s *Sink) runPipeline(ctx context.Context) error {
	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	p := newPipeline()
	var storer sync.WaitGroup
	storer.Add(1)
	go func() {
		defer storer.Done()
		s.storeLoop(runCtx, p, fail)
	}()
	// finish stops the storer, waits for it and its commits, and lets a rebalance (or the
	// client's close) go ahead.
	finish := func() error {
		p.stop()
		storer.Wait()
		p.drain()
		s.kc.AllowRebalance()
		if err := p.failure(); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
	fetchWait := waitCurve.Start()
	for {
		pollCtx, cancelPoll := context.WithCancel(runCtx)
		s.gate.polling(cancelPoll)
		start := time.Now()
		fetches := s.kc.PollRecords(pollCtx, s.cfg.MaxBatchRecords)
		s.gate.polling(nil)
		cancelPoll()
		s.metrics().pollSecs.Observe(time.Since(start).Seconds())
		if runCtx.Err() != nil {
			return finish()
		}
		var fetchErr error
		fetches.EachError(func(topic string, part int32, err error) {
			if fetchErr == nil && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("sink: fetch %s[%d]: %w", topic, part, err)
			}
		})
		records := fetches.Records()
		if fetchErr != nil && len(records) == 0 {
			// The client retries; an error that comes back poll after poll is waited out.
			s.kafka.Down(fetchErr)
			p.drain()
			s.gate.take()
			s.kc.AllowRebalance()
			wait, _ := fetchWait.Next()
			if backoff.Sleep(runCtx, wait) != nil {
				return finish()
			}
			continue
		}
		if len(records) > 0 {
			fetchWait.Reset()
			s.kafka.Up()
			b := newRound()
			s.decode(b, records)
			if !p.put(b, s.cfg.MaxInsertRecords) {
				return finish()
			}
		}
		if s.gate.take() || len(records) == 0 {
			p.drain()
			s.kc.AllowRebalance()
		}
	}
}

// storeLoop stores rounds until the poller stops or a round cannot be stored; then it
// cancels the run through fail.
func (s *Sink) storeLoop(ctx context.Context, p *pipeline, fail context.CancelCauseFunc) {
	for {
		b := p.take()
		if b == nil {
			p.exit(nil)
			return
		}
		s.stores.Add(1)
		s.storing.Store(true)
		start := time.Now()
		err := s.storeRound(ctx, b)
		s.storing.Store(false)
		if err != nil {
			if ctx.Err() != nil {
				err = nil // a stop: the offsets stay uncommitted and the rows come again
			}
			p.exit(err)
			fail(err)
			return
		}
		s.metrics().roundSecs.Observe(time.Since(start).Seconds())
		s.metrics().roundRecords.Observe(float64(b.records))
		p.stored(true)
		s.commit(ctx, p, b)
	}
}

// commit commits the offsets of a stored round without waiting for the answer. A commit
// that fails is only logged: the rows are stored and a re-delivery folds away.
func (s *Sink) commit(ctx context.Context, p *pipeline, b *round) {
	n, start := b.records, time.Now()
	s.kc.CommitOffsets(ctx, b.offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		defer p.committed()
		if err == nil && resp != nil {
			for _, t := range resp.Topics {
				for _, part := range t.Partitions {
					if perr := kerr.ErrorForCode(part.ErrorCode); perr != nil && err == nil {
						err = fmt.Errorf("%s[%d]: %w", t.Topic, part.Partition, perr)
					}
				}
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("commit offsets", "err", err)
			}
			return
		}
		s.metrics().commitSecs.Observe(time.Since(start).Seconds())
		s.metrics().records.Add(float64(n))
	})
}
