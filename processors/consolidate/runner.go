package consolidate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/backoff"
	"votestream/internal/health"
	"votestream/internal/kafkaready"
	"votestream/internal/promreg"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// retryCurve is the wait between polls that brought only errors, and between transactions
// a produce error aborted: from 100 ms, doubling, at most 2 s.
var retryCurve = backoff.Exponential(100*time.Millisecond, 2*time.Second)

// sessionCurve is the wait before a new Kafka session after one failed (the broker away, a
// transaction whose end could not be confirmed): from 500 ms, doubling, at most 15 s, for
// as long as it takes.
var sessionCurve = backoff.Exponential(500*time.Millisecond, 15*time.Second)

// errProduceAborted: a transaction was aborted because a record could not be produced.
var errProduceAborted = errors.New("consolidate: transaction aborted by a produce error")

// errEncode: an output could not be encoded, a bug no retry mends.
var errEncode = errors.New("consolidate: encode")

// Consolidator is the consolidate role: a consumer group on submissions.v1, reviews.v1 and
// official.v1 that publishes station-results.v1 and anomalies.v1 in Kafka transactions
// together with the consumed offsets (read_committed downstream), so a crash at any point
// neither loses nor duplicates output.
//
// Partition p of the three input topics holds the same stations (all are keyed by
// station_id and placed by constituency, internal/partition), and the range balancer gives partition p of every
// topic to the same member, so one process owns a station's reports, reviews and official
// figures together. Its state is rebuilt from those partitions, never from a local file.
type Consolidator struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	health *health.Set
	kafka  *health.Dependency
	ledger *Ledger
	in     [Inputs]string // full input topic names, in Ledger topic order
	out    struct{ results, anomalies, dead string }

	mu       sync.Mutex     // guards assigned and gen, written by the group's callbacks
	assigned map[int32]bool // input partitions currently assigned
	gen      int            // bumped on every assignment

	seenGen  int            // the generation the loop last synchronised with
	verified map[int32]bool // partitions checked against the committed offsets in seenGen

	published *publishedAnomalies // anomaly ids on anomalies.v1, so none is published twice
	placement placement           // records off their constituency's partition

	onCommit func() // tests: called after each committed transaction
}

// New checks the config and prepares the role; it does not connect.
func New(cfg Config) (*Consolidator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Consolidator{
		cfg:      cfg,
		log:      cfg.Logger.With("role", "consolidate"),
		m:        newMetrics(),
		assigned: map[int32]bool{},
		verified: map[int32]bool{},
	}
	c.in = [Inputs]string{cfg.TopicPrefix + schemas.TopicSubmissions, cfg.TopicPrefix + schemas.TopicReviews, cfg.TopicPrefix + schemas.TopicOfficial}
	c.out.results = cfg.TopicPrefix + schemas.TopicStationResults
	c.out.anomalies = cfg.TopicPrefix + schemas.TopicAnomalies
	c.out.dead = cfg.TopicPrefix + schemas.TopicDeadLetter
	c.published = newPublishedAnomalies(c.out.anomalies)
	c.ledger = NewLedger(&c.cfg.Rules)
	c.ledger.published = c.published.has
	if err := promreg.Register(cfg.Registerer, "consolidate", c.m.collectors()...); err != nil {
		return nil, err
	}
	hs, err := health.NewSet("consolidate", cfg.Logger, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("consolidate: %w", err)
	}
	c.health, c.kafka = hs, hs.Dependency("kafka")
	c.placement = placement{country: cfg.Rules.Country, log: c.log, count: func(topic string) { c.m.misplaced.WithLabelValues(topic).Inc() }}
	if n, ex := misnamedStations(cfg.Rules.Country); n > 0 {
		c.log.Warn("station ids that do not start with their constituency's id and '_': ingest places them by the reference data, but a producer without it (a bench, another tool) cannot keep them on their constituency's partition",
			"stations", n, "example", ex)
	}
	return c, nil
}

// Collectors returns the role's Prometheus metrics, for a caller that registers them itself.
func (c *Consolidator) Collectors() []prometheus.Collector { return c.m.collectors() }

// Ready returns nil while Kafka answers, or an error saying since when it does not. Safe
// for concurrent use (a readiness probe).
func (c *Consolidator) Ready() error { return c.health.Ready() }

