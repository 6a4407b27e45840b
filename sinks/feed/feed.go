package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"votestream/internal/health"
	"votestream/internal/httpserve"
	"votestream/internal/promreg"
	"votestream/schemas"
)

// Feed is the newsroom feed role. Build it with New; run it once with Run (or Serve).
type Feed struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	keys *Keys

	// mu guards view. The ring is published to while mu is held for writing, so whenever
	// a reader holds mu the ring's newest id is the view's Seq: an answer's event_id is
	// always a valid place to resume the stream from.
	mu     sync.RWMutex
	view   *View
	ring   *Ring
	ready  atomic.Bool
	health *health.Set
	kafka  *health.Dependency
	readyC chan struct{} // closed once ready

	cache  answerCache
	limits limiters

	streamsMu sync.Mutex
	streams   map[string]int // open streams per newsroom

	http *httpserve.Server
	// shutdown is closed when Serve starts shutting down, so streams end promptly.
	shutdown     chan struct{}
	shutdownOnce sync.Once

	lastReject atomic.Int64 // Unix second of the last rejected-record log line
}

// New checks cfg, loads the key file and prepares the role; it connects to nothing.
func New(cfg Config) (*Feed, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := LoadKeys(cfg.KeysFile)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("feed: epoch: %w", err)
	}
	f := &Feed{
		cfg:      cfg,
		log:      log.With("role", "feed"),
		m:        newMetrics(),
		keys:     keys,
		view:     NewView(cfg.Country, hex.EncodeToString(b[:])),
		ring:     NewRing(cfg.RingSize),
		streams:  map[string]int{},
		shutdown: make(chan struct{}),
		readyC:   make(chan struct{}),
	}
	f.view.notice = Notice{Unofficial: true, Attribution: cfg.Attribution}
	if cfg.TestMode {
		f.view.notice.Test, f.view.notice.Banner = true, TestBanner
	}
	f.cache.m = map[string]*cachedAnswer{}
	f.limits.m = map[string]*rate.Limiter{}
	hc := httpserve.DefaultConfig()
	hc.Name, hc.Handler, hc.Logger = "feed", f.routes(), f.log
	hc.ShutdownGrace, hc.AccessLog = cfg.ShutdownGrace, cfg.AccessLog
	// No read or write timeout: streams live for hours. Each write has its own deadline.
	hc.ReadTimeout, hc.WriteTimeout = 0, 0
	hc.OnShutdown = f.beginShutdown // streams end, so their handlers return
	if f.http, err = httpserve.New(hc); err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	if err := promreg.Register(cfg.Registerer, "feed", f.m.collectors()...); err != nil {
		return nil, err
	}
	hs, err := health.NewSet("feed", log, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	f.health, f.kafka = hs, hs.Dependency("kafka")
	return f, nil
}

// Collectors returns the role's Prometheus metrics, for a caller that registers them itself
// (rather than through Config.Registerer).
func (f *Feed) Collectors() []prometheus.Collector { return f.m.collectors() }

// Handler returns the HTTP handler of every endpoint (for tests, or a server of the
// caller's). Safe for concurrent use.
func (f *Feed) Handler() http.Handler { return f.http.Handler() }

// Ready reports whether the view has caught up with the topics and the API answers.
func (f *Feed) Ready() bool { return f.ready.Load() }

// Health returns nil while Kafka answers, or an error saying since when it does not. The
// API goes on answering from the view meanwhile (its data as of the outage); /readyz
// answers 503. Safe for concurrent use.
func (f *Feed) Health() error { return f.health.Ready() }

