package evidencelog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sync/errgroup"

	"votestream/evidencelog/tlog"
	"votestream/internal/backoff"
	"votestream/internal/health"
	"votestream/internal/kafkaready"
	"votestream/schemas"
)

// stateDir holds the role's own files inside the log folder; never served.
const stateDir = ".votestream"

// Log is the log role: the writer that appends a leaf per Kafka record, the checkpoint
// watcher that archives and publishes each signed checkpoint, and the HTTP server. Build it
// with New; Run it once.
type Log struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	signer  note.Signer
	others  []note.Signer
	logKey  []note.Verifier // the log's own public keys
	pubKeys []string
	wits    []note.Verifier // accepted witnesses' cosignature verifiers
	lock    *os.File

	reader tessera.LogReader

	mu       sync.RWMutex // guards idx and inFlight (the writer's two goroutines change them)
	idx      *leafIndex
	inFlight map[[32]byte]struct{} // leaves handed to Tessera, not yet in idx

	cps       *checkpoints
	pushers   []*pusher // one per witness in Config.WitnessURLs
	inclusion inclusionQueue
	pages     *stations     // nil when station pages are off
	ready     chan struct{} // closed once Run has opened the log (Handler may serve)
	health    *health.Set
	kafka     *health.Dependency
}

// New checks cfg, reads the keys and takes the log folder's lock (one writer per log);
// nothing is read or served before Run.
func New(cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Topics) == 0 {
		cfg.Topics = SourceTopics()
	}
	l := &Log{cfg: cfg, log: cfg.Logger, m: newMetrics(cfg.Registerer), ready: make(chan struct{}), inFlight: map[[32]byte]struct{}{}}
	if l.log == nil {
		l.log = slog.Default()
	}
	hs, err := health.NewSet("evidencelog", l.log, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: %w", err)
	}
	l.health, l.kafka = hs, hs.Dependency("kafka")
	keys, err := tlog.LoadSigners(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: %w", err)
	}
	l.signer, l.others, l.logKey, l.pubKeys = keys.Primary, keys.Others, keys.Verifiers, keys.PublicKeys
	if cfg.WitnessKeysFile != "" {
		keys, err := tlog.LoadVerifiers(cfg.WitnessKeysFile)
		if err != nil {
			return nil, fmt.Errorf("evidencelog: witnesses: %w", err)
		}
		if l.wits, err = tlog.WitnessVerifiers(keys); err != nil {
			return nil, fmt.Errorf("evidencelog: witnesses: %w", err)
		}
	}
	for _, u := range cfg.WitnessURLs {
		p, err := newPusher(l, u)
		if err != nil {
			return nil, err
		}
		l.pushers = append(l.pushers, p)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, stateDir, "checkpoints"), 0o755); err != nil {
		return nil, fmt.Errorf("evidencelog: log folder: %w", err)
	}
	if l.lock, err = lockDir(filepath.Join(cfg.Dir, stateDir, "writer.lock")); err != nil {
		return nil, err
	}
	if cfg.ClickHouseAddr != "" {
		if l.pages, err = newStations(cfg, l.log); err != nil {
			l.lock.Close()
			return nil, err
		}
	}
	return l, nil
}

// ErrLocked: another writer has the log folder.
var ErrLocked = errors.New("evidencelog: another log writer holds this log folder")

func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (%s)", ErrLocked, path)
	}
	return f, nil
}

// Ready is closed once Run has opened the log: from then on Handler serves.
func (l *Log) Ready() <-chan struct{} { return l.ready }

// Health returns nil while Kafka answers, or an error saying since when it does not (the
// writer waits, however long; the log's files and proofs are served meanwhile). Safe for
// concurrent use (a readiness probe).
func (l *Log) Health() error { return l.health.Ready() }

// Origin is the log's name: the first line of its checkpoints.
func (l *Log) Origin() string { return l.signer.Name() }

// PublicKeys are the verifier keys of the log's signing keys, in the key file's order.
func (l *Log) PublicKeys() []string { return slices.Clone(l.pubKeys) }

