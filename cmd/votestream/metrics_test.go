package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics listener's /readyz follows the role's readiness: 503 naming what the role
// waits for while it waits, 200 once it is back.
func TestMetricsReadyz(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var down atomic.Bool
	down.Store(true)
	ready := func() error {
		if down.Load() {
			return errors.New("health: waiting for a dependency: kafka (down for 3s: connection refused)")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- withMetricsReady(ctx, addr, prometheus.NewRegistry(), ready, func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return nil
		})
	}()
	<-started
	get := func() (int, string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(body)
			}
			if time.Now().After(deadline) { // the listener is not up yet: a bound, not a timing
				t.Fatalf("GET /readyz: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "kafka") {
		t.Errorf("while waiting: %d %q, want 503 naming kafka", code, body)
	}
	down.Store(false)
	if code, body := get(); code != http.StatusOK {
		t.Errorf("once back: %d %q, want 200", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("withMetricsReady: %v", err)
	}
}
