// Package clickhouse is the ClickHouse sink: it consumes every message topic and writes each
// record into its table (schemas/chtable), at least once, into tables that fold duplicates
// away (ReplacingMergeTree). Offsets are committed only after the insert returned nil, so a
// crash re-delivers and never loses. ClickHouse or Kafka being away does not end it: it
// waits (capped back-off, readiness false, votestream_dependency_up 0, one log line when the
// wait starts and one when it ends) and goes on from the records it holds; while idle it
// pings ClickHouse (Config.PingInterval) so the readiness follows the server. It also loads the
// reference data of a country. It reads Kafka and writes ClickHouse; it produces nothing but
// dead letters.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/backoff"
	"votestream/internal/health"
	"votestream/internal/kafkaready"
	"votestream/internal/promreg"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/kgorecord"
)

// Config of the sink. Flags map onto it in cmd/votestream.
type Config struct {
	Seeds       []string // Kafka seed brokers; required
	TopicPrefix string   // prepended to every topic name; default ""
	Group       string   // consumer group; default "votestream-sink"

	ClickHouseAddr string // native protocol host:port; required
	Database       string // default "votestream"
	Username       string // default "default"
	Password       string

	// MaxBatchRecords caps the records of one poll; default 10,000. An insert round takes
	// one poll's records when the sink keeps up.
	MaxBatchRecords int
	// MaxInsertRecords caps the records of one insert round when polls pile up while the
	// previous round inserts (a backlog); default 50,000, at least MaxBatchRecords.
	// Larger rounds mean fewer, larger inserts; the rows of about two rounds are in memory.
	MaxInsertRecords int
	// InsertAttempts bounds the tries of one insert that ClickHouse refuses (it answers
	// with an error: a table missing, a row it cannot take) before Run gives up (offsets stay
	// uncommitted, so a restart re-delivers); default 8, with back-off from 200 ms to 10 s.
	// A server that does not answer (down, restarting, the network away) is waited for
	// without a bound.
	InsertAttempts int
	// InsertTimeout bounds one insert; default 30 s.
	InsertTimeout time.Duration
	// PingInterval is how often ClickHouse is pinged while the sink has nothing to insert,
	// so readiness and votestream_dependency_up follow a server that goes away (or comes
	// back) between inserts within seconds, not at the next record; default 2 s. Each ping
	// is bounded by PingTimeout (default 5 s).
	PingInterval time.Duration
	PingTimeout  time.Duration

	Logger *slog.Logger // default slog.Default()
	// Registerer, when set, gets the sink's Prometheus metrics and its dependency gauges
	// (votestream_dependency_up{role="sink"}). Default nil (see Collectors).
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults; Seeds and ClickHouseAddr still need setting.
func DefaultConfig() Config {
	return Config{
		Group:            "votestream-sink",
		Database:         "votestream",
		Username:         "default",
		MaxBatchRecords:  10_000,
		MaxInsertRecords: 50_000,
		InsertAttempts:   8,
		InsertTimeout:    30 * time.Second,
		PingInterval:     2 * time.Second,
		PingTimeout:      5 * time.Second,
	}
}

// ErrConfig marks an invalid configuration.
var ErrConfig = errors.New("sink: invalid config")

// Validate reports the first contradiction or missing value in c.
func (c Config) Validate() error {
	switch {
	case len(c.Seeds) == 0:
		return fmt.Errorf("%w: no Kafka seed brokers", ErrConfig)
	case c.ClickHouseAddr == "":
		return fmt.Errorf("%w: no ClickHouse address", ErrConfig)
	case !schemas.ValidDatabaseName(c.Database):
		return fmt.Errorf("%w: database name %q", ErrConfig, c.Database)
	case c.Group == "":
		return fmt.Errorf("%w: empty consumer group", ErrConfig)
	case c.MaxBatchRecords < 1:
		return fmt.Errorf("%w: MaxBatchRecords %d < 1", ErrConfig, c.MaxBatchRecords)
	case c.MaxInsertRecords < c.MaxBatchRecords:
		return fmt.Errorf("%w: MaxInsertRecords %d < MaxBatchRecords %d", ErrConfig, c.MaxInsertRecords, c.MaxBatchRecords)
	case c.InsertAttempts < 1:
		return fmt.Errorf("%w: InsertAttempts %d < 1", ErrConfig, c.InsertAttempts)
	case c.InsertTimeout <= 0:
		return fmt.Errorf("%w: InsertTimeout %v <= 0", ErrConfig, c.InsertTimeout)
	case c.PingInterval <= 0:
		return fmt.Errorf("%w: PingInterval %v <= 0", ErrConfig, c.PingInterval)
	case c.PingTimeout <= 0:
		return fmt.Errorf("%w: PingTimeout %v <= 0", ErrConfig, c.PingTimeout)
	}
	return nil
}

// Topics the sink reads: every message topic of the contract but the dead letters.
func Topics(prefix string) []string {
	var out []string
	for _, t := range schemas.Topics {
		if t.Name != schemas.TopicDeadLetter {
			out = append(out, prefix+t.Name)
		}
	}
	return out
}

// Sink consumes the topics into ClickHouse. Create it with New; Run it once.
type Sink struct {
	cfg  Config
	log  *slog.Logger
	conn driver.Conn
	kc   *kgo.Client

	health     *health.Set
	kafka      *health.Dependency
	clickhouse *health.Dependency

	m     *metrics
	mOnce sync.Once

	// storing is true while store runs, and stores counts the stores begun: inserts
	// report ClickHouse's state themselves, and the idle pinger stays out of their way.
	storing atomic.Bool
	stores  atomic.Uint64

	gate rebalanceGate
}

// metrics returns the sink's series, made unregistered for a Sink not built by New (tests).
func (s *Sink) metrics() *metrics {
	s.mOnce.Do(func() {
		if s.m == nil {
			s.m = newMetrics()
		}
	})
	return s.m
}

// New checks cfg and opens the clients; nothing is read before Run.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics()
	if err := promreg.Register(cfg.Registerer, "sink", m.collectors()...); err != nil {
		return nil, err
	}
	hs, err := health.NewSet("sink", log, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s := &Sink{cfg: cfg, log: log, m: m, health: hs, kafka: hs.Dependency("kafka"), clickhouse: hs.Dependency("clickhouse")}
	s.conn, err = ch.Open(&ch.Options{
		Addr:        []string{cfg.ClickHouseAddr},
		Auth:        ch.Auth{Database: cfg.Database, Username: cfg.Username, Password: cfg.Password},
		DialTimeout: 10 * time.Second,
		DialContext: func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return &writeBoundConn{Conn: c, bound: cfg.InsertTimeout}, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sink: clickhouse %s: %w", cfg.ClickHouseAddr, err)
	}
	s.kc, err = kgo.NewClient(
		kgo.SeedBrokers(cfg.Seeds...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(Topics(cfg.TopicPrefix)...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		// A rebalance waits until the records polled are stored and committed, so no
		// partition moves while its rows are half-written; the gate tells the poller one
		// waits (pipeline.go).
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsCallbackBlocked(s.gate.blocked),
		kgo.WithHooks(kafkaready.Hook(s.kafka)),
	)
	if err != nil {
		s.conn.Close()
		return nil, fmt.Errorf("sink: kafka: %w", err)
	}
	return s, nil
}

// Ready returns nil while Kafka and ClickHouse answer, or an error naming the one the sink
// waits for and since when. Safe for concurrent use (a readiness probe).
func (s *Sink) Ready() error { return s.health.Ready() }

// waitCurve is the wait between two looks at a service that is away: from 200 ms,
// doubling, at most 10 s, for as long as it takes.
var waitCurve = backoff.Exponential(200*time.Millisecond, 10*time.Second)

// waitServices waits until Kafka has the topics and the group coordinator and ClickHouse
// answers; topics still missing after two minutes end Run (run `votestream migrate`).
func (s *Sink) waitServices(ctx context.Context) error {
	need := kafkaready.Need{Topics: append(Topics(s.cfg.TopicPrefix), s.cfg.TopicPrefix+schemas.TopicDeadLetter), Group: s.cfg.Group}
	if err := kafkaready.Wait(ctx, kadm.NewClient(s.kc), need, s.kafka); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return s.clickhouse.Wait(ctx, waitCurve, func(ctx context.Context) error {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return s.conn.Ping(pctx)
	})
}

// watchIdle pings ClickHouse every PingInterval until ctx ends, marking it down or up,
// but only while no store runs: an insert reports the server's state itself, and two
// reporters at the edge of an outage would log it twice.
func (s *Sink) watchIdle(ctx context.Context) {
	tick := time.NewTicker(s.cfg.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		seq := s.stores.Load()
		if s.storing.Load() {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
		err := s.conn.Ping(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case s.storing.Load() || s.stores.Load() != seq:
			// A store began meanwhile; its inserts' word is the newer one.
		case err != nil:
			s.clickhouse.Down(err) // the driver says "ping: …"
		default:
			s.clickhouse.Up()
		}
	}
}

// Run consumes until ctx is cancelled (returning nil) or ClickHouse refuses an insert
// InsertAttempts times (returning the error). A service that does not answer is waited for.
// It closes the clients before returning.
//
// Polling and storing overlap (pipeline.go): this goroutine polls and decodes the next
// records while a second one inserts the previous round and commits its offsets. Offsets
// are still committed only after every row of their round is stored.
func (s *Sink) Run(ctx context.Context) error {
	defer s.conn.Close()
	defer s.kc.Close()
	if err := s.waitServices(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	idleCtx, stopIdle := context.WithCancel(ctx)
	var idle sync.WaitGroup
	idle.Add(1)
	go func() {
		defer idle.Done()
		s.watchIdle(idleCtx)
	}()
	defer idle.Wait()
	defer stopIdle()
	return s.runPipeline(ctx)
}

// decode turns records into rows by table, and the records it cannot into dead letters.
func (s *Sink) decode(b *round, records []*kgo.Record) {
	var fast fastRows
	results, reports := s.cfg.TopicPrefix+schemas.TopicStationResults, s.cfg.TopicPrefix+schemas.TopicSubmissions
	for _, r := range records {
		switch r.Topic {
		case results:
			fast.results++
		case reports:
			fast.reports++
		}
	}
	for _, r := range records {
		b.offset(r)
		if fast.decode(b, r) {
			continue
		}
		msg, err := kgorecord.DecodeAny(r)
		var rows []chtable.Rows
		if err == nil {
			rows, err = chtable.MessageRows(msg)
		}
		if err != nil {
			b.dead = append(b.dead, kgorecord.DeadLetter(s.cfg.TopicPrefix+schemas.TopicDeadLetter, "sink", r, err))
			continue
		}
		for _, rs := range rows {
			b.add(&genericRows{rs})
		}
	}
}

// fastRows is the fast reader's scratch for one poll (fastdecode.go).
type fastRows struct {
	// The poll's records of each topic: room for the columns made, so that a poll's
	// columns neither grow nor hold room for the other table's rows.
	results, reports int
	result           resultRow
	report           reportRow
	arena            arena
}

// decode adds r's row to b's columns if the fast reader takes it, and reports whether it did.
func (f *fastRows) decode(b *round, r *kgo.Record) bool {
	name, ok := plainSchema(r.Headers)
	if !ok {
		var err error
		if name, err = schemas.RecordSchema(kgorecord.FromHeaders(r.Headers)); err != nil {
			return false
		}
	}
	// The row's strings share the value's bytes rather than copying them: franz-go never
	// reuses a record's Value unless the client is given pools (kgo.WithPools), which the
	// sink is not, and nothing writes to it.
	value := unsafe.String(unsafe.SliceData(r.Value), len(r.Value))
	switch name {
	case schemas.SchemaStationResult:
		if decodeResult(value, &f.result, &f.arena) {
			b.results(f.results).add(&f.result)
			return true
		}
	case schemas.SchemaReport:
		if decodeReport(value, &f.report, &f.arena) {
			b.reports(f.reports).add(&f.report)
			return true
		}
	}
	return false
}

// plainSchema returns the schema of a record whose envelope is exactly what our producers
// write (one "content-type: application/json", one "schema: NAME.vN" header, in those
// spellings), without the allocations of schemas.RecordSchema; ok is false for any other
// envelope, which RecordSchema then reads (it agrees on the plain ones: TestPlainSchema).
func plainSchema(headers []kgo.RecordHeader) (name string, ok bool) {
	var json bool
	for _, h := range headers {
		switch h.Key {
		case schemas.HeaderContentType:
			if json || string(h.Value) != schemas.ContentTypeJSON {
				return "", false
			}
			json = true
		case schemas.HeaderSchema:
			if name != "" {
				return "", false
			}
			switch string(h.Value) {
			case schemas.SchemaStationResult:
				name = schemas.SchemaStationResult
			case schemas.SchemaReport:
				name = schemas.SchemaReport
			default:
				return "", false
			}
		default:
			if strings.EqualFold(h.Key, schemas.HeaderContentType) || strings.EqualFold(h.Key, schemas.HeaderSchema) {
				return "", false
			}
		}
	}
	return name, json && name != ""
}

// storeRound writes a decoded round: its tables' inserts, two tables at a time, then its
// dead letters.
func (s *Sink) storeRound(ctx context.Context, b *round) error {
	if err := s.insertTables(ctx, b.byTable()); err != nil {
		return err
	}
	if len(b.dead) > 0 {
		// The client retries a broker that is away until ctx ends; what comes back is
		// waited out too: the records' offsets stay uncommitted until their letters are out.
		err := s.kafka.Wait(ctx, waitCurve, func(ctx context.Context) error {
			return s.kc.ProduceSync(ctx, b.dead...).FirstErr()
		})
		if err != nil {
			return fmt.Errorf("sink: dead-letter %d records: %w", len(b.dead), err)
		}
		s.metrics().deadLetters.Add(float64(len(b.dead)))
		s.log.Warn("records sent to dead-letter topic", "count", len(b.dead))
	}
	return nil
}

// insertParallel is how many tables' inserts of a round run at a time, each on a connection
// of its own. A round's busiest tables (station results and submissions) each take as
// long to insert as the other, most of it the server's work or its answer: side by side,
// a round stores in about the time of the longer one. Two, well inside clickhouse-go's
// pool (10 connections), so no insert waits for a connection.
const insertParallel = 2

// insertTables runs the inserts of tables, each table's in order, up to insertParallel
// tables at a time. The first insert to fail cancels the others and is the error; the
// round's offsets are committed only after every insert returned nil, as before.
func (s *Sink) insertTables(ctx context.Context, tables [][]tableRows) error {
	if len(tables) == 1 {
		return s.insertAll(ctx, tables[0])
	}
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int32
	var wg sync.WaitGroup
	for range min(insertParallel, len(tables)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(tables) && ictx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := s.insertAll(ictx, tables[i]); err != nil {
					cancel(err) // only the first cause is kept
					return
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err() // a stop: the offsets stay uncommitted
	}
	return context.Cause(ictx) // nil unless an insert failed
}

// insertAll runs inserts one after the other.
func (s *Sink) insertAll(ctx context.Context, inserts []tableRows) error {
	for _, rows := range inserts {
		if err := s.insert(ctx, rows); err != nil {
			return err
		}
	}
	return nil
}

// insertCurve is the wait between tries of one insert: from 200 ms, doubling, at most 10 s.
var insertCurve = backoff.Exponential(200*time.Millisecond, 10*time.Second)

// insert stores rows, waiting for a ClickHouse that does not answer for as long as it
// takes, and giving up after InsertAttempts refusals (the server answered with an error
// that is not about its own load).
func (s *Sink) insert(ctx context.Context, rows tableRows) error {
	refusals := 0
	err := s.clickhouse.Wait(ctx, insertCurve, func(ctx context.Context) error {
		start := time.Now()
		err := s.insertOnce(ctx, rows)
		if err == nil {
			s.metrics().insertSecs.WithLabelValues(rows.table().Name).Observe(time.Since(start).Seconds())
			s.metrics().rows.WithLabelValues(rows.table().Name).Add(float64(rows.len()))
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		s.metrics().insertErrs.WithLabelValues(rows.table().Name).Inc()
		if refused(err) {
			refusals++
			s.log.Warn("insert refused", "table", rows.table().Name, "rows", rows.len(), "refusal", refusals, "of", s.cfg.InsertAttempts, "err", err)
			if refusals >= s.cfg.InsertAttempts {
				return backoff.Permanent(fmt.Errorf("refused %d times: %w", refusals, err))
			}
		}
		return err
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("sink: insert %d rows into %s: %w", rows.len(), rows.table().Name, err)
	}
	// On a stop the offsets stay uncommitted and the rows come again.
	return err
}

// refused reports whether ClickHouse answered an insert with an error that waiting does not
// mend by itself (a missing table, a row it cannot take). Errors of the connection, and the
// server's own load or shutdown, are a service away, waited for without a bound.
func refused(err error) bool {
	var ex *ch.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case 3, // UNEXPECTED_END_OF_FILE
		159, // TIMEOUT_EXCEEDED
		164, // READONLY (a replica restarting)
		202, // TOO_MANY_SIMULTANEOUS_QUERIES
		203, // NO_FREE_CONNECTION
		209, // SOCKET_TIMEOUT
		210, // NETWORK_ERROR
		241, // MEMORY_LIMIT_EXCEEDED
		242, // TABLE_IS_READ_ONLY
		252, // TOO_MANY_PARTS
		394, // QUERY_WAS_CANCELLED (server shutting down)
		425: // SYSTEM_ERROR
		return false
	}
	return true
}

func (s *Sink) insertOnce(ctx context.Context, rows tableRows) (err error) {
	bctx, disarm := batchContext(ctx, s.cfg.InsertTimeout)
	defer disarm()
	defer func() {
		// The driver reports an ended context as a bare "context canceled"; say why it ended.
		if err != nil && bctx.Err() != nil {
			err = fmt.Errorf("%w: %w", context.Cause(bctx), err)
		}
	}()
	batch, err := s.conn.PrepareBatch(bctx, rows.table().InsertQuery(""))
	if err != nil {
		return err
	}
	if err := rows.appendTo(batch); err != nil {
		_ = batch.Abort()
		return err
	}
	return batch.Send()
}

// writeBoundConn fails a write that has not gone through within bound. An insert's blocks
// but the last are sent by batch.Flush (columns.go), which clickhouse-go does not watch
// the context of (only Send closes the connection when the context ends): without the
// bound, a server that stopped reading would hold the insert, and the sink, without end.
// A deadline set by clickhouse-go (from a context's deadline) still applies when sooner.
type writeBoundConn struct {
	net.Conn
	bound time.Duration

	mu       sync.Mutex
	deadline time.Time // the write deadline clickhouse-go set, zero for none
}

func (c *writeBoundConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	d := time.Now().Add(c.bound)
	if !c.deadline.IsZero() && c.deadline.Before(d) {
		d = c.deadline
	}
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *writeBoundConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *writeBoundConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

// errInsertTimeout ends the context of an insert still running after InsertTimeout.
var errInsertTimeout = fmt.Errorf("sink: insert timed out: %w", context.DeadlineExceeded)

// batchContext returns the context for one insert's batch: it ends when parent ends or
// timeout passes while the insert runs, and never once disarm has been called.
//
// It must not end after the insert returned, which a deferred cancel of a
// context.WithTimeout does. clickhouse-go (v2.50) watches the batch's context during
// batch.Send on a goroutine that closes the TCP connection when the context ends; Send
// stops that goroutine without waiting for it and then puts the connection back in the
// pool. If the goroutine has not run yet when the context ends, its select may pick the
// ended context and close the pooled connection, and the next insert on it fails with "use
// of closed network connection" (a warning and a retry on a healthy server, a few times
// a run). Upstream: ClickHouse/clickhouse-go#2032.
//
// So the context is a plain cancel context detached from parent (values kept), ended only
// by a timer and by parent's end, both disarmed when the insert returns. What is left is
// the timer or parent firing in the instant between Send releasing the connection and
// disarm: only at a timeout or a stop, where a retried insert is the expected outcome.
func batchContext(parent context.Context, timeout time.Duration) (ctx context.Context, disarm func()) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	timer := time.AfterFunc(timeout, func() { cancel(errInsertTimeout) })
	stopAfter := context.AfterFunc(parent, func() { cancel(context.Cause(parent)) })
	if parent.Err() != nil {
		// AfterFunc calls back on its own goroutine; end now so no insert starts.
		cancel(context.Cause(parent))
	}
	return ctx, func() {
		timer.Stop()
		stopAfter()
	}
}
