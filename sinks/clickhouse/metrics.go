package clickhouse

import "github.com/prometheus/client_golang/prometheus"

// metrics are one sink's series.
type metrics struct {
	records     prometheus.Counter
	deadLetters prometheus.Counter
	rows        *prometheus.CounterVec
	insertErrs  *prometheus.CounterVec
	insertSecs  *prometheus.HistogramVec

	pollSecs     prometheus.Histogram
	roundSecs    prometheus.Histogram
	roundRecords prometheus.Histogram
	commitSecs   prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "records_total",
			Help: "Kafka records stored and committed.",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "dead_letters_total",
			Help: "Records that could not be decoded or mapped, sent to the dead-letter topic.",
		}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "rows_total",
			Help: "Rows inserted, by table.",
		}, []string{"table"}),
		insertErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "insert_errors_total",
			Help: "Failed insert attempts, by table.",
		}, []string{"table"}),
		insertSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "insert_seconds",
			Help:    "Duration of one successful batch insert, by table.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}, []string{"table"}),
		pollSecs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "poll_seconds",
			Help:    "Time one poll of Kafka waited for records (while the previous round inserts).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		roundSecs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "round_seconds",
			Help:    "Duration of one insert round: every table's insert and the dead letters.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}),
		roundRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "round_records",
			Help:    "Records in one insert round (larger under a backlog, up to MaxInsertRecords).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		commitSecs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "votestream", Subsystem: "sink", Name: "commit_seconds",
			Help:    "From a round's offset commit being issued to the broker's answer (the next round inserts meanwhile).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.records, m.deadLetters, m.rows, m.insertErrs, m.insertSecs, m.pollSecs, m.roundSecs, m.roundRecords, m.commitSecs}
}

// Collectors returns the sink's metrics, for a caller that registers them itself (rather
// than through Config.Registerer).
func (s *Sink) Collectors() []prometheus.Collector { return s.metrics().collectors() }
