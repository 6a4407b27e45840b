// Package ingest is the volunteers' HTTP endpoint (DESIGN.md §2, §4, §6): it authenticates
// bearer tokens, validates submissions, reviews and official figures against the reference
// data, and answers 202 only once Kafka has acknowledged the record (acks from all in-sync
// replicas, idempotent producer, keyed by station_id). It also stores evidence photos by
// content hash. Bad input gets a 4xx with a stable code; Kafka trouble gets 503 with
// Retry-After within ProduceTimeout, never a hang.
//
// Ingest judges each report alone and against the reference data only. It does not compare
// reports with each other (consolidate does, downstream): an arithmetic inconsistency is
// accepted, since the form itself may be wrong.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/ingest/s3store"
	"votestream/ingest/token"
	"votestream/internal/health"
	"votestream/internal/httpserve"
	"votestream/internal/kafkaready"
	"votestream/schemas"
)

// Server is one ingest process. Build it with New; serve it with Run (or Serve, or mount
// Handler in a server of your own and call Close when done).
type Server struct {
	health   *health.Set
	kafka    *health.Dependency
	cfg      Config
	country  *election.Country
	valid    validator
	keys     *token.Keyring
	staff    *token.Keyring     // nil: no privileged token verifies
	console  *token.ConsoleKeys // nil: a staff token alone may decide (no --console-keys)
	verified tokenCache
	revoked  *token.Revocations
	prod     producer
	store    EvidenceStore
	dedupe   *dedupe
	limiter  *limiter
	refusals refusalLog // refusals.v1 sampling (refusals.go)
	metrics  *metrics
	reg      *prometheus.Registry
	log      *slog.Logger
	now      func() time.Time
	handler  http.Handler
	warnState

	// warming is true while Serve reloads accepted ids from Kafka; warmed is closed after.
	warming    atomic.Bool
	warmed     chan struct{}
	warmedOnce sync.Once

	closeOnce sync.Once

	// field is fieldwork.v1 as this process has read it (links, claims, check-ins).
	field    *fieldState
	fieldLog fieldLog
}

// Option changes how New builds a Server.
type Option func(*options)

type options struct {
	keys    *token.Keyring
	staff   *token.Keyring
	console *token.ConsoleKeys
	revoked *token.Revocations
	store   EvidenceStore
	now     func() time.Time
	prod    producer
}

// WithKeyring gives the token keys directly instead of Config.TokenKeysFile.
func WithKeyring(k *token.Keyring) Option { return func(o *options) { o.keys = k } }

// WithStaffKeyring gives the staff keys directly instead of Config.StaffKeysFile.
func WithStaffKeyring(k *token.Keyring) Option { return func(o *options) { o.staff = k } }

// WithConsoleKeys gives the console keys directly instead of Config.ConsoleKeysFile.
func WithConsoleKeys(k *token.ConsoleKeys) Option { return func(o *options) { o.console = k } }

// WithRevocations gives the revocation list directly instead of Config.RevocationFile.
func WithRevocations(r *token.Revocations) Option { return func(o *options) { o.revoked = r } }

// WithEvidenceStore replaces the store Config names (the local folder, or the bucket of
// Config.EvidenceS3) with st.
func WithEvidenceStore(st EvidenceStore) Option { return func(o *options) { o.store = st } }

// WithClock sets the clock used for token expiry, counted_at checks and received_at.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// withProducer replaces Kafka (tests).
func withProducer(p producer) Option { return func(o *options) { o.prod = p } }