// Run consumes and publishes until ctx ends, then finishes or aborts the open transaction,
// leaves the group and returns nil. Kafka being away does not end it, however long: the
// session that failed is closed, and a new one starts after a capped back-off (readiness
// false, votestream_dependency_up{dependency="kafka"} 0, one log line when the wait starts
// and one when it ends), rebuilding whatever state the failure left in doubt. Run returns
// an error only for what no wait mends: a bad configuration (input topics partitioned
// differently, topics still missing after two minutes, an authorisation refused), an output
// too large for the broker, or an encoding bug. Run is not safe to call twice at once on
// one Consolidator.
func (c *Consolidator) Run(ctx context.Context) error {
	retry := sessionCurve.Start()
	for {
		err := c.session(ctx, retry.Reset)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil || fatal(err) {
			return err
		}
		c.kafka.Down(err)
		wait, _ := retry.Next() // unbounded: only ctx ends the wait
		c.log.Debug("new kafka session after a failure", "attempt", retry.Failed(), "wait", wait, "err", err)
		if backoff.Sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// fatal reports whether err is one that a new session cannot mend.
func fatal(err error) bool {
	switch {
	case errors.Is(err, ErrBadConfig), errors.Is(err, errEncode),
		errors.Is(err, kafkaready.ErrTopicsMissing), errors.Is(err, kafkaready.ErrRefused),
		errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return true
	}
	return false
}

// session runs one Kafka session until ctx ends (nil) or it fails (the error). progress is
// called after each committed transaction. On a failure the ledger is left at a commit
// point; the next session checks it against the group's committed offsets and rebuilds
// what differs (a transaction whose end was not confirmed may have committed).
func (c *Consolidator) session(ctx context.Context, progress func()) error {
	if err := c.waitKafka(ctx); err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(c.cfg.Seeds...),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.in[:]...),
		// Range keeps partition p of every input topic on one member (same counts, same
		// subscription), which the per-station state needs; it is an eager balancer.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(c.cfg.TransactionalID),
		kgo.TransactionTimeout(c.cfg.TransactionTimeout),
		kgo.SessionTimeout(c.cfg.SessionTimeout),
		kgo.OnPartitionsAssigned(c.onAssigned),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.OnPartitionsLost(c.onRevoked),
		kgo.WithLogger(kgoLogger{c.log}),
		kgo.WithHooks(kafkaready.Hook(c.kafka)),
	)
	if err != nil {
		return fmt.Errorf("%w: kafka session: %w", ErrBadConfig, err)
	}
	defer c.closeSession(sess)
	c.log.Info("consolidating", "group", c.cfg.Group, "transactional_id", c.cfg.TransactionalID, "inputs", c.in[:])

	failed := retryCurve.Start() // polls that brought only errors
	aborts := retryCurve.Start() // transactions aborted by a produce error
	for {
		fetches := sess.PollRecords(ctx, c.cfg.MaxPollRecords)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && fetchErr == nil {
				fetchErr = fmt.Errorf("consolidate: fetch %s[%d]: %w", topic, p, err)
			}
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			if fetchErr == nil {
				continue
			}
			if fatal(fetchErr) {
				return fetchErr
			}
			// franz-go retries what can be retried; an error that comes back poll after
			// poll (the broker away, a deleted topic) is waited out with back-off.
			c.kafka.Down(fetchErr)
			wait, _ := failed.Next()
			if backoff.Sleep(ctx, wait) != nil {
				return nil
			}
			continue
		}
		failed.Reset()
		if err := c.sync(ctx, sess.Client(), recs); err != nil {
			return err
		}
		err := c.transact(ctx, sess, recs)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errProduceAborted) && !fatal(err):
			// The records come again, after a back-off: the broker may be away.
			c.kafka.Down(err)
			wait, _ := aborts.Next()
			if backoff.Sleep(ctx, wait) != nil {
				return nil
			}
		case err != nil:
			return err
		default:
			aborts.Reset()
			c.kafka.Up()
			progress()
			if c.onCommit != nil {
				c.onCommit()
			}
		}
	}
}

