// Command httpserve measures what the shared HTTP skeleton (internal/httpserve) adds to
// each request: the same small JSON handler served bare, through the default stack (request
// id, recover), and with request metrics and the access log on. It prints BENCH lines
// (ns and allocations per request, in process: no network; the fastest of five runs).
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/httpserve"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		httpserve.WriteJSON(w, http.StatusAccepted, map[string]string{"id": r.PathValue("id")})
	})
	server := func(mod func(*httpserve.Config)) http.Handler {
		cfg := httpserve.DefaultConfig()
		cfg.Name, cfg.Handler = "bench", mux
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
		if mod != nil {
			mod(&cfg)
		}
		s, err := httpserve.New(cfg)
		if err != nil {
			panic(err)
		}
		return s.Handler()
	}
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"bare_mux", mux},
		{"default_stack", server(nil)},
		{"with_metrics", server(func(c *httpserve.Config) { c.Registerer = prometheus.NewRegistry() })},
		{"with_metrics_and_access_log", server(func(c *httpserve.Config) {
			c.Registerer, c.AccessLog = prometheus.NewRegistry(), true
		})},
	}
	// The machine is shared: each case runs five times and the fastest run is reported.
	for _, c := range cases {
		best := testing.BenchmarkResult{}
		for range 5 {
			r := testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, "/v1/things/abc", nil)
					w := httptest.NewRecorder()
					c.h.ServeHTTP(w, req)
					if w.Code != http.StatusAccepted {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
			if best.N == 0 || r.NsPerOp() < best.NsPerOp() {
				best = r
			}
		}
		r := best
		fmt.Printf("BENCH name=httpserve_%s_ns value=%d unit=ns/request\n", c.name, r.NsPerOp())
		fmt.Printf("BENCH name=httpserve_%s_allocs value=%d unit=allocs/request\n", c.name, r.AllocsPerOp())
	}
}
