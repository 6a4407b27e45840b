// Package httpserve is the HTTP skeleton every votestream server is built on (ingest, the
// feed, the metrics listener, and whatever serves web pages next): listening, timeouts,
// graceful shutdown, request ids, recovery from a handler's panic, status recording, an
// access log, request metrics, the one JSON error shape ({"error": {"code", "message",
// "field"}}) and the /healthz, /readyz and /metrics endpoints. It owns no routes of a
// role's: a role gives it an http.Handler (usually an http.ServeMux) and keeps its own
// error codes.
//
// The middleware order, outermost first: request id, access log and metrics, recover,
// compression (when Config.Compress), the health endpoints, the role's handler. So a panic is answered 500 INTERNAL, logged with
// its request id, and still counted and logged as a 500.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrConfig is matched (errors.Is) by every error of Config.Validate.
var ErrConfig = errors.New("httpserve: bad config")

// Config of a Server. Start from DefaultConfig.
type Config struct {
	// Name names the server in logs and in the metrics' server label ("ingest", "feed",
	// "console"). Required.
	Name string
	// Addr is where Run listens ("127.0.0.1:8080", ":0"). Required by Run, not by Serve.
	Addr string
	// Handler serves the role's routes. Required.
	Handler http.Handler
	// Logger receives the access log, panics and shutdown trouble. Default slog.Default().
	Logger *slog.Logger

	// Ready, when set, makes the server answer GET /healthz (200 while the process serves)
	// and GET /readyz (200 when Ready returns nil; otherwise 503, see NotReady) itself,
	// before the role's handler sees them.
	Ready func(context.Context) error
	// Gatherer, when set, is served at GET /metrics.
	Gatherer prometheus.Gatherer
	// Registerer, when set, receives the request metrics: votestream_http_requests_total
	// {server,route,code}, votestream_http_request_seconds{server,route} and
	// votestream_http_panics_total{server}. route is the mux pattern that matched.
	Registerer prometheus.Registerer
	// AccessLog logs one line per request at Info (method, path, route, status, bytes,
	// duration, request id, remote address).
	AccessLog bool

	// ReadHeaderTimeout bounds reading a request's headers. Default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request; 0 leaves it to the handler (ingest sets a
	// deadline per body). Default 30 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response; 0 leaves it to the handler (a stream that
	// lives for hours sets a deadline per write). Default 30 s.
	WriteTimeout time.Duration
	// IdleTimeout bounds a kept-alive connection between requests. Default 2 min.
	IdleTimeout time.Duration
	// ShutdownGrace is how long requests in flight may finish once the context ends; then
	// their connections are closed. Default 10 s.
	ShutdownGrace time.Duration
	// MaxHeaderBytes bounds a request's headers. Default 16 KiB.
	MaxHeaderBytes int
	// Compress answers for clients that accept gzip or zstd (compress.go): JSON, HTML and
	// scripts of a kilobyte or more; never streams. Off by default: ingest's answers are
	// small receipts.
	Compress bool
	// NoCompress, when set, names requests never to compress (a role's stream routes whose
	// clients may not say Accept: text/event-stream).
	NoCompress func(*http.Request) bool

	// OnShutdown, when set, is called once as shutdown begins, before the server waits for
	// requests in flight: end long-lived responses (streams) there.
	OnShutdown func()
}

// DefaultConfig returns the defaults; set Name, Addr and Handler.
func DefaultConfig() Config {
	return Config{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ShutdownGrace:     10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// Validate reports the first problem of cfg, wrapping ErrConfig.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: no server name", ErrConfig)
	case c.Handler == nil:
		return fmt.Errorf("%w: %s: no handler", ErrConfig, c.Name)
	case c.ReadHeaderTimeout <= 0:
		return fmt.Errorf("%w: %s: the header read timeout must be positive", ErrConfig, c.Name)
	case c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.IdleTimeout < 0:
		return fmt.Errorf("%w: %s: a negative timeout", ErrConfig, c.Name)
	case c.ShutdownGrace <= 0:
		return fmt.Errorf("%w: %s: the shutdown grace must be positive", ErrConfig, c.Name)
	case c.MaxHeaderBytes <= 0:
		return fmt.Errorf("%w: %s: the header size limit must be positive", ErrConfig, c.Name)
	}
	return nil
}

// Server is one HTTP server. Build it with New; serve with Run or Serve, once.
type Server struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	handler http.Handler
}

// New checks cfg, registers the request metrics (when Config.Registerer is set) and builds
// the handler stack. It listens on nothing yet.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Registerer != nil {
		m, err := newMetrics(cfg.Name, cfg.Registerer)
		if err != nil {
			return nil, err
		}
		s.m = m
	}
	h := cfg.Handler
	if cfg.Ready != nil || cfg.Gatherer != nil {
		h = withHealth(h, cfg.Ready, cfg.Gatherer)
	}
	if cfg.Compress {
		var err error
		if h, err = withCompression(h, cfg.NoCompress); err != nil {
			return nil, err
		}
	}
	s.handler = withRequestID(s.observe(s.recover(h)))
	return s, nil
}

// Handler returns the whole stack (for tests, or a server of the caller's).
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on Config.Addr, then works as Serve.
func (s *Server) Run(ctx context.Context) error {
	if s.cfg.Addr == "" {
		return fmt.Errorf("%w: %s: no listen address", ErrConfig, s.cfg.Name)
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("%s: listen: %w", s.cfg.Name, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (which it closes) until ctx ends, then shuts down: it stops accepting,
// calls OnShutdown, gives requests in flight ShutdownGrace to finish and closes what is
// left. It returns nil after a shutdown, or the server's error if serving failed first.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.cfg.OnShutdown != nil {
		srv.RegisterOnShutdown(s.cfg.OnShutdown)
	}
	s.log.Debug("serving HTTP", "server", s.cfg.Name, "addr", ln.Addr().String())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("%s: serve: %w", s.cfg.Name, err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		s.log.Warn("requests still in flight at shutdown; closing their connections",
			"server", s.cfg.Name, "grace", s.cfg.ShutdownGrace, "err", err)
		_ = srv.Close()
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: serve: %w", s.cfg.Name, err)
	}
	return nil
}