// New checks cfg and builds a Server for cfg.Country, which must be indexed and list its
// stations. Options replace what cfg would load from files (tests, benchmarks). It creates the Kafka client (which connects lazily) but serves nothing yet.
// With Config.EvidenceS3.Endpoint set it checks the evidence bucket (for at most
// EvidenceS3.Timeout), so that a wrong bucket or key fails here, not at the first photo.
func New(cfg Config, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	country := cfg.Country
	if country == nil || !country.Indexed() {
		return nil, ErrNotIndexed
	}
	if !country.HasStations() {
		return nil, ErrNoStations
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := cfg.Registry
	var err error
	if o.keys == nil {
		if cfg.TokenKeysFile == "" {
			return nil, fmt.Errorf("%w: no token key file", ErrConfig)
		}
		if o.keys, err = token.LoadKeyring(cfg.TokenKeysFile); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	if o.staff == nil && cfg.StaffKeysFile != "" {
		if o.staff, err = token.LoadStaffKeyring(cfg.StaffKeysFile); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	if o.keys.Staff() || o.staff != nil && !o.staff.Staff() {
		return nil, fmt.Errorf("%w: the volunteers' keyring and the staff keyring are swapped", ErrConfig)
	}
	if o.staff != nil {
		if err := token.CheckDisjoint(o.keys, o.staff); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	if o.console == nil && cfg.ConsoleKeysFile != "" {
		if o.console, err = token.LoadConsoleKeys(cfg.ConsoleKeysFile); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	if o.console != nil {
		for _, ring := range []*token.Keyring{o.keys, o.staff} {
			if ring == nil {
				continue
			}
			if err := token.CheckConsoleDisjoint(ring, o.console); err != nil {
				return nil, fmt.Errorf("ingest: %w", err)
			}
		}
	} else if o.staff != nil {
		log.Warn("ingest: no --console-keys: a district lead's or war-room token is taken alone on /v1/reviews and /v1/official, so the console's second factor and second approver can be bypassed; give ingest and the console the same --console-keys file")
	}
	if o.revoked == nil {
		if o.revoked, err = token.LoadRevocations(cfg.RevocationFile); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	if o.store == nil {
		if o.store, err = newEvidenceStore(cfg, log); err != nil {
			return nil, err
		}
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	hs, err := health.NewSet("ingest", log, reg)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if o.prod == nil {
		cl, err := newKafkaProducer(cfg, kgo.WithHooks(kafkaready.Hook(hs.Dependency("kafka"))))
		if err != nil {
			return nil, fmt.Errorf("ingest: kafka client: %w", err)
		}
		o.prod = cl
	}
	s := &Server{
		cfg:     cfg,
		country: country,
		valid:   validator{country: country, skew: cfg.MaxClockSkew},
		keys:    o.keys,
		staff:   o.staff,
		console: o.console,
		revoked: o.revoked,
		prod:    o.prod,
		store:   o.store,
		dedupe:  newDedupe(cfg.DedupeTTL, cfg.DedupeMaxEntries),
		reg:     reg,
		log:     log,
		now:     o.now,
		warmed:  make(chan struct{}),
		field:   newFieldState(cfg.ClaimCap),
		health:  hs,
		kafka:   hs.Dependency("kafka"),
	}
	s.fieldLog = kafkaFieldLog{prod: o.prod, topic: cfg.TopicPrefix + schemas.TopicFieldwork}
	if cfg.RatePerVolunteer > 0 {
		s.limiter = newLimiter(cfg.RatePerVolunteer, cfg.RateBurst)
	}
	s.metrics = newMetrics(reg,
		func() float64 { return float64(s.prod.BufferedProduceRecords()) },
		func() float64 { return float64(s.dedupe.len()) })
	s.handler = s.routes()
	return s, nil
}

// newEvidenceStore builds the store Config names: the bucket when EvidenceS3.Endpoint is
// set, otherwise the local folder.
func newEvidenceStore(cfg Config, log *slog.Logger) (EvidenceStore, error) {
	if cfg.EvidenceS3.Endpoint == "" {
		return NewDirStore(cfg.EvidenceDir)
	}
	st, err := s3store.New(cfg.EvidenceS3)
	if err != nil {
		return nil, fmt.Errorf("ingest: evidence bucket: %w", err)
	}
	if err := st.EnsureBucket(context.Background()); err != nil {
		return nil, fmt.Errorf("ingest: evidence bucket: %w", err)
	}
	log.Info("ingest: evidence stored in an S3-compatible bucket", "bucket", st.Where())
	return st, nil
}

// route is one endpoint. The table drives both the mux and the test that keeps
// /openapi.json true.
type route struct {
	method, path string // path in OpenAPI form: {name} for a parameter
	handler      func(*Server) http.HandlerFunc
}

var routes = []route{
	{http.MethodPost, "/v1/submissions", func(s *Server) http.HandlerFunc { return s.handleSubmissions }},
	{http.MethodPost, "/v1/reviews", func(s *Server) http.HandlerFunc { return s.handleLead("review", s.review) }},
	{http.MethodPost, "/v1/official", func(s *Server) http.HandlerFunc { return s.handleLead("official", s.official) }},
	{http.MethodPut, "/v1/evidence/{digest}", func(s *Server) http.HandlerFunc { return s.handleEvidence }},
	{http.MethodGet, "/healthz", func(s *Server) http.HandlerFunc { return s.handleHealthz }},
	{http.MethodGet, "/readyz", func(s *Server) http.HandlerFunc { return s.handleReadyz }},
	{http.MethodGet, "/metrics", func(s *Server) http.HandlerFunc {
		return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP
	}},
	{http.MethodGet, "/openapi.json", func(s *Server) http.HandlerFunc { return serveOpenAPI }},
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	paths := map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, s.metrics.instrument(rt.path, rt.handler(s)))
		paths[rt.path] = append(paths[rt.path], rt.method)
	}
	s.mountForm(mux)
	// JSON errors for unknown paths and methods, instead of the mux's plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		for p, methods := range paths {
			if matchPath(p, r.URL.Path) {
				w.Header().Set("Allow", joinMethods(methods))
				writeError(w, apiErr(CodeMethodNotAllowed, "", "%s is not allowed on %s", r.Method, p))
				return
			}
		}
		writeError(w, apiErr(CodeNotFound, "", "no such endpoint; see /openapi.json"))
	})
	return mux
}

// matchPath reports whether path fits an OpenAPI-style pattern with {name} segments.
func matchPath(pattern, path string) bool {
	ps, qs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(qs) {
		return false
	}
	for i := range ps {
		if ps[i] != qs[i] && !(strings.HasPrefix(ps[i], "{") && qs[i] != "") {
			return false
		}
	}
	return true
}

func joinMethods(ms []string) string {
	out := ""
	for i, m := range ms {
		if i > 0 {
			out += ", "
		}
		out += m
	}
	return out
}

// Health returns nil while Kafka answers, or an error saying since when it does not (as
// seen by the last produce, readiness probe or fieldwork read). Safe for concurrent use.
func (s *Server) Health() error { return s.health.Ready() }

// Handler returns the HTTP handler of every endpoint. Safe for concurrent use.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on Config.Listen and serves until ctx ends, then shuts down cleanly: it stops
// accepting, lets requests in flight finish (up to ShutdownGrace), flushes the producer and
// closes it. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.Close()
		return fmt.Errorf("ingest: listen: %w", err)
	}
	if ln, err = s.tlsListener(ln); err != nil {
		s.Close()
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener of the caller's (it takes ownership and closes it). It answers
// at once, and meanwhile warms the dedupe store from Kafka (at most WarmupTimeout; see
// warmDedupe): until that ends /readyz says "starting" and submissions get 503 STARTING with
// Retry-After, so a slow or hung broker holds no client in the listen backlog, and no retry
// is produced twice for want of the ids accepted before a restart.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	hc := httpserve.DefaultConfig()
	hc.Name, hc.Handler, hc.Logger = "ingest", s.handler, s.log
	hc.ShutdownGrace = s.cfg.ShutdownGrace
	hc.ReadTimeout, hc.WriteTimeout = 0, 0 // bodies have their own deadline (jsonReadTimeout)
	srv, err := httpserve.New(hc)
	if err != nil {
		ln.Close()
		return fmt.Errorf("ingest: %w", err)
	}
	s.log.Info("ingest listening", "addr", ln.Addr().String(), "topic_prefix", s.cfg.TopicPrefix,
		"spread_policy", s.cfg.SpreadPolicy, "revoked_ids", s.revoked.Len())

	var wg sync.WaitGroup
	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	if s.cfg.WarmupTimeout > 0 {
		s.warming.Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.warmDedupe(loopCtx)
			s.warming.Store(false)
			s.warmedOnce.Do(func() { close(s.warmed) })
		}()
	} else {
		s.warmedOnce.Do(func() { close(s.warmed) })
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.followFieldwork(loopCtx)
	}()
	if s.cfg.RevocationFile != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			httpserve.Reload(loopCtx, s.cfg.RevocationReload, s.log, "ingest: revocation list", s.revoked.Reload, s.revoked.Len)
		}()
	}
	err = srv.Serve(ctx, ln) // "ingest: serve: ..." already
	stopLoops()
	wg.Wait()
	return err
}

// Close flushes records still in flight (for at most ShutdownGrace, so that their ids settle)
// and closes the Kafka client. Run and Serve call it; call it yourself only when you used
// Handler without them. Safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
		defer cancel()
		if err := s.prod.Flush(ctx); err != nil {
			s.log.Warn("ingest: records still unacknowledged at close", "err", err, "buffered", s.prod.BufferedProduceRecords())
		}
		s.prod.Close()
	})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) { httpserve.Healthz(w, r) }

// handleReadyz is ready when the warm-up is over and Kafka answers within two seconds.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	httpserve.Readyz(func(ctx context.Context) error {
		if s.warming.Load() {
			return &httpserve.NotReady{Status: "starting", RetryAfter: time.Second,
				Err: errors.New("reloading the ids accepted before a restart from Kafka")}
		}
		if err := s.prod.Ping(ctx); err != nil {
			s.kafka.Down(err)
			return &httpserve.NotReady{Status: "kafka unreachable", RetryAfter: s.cfg.RetryAfter, Err: err}
		}
		s.kafka.Up()
		return nil
	})(w, r)
}
