package console

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	refused  *prometheus.CounterVec
	open     prometheus.Gauge
	rebuild  prometheus.Histogram
	failures prometheus.Counter
	forwards *prometheus.CounterVec

	auditFailures prometheus.Counter
	refusalsOut   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_console_refused_total", Help: "Refused attempts (authentication, role, scope, a decision's form), by error code; each is also logged with who, role, station, what and why.",
		}, []string{"code"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_console_queue_items", Help: "Open items in the review queue at the last rebuild.",
		}),
		rebuild: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "votestream_console_rebuild_seconds", Help: "Time to rebuild the queue from ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votestream_console_rebuild_failures_total", Help: "Queue rebuilds that failed (the previous queue stays served).",
		}),
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_console_forwarded_total", Help: "Decisions and official figures forwarded to ingest, by kind and ingest's status.",
		}, []string{"kind", "status"}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votestream_console_audit_failures_total", Help: "Audit records of privileged actions that ClickHouse did not take (each is logged whole instead).",
		}),
		refusalsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_console_refusals_total", Help: "Refused attempts on refusals.v1 (with --kafka): published, suppressed by the per-source or global limit, or dropped (producer buffer full or Kafka error).",
		}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.refused, m.open, m.rebuild, m.failures, m.forwards, m.auditFailures, m.refusalsOut)
	}
	return m
}