// Run integrates records until ctx ends (nil) or the log cannot go on (an error: nothing
// is committed for records not integrated, so a restart goes on where it stopped). It
// serves HTTP meanwhile when Config.Listen is set.
func (l *Log) Run(ctx context.Context) error {
	defer l.lock.Close()
	// Tessera's background work (batches, checkpoints) must outlive shutdown, which waits
	// for a checkpoint that commits to everything added.
	tctx, tcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer tcancel()
	driver, err := posix.New(tctx, posix.Config{Path: l.cfg.Dir})
	if err != nil {
		return fmt.Errorf("evidencelog: storage: %w", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(l.signer, l.others...).
		WithCheckpointInterval(l.cfg.CheckpointInterval).
		WithBatching(l.cfg.BatchMaxSize, l.cfg.BatchMaxAge).
		WithShutdownTimeout(30 * time.Second)
	app, shutdown, reader, err := tessera.NewAppender(tctx, driver, opts)
	if err != nil {
		return fmt.Errorf("evidencelog: appender: %w", err)
	}
	l.reader = reader
	size, err := reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("evidencelog: log size: %w", err)
	}
	start := time.Now()
	_ = os.Remove(filepath.Join(l.cfg.Dir, stateDir, oldIndexFile)) // hashes only: rebuilt below
	idx, err := openLeafIndex(ctx, filepath.Join(l.cfg.Dir, stateDir, indexFile), size, reader.ReadEntryBundle)
	if err != nil {
		return fmt.Errorf("evidencelog: %w", err)
	}
	defer idx.close()
	l.idx = idx
	l.m.treeSize.Set(float64(size))
	l.log.Info("evidencelog: log opened", "origin", l.Origin(), "dir", l.cfg.Dir, "leaves", size, "index_took", time.Since(start).Round(time.Millisecond))

	l.cps, err = newCheckpoints(l)
	if err != nil {
		return err
	}
	defer l.cps.close()
	close(l.ready)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return l.cps.watch(gctx) })
	for _, p := range l.pushers {
		g.Go(func() error { return p.run(gctx) })
	}
	if l.cfg.Listen != "" {
		g.Go(func() error { return l.serve(gctx) })
	}
	if l.pages != nil {
		g.Go(func() error { return l.pages.watchTakedowns(gctx) })
	}
	g.Go(func() error { return l.consume(gctx, app) })
	err = g.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if serr := shutdown(sctx); serr != nil && err == nil && ctx.Err() == nil {
		err = fmt.Errorf("evidencelog: shutdown: %w", serr)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// pollCurve is the wait after a poll that brought only errors: from 100 ms, doubling, at
// most 2 s.
var pollCurve = backoff.Exponential(100*time.Millisecond, 2*time.Second)

// roundsQueued bounds the rounds read from Kafka and waiting for the integrator: while
// Tessera integrates one group the reader keeps reading, and the next group takes
// everything read meanwhile (group commit).
const roundsQueued = 8

// consume is the writer: a reader (this goroutine) reads rounds of records, builds their
// leaves and drops those already in the log or in flight; an integrator (integrate) hands
// Tessera everything read since its previous group in one batch and waits until Tessera has
// integrated it (durably: the tree and its tiles are on disk); a committer (commit) then
// syncs the leaf index and commits the records' offsets, group after group in order. Batches
// thus grow with the load instead of being cut by age while the disk is busy: each batch
// costs a fixed number of synchronous writes (tree state, the tiles above level 0, partial
// bundle and tile) besides four per 256 leaves. A crash anywhere in between re-reads the
// rounds not committed; the leaf index (and, within a run, the set of leaves in flight)
// drops what was already appended, so no leaf is lost or doubled.
func (l *Log) consume(ctx context.Context, app *tessera.Appender) error {
	topics := make([]string, len(l.cfg.Topics))
	for i, t := range l.cfg.Topics {
		topics[i] = l.cfg.TopicPrefix + t
	}
	kc, err := kgo.NewClient(
		kgo.SeedBrokers(l.cfg.Seeds...),
		kgo.ClientID("votestream-evidencelog"),
		kgo.ConsumerGroup(l.cfg.Group),
		// Static membership: one writer per log (the folder lock), so a writer restarted
		// after a crash takes its place in the group at once instead of waiting out the
		// dead one's session (45 s).
		kgo.InstanceID(l.cfg.Group+"-writer"),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.WithHooks(kafkaready.Hook(l.kafka)),
	)
	if err != nil {
		return fmt.Errorf("evidencelog: kafka: %w", err)
	}
	defer kc.Close()
	rounds := make(chan *round, roundsQueued)
	groups := make(chan *group, 2)
	integrated, committed := make(chan error, 1), make(chan error, 1)
	go func() { integrated <- l.integrate(ctx, app, rounds, groups) }()
	go func() { committed <- l.commit(ctx, kc, groups) }()
	var failed error
	polls := pollCurve.Start() // polls that brought only errors
poll:
	for {
		fetches := kc.PollRecords(ctx, l.cfg.MaxPollRecords)
		if ctx.Err() != nil {
			break
		}
		// The client retries fetch errors; one that comes back poll after poll (the broker
		// away) marks Kafka down, logged once per outage rather than once per poll.
		fetchErr := false
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				fetchErr = true
				l.kafka.Down(fmt.Errorf("fetch %s[%d]: %w", topic, p, err))
				l.log.Debug("evidencelog: fetch error; the client retries", "topic", topic, "partition", p, "err", err)
			}
		})
		records := fetches.Records()
		if len(records) == 0 {
			if fetchErr {
				// Errors only: wait a little rather than spin while the broker is away.
				wait, _ := polls.Next()
				if backoff.Sleep(ctx, wait) != nil {
					break
				}
			}
			continue
		}
		polls.Reset()
		l.kafka.Up()
		r := l.readRound(records)
		select {
		case rounds <- r:
		case failed = <-integrated:
			integrated <- failed
			break poll
		case <-ctx.Done():
			break poll
		}
	}
	close(rounds)
	ierr, cerr := <-integrated, <-committed
	if ctx.Err() != nil {
		return nil
	}
	return cmp.Or(failed, ierr, cerr)
}

