package console

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"golang.org/x/sync/errgroup"

	"votestream/console/staff"
	"votestream/ingest/s3store"
	"votestream/ingest/token"
	"votestream/internal/httpserve"
)

//go:embed web
var webFS embed.FS

//go:embed openapi.json
var openAPI []byte

// Server is the console role. Build it with New; Run serves until its context ends.
type Server struct {
	cfg     Config
	log     *slog.Logger
	keys    *token.Keyring
	signer  *token.ConsoleKeys // nil: forwards go unsigned
	revoked *token.Revocations
	store   *store
	photos  photos
	metrics *metrics
	client  *http.Client // to ingest
	now     func() time.Time

	sessions    sessions
	guard       staff.Guard
	overrides   overrides
	overrideSeq atomic.Uint64 // bumped when an override comes or goes, for the live stream

	queue   atomic.Pointer[Queue]
	mu      sync.Mutex
	changed chan struct{} // closed and replaced when the queue changes
	closing bool          // shutting down: streams end
	lastSum [32]byte

	addr chan string // the bound address, once

	desk       *desk       // nil without Kafka
	refusalPub *refusalPub // nil without Kafka
}

// New checks cfg, loads the token keys and connects the ClickHouse client (lazily: the
// first query dials).
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := token.LoadStaffKeyring(cfg.StaffKeysFile)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	var signer *token.ConsoleKeys
	if cfg.ConsoleKeysFile != "" {
		if signer, err = token.LoadConsoleKeys(cfg.ConsoleKeysFile); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		if err := token.CheckConsoleDisjoint(keys, signer); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	} else {
		cfg.Logger.Warn("console: no --console-keys: decisions are forwarded to ingest unsigned; an ingest with --console-keys refuses them, one without takes a staff token alone")
	}
	revoked := token.NoRevocations()
	if cfg.RevocationFile != "" {
		if revoked, err = token.LoadRevocations(cfg.RevocationFile); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{cfg.ClickHouseAddr},
		Auth:        clickhouse.Auth{Database: cfg.Database, Username: cfg.Username, Password: cfg.Password},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("console: clickhouse %s: %w", cfg.ClickHouseAddr, err)
	}
	var ph photos = dirPhotos{dir: cfg.EvidenceDir}
	if cfg.EvidenceS3 != nil {
		st, err := s3store.New(*cfg.EvidenceS3)
		if err != nil {
			return nil, fmt.Errorf("console: evidence bucket: %w", err)
		}
		ph = s3Photos{st: st}
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, keys: keys, signer: signer, revoked: revoked,
		store:   &store{conn: conn, db: cfg.Database, country: cfg.Country},
		photos:  ph,
		metrics: newMetrics(cfg.Registerer),
		client:  &http.Client{Timeout: cfg.ForwardTimeout},
		now:     time.Now,
		changed: make(chan struct{}),
		addr:    make(chan string, 1),
	}
	if len(cfg.Seeds) > 0 {
		if s.desk, err = newDesk(cfg, s.log, func() time.Time { return s.now() }); err != nil {
			return nil, err
		}
		if s.refusalPub, err = newRefusalPub(cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Addr blocks until Run has bound its listener and returns the address ("" if ctx ends
// first). For tests that listen on port 0.
func (s *Server) Addr(ctx context.Context) string {
	select {
	case a := <-s.addr:
		s.addr <- a
		return a
	case <-ctx.Done():
		return ""
	}
}

// Run serves the API and the web app (internal/httpserve: request metrics, /healthz,
// /readyz once the queue was first read), and rebuilds the queue every Refresh, until ctx
// is cancelled; then requests in flight get ShutdownGrace and live streams end.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("console: listen %s: %w", s.cfg.Listen, err)
	}
	hcfg := httpserve.DefaultConfig()
	hcfg.Name, hcfg.Handler, hcfg.Logger, hcfg.Registerer = "console", s.Handler(), s.log, s.cfg.Registerer
	hcfg.ShutdownGrace = s.cfg.ShutdownGrace
	hcfg.WriteTimeout = 0 // the live stream lasts all night; other answers are small
	hcfg.Compress = true  // the app's script and the queue's pages compress 5-10x
	hcfg.NoCompress = func(r *http.Request) bool { return r.URL.Path == "/v1/queue/events" }
	hcfg.Ready = s.ready
	hcfg.OnShutdown = func() {
		s.mu.Lock()
		s.closing = true
		close(s.changed) // ends every live stream
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
	srv, err := httpserve.New(hcfg)
	if err != nil {
		ln.Close()
		return fmt.Errorf("console: %w", err)
	}
	s.addr <- ln.Addr().String()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.refreshLoop(gctx) })
	if s.desk != nil {
		g.Go(func() error { return s.desk.run(gctx) })
	}
	g.Go(func() error { return srv.Serve(gctx, ln) })
	err = g.Wait()
	if s.refusalPub != nil {
		// What was taken is sent, within the grace a shutdown has.
		fctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
		_ = s.refusalPub.prod.Flush(fctx)
		cancel()
		s.refusalPub.prod.Close()
	}
	_ = s.store.conn.Close()
	return err
}