// closeSession closes a session without letting a broker that is away hold the role: the
// client's own close (leaving the group, aborting an open transaction) is given
// closeTimeout, after which the broker's session and transaction timeouts clean up.
func (c *Consolidator) closeSession(sess *kgo.GroupTransactSession) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		sess.Close()
	}()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.log.Warn("kafka session still closing; going on without it", "after", closeTimeout)
	}
}

// closeTimeout bounds the wait for a Kafka session to close.
const closeTimeout = 10 * time.Second

// transact applies one poll's records and publishes the outcome with their offsets in one
// transaction. On abort (a rebalance began, a produce failed) the ledger rolls back and the
// session rewinds to the committed offsets, so the records come again.
func (c *Consolidator) transact(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) error {
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("consolidate: begin transaction: %w", err)
	}
	// A shutdown lets the transaction finish (or abort) instead of cutting it off: either
	// way nothing is lost, but finishing saves the next process the work.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.TransactionTimeout)
	defer cancel()
	promise := kgo.AbortingFirstErrPromise(sess.Client())
	// Decoding and encoding are most of the work and need no shared state: they run on
	// every core; applying to the ledger is sequential, in record order, and starts on the
	// first records while later ones are still being decoded.
	decoded := make([]decodedRecord, len(recs))
	dec := decodeAhead(len(recs), func(i int) {
		r := recs[i]
		decoded[i].topic = c.topicIndex(r.Topic)
		if decoded[i].topic >= 0 {
			decoded[i].in, decoded[i].err = c.decode(decoded[i].topic, r)
		}
	})
	outs := c.ledger.Drain()
	perTopic := map[string]int{}
	dead := map[string]int{}
	notHeld := false // a record of a partition sync did not take on (revoked since the poll)
	for i, r := range recs {
		dec.wait(i)
		d := &decoded[i]
		if d.topic < 0 {
			continue
		}
		if !c.ledger.HasPartition(r.Partition) {
			// Never commit its offset unapplied. The session aborts after a revocation
			// anyway; this does not rely on it.
			notHeld = true
			continue
		}
		c.ledger.Advance(r.Partition, d.topic, r.Offset)
		if d.err != nil {
			c.log.Warn("dead letter", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", d.err)
			sess.Produce(tctx, c.deadLetter(r, d.err), promise.Promise())
			dead[r.Topic]++
			continue
		}
		perTopic[r.Topic]++
		c.placement.check(r.Topic, r.Partition, d.in.StationID())
		outs = append(outs, c.ledger.Apply(r.Partition, d.in)...)
	}
	encoded := make([]*kgo.Record, len(outs))
	encodeErrs := make([]error, len(outs))
	parallel(len(outs), func(i int) { encoded[i], encodeErrs[i] = c.record(outs[i]) })
	var encodeErr error
	var nres int
	anomalies := map[string]int{}
	for i, r := range encoded {
		if encodeErrs[i] != nil {
			encodeErr = cmpErr(encodeErr, encodeErrs[i])
			continue
		}
		if outs[i].Result != nil {
			nres++
		} else if !c.published.claim(outs[i].Anomaly.AnomalyID) {
			continue // on the topic already (see publishedAnomalies)
		} else {
			anomalies[outs[i].Anomaly.Code]++
		}
		sess.Produce(tctx, r, promise.Promise())
	}
	produceErr := promise.Err()
	committed, err := sess.End(tctx, kgo.TransactionEndTry(produceErr == nil && encodeErr == nil && !notHeld))
	if !committed {
		c.ledger.Rollback()
		c.published.rollback()
		c.m.transactions.WithLabelValues("aborted").Inc()
		if produceErr != nil || encodeErr != nil {
			c.log.Warn("transaction aborted", "produce_err", produceErr, "encode_err", encodeErr)
		}
		if encodeErr != nil {
			return encodeErr
		}
		if err != nil {
			return fmt.Errorf("consolidate: end transaction: %w", err)
		}
		if produceErr != nil {
			return fmt.Errorf("%w: %w", errProduceAborted, produceErr)
		}
		return nil
	}
	c.ledger.Commit()
	c.published.commit()
	c.m.transactions.WithLabelValues("committed").Inc()
	for t, n := range perTopic {
		c.m.records.WithLabelValues(t).Add(float64(n))
	}
	for t, n := range dead {
		c.m.deadLetters.WithLabelValues(t).Add(float64(n))
	}
	for code, n := range anomalies {
		c.m.anomalies.WithLabelValues(code).Add(float64(n))
	}
	c.m.results.Add(float64(nres))
	return err
}