// round is one poll's records and the leaves they bring that are neither in the log nor in
// flight.
type round struct {
	records []*kgo.Record
	leaves  []pending
	read    time.Time
}

type pending struct {
	leaf []byte
	key  uint64 // report key, 0 when not a report
	hash [32]byte
	at   time.Time // the record's Kafka timestamp
}

// group is what the integrator handed Tessera in one go: one or more rounds.
type group struct {
	records    []*kgo.Record
	first      uint64
	leaves     []indexed
	integrated time.Time
}

// readRound builds the leaves of a round's records, dropping those already in the log or in
// flight (marking the others in flight). The leaves are built before the lock is taken, so
// proof lookups wait only for the dedupe.
func (l *Log) readRound(records []*kgo.Record) *round {
	now := time.Now()
	r := &round{records: records, leaves: make([]pending, 0, len(records)), read: now}
	type built struct {
		topic string
		p     pending
		ok    bool
		rec   *kgo.Record
	}
	all := make([]built, 0, len(records))
	read := l.m.stage.WithLabelValues("read")
	for _, rec := range records {
		topic := rec.Topic[len(l.cfg.TopicPrefix):]
		src := sourceFor(topic)
		if src == nil {
			continue // not a logged topic (cannot happen: only those are consumed)
		}
		leaf, ok := leafOf(src, rec)
		var key uint64
		if src.Topic == schemas.TopicSubmissions && ok {
			key = leafReportKey(leaf)
		}
		all = append(all, built{topic, pending{leaf: leaf, key: key, hash: schemas.LeafHash(leaf), at: rec.Timestamp}, ok, rec})
		read.Observe(now.Sub(rec.Timestamp).Seconds())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range all {
		if _, dup := l.inFlight[b.p.hash]; dup || l.idx.lookup(b.p.hash) >= 0 {
			l.m.leaves.WithLabelValues(b.topic, "duplicate").Inc()
			continue
		}
		l.inFlight[b.p.hash] = struct{}{}
		if b.ok {
			l.m.leaves.WithLabelValues(b.topic, "appended").Inc()
		} else {
			l.m.leaves.WithLabelValues(b.topic, "unreadable").Inc()
			l.log.Warn("evidencelog: unreadable record logged by the hash of its bytes", "topic", b.topic, "partition", b.rec.Partition, "offset", b.rec.Offset)
		}
		r.leaves = append(r.leaves, b.p)
	}
	return r
}

// integrate takes every round queued, hands their leaves to Tessera at once, waits until
// they are integrated, indexes them and passes the group to the committer; until rounds is
// closed or a group cannot be integrated (its error).
func (l *Log) integrate(ctx context.Context, app *tessera.Appender, rounds <-chan *round, groups chan<- *group) error {
	defer close(groups)
	for r := range rounds {
		batch := []*round{r}
		size := len(r.leaves)
	more:
		for size < int(l.cfg.BatchMaxSize) {
			select {
			case r, ok := <-rounds:
				if !ok {
					break more
				}
				batch = append(batch, r)
				size += len(r.leaves)
			default:
				break more
			}
		}
		g, err := l.integrateGroup(ctx, app, batch, size)
		if err != nil {
			return err // nothing of this group or after it is committed
		}
		groups <- g
	}
	return nil
}

func (l *Log) integrateGroup(ctx context.Context, app *tessera.Appender, batch []*round, size int) (*group, error) {
	g := &group{leaves: make([]indexed, 0, size)}
	futures := make([]tessera.IndexFuture, 0, size)
	times := make([]time.Time, 0, size)
	handed := time.Now()
	queued := l.m.stage.WithLabelValues("queued")
	for _, r := range batch {
		g.records = append(g.records, r.records...)
		wait := handed.Sub(r.read).Seconds()
		for _, p := range r.leaves {
			futures = append(futures, app.Add(ctx, tessera.NewEntry(p.leaf)))
			g.leaves = append(g.leaves, indexed{hash: p.hash, key: p.key})
			times = append(times, p.at)
			queued.Observe(wait)
		}
	}
	if len(futures) == 0 {
		return g, nil
	}
	idxs := make([]uint64, len(futures))
	for i, f := range futures {
		got, err := f()
		if err != nil {
			return nil, fmt.Errorf("evidencelog: integrate: %w", err)
		}
		idxs[i] = got.Index
	}
	g.integrated = time.Now()
	took, integrated := g.integrated.Sub(handed).Seconds(), l.m.stage.WithLabelValues("integrated")
	for range futures {
		integrated.Observe(took)
	}
	// One writer appends in call order: the group's leaves are contiguous, and follow the
	// previous group's.
	g.first = slices.Min(idxs)
	for i, idx := range idxs {
		if idx != g.first+uint64(i) {
			return nil, fmt.Errorf("%w: indices of one batch are not contiguous", errIndexGap)
		}
	}
	l.mu.Lock()
	err := l.idx.append(g.first, g.leaves)
	for _, x := range g.leaves {
		delete(l.inFlight, x.hash)
	}
	n := l.idx.size()
	l.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("evidencelog: %w", err)
	}
	l.m.treeSize.Set(float64(n))
	l.inclusion.push(n, g.integrated, times)
	return g, nil
}

