package feed

import "github.com/prometheus/client_golang/prometheus"

// metrics of one Feed. Names follow votestream_feed_<what>.
type metrics struct {
	clients          *prometheus.GaugeVec   // by newsroom
	eventsSent       *prometheus.CounterVec // by type
	published        *prometheus.CounterVec // by type
	dropped          *prometheus.CounterVec // by reason
	refused          *prometheus.CounterVec // by reason
	cursorRefused    *prometheus.CounterVec // by reason
	changesServed    prometheus.Counter
	records          *prometheus.CounterVec // by topic and outcome
	lag              *prometheus.GaugeVec   // by topic
	requests         *prometheus.CounterVec // by endpoint and status code
	newsroomRequests *prometheus.CounterVec // by newsroom and outcome
	viewSeq          prometheus.Gauge
	ready            prometheus.Gauge
	estimateAge      prometheus.Gauge
	stationsCount    prometheus.Gauge
	// deliveryDelay: from an event's publication to its write to a client's socket.
	deliveryDelay prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		clients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "votestream_feed_clients_connected", Help: "Event streams open, by newsroom.",
		}, []string{"newsroom"}),
		eventsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_feed_events_sent_total", Help: "Events written to stream clients, by type (result, estimate, reset).",
		}, []string{"type"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_feed_events_published_total", Help: "Events put into the ring, by type.",
		}, []string{"type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_feed_clients_dropped_total", Help: "Stream clients cut off, by reason (lagging: too far behind; overrun: its events left the ring; write_failed: a write failed or timed out).",
		}, []string{"reason"}),
		cursorRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_feed_cursor_refused_total", Help: "Change cursors refused as expired, by reason (too_old, other_run).",
		}, []string{"reason"}),
		changesServed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votestream_feed_changes_served_total", Help: "Changes handed to pollers by /v1/feed/changes.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_feed_streams_refused_total", Help: "Event streams refused, by reason (too_many_streams).",
		}, []string{"reason"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_feed_records_total", Help: "Kafka records read, by topic (without prefix) and outcome (applied, stale, tombstone, rejected).",
		}, []string{"topic", "outcome"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "votestream_feed_consume_lag_records", Help: "Records behind the last stable offset, summed over partitions, by topic (without prefix), as of the last fetch.",
		}, []string{"topic"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_feed_requests_total", Help: "HTTP requests answered, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		newsroomRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_feed_newsroom_requests_total", Help: "Authenticated requests, by newsroom and outcome (allowed, rate_limited).",
		}, []string{"newsroom", "outcome"}),
		viewSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_feed_view_version", Help: "Number of the view's last change (the newest event id).",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_feed_ready", Help: "1 once the view has caught up with the topics and the API serves.",
		}),
		estimateAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_feed_estimate_data_time_seconds", Help: "data_time of the latest estimate held, as a Unix time.",
		}),
		stationsCount: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_feed_stations_reported", Help: "Stations reported on the party-list ballot (disputed ones not counted).",
		}),
		deliveryDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "votestream_feed_stream_delivery_seconds",
			Help:    "Per stream write: time from the newest event's publication in the ring to its bytes written to the client's socket (the feed's share of the fan-out).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 1.5, 24), // 0.5 ms .. about 5 s
		}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.clients, m.eventsSent, m.published, m.dropped, m.refused, m.cursorRefused, m.changesServed, m.records,
		m.lag, m.requests, m.newsroomRequests, m.viewSeq, m.ready, m.estimateAge, m.stationsCount, m.deliveryDelay}
}
