package health

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"votestream/internal/backoff"
)

func newTestSet(t *testing.T) (*Set, *bytes.Buffer, *prometheus.Registry) {
	t.Helper()
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	s, err := NewSet("sink", slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})), reg)
	if err != nil {
		t.Fatal(err)
	}
	return s, &logs, reg
}

// TestOneLogLinePerChangeOfState: a hundred failures in a row are one "waiting" line, the
// recovery one "recovered" line; the gauge and readiness follow.
func TestOneLogLinePerChangeOfState(t *testing.T) {
	s, logs, _ := newTestSet(t)
	ch := s.Dependency("clickhouse")
	if err := s.Ready(); err != nil {
		t.Fatalf("ready before any failure: %v", err)
	}
	for range 100 {
		ch.Down(errors.New("connection refused"))
	}
	if got := value(t, s.up.WithLabelValues("clickhouse")); got != 0 {
		t.Errorf("gauge %v while down, want 0", got)
	}
	err := s.Ready()
	if !errors.Is(err, ErrDown) || !strings.Contains(err.Error(), "clickhouse") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Ready while down: %v", err)
	}
	for range 5 {
		ch.Up()
	}
	if err := s.Ready(); err != nil {
		t.Errorf("Ready after recovery: %v", err)
	}
	if got := value(t, s.up.WithLabelValues("clickhouse")); got != 1 {
		t.Errorf("gauge %v after recovery, want 1", got)
	}
	if got := value(t, s.outages.WithLabelValues("clickhouse")); got != 1 {
		t.Errorf("outages %v, want 1", got)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "waiting for clickhouse") || !strings.Contains(lines[1], "clickhouse recovered") {
		t.Errorf("log lines:\n%s\nwant one waiting and one recovered", logs.String())
	}
}

func TestWaitRidesOutFailuresAndReports(t *testing.T) {
	s, logs, _ := newTestSet(t)
	kafka := s.Dependency("kafka")
	calls := 0
	var readyDuring error
	err := kafka.Wait(context.Background(), backoff.Exponential(time.Microsecond, time.Millisecond), func(context.Context) error {
		calls++
		if calls == 5 {
			readyDuring = s.Ready()
		}
		if calls < 20 {
			return errors.New("NOT_COORDINATOR")
		}
		return nil
	})
	if err != nil || calls != 20 {
		t.Fatalf("Wait: %v after %d calls", err, calls)
	}
	if !errors.Is(readyDuring, ErrDown) {
		t.Errorf("Ready during the outage: %v, want ErrDown", readyDuring)
	}
	if up, _, _ := kafka.State(); !up {
		t.Error("still down after success")
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Errorf("%d log lines at info level for one outage, want 2:\n%s", n, logs.String())
	}
}

func TestWaitLeavesStateAloneOnPermanentError(t *testing.T) {
	s, _, _ := newTestSet(t)
	d := s.Dependency("kafka")
	bad := errors.New("topic missing")
	err := d.Wait(context.Background(), backoff.Exponential(time.Microsecond, time.Microsecond), func(context.Context) error {
		return backoff.Permanent(bad)
	})
	if err != bad {
		t.Fatalf("Wait: %v, want the permanent error", err)
	}
	if up, _, _ := d.State(); !up {
		t.Error("a permanent error (the service answered) marked the dependency down")
	}
}

func TestWaitBoundedGivesUpDown(t *testing.T) {
	s, _, _ := newTestSet(t)
	d := s.Dependency("clickhouse")
	err := d.Wait(context.Background(), backoff.Exponential(time.Microsecond, time.Microsecond).Attempts(3), func(context.Context) error {
		return errors.New("refused")
	})
	if !errors.Is(err, backoff.ErrExhausted) {
		t.Fatalf("Wait: %v, want ErrExhausted", err)
	}
	if up, _, _ := d.State(); up {
		t.Error("up after giving up")
	}
}

func TestMetricsRegistered(t *testing.T) {
	s, _, reg := newTestSet(t)
	s.Dependency("kafka").Down(errors.New("x"))
	mfs, err := reg.Gather()
	names := map[string]int{}
	for _, mf := range mfs {
		names[mf.GetName()] = len(mf.GetMetric())
	}
	if err != nil || names["votestream_dependency_up"] != 1 || names["votestream_dependency_outages_total"] != 1 {
		t.Fatalf("gathered %v (%v), want one series of each", names, err)
	}
	if _, err := NewSet("sink", nil, reg); err == nil {
		t.Error("a second set of the same role registered into the same registry")
	}
}

// value reads a gauge's or counter's value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if g := pb.GetGauge(); g != nil {
		return g.GetValue()
	}
	return pb.GetCounter().GetValue()
}

// TestFlapAfterRecoveryIsOneOutage: failures just after a recovery (a cluster still electing
// leaders) move the gauge but log nothing new; a failure that lasts beyond FlapWindow is
// logged as the outage it is, and a failure well after the recovery is a new outage.
func TestFlapAfterRecoveryIsOneOutage(t *testing.T) {
	s, logs, _ := newTestSet(t)
	now := time.Date(2026, 5, 3, 20, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	k := s.Dependency("kafka")
	k.Down(errors.New("connection refused"))
	now = now.Add(30 * time.Second)
	k.Up()
	for range 3 { // flaps within the window
		now = now.Add(2 * time.Second)
		k.Down(errors.New("not acknowledged within 1s"))
		if got := value(t, s.up.WithLabelValues("kafka")); got != 0 {
			t.Errorf("gauge %v during a flap, want 0", got)
		}
		if s.Ready() == nil {
			t.Error("ready during a flap")
		}
		k.Up()
	}
	if got, want := logLines(logs), []string{"waiting for kafka", "kafka recovered"}; !equalPrefixes(got, want) {
		t.Fatalf("after flaps, log lines %q, want %q", got, want)
	}
	if got := value(t, s.outages.WithLabelValues("kafka")); got != 1 {
		t.Errorf("outages %v after flaps, want 1", got)
	}

	// A failure soon after the recovery that goes on: logged once it outlasts the window.
	now = now.Add(time.Second)
	k.Down(errors.New("broker gone"))
	now = now.Add(5 * time.Second)
	k.Down(errors.New("broker gone"))
	if n := len(logLines(logs)); n != 2 {
		t.Fatalf("a failure of 5 s just after recovering logged already: %q", logLines(logs))
	}
	now = now.Add(FlapWindow)
	k.Down(errors.New("broker gone"))
	k.Down(errors.New("broker gone"))
	now = now.Add(time.Minute)
	k.Up()
	// Much later, a new outage is logged at once.
	now = now.Add(time.Hour)
	k.Down(errors.New("connection refused"))
	k.Up()
	want := []string{"waiting for kafka", "kafka recovered", "waiting for kafka", "kafka recovered", "waiting for kafka", "kafka recovered"}
	if got := logLines(logs); !equalPrefixes(got, want) {
		t.Errorf("log lines %q, want %q", got, want)
	}
	if got := value(t, s.outages.WithLabelValues("kafka")); got != 3 {
		t.Errorf("outages %v, want 3", got)
	}
}

func logLines(logs *bytes.Buffer) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// equalPrefixes: each line contains the matching wanted text, and there are as many.
func equalPrefixes(lines, want []string) bool {
	if len(lines) != len(want) {
		return false
	}
	for i := range lines {
		if !strings.Contains(lines[i], want[i]) {
			return false
		}
	}
	return true
}