type decodedRecord struct {
	topic int // index into the input topics, -1 for none
	in    Input
	err   error
}

// parallel calls fn(i) for every i in [0, n), spread over GOMAXPROCS goroutines when n is
// large enough to pay for them, and returns when all calls have.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/256)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// aheadChunk is how many records a decodeAhead goroutine takes at a time: enough to pay
// for the hand-over, few enough that the ledger starts soon.
const aheadChunk = 64

// ahead is fn being called for [0, n) on other goroutines, in chunks taken in order, while
// the caller works through the results in order (decodeAhead).
type ahead struct {
	n    int
	fn   func(i int)
	next atomic.Int64    // the next chunk to take
	done []chan struct{} // closed when a chunk's calls have returned
}

// decodeAhead starts calling fn(i) for every i in [0, n) on GOMAXPROCS-1 goroutines (one
// at least), the caller's goroutine being busy with the ledger, when n is large enough to
// pay for them. The caller must call wait(i) before reading what
// fn(i) wrote, for i in increasing order; wait runs a chunk no goroutine has taken yet
// itself, so no record waits for a busy core.
func decodeAhead(n int, fn func(i int)) *ahead {
	a := &ahead{n: n, fn: fn, done: make([]chan struct{}, (n+aheadChunk-1)/aheadChunk)}
	for c := range a.done {
		a.done[c] = make(chan struct{})
	}
	for range min(max(runtime.GOMAXPROCS(0)-1, 1), n/(4*aheadChunk)) {
		go func() {
			for a.take() {
			}
		}()
	}
	return a
}

// take runs the next chunk not yet taken, if any, and reports whether it did.
func (a *ahead) take() bool {
	c := int(a.next.Add(1) - 1)
	if c >= len(a.done) {
		return false
	}
	for i := c * aheadChunk; i < min((c+1)*aheadChunk, a.n); i++ {
		a.fn(i)
	}
	close(a.done[c])
	return true
}

// wait returns once fn(i) has returned.
func (a *ahead) wait(i int) {
	c := i / aheadChunk
	for int(a.next.Load()) <= c && a.take() {
	}
	<-a.done[c]
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (c *Consolidator) topicIndex(topic string) int {
	for i, t := range c.in {
		if t == topic {
			return i
		}
	}
	return -1
}

// decode turns an input record into an Input, checked against the contract and the Country.
// An error means the record can never be processed.
func (c *Consolidator) decode(t int, r *kgo.Record) (Input, error) {
	country := c.cfg.Rules.Country
	switch t {
	case 0:
		var rep schemas.Report
		if err := kgorecord.Decode(r, &rep); err != nil {
			return Input{}, fmt.Errorf("%w: %w", ErrUndecodable, err)
		}
		x, err := NewReport(rep, country)
		if err != nil {
			return Input{}, err
		}
		for _, h := range r.Headers {
			if strings.EqualFold(h.Key, schemas.HeaderFlags) {
				for _, f := range strings.Split(string(h.Value), ",") {
					if f = strings.TrimSpace(f); f != "" {
						x.IngestFlags = append(x.IngestFlags, f)
					}
				}
			}
		}
		return Input{Report: x}, nil
	case 1:
		var rev schemas.Review
		if err := kgorecord.Decode(r, &rev); err != nil {
			return Input{}, fmt.Errorf("%w: %w", ErrUndecodable, err)
		}
		x, err := NewReview(rev, country)
		return Input{Review: x}, err
	default:
		var o schemas.Official
		if err := kgorecord.Decode(r, &o); err != nil {
			return Input{}, fmt.Errorf("%w: %w", ErrUndecodable, err)
		}
		x, err := NewOfficial(o, country)
		return Input{Official: x}, err
	}
}

// ResultKey is the record key of a station result: both ballots of a station share the
// station_id, and the compacted topic must keep one record for each.
func ResultKey(stationID, ballot string) string { return schemas.StationResultKey(stationID, ballot) }

func (c *Consolidator) record(o Output) (*kgo.Record, error) {
	var v any
	var topic, key string
	if o.Result != nil {
		v, topic, key = o.Result, c.out.results, ResultKey(o.Result.StationID, o.Result.Ballot)
	} else {
		v, topic, key = o.Anomaly, c.out.anomalies, schemas.Key(o.Anomaly)
	}
	value, headers, err := schemas.Encode(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errEncode, err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: value, Headers: kgorecord.Headers(headers)}, nil
}

// deadLetter copies a record that can never be processed to the dead-letter topic, with
// why and where it came from in headers. It goes in the same transaction as the offsets, so
// it is written exactly once.
func (c *Consolidator) deadLetter(r *kgo.Record, reason error) *kgo.Record {
	return kgorecord.DeadLetter(c.out.dead, "consolidate", r, reason)
}

// onAssigned records the assignment. Range is an eager balancer, so m is the whole
// assignment, not what was added: it replaces the set rather than adding to it, because
// onRevoked cannot be relied on to have emptied it. GroupTransactSession passes at most one
// revocation to onRevoked between two ends of a transaction, so after two rebalances with
// no transaction between them the partitions lost in the second were never revoked here.
func (c *Consolidator) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.assigned)
	for _, ps := range m {
		for _, p := range ps {
			c.assigned[p] = true
		}
	}
	c.gen++
}