// WaitReady blocks until the feed is ready (nil) or ctx ends (its error).
func (f *Feed) WaitReady(ctx context.Context) error {
	select {
	case <-f.readyC:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run listens on Config.Listen, then works as Serve.
func (f *Feed) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", f.cfg.Listen)
	if err != nil {
		return fmt.Errorf("feed: listen: %w", err)
	}
	return f.Serve(ctx, ln)
}

// Serve consumes the topics and serves newsrooms on ln (which it closes) until ctx ends,
// then stops cleanly and returns nil: streams are ended, requests in flight get
// ShutdownGrace to finish, the Kafka client is closed. Kafka being away does not end it,
// however long (see consume). It returns an error when the topics are still missing two
// minutes after start, Kafka refuses the role, or the server fails.
func (f *Feed) Serve(ctx context.Context, ln net.Listener) error {
	f.log.Info("feed listening", "addr", ln.Addr().String(), "topic_prefix", f.cfg.TopicPrefix,
		"newsroom_keys", f.keys.Len(), "epoch", f.view.Epoch())

	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	var wg sync.WaitGroup
	consumeErr := make(chan error, 1)
	wg.Go(func() {
		consumeErr <- f.consume(loopCtx)
		stopLoops() // the API serves nothing true without the consumer
	})
	if f.cfg.KeysReload > 0 {
		wg.Go(func() {
			httpserve.Reload(loopCtx, f.cfg.KeysReload, f.log, "feed: newsroom keys", f.keys.Reload, f.keys.Len)
		})
	}
	if f.cfg.SQLUsersDir != "" {
		wg.Go(func() { f.manageSQLGrants(loopCtx) })
	}
	if f.cfg.SQLRole != "" {
		wg.Go(func() { f.manageSQLRole(loopCtx) })
	}
	err := f.http.Serve(loopCtx, ln) // "feed: serve: ..." already
	stopLoops()
	f.beginShutdown()
	wg.Wait()
	if e := <-consumeErr; err == nil && e != nil && ctx.Err() == nil {
		err = fmt.Errorf("feed: %w", e)
	}
	f.log.Info("feed stopped")
	return err
}

// beginShutdown ends every stream: their handlers see the ring closed and return.
func (f *Feed) beginShutdown() {
	f.shutdownOnce.Do(func() {
		close(f.shutdown)
		f.ring.Close()
	})
}

// input is one decoded record for the view.
type input struct {
	sr        *schemas.StationResult
	est       *schemas.Estimate
	call      *schemas.Call
	cp        *schemas.Checkpoint
	tombstone [2]string // station id and ballot of a deleted result
}

// applyInputs takes inputs into the view under the write lock and, once the feed is
// ready, publishes their events. It returns how many changed the view.
func (f *Feed) applyInputs(in []input) (applied int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ready := f.ready.Load()
	var evs []*Event
	for _, it := range in {
		var ch Change
		var ok bool
		switch {
		case it.sr != nil:
			var err error
			ch, ok, err = f.view.Apply(*it.sr)
			switch {
			case err != nil:
				f.m.records.WithLabelValues(schemas.TopicStationResults, "rejected").Inc()
				f.warnRejected(err)
			case ok:
				f.m.records.WithLabelValues(schemas.TopicStationResults, "applied").Inc()
			default:
				f.m.records.WithLabelValues(schemas.TopicStationResults, "stale").Inc()
			}
		case it.call != nil:
			if ch, ok = f.view.ApplyCall(*it.call); ok {
				f.m.records.WithLabelValues(schemas.TopicCalls, "applied").Inc()
			} else {
				f.m.records.WithLabelValues(schemas.TopicCalls, "ignored").Inc()
			}
		case it.cp != nil:
			ch, ok = f.view.ApplyCheckpoint(*it.cp)
			f.m.records.WithLabelValues(schemas.TopicCheckpoints, map[bool]string{true: "applied", false: "stale"}[ok]).Inc()
		case it.est != nil:
			ch, ok = f.view.ApplyEstimate(*it.est)
			if ok {
				f.m.records.WithLabelValues(schemas.TopicEstimates, "applied").Inc()
				f.m.estimateAge.Set(float64(it.est.DataTime.Unix()))
			} else {
				f.m.records.WithLabelValues(schemas.TopicEstimates, "stale").Inc()
			}
		default:
			ch, ok = f.view.Forget(it.tombstone[0], it.tombstone[1])
			f.m.records.WithLabelValues(schemas.TopicStationResults, "tombstone").Inc()
		}
		if !ok {
			continue
		}
		applied++
		if ready {
			evs = append(evs, f.encode(ch))
		}
	}
	if len(evs) > 0 {
		now := time.Now()
		for _, ev := range evs {
			ev.Published = now
		}
		f.ring.Publish(evs...)
		for _, ev := range evs {
			f.m.published.WithLabelValues(ev.Type).Inc()
		}
	}
	f.m.viewSeq.Set(float64(f.view.Seq()))
	f.m.stationsCount.Set(float64(f.view.national[bPartyList].reported))
	return applied
}

// markReady starts the stream at the view's current change: nothing before it is in the
// ring, so a client of another process (or none) starts with a reset.
func (f *Feed) markReady() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ready.Load() {
		return
	}
	f.markReadyQuiet()
	f.log.Info("feed ready", "version", f.view.Seq(), "stations_reported", f.view.national[bPartyList].reported,
		"estimate", f.view.estimate != nil)
}

// markReadyQuiet is markReady without the log line; f.mu must be held.
func (f *Feed) markReadyQuiet() {
	f.ring.Reset(f.view.Seq())
	f.ready.Store(true)
	close(f.readyC)
	f.m.ready.Set(1)
}

// encode turns a change into its event. The payloads marshal without error (no NaN can
// come from JSON input); should one not, the event still goes out, empty, to keep ids dense.
func (f *Feed) encode(ch Change) *Event {
	data, err := json.Marshal(ch.Payload)
	if err != nil {
		f.log.Error("feed: event not encoded", "type", ch.Type, "err", err)
		data = []byte("{}")
	}
	ev := &Event{ID: ch.Seq, Type: ch.Type, ConstituencyID: ch.ConstituencyID, ProvinceID: ch.ProvinceID, Data: data}
	ev.setFrame(f.view.Epoch())
	return ev
}

// warnRejected logs rejected records, at most one line a second, so a topic full of
// records of another country does not flood the log (the metric counts them all).
func (f *Feed) warnRejected(err error) {
	now := time.Now().Unix()
	if last := f.lastReject.Load(); now > last && f.lastReject.CompareAndSwap(last, now) {
		f.log.Warn("feed: station result not usable (more are counted in votestream_feed_records_total)", "err", err)
	}
}
