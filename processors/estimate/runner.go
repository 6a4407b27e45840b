package estimate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/backoff"
	"votestream/internal/confcheck"
	"votestream/internal/health"
	"votestream/internal/kafkaread"
	"votestream/internal/kafkaready"
	"votestream/internal/promreg"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// ErrConfig: the Config contradicts itself or lacks a required field (the name every
// role uses).
var ErrConfig = errors.New("estimate: bad config")

// ErrBadConfig is ErrConfig, under the name this package used first.
//
// Deprecated: use ErrConfig.
var ErrBadConfig = ErrConfig

// Config is everything `votestream estimate` can be told. Start from DefaultConfig; set
// Seeds and Country.
type Config struct {
	// Seeds are the Kafka bootstrap brokers (host:port). Required. CLI: --kafka.
	Seeds []string
	// TopicPrefix is prepended to every topic name (tests isolate themselves with it).
	// Default "".
	TopicPrefix string
	// Country is the reference data, with its stations (and candidates for the
	// constituency ballot). Required. CLI: --ref (loaded with election.LoadCountry).
	Country *election.Country `json:"-"`
	// Method is the estimator's statistical settings. Default DefaultMethod().
	Method Method
	// Baseline is a previous election's results (LoadBaseline), used as live models use
	// history (baseline_model.go); nil projects by level alone. CLI: --baseline DIR.
	Baseline *Baseline `json:"-"`
	// Interval is how often an estimate is published when station results have changed
	// since the last one. Default 5s. CLI: --interval.
	Interval time.Duration
	// CatchUpIdle: on start the runner reads station-results.v1 from the beginning and
	// publishes nothing until it has caught up, that is until it has read every partition
	// up to the last stable offset it had at start, or until no record has arrived for this
	// long, whichever comes first. Default 2s.
	CatchUpIdle time.Duration
	// StartTimeout bounds one round of tries to list the input's offsets at start; a broker
	// still away after it is waited for again (with back-off, for as long as it takes), and
	// a topic still missing two minutes after start is a configuration error. Default 60s.
	StartTimeout time.Duration
	// ProduceTimeout bounds one try to deliver an estimate or a batch of dead letters,
	// the client's retries included. An estimate that cannot be delivered is replaced by a
	// fresh one once Kafka answers again; dead letters are tried again, with back-off, until
	// they are delivered (reading waits meanwhile). Default 30s.
	ProduceTimeout time.Duration

	// Logger receives the role's logs. Default slog.Default().
	Logger *slog.Logger `json:"-"`
	// Registerer, when set, gets the role's Prometheus metrics. Default nil.
	Registerer prometheus.Registerer `json:"-"`
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Method:         DefaultMethod(),
		Interval:       5 * time.Second,
		CatchUpIdle:    2 * time.Second,
		StartTimeout:   time.Minute,
		ProduceTimeout: 30 * time.Second,
	}
}

// Validate checks the config.
func (c *Config) Validate() error {
	bad := confcheck.Bad(ErrConfig)
	switch {
	case len(c.Seeds) == 0:
		return bad("no Kafka seed brokers")
	case c.Country == nil:
		return bad("no reference data (Country)")
	case !c.Country.HasStations():
		return bad("%v", ErrNoStations)
	case c.Interval <= 0:
		return bad("Interval must be positive")
	case c.CatchUpIdle <= 0:
		return bad("CatchUpIdle must be positive")
	case c.StartTimeout <= 0:
		return bad("StartTimeout must be positive")
	case c.ProduceTimeout <= 0:
		return bad("ProduceTimeout must be positive")
	}
	if err := c.Method.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// Runner is the estimate role: it reads station-results.v1 from the beginning of every
// partition (read_committed; the compacted topic is the state, so nothing is committed and
// a restart simply reads it again), keeps the national state in an Estimator and publishes
// to estimates.v1 every Interval when something changed, and whenever Trigger is called.
// Records it cannot use go to dead-letter.v1 with the reason in a header.
type Runner struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	trigger chan struct{}
	version string // the build, stamped on every estimate
	cfgHash string // sha256 of cfg.Method as JSON, stamped on every estimate
	latest  atomic.Pointer[schemas.Estimate]
	topics  struct{ in, out, dead string }
	health  *health.Set
	kafka   *health.Dependency
}