func (c *Consolidator) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ps := range m {
		for _, p := range ps {
			delete(c.assigned, p)
		}
	}
}

// sync brings the ledger in line with the assignment before a transaction: after a
// rebalance it forgets partitions no longer assigned and checks every assigned partition's
// state against the group's committed offsets, rebuilding it from Kafka where they differ.
// Records were just polled, so the client has fetched the committed offsets of the whole
// assignment.
func (c *Consolidator) sync(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	c.mu.Lock()
	gen, assigned := c.gen, maps.Clone(c.assigned)
	c.mu.Unlock()
	var check []int32
	if gen != c.seenGen {
		c.seenGen = gen
		clear(c.verified)
		for _, p := range c.ledger.Partitions() {
			if !assigned[p] {
				c.ledger.DropPartition(p)
			}
		}
		for p := range assigned {
			check = append(check, p)
		}
	}
	for _, r := range recs {
		// A record polled before a rebalance may be of a partition revoked since: its
		// transaction will abort, and taking the partition on for it would keep state that
		// another member owns.
		if !assigned[r.Partition] {
			continue
		}
		if !c.verified[r.Partition] && !slices.Contains(check, r.Partition) {
			check = append(check, r.Partition)
		}
	}
	if len(check) == 0 {
		return nil
	}
	slices.Sort(check)
	committed := cl.CommittedOffsets()
	want := map[int32][Inputs]int64{}
	for _, p := range check {
		var w [Inputs]int64
		for t, topic := range c.in {
			if o, ok := committed[topic][p]; ok && o.Offset > 0 {
				w[t] = o.Offset
			}
		}
		c.verified[p] = true
		if c.ledger.HasPartition(p) && c.ledger.Position(p) == w {
			continue // this process's state is exactly at the committed offsets
		}
		if c.ledger.HasPartition(p) {
			c.log.Info("state behind or ahead of the committed offsets", "partition", p, "state", c.ledger.Position(p), "committed", w)
		}
		want[p] = w
	}
	if len(want) > 0 {
		if err := c.rebuild(ctx, want); err != nil {
			// Half-rebuilt partitions are dropped: the next session rebuilds them whole.
			for p := range want {
				c.ledger.DropPartition(p)
				delete(c.verified, p)
			}
			return err
		}
	}
	c.m.stations.Set(float64(len(c.ledger.Partitions())))
	return nil
}

