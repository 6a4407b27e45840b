package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	lf := logFlags{format: "json", level: "warn"}
	log, err := lf.logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "station", "สถานี 1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q (%v)", buf.String(), err)
	}
	if line["msg"] != "shown" || line["station"] != "สถานี 1" || line["level"] != "WARN" {
		t.Fatalf("line %v", line)
	}
	buf.Reset()
	lf = logFlags{format: "text", level: "debug"}
	if log, err = lf.logger(&buf); err != nil {
		t.Fatal(err)
	}
	log.Debug("plain")
	if !strings.Contains(buf.String(), "level=DEBUG msg=plain") {
		t.Fatalf("text line %q", buf.String())
	}
}

func TestBadLogFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"migrate", "--log-format", "yaml"},
		{"migrate", "--log-level", "loud"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), args[1]) {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %s", args, code, errb.String(), args[1])
		}
	}
}

// TestMetricsListener: the --metrics listener serves /metrics and /healthz while the role
// runs, and stops when the role returns.
func TestMetricsListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	reg := newRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "votestream_test_marker_total", Help: "a marker"})
	reg.MustRegister(c)
	c.Inc()
	var metrics, health, unknown string
	err = withMetrics(context.Background(), addr, reg, func(ctx context.Context) error {
		metrics = get(t, "http://"+addr+"/metrics")
		health = get(t, "http://"+addr+"/healthz")
		unknown = get(t, "http://"+addr+"/nope")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics, "votestream_test_marker_total 1") || !strings.Contains(health, `"ok"`) ||
		!strings.Contains(unknown, `"NOT_FOUND"`) {
		t.Fatalf("metrics %q\nhealthz %q\nunknown %q", metrics, health, unknown)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("the metrics listener still serves after the role returned")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