// commit syncs the leaf index and commits the offsets of each integrated group, in order,
// until groups is closed; a failed sync stops the writer (the next start rebuilds the
// index from the log).
func (l *Log) commit(ctx context.Context, kc *kgo.Client, groups <-chan *group) error {
	var failed error
	for g := range groups {
		if failed != nil {
			continue
		}
		if len(g.leaves) > 0 {
			if err := persistIndex(l.idx.f, g.first, g.leaves); err != nil {
				failed = fmt.Errorf("evidencelog: %w", err)
				continue
			}
		}
		// A commit at shutdown still goes out: the leaves are in the log.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := kc.CommitRecords(cctx, g.records...); err != nil {
			// Not fatal: the leaves are in the log, and a re-delivery finds them there.
			l.log.Warn("evidencelog: commit offsets", "err", err)
		}
		cancel()
		if !g.integrated.IsZero() {
			l.m.round.Observe(time.Since(g.integrated).Seconds())
		}
	}
	return failed
}

// lookup returns the index of a leaf hash in the log, or -1.
func (l *Log) lookup(h [32]byte) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.idx.lookup(h)
}

// inclusionQueue remembers the Kafka timestamps of integrated leaves until a checkpoint
// commits to them, for the inclusion-latency histogram.
type inclusionQueue struct {
	mu     sync.Mutex
	rounds []inclusionRound
}

type inclusionRound struct {
	end        uint64 // tree size after the round
	integrated time.Time
	times      []time.Time
}

func (q *inclusionQueue) push(end uint64, integrated time.Time, times []time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.rounds) > 10000 { // no checkpoint for a long time: keep memory bounded
		q.rounds = q.rounds[1:]
	}
	q.rounds = append(q.rounds, inclusionRound{end: end, integrated: integrated, times: times})
}

// covered pops the rounds a checkpoint of size commits to.
func (q *inclusionQueue) covered(size uint64) []inclusionRound {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for n < len(q.rounds) && q.rounds[n].end <= size {
		n++
	}
	out := q.rounds[:n:n]
	q.rounds = q.rounds[n:]
	return out
}
