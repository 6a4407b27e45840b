package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"votestream/internal/httpserve"
)

// newRegistry is a process's metrics registry: the given collectors and the Go runtime's.
func newRegistry(cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	return reg
}

// withMetrics runs role while serving reg on addr/metrics (and /healthz, /readyz: the
// process is up); addr "" runs role alone. The server stops when role returns.
func withMetrics(ctx context.Context, addr string, reg *prometheus.Registry, role func(context.Context) error) error {
	return withMetricsReady(ctx, addr, reg, nil, role)
}

// withMetricsReady is withMetrics whose /readyz answers from ready when it is not nil: 200,
// or 503 with ready's error (the service the role waits for, and since when).
func withMetricsReady(ctx context.Context, addr string, reg *prometheus.Registry, ready func() error, role func(context.Context) error) error {
	if addr == "" {
		return role(ctx)
	}
	hc := httpserve.DefaultConfig()
	hc.Name, hc.Gatherer = "metrics", reg
	hc.Handler = withPprof(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpserve.WriteError(w, http.StatusNotFound, httpserve.Error{Code: httpserve.CodeNotFound, Message: "this listener serves /metrics, /healthz and /readyz only"})
	}))
	hc.Ready = func(context.Context) error { return nil }
	if ready != nil {
		hc.Ready = func(context.Context) error { return ready() }
	}
	hc.ShutdownGrace = 5 * time.Second
	srv, err := httpserve.New(hc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	slog.Info("serving metrics", "addr", ln.Addr().String()+"/metrics")
	g, gctx := errgroup.WithContext(ctx)
	srvCtx, stopServer := context.WithCancel(gctx)
	g.Go(func() error { return srv.Serve(srvCtx, ln) })
	g.Go(func() error {
		defer stopServer()
		return role(gctx)
	})
	return g.Wait()
}