// rebuild replays input partitions from their start up to the committed offsets, applying
// every record to a fresh state without publishing: what they produced is already on the
// output topics. Partitions are read together by one client.
func (c *Consolidator) rebuild(ctx context.Context, want map[int32][Inputs]int64) error {
	start := time.Now()
	parts := map[string]map[int32]kgo.Offset{}
	remaining := 0
	for p, w := range want {
		c.ledger.DropPartition(p)
		c.ledger.AddPartition(p)
		for t, topic := range c.in {
			if w[t] == 0 {
				continue
			}
			if parts[topic] == nil {
				parts[topic] = map[int32]kgo.Offset{}
			}
			parts[topic][p] = kgo.NewOffset().AtStart()
			remaining++
		}
	}
	var n int64
	defer func() {
		c.m.rebuild.Observe(time.Since(start).Seconds())
		c.m.replayed.Add(float64(n))
		c.log.Info("rebuilt state from Kafka", "partitions", slices.Sorted(maps.Keys(want)), "records", n, "took", time.Since(start).Round(time.Millisecond))
	}()
	if remaining == 0 {
		return nil // nothing committed on these partitions, so nothing published about them
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RebuildTimeout)
	defer cancel()
	ids, err := c.published.catchUp(rctx, c.cfg.Seeds, c.log)
	if err != nil {
		return err
	}
	c.log.Debug("anomaly ids read back", "new", ids)
	defer c.ledger.SettleReplay()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.cfg.Seeds...),
		kgo.ConsumePartitions(parts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.WithLogger(kgoLogger{c.log}),
	)
	if err != nil {
		return fmt.Errorf("consolidate: rebuild client: %w", err)
	}
	defer cl.Close()
	for remaining > 0 {
		fetches := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("consolidate: rebuild of partitions %v: %d topic partitions short of their committed offsets after %v: %w",
				slices.Sorted(maps.Keys(want)), remaining, c.cfg.RebuildTimeout, err)
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			fetchErr = fmt.Errorf("consolidate: rebuild: %s[%d]: %w", topic, p, err)
		})
		if fetchErr != nil {
			return fetchErr
		}
		recs := fetches.Records()
		decoded := make([]decodedRecord, len(recs))
		dec := decodeAhead(len(recs), func(i int) {
			r := recs[i]
			t := c.topicIndex(r.Topic)
			w, ok := want[r.Partition]
			if t < 0 || !ok || r.Offset >= w[t] {
				decoded[i].topic = -1 // beyond the committed offset: the group consumer will bring it
				return
			}
			decoded[i].topic = t
			// Undecodable records went to the dead-letter topic the first time: a zero
			// Input only moves the position.
			decoded[i].in, _ = c.decode(t, r)
		})
		for i, r := range recs {
			dec.wait(i)
			d := &decoded[i]
			if d.topic < 0 {
				continue
			}
			c.placement.check(r.Topic, r.Partition, d.in.StationID())
			c.ledger.Replay(r.Partition, d.topic, r.Offset, d.in)
			n++
			if r.Offset == want[r.Partition][d.topic]-1 {
				remaining--
			}
		}
	}
	return nil
}

// waitKafka waits until Kafka serves the role (every topic with its partitions led, the
// group and transaction coordinators answering; see kafkaready) and checks that the input
// topics are partitioned alike: partition p of each must hold the same stations.
func (c *Consolidator) waitKafka(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.cfg.Seeds...))
	if err != nil {
		return fmt.Errorf("%w: kafka client: %w", ErrBadConfig, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	names := append(slices.Clone(c.in[:]), c.out.results, c.out.anomalies, c.out.dead)
	need := kafkaready.Need{Topics: names, Group: c.cfg.Group, TransactionalID: c.cfg.TransactionalID}
	if err := kafkaready.Wait(ctx, adm, need, c.kafka); err != nil {
		return fmt.Errorf("consolidate: %w", err)
	}
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	details, err := adm.ListTopics(mctx, c.in[:]...)
	if err != nil {
		return fmt.Errorf("consolidate: kafka metadata: %w", err)
	}
	if err := partitionedAlike(details, c.in[:]); err != nil {
		return err
	}
	c.placement.partitions = len(details[c.in[0]].Partitions)
	return nil
}

func partitionedAlike(details kadm.TopicDetails, inputs []string) error {
	counts := map[int]bool{}
	for _, name := range inputs {
		counts[len(details[name].Partitions)] = true
	}
	if len(counts) != 1 {
		return fmt.Errorf("%w: %v have different partition counts; partition p of each must hold the same stations", ErrConfig, inputs)
	}
	return nil
}

// kgoLogger passes franz-go's log lines to slog at debug level. Its warnings repeat on
// every retry while the broker is away (a failed dial, a group loop error, a partition
// that cannot be produced to); the role's own "waiting for kafka" and "kafka recovered"
// lines say the same once per change of state.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	k.l.Debug(msg, append(keyvals, "kgo_level", level.String())...)
}
