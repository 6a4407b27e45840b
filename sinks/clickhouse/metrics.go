package clickhouse

import "github.com/prometheus/client_golang/prometheus"

var (
	metricRecords = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "votestream", Subsystem: "sink", Name: "records_total",
		Help: "Kafka records stored and committed.",
	})
	metricDeadLetters = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "votestream", Subsystem: "sink", Name: "dead_letters_total",
		Help: "Records that could not be decoded or mapped, sent to the dead-letter topic.",
	})
	metricRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "votestream", Subsystem: "sink", Name: "rows_total",
		Help: "Rows inserted, by table.",
	}, []string{"table"})
	metricInsertErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "votestream", Subsystem: "sink", Name: "insert_errors_total",
		Help: "Failed insert attempts, by table.",
	}, []string{"table"})
	metricInsertSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "votestream", Subsystem: "sink", Name: "insert_seconds",
		Help:    "Duration of one successful batch insert, by table.",
		Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
	}, []string{"table"})
)

// Collectors returns the sink's metrics for the process's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{metricRecords, metricDeadLetters, metricRows, metricInsertErrors, metricInsertSeconds}
}
