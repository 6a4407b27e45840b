package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
)

// newRegistry is a process's metrics registry: the given collectors and the Go runtime's.
func newRegistry(cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	return reg
}

// withMetrics runs role while serving reg on addr/metrics; addr "" runs role alone. The
// server stops when role returns.
func withMetrics(ctx context.Context, addr string, reg *prometheus.Registry, role func(context.Context) error) error {
	return withMetricsReady(ctx, addr, reg, nil, role)
}

// withMetricsReady is withMetrics that also answers addr/readyz from ready (when not nil):
// 200 "ready", or 503 with the error (the dependency the role waits for, since when).
func withMetricsReady(ctx context.Context, addr string, reg *prometheus.Registry, ready func() error, role func(context.Context) error) error {
	if addr == "" {
		return role(ctx)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if ready != nil {
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err)
				return
			}
			fmt.Fprintln(w, "ready")
		})
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	slog.Info("serving metrics", "addr", ln.Addr().String()+"/metrics")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		return role(gctx)
	})
	return g.Wait()
}