// restartCurve is the wait before listing the input again after a round of StartTimeout
// failed, and between tries to deliver dead letters: from 500 ms, doubling, at most 15 s,
// for as long as it takes.
var restartCurve = backoff.Exponential(500*time.Millisecond, 15*time.Second)

// New checks the config and prepares the role; it does not connect.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Runner{cfg: cfg, log: cfg.Logger.With("role", "estimate"), m: newMetrics(), trigger: make(chan struct{}, 1),
		version: BuildVersion(), cfgHash: MethodHash(cfg.Method)}
	r.topics.in = cfg.TopicPrefix + schemas.TopicStationResults
	r.topics.out = cfg.TopicPrefix + schemas.TopicEstimates
	r.topics.dead = cfg.TopicPrefix + schemas.TopicDeadLetter
	if err := promreg.Register(cfg.Registerer, "estimate", r.m.collectors()...); err != nil {
		return nil, err
	}
	hs, err := health.NewSet("estimate", cfg.Logger, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("estimate: %w", err)
	}
	r.health, r.kafka = hs, hs.Dependency("kafka")
	return r, nil
}

// Ready returns nil while Kafka answers, or an error saying since when it does not. Safe
// for concurrent use (a readiness probe).
func (r *Runner) Ready() error { return r.health.Ready() }

// Collectors returns the role's Prometheus metrics, for a caller that registers them itself.
func (r *Runner) Collectors() []prometheus.Collector { return r.m.collectors() }

// Trigger asks for an estimate now, without waiting for the next interval. It never blocks;
// requests made before the previous one was served are merged, and requests made while the
// runner is still catching up are served once it has. Safe for concurrent use.
func (r *Runner) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Latest returns the last estimate published, if any. Safe for concurrent use.
func (r *Runner) Latest() (schemas.Estimate, bool) {
	p := r.latest.Load()
	if p == nil {
		return schemas.Estimate{}, false
	}
	return *p, true
}

// Run consumes and publishes until ctx ends, then returns nil. Kafka being away does not
// end it, however long: it waits with a capped back-off (readiness false,
// votestream_dependency_up{role="estimate",dependency="kafka"} 0, one log line when the
// wait starts and one when it ends) and goes on from where it was. Run returns an error
// only for a bad configuration: the input topic still missing two minutes after start, an
// authorisation refused, a client that cannot be created. Run is not safe to call twice at
// once on one Runner; each call rebuilds the state from the topic.
func (r *Runner) Run(ctx context.Context) error {
	est, err := NewEstimator(r.cfg.Country, r.cfg.Method)
	if err != nil {
		return err
	}
	if err := r.attachBaseline(est); err != nil {
		return err
	}
	rd, err := kafkaread.New(kafkaread.Config{
		Seeds:         r.cfg.Seeds,
		Topics:        []kafkaread.Topic{{Name: r.topics.in}},
		Live:          true,
		List:          kafkaread.ListCurve.Within(r.cfg.StartTimeout),
		WaitForTopics: true,
		Logger:        r.log,
		ClientOpts:    []kgo.Opt{kgo.RecordDeliveryTimeout(r.cfg.ProduceTimeout), kgo.WithHooks(kafkaready.Hook(r.kafka))},
	})
	if err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	defer rd.Close()
	if err := r.start(ctx, rd); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	cl := rd.Client()
	r.log.Info("estimating", "input", r.topics.in, "output", r.topics.out, "stations", len(r.cfg.Country.Stations))

	// One goroutine polls; this one owns the Estimator. The channel bounds what is fetched
	// ahead of being applied.
	batches := make(chan kafkaread.Batch, 2)
	pollCtx, stopPolling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			b, err := rd.Poll(pollCtx)
			if err != nil {
				return // the context ended or the client closed
			}
			select {
			case batches <- b:
			case <-pollCtx.Done():
				return
			}
		}
	})
	defer wg.Wait()
	defer stopPolling()

	ticker := time.NewTicker(r.cfg.Interval)
	defer ticker.Stop()
	idle := time.NewTimer(r.cfg.CatchUpIdle)
	defer idle.Stop()
	caughtUp, dirty, wanted := rd.CaughtUp(), false, false
	publish := func() {
		// An estimate not delivered leaves dirty set: the next tick publishes a fresh one.
		ok := r.publish(ctx, cl, est)
		dirty, wanted = !ok, false
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-batches:
			var dead []*kgo.Record
			for _, rec := range b.Records {
				if dl := r.apply(est, rec); dl != nil {
					dead = append(dead, dl)
				}
				dirty = true
			}
			if err := r.sendDeadLetters(ctx, cl, dead); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if !caughtUp {
				idle.Reset(r.cfg.CatchUpIdle)
				if b.CaughtUp {
					caughtUp = true
					r.log.Info("caught up", "stations_reported", est.ballots[0].reported())
					publish()
				}
			}
		case <-idle.C:
			if !caughtUp {
				caughtUp = true
				r.log.Info("caught up (input idle)", "stations_reported", est.ballots[0].reported())
				publish()
			}
		case <-ticker.C:
			if caughtUp && (dirty || wanted) {
				publish()
			}
		case <-r.trigger:
			wanted = true
			if caughtUp {
				publish()
			}
		}
	}
}

