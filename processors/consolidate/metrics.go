package consolidate

import "github.com/prometheus/client_golang/prometheus"

// metrics of the role. Names follow votestream_<role>_<what>.
type metrics struct {
	records      *prometheus.CounterVec // by input topic
	results      prometheus.Counter
	anomalies    *prometheus.CounterVec // by code
	deadLetters  *prometheus.CounterVec // by input topic
	transactions *prometheus.CounterVec // by outcome
	rebuild      prometheus.Histogram
	replayed     prometheus.Counter
	stations     prometheus.Gauge
	misplaced    *prometheus.CounterVec // by input topic
}

func newMetrics() *metrics {
	return &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_consolidate_records_total", Help: "Input records consumed and applied, by topic.",
		}, []string{"topic"}),
		results: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votestream_consolidate_results_total", Help: "Station results published.",
		}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_consolidate_anomalies_total", Help: "Anomalies raised, by code.",
		}, []string{"code"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_consolidate_dead_letters_total", Help: "Input records sent to the dead-letter topic, by source topic.",
		}, []string{"topic"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_consolidate_transactions_total", Help: "Kafka transactions ended, by outcome (committed, aborted).",
		}, []string{"outcome"}),
		rebuild: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "votestream_consolidate_rebuild_seconds", Help: "Time to rebuild state from Kafka after an assignment.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votestream_consolidate_replayed_records_total", Help: "Input records read back to rebuild state.",
		}),
		stations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_consolidate_partitions_held", Help: "Input partitions whose state this process holds.",
		}),
		misplaced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_consolidate_misplaced_records_total",
			Help: "Input records applied or replayed on another partition than their constituency's (a producer without internal/partition), by topic.",
		}, []string{"topic"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.records, m.results, m.anomalies, m.deadLetters, m.transactions, m.rebuild, m.replayed, m.stations, m.misplaced}
}