// ready: the console is ready once the queue has been read from ClickHouse.
func (s *Server) ready(context.Context) error {
	if s.queue.Load() == nil {
		return &httpserve.NotReady{Status: "reading the queue from ClickHouse", RetryAfter: 2 * time.Second}
	}
	return nil
}

// refreshLoop rebuilds the queue, then waits Refresh after each rebuild ends, so a slow
// ClickHouse is never asked twice at once. A failed rebuild keeps the previous queue.
func (s *Server) refreshLoop(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.Rebuild(ctx); err != nil && ctx.Err() == nil {
			s.metrics.failures.Inc()
			s.log.Warn("console: queue rebuild failed; serving the previous queue", "err", err)
		}
		if s.cfg.RevocationFile != "" {
			if _, err := s.revoked.Reload(); err != nil {
				s.log.Warn("console: revocation list reload failed; the previous list stays in force", "err", err)
			}
		}
		t.Reset(s.cfg.Refresh)
	}
}

// Rebuild reads the queue from ClickHouse now. Refresh calls it on its own; tests call it
// to see a change without waiting.
func (s *Server) Rebuild(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	start := time.Now()
	items, err := s.store.buildQueue(ctx)
	if err != nil {
		return err
	}
	s.metrics.rebuild.Observe(time.Since(start).Seconds())
	s.metrics.open.Set(float64(len(items)))
	sum := fingerprint(items)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.queue.Load()
	q := &Queue{Items: items, At: s.now()}
	if old != nil {
		q.Seq = old.Seq
	}
	if old == nil || sum != s.lastSum {
		q.Seq++
		s.lastSum = sum
		close(s.changed)
		s.changed = make(chan struct{})
	}
	q.encode()
	s.queue.Store(q)
	return nil
}

// fingerprint changes when an item comes, goes, changes version or priority.
func fingerprint(items []Item) [32]byte {
	h := sha256.New()
	var b [8]byte
	for i := range items {
		h.Write([]byte(items[i].Key))
		binary.LittleEndian.PutUint64(b[:], uint64(items[i].Version))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(items[i].Priority))
		h.Write(b[:])
		h.Write([]byte(strconv.Itoa(len(items[i].Sources))))
		if e := items[i].Escalated; e != nil {
			h.Write([]byte(e.At.String()))
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Handler returns the console's routes: the web app, the API and the OpenAPI document.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	files := http.FileServerFS(static)
	mux.Handle("GET /", s.web(files))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	route := func(pattern, _ string, h http.HandlerFunc) { mux.Handle(pattern, h) }
	route("POST /v1/session", "session", s.handleLogin)
	route("GET /v1/session", "session", s.handleWhoAmI)
	route("DELETE /v1/session", "session", s.handleLogout)
	route("GET /v1/queue", "queue", s.handleQueue)
	route("GET /v1/queue/events", "events", s.handleEvents)
	route("GET /v1/queue/areas", "areas", s.handleAreas)
	route("GET /v1/stations/{id}", "station", s.handleStation)
	route("GET /v1/evidence/{ref}", "evidence", s.handleEvidence)
	route("POST /v1/decisions", "decisions", s.handleDecision)
	route("GET /v1/decisions", "decision_log", s.handleDecisionLog)
	route("POST /v1/official/csv", "official_csv", s.handleOfficialCSV)
	route("GET /v1/overrides", "overrides", s.handleOverrides)
	route("POST /v1/overrides/{id}/{verb}", "override_decision", s.handleOverrideDecision)
	route("GET /v1/refusals", "refusals", s.handleRefusals)
	route("GET /v1/desk", "desk", s.handleDesk)
	route("GET /v1/desk/log", "desk_log", s.handleDeskLog)
	route("POST /v1/desk/decisions", "desk_decisions", s.handleDeskDecision)
	return securityHeaders(mux)
}

// web serves the embedded app; every path that is not a file gets index.html, so the
// app's own links (#/station/…) work on reload.
func (s *Server) web(files http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			w.Header().Set("Cache-Control", "no-cache")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
