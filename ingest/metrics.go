package ingest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/httpserve"
)

// metrics are ingest's Prometheus series. Label values come from fixed sets (routes, status
// codes, error codes, topics), never from request data, so cardinality stays bounded.
type metrics struct {
	requests *prometheus.CounterVec   // route, code
	items    *prometheus.CounterVec   // kind, outcome (accepted, duplicate or an error code)
	produce  *prometheus.HistogramVec // kind: submission, review, official
	inflight prometheus.Gauge
	refusals *prometheus.CounterVec // outcome: published, suppressed (rate limit), dropped (Kafka)

	// Set once by the dedupe warm-up at start (warmDedupe).
	warmupIDs     prometheus.Gauge
	warmupSeconds prometheus.Gauge

	// The series every accepted item touches, looked up once (label hashing per request
	// showed in profiles).
	acceptedBy map[string]prometheus.Counter
	produceBy  map[string]prometheus.Observer
}

var itemKinds = []string{"submission", "review", "official", "incident"}

func newMetrics(reg prometheus.Registerer, buffered func() float64, dedupeLen func() float64) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "items_total",
			Help: "Submissions, reviews and official figures by outcome: accepted, duplicate, or the error code.",
		}, []string{"kind", "outcome"}),
		produce: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "produce_seconds",
			Help:    "Time from handing a record to the producer to Kafka's acknowledgement (or failure).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"kind"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "refusals_total",
			Help: "Refused requests on refusals.v1: published, suppressed by the per-source or global limit, or dropped (producer buffer full or Kafka error).",
		}, []string{"outcome"}),
		warmupIDs: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "dedupe_warmup_ids",
			Help: "Submission ids read back from Kafka into the dedupe store at start (0 when the warm-up is off).",
		}),
		warmupSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "dedupe_warmup_seconds",
			Help: "How long the dedupe warm-up at start took.",
		}),
	}
	m.acceptedBy, m.produceBy = map[string]prometheus.Counter{}, map[string]prometheus.Observer{}
	for _, k := range itemKinds {
		m.acceptedBy[k] = m.items.WithLabelValues(k, "accepted")
		m.produceBy[k] = m.produce.WithLabelValues(k)
	}
	reg.MustRegister(m.requests, m.items, m.produce, m.inflight, m.refusals, m.warmupIDs, m.warmupSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "kafka_buffered_records",
			Help: "Records buffered in the producer, not yet acknowledged by Kafka.",
		}, buffered),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "votestream", Subsystem: "ingest", Name: "dedupe_entries",
			Help: "Ids remembered for idempotent retries.",
		}, dedupeLen),
	)
	return m
}

// instrument counts a route's requests by status.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	var accepted prometheus.Counter // the routes that answer 202, looked up once
	if strings.HasPrefix(route, "/v1/") && !strings.HasPrefix(route, "/v1/evidence") {
		accepted = m.requests.WithLabelValues(route, "202")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inflight.Inc()
		defer m.inflight.Dec()
		sw := httpserve.NewRecorder(w)
		h.ServeHTTP(sw, r)
		status := sw.Status()
		if status == 0 {
			status = http.StatusOK
		}
		if status == http.StatusAccepted && accepted != nil {
			accepted.Inc()
			return
		}
		m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	})
}

func (m *metrics) observeProduce(kind string, start time.Time) {
	m.produceBy[kind].Observe(time.Since(start).Seconds())
}