// apply takes one station-results.v1 record into the state. A record that can never be used
// comes back as its dead letter, for the caller to deliver.
func (r *Runner) apply(est *Estimator, rec *kgo.Record) *kgo.Record {
	if rec.Value == nil {
		// A tombstone: compaction's way to delete the result of a station and ballot.
		if station, ballot, ok := splitResultKey(rec.Key); ok {
			est.Forget(station, ballot)
		}
		r.m.records.WithLabelValues("tombstone").Inc()
		return nil
	}
	var sr schemas.StationResult
	err := kgorecord.Decode(rec, &sr)
	if err == nil {
		err = est.Apply(sr)
	}
	if err == nil {
		r.m.records.WithLabelValues("applied").Inc()
		return nil
	}
	r.m.records.WithLabelValues("dead_letter").Inc()
	r.log.Warn("station result not usable", "partition", rec.Partition, "offset", rec.Offset, "err", err)
	return kgorecord.DeadLetter(r.topics.dead, "estimate", rec, err)
}

// start waits until Kafka serves the role (topics led, see kafkaready) and lists the
// input's cut. A round of listing that runs out of StartTimeout while the broker is away is
// followed, after a back-off, by another one, for as long as it takes; a topic missing for
// two minutes or a refusal ends Run.
func (r *Runner) start(ctx context.Context, rd *kafkaread.Reader) error {
	adm := kadm.NewClient(rd.Client())
	need := kafkaready.Need{Topics: []string{r.topics.in, r.topics.out, r.topics.dead}}
	retry := restartCurve.Start()
	for {
		if err := kafkaready.Wait(ctx, adm, need, r.kafka); err != nil {
			return fmt.Errorf("estimate: %w", err)
		}
		err := rd.Start(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !errors.Is(err, backoff.ErrExhausted) {
			return fmt.Errorf("estimate: %s: %w", r.topics.in, err)
		}
		r.kafka.Down(err)
		wait, _ := retry.Next() // unbounded: only ctx ends the wait
		if backoff.Sleep(ctx, wait) != nil {
			return ctx.Err()
		}
	}
}

// sendDeadLetters delivers dead letters and waits for Kafka's acknowledgement. A try that
// fails (the client retries within ProduceTimeout) is followed, after a back-off, by
// another with the records not yet delivered, for as long as Kafka is away; reading waits
// meanwhile. It returns an error only when ctx ends or Kafka refuses a record for good
// (too large, not authorised). A record whose acknowledgement was lost may be written
// twice: dead letters are at least once, as they were when a failure ended Run.
func (r *Runner) sendDeadLetters(ctx context.Context, cl *kgo.Client, dead []*kgo.Record) error {
	for len(dead) > 0 {
		err := r.kafka.Wait(ctx, restartCurve, func(ctx context.Context) error {
			var left []*kgo.Record
			var first error
			for _, res := range cl.ProduceSync(ctx, dead...) {
				if res.Err == nil {
					continue
				}
				first = cmp.Or(first, res.Err)
				// A fresh record: one whose promise has run is not produced again.
				left = append(left, &kgo.Record{Topic: res.Record.Topic, Key: res.Record.Key, Value: res.Record.Value, Headers: res.Record.Headers})
			}
			dead = left
			if first != nil && refused(first) {
				return backoff.Permanent(first)
			}
			return first
		})
		if err != nil {
			return fmt.Errorf("estimate: %d dead letters not delivered: %w", len(dead), err)
		}
	}
	return nil
}

// refused reports whether Kafka refused a record in a way no wait mends.
func refused(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// splitResultKey splits a station-results.v1 key (schemas.ParseStationResultKey).
func splitResultKey(key []byte) (string, election.Ballot, bool) {
	station, ballot, ok := schemas.ParseStationResultKey(string(key))
	return station, election.Ballot(ballot), ok
}

// publish works out an estimate and produces it to estimates.v1; false when it was not
// delivered (Kafka away: marked down, logged once per outage, not once per estimate).
func (r *Runner) publish(ctx context.Context, cl *kgo.Client, est *Estimator) bool {
	t0 := time.Now()
	res := est.Estimate()
	r.m.recompute.Observe(time.Since(t0).Seconds())
	msg := res.ToSchema(uuid.NewString(), time.Now().UTC())
	msg.EstimatorVersion, msg.ConfigHash = r.version, r.cfgHash
	rec, err := kgorecord.New(r.topics.out, msg)
	if err != nil {
		r.log.Error("estimate not encoded", "err", err)
		return true // a bug: publishing the same state again would fail again
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		if ctx.Err() == nil {
			r.m.published.WithLabelValues("failed").Inc()
			if refused(err) {
				r.log.Error("estimate not delivered", "err", err)
				return true
			}
			r.kafka.Down(err)
			r.log.Debug("estimate not delivered; a fresh one follows once kafka answers", "err", err)
		}
		return false
	}
	r.kafka.Up()
	r.m.published.WithLabelValues("ok").Inc()
	r.m.reported.Set(float64(res.PartyList.StationsReported))
	r.latest.Store(&msg)
	r.log.Info("estimate published", "estimate_id", msg.EstimateID, "data_time", msg.DataTime,
		"stations_reported", msg.StationsReported, "stations_total", msg.StationsTotal, "took", time.Since(t0))
	return true
}

// reported counts the stations currently reported on the ballot.
func (bs *ballotState) reported() int {
	n := 0
	for _, c := range bs.n {
		n += int(c)
	}
	return n
}

// metrics of the role. Names follow votestream_<role>_<what>.
type metrics struct {
	records   *prometheus.CounterVec // by outcome
	published *prometheus.CounterVec // by outcome
	recompute prometheus.Histogram
	reported  prometheus.Gauge
	baseline  *prometheus.GaugeVec // baseline_runner.go
}

func newMetrics() *metrics {
	return &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_estimate_records_total", Help: "station-results.v1 records read, by outcome (applied, tombstone, dead_letter).",
		}, []string{"outcome"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_estimate_published_total", Help: "Estimates produced to estimates.v1, by outcome (ok, failed).",
		}, []string{"outcome"}),
		recompute: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "votestream_estimate_recompute_seconds", Help: "Time to work out one national estimate.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		reported: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_estimate_stations_reported", Help: "Stations reported (party-list ballot) in the last published estimate.",
		}),
		baseline: newBaselineGauge(),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.records, m.published, m.recompute, m.reported, m.baseline}
}
