// Package clickhouse is the ClickHouse sink: it consumes every message topic and writes each
// record into its table (schemas/chtable), at least once, into tables that fold duplicates
// away (ReplacingMergeTree). Offsets are committed only after the insert returned nil, so a
// crash re-delivers and never loses. It also loads the reference data of a country. It
// reads Kafka and writes ClickHouse; it produces nothing but dead letters.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/backoff"
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

	// MaxBatchRecords caps the records of one poll and so of one insert round; default 10,000.
	MaxBatchRecords int
	// InsertAttempts bounds the tries of one insert before Run gives up (offsets stay
	// uncommitted, so a restart re-delivers); default 8, with back-off from 200 ms to 10 s.
	InsertAttempts int
	// InsertTimeout bounds one insert; default 30 s.
	InsertTimeout time.Duration

	Logger *slog.Logger // default slog.Default()
	// Registerer, when set, gets the sink's Prometheus metrics. Default nil (see Collectors).
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults; Seeds and ClickHouseAddr still need setting.
func DefaultConfig() Config {
	return Config{
		Group:           "votestream-sink",
		Database:        "votestream",
		Username:        "default",
		MaxBatchRecords: 10_000,
		InsertAttempts:  8,
		InsertTimeout:   30 * time.Second,
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
	case c.InsertAttempts < 1:
		return fmt.Errorf("%w: InsertAttempts %d < 1", ErrConfig, c.InsertAttempts)
	case c.InsertTimeout <= 0:
		return fmt.Errorf("%w: InsertTimeout %v <= 0", ErrConfig, c.InsertTimeout)
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

	m     *metrics
	mOnce sync.Once
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
	conn, err := ch.Open(&ch.Options{
		Addr:        []string{cfg.ClickHouseAddr},
		Auth:        ch.Auth{Database: cfg.Database, Username: cfg.Username, Password: cfg.Password},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("sink: clickhouse %s: %w", cfg.ClickHouseAddr, err)
	}
	kc, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Seeds...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(Topics(cfg.TopicPrefix)...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		// A rebalance waits until the records of the current poll are stored and committed,
		// so no partition moves while its rows are half-written.
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sink: kafka: %w", err)
	}
	return &Sink{cfg: cfg, log: log, conn: conn, kc: kc, m: m}, nil
}

// Run consumes until ctx is cancelled (returning nil) or an insert fails beyond its bounded
// retries (returning the error). It closes the clients before returning.
func (s *Sink) Run(ctx context.Context) error {
	defer s.conn.Close()
	defer s.kc.Close()
	for {
		fetches := s.kc.PollRecords(ctx, s.cfg.MaxBatchRecords)
		if ctx.Err() != nil {
			s.kc.AllowRebalance()
			return nil
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if fetchErr == nil && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("sink: fetch %s[%d]: %w", topic, p, err)
			}
		})
		if fetchErr != nil {
			s.log.Warn("fetch error; the client retries", "err", fetchErr)
		}
		records := fetches.Records()
		if len(records) > 0 {
			if err := s.store(ctx, records); err != nil {
				s.kc.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := s.kc.CommitRecords(ctx, records...); err != nil && ctx.Err() == nil {
				// Not fatal: the rows are stored and a re-delivery folds away.
				s.log.Warn("commit offsets", "err", err)
			}
			s.metrics().records.Add(float64(len(records)))
		}
		s.kc.AllowRebalance()
	}
}

// store writes the rows of records, one insert per table, retrying each insert with
// back-off; undecodable records go to the dead-letter topic.
func (s *Sink) store(ctx context.Context, records []*kgo.Record) error {
	tables := map[string]*chtable.Rows{}
	var order []string
	var dead []*kgo.Record
	for _, r := range records {
		msg, err := kgorecord.DecodeAny(r)
		var rows []chtable.Rows
		if err == nil {
			rows, err = chtable.MessageRows(msg)
		}
		if err != nil {
			dead = append(dead, kgorecord.DeadLetter(s.cfg.TopicPrefix+schemas.TopicDeadLetter, "sink", r, err))
			continue
		}
		for _, rs := range rows {
			t, ok := tables[rs.Table.Name]
			if !ok {
				t = &chtable.Rows{Table: rs.Table}
				tables[rs.Table.Name] = t
				order = append(order, rs.Table.Name)
			}
			t.Rows = append(t.Rows, rs.Rows...)
		}
	}
	for _, name := range order {
		if err := s.insert(ctx, tables[name]); err != nil {
			return err
		}
	}
	if len(dead) > 0 {
		if err := s.kc.ProduceSync(ctx, dead...).FirstErr(); err != nil {
			return fmt.Errorf("sink: dead-letter %d records: %w", len(dead), err)
		}
		s.metrics().deadLetters.Add(float64(len(dead)))
		s.log.Warn("records sent to dead-letter topic", "count", len(dead))
	}
	return nil
}

// insertCurve is the wait between tries of one insert: from 200 ms, doubling, at most 10 s.
var insertCurve = backoff.Exponential(200*time.Millisecond, 10*time.Second)

func (s *Sink) insert(ctx context.Context, rows *chtable.Rows) error {
	err := backoff.Retry(ctx, insertCurve.Attempts(s.cfg.InsertAttempts), func(ctx context.Context) error {
		start := time.Now()
		err := s.insertOnce(ctx, rows)
		if err == nil {
			s.metrics().insertSecs.WithLabelValues(rows.Table.Name).Observe(time.Since(start).Seconds())
			s.metrics().rows.WithLabelValues(rows.Table.Name).Add(float64(len(rows.Rows)))
		} else if ctx.Err() == nil {
			s.metrics().insertErrs.WithLabelValues(rows.Table.Name).Inc()
		}
		return err
	}, func(r backoff.Retrying) {
		s.log.Warn("insert failed", "table", rows.Table.Name, "rows", len(rows.Rows), "attempt", r.Attempt, "retry_in", r.Wait, "err", r.Err)
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("sink: insert %d rows into %s: %w", len(rows.Rows), rows.Table.Name, err)
	}
	// On a stop the offsets stay uncommitted and the rows come again.
	return err
}

func (s *Sink) insertOnce(ctx context.Context, rows *chtable.Rows) (err error) {
	bctx, disarm := batchContext(ctx, s.cfg.InsertTimeout)
	defer disarm()
	defer func() {
		// The driver reports an ended context as a bare "context canceled"; say why it ended.
		if err != nil && bctx.Err() != nil {
			err = fmt.Errorf("%w: %w", context.Cause(bctx), err)
		}
	}()
	batch, err := s.conn.PrepareBatch(bctx, rows.Table.InsertQuery(""))
	if err != nil {
		return err
	}
	for i, row := range rows.Rows {
		if err := batch.Append(row...); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return batch.Send()
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
