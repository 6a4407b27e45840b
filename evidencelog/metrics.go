package evidencelog

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	leaves        *prometheus.CounterVec // by topic and outcome (appended, duplicate, unreadable)
	treeSize      prometheus.Gauge
	checkpoint    prometheus.Gauge
	cosigned      prometheus.Gauge
	inclusion     prometheus.Histogram
	round         prometheus.Histogram
	stage         *prometheus.HistogramVec // where a leaf's inclusion time goes
	cosignatures  *prometheus.CounterVec   // by outcome
	publishErrors prometheus.Counter
	pushes        *prometheus.CounterVec // by witness and outcome
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		leaves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_evidencelog_records_total",
			Help: "Kafka records read by the log writer, by topic and outcome: appended (a new leaf), duplicate (its leaf was already in the log), unreadable (logged as a record.v1 leaf of its bytes).",
		}, []string{"topic", "outcome"}),
		treeSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_evidencelog_integrated_leaves", Help: "Leaves integrated into the Merkle tree (committed to by the next checkpoint).",
		}),
		checkpoint: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_evidencelog_checkpoint_size", Help: "Size of the newest signed checkpoint.",
		}),
		cosigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votestream_evidencelog_cosigned_size", Help: "Size of the newest checkpoint a witness cosigned.",
		}),
		inclusion: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "votestream_evidencelog_inclusion_seconds",
			Help:    "From a record's Kafka timestamp (ingest sets it when it accepts the report) to the first signed checkpoint that commits to its leaf.",
			Buckets: []float64{0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 20, 30, 60, 120},
		}),
		round: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "votestream_evidencelog_round_seconds",
			Help:    "From a group's integration to its leaf index synced and offsets committed.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "votestream_evidencelog_stage_seconds",
			Help:    "Where a leaf's time from Kafka to a checkpoint goes, per leaf and stage: read (Kafka timestamp to leaf built), queued (built to handed to Tessera), integrated (handed to on disk in the tree), checkpoint (integrated to the first signed checkpoint covering it).",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30},
		}, []string{"stage"}),
		cosignatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_evidencelog_cosignatures_total", Help: "Cosigned checkpoints witnesses posted, by outcome (accepted, refused).",
		}, []string{"outcome"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votestream_evidencelog_witness_pushes_total",
			Help: "Checkpoint pushes to witnesses (C2SP tlog-witness), by witness and outcome: cosigned, size_conflict (pushed again from the size the witness names), error (retried with back-off), refused.",
		}, []string{"witness", "outcome"}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votestream_evidencelog_publish_errors_total", Help: "Checkpoints that could not be produced to checkpoints.v1.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.leaves, m.treeSize, m.checkpoint, m.cosigned, m.inclusion, m.round, m.stage, m.cosignatures, m.publishErrors, m.pushes)
	}
	return m
}
