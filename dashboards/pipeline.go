package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// PipelineUID is the pipeline-health dashboard's uid (its URL is /d/votestream-pipeline).
const PipelineUID = "votestream-pipeline"

// The Prometheus data source of the deployment (deploy/grafana/datasources), which scrapes
// every role (deploy/prometheus.yml) and evaluates deploy/alerts.yml.
const (
	PrometheusUID  = "votestream-prometheus"
	PrometheusType = "prometheus"
)

// PromQuery is one pipeline-health panel's PromQL, named so tests check the metrics and
// labels it uses against those the roles register.
type PromQuery struct {
	Title  string
	Expr   string
	Legend string // legendFormat; "" for a table
	Unit   string
	Table  bool // an instant query shown as a table
}

// The pipeline-health panels' queries.
var (
	IngestRequests = PromQuery{
		Title:  "Ingest: HTTP requests per second, by status",
		Expr:   `sum by (code) (rate(votestream_ingest_requests_total[$__rate_interval]))`,
		Legend: "{{code}}", Unit: "reqps",
	}
	IngestOutcomes = PromQuery{
		Title:  "Ingest: items per second, accepted, duplicate or refused by code",
		Expr:   `sum by (kind, outcome) (rate(votestream_ingest_items_total[$__rate_interval]))`,
		Legend: "{{kind}} {{outcome}}", Unit: "ops",
	}
	ConsumerLag = PromQuery{
		Title:  "Consumer lag per role (group) and topic",
		Expr:   `max by (group, topic) (votestream_kafka_consumer_lag_records)`,
		Legend: "{{group}} {{topic}}", Unit: "none",
	}
	FeedLag = PromQuery{
		Title:  "Feed: records behind, per process and topic",
		Expr:   `max by (instance, topic) (votestream_feed_consume_lag_records)`,
		Legend: "{{instance}} {{topic}}", Unit: "none",
	}
	EstimateAge = PromQuery{
		Title:  "Ingest to feed: age of the newest data in the published estimate",
		Expr:   `time() - max(votestream_feed_estimate_data_time_seconds)`,
		Legend: "age", Unit: "s",
	}
	RecomputeP99 = PromQuery{
		Title:  "Estimate: recompute time, p99",
		Expr:   `histogram_quantile(0.99, sum by (le) (rate(votestream_estimate_recompute_seconds_bucket[$__rate_interval])))`,
		Legend: "p99", Unit: "s",
	}
	SinkRows = PromQuery{
		Title:  "Sink: rows written to ClickHouse per second, by table",
		Expr:   `sum by (table) (rate(votestream_sink_rows_total[$__rate_interval]))`,
		Legend: "{{table}}", Unit: "rowsps",
	}
	SinkInsertErrors = PromQuery{
		Title:  "Sink: failed inserts per second, by table",
		Expr:   `sum by (table) (rate(votestream_sink_insert_errors_total[$__rate_interval]))`,
		Legend: "{{table}}", Unit: "ops",
	}
	DeadLetters = PromQuery{
		Title: "Dead letters per minute, by role",
		Expr: `label_replace(sum(rate(votestream_consolidate_dead_letters_total[$__rate_interval])) * 60, "role", "consolidate", "", "")
or label_replace(sum(rate(votestream_sink_dead_letters_total[$__rate_interval])) * 60, "role", "sink", "", "")
or label_replace(sum(rate(votestream_estimate_records_total{outcome="dead_letter"}[$__rate_interval])) * 60, "role", "estimate", "", "")`,
		Legend: "{{role}}", Unit: "none",
	}
	FiringAlerts = PromQuery{
		Title: "Alerts firing or pending (deploy/alerts.yml)",
		Expr:  `ALERTS`,
		Table: true,
	}
)

// PipelineQueries lists the pipeline-health queries in panel order.
func PipelineQueries() []PromQuery {
	return []PromQuery{FiringAlerts, IngestRequests, IngestOutcomes, ConsumerLag, FeedLag, EstimateAge, RecomputeP99, SinkRows, SinkInsertErrors, DeadLetters}
}

func promDatasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr(PrometheusType), Uid: cog.ToPtr(PrometheusUID)}
}

func promTarget(q PromQuery) *prometheus.DataqueryBuilder {
	b := prometheus.NewDataqueryBuilder().RefId("A").Datasource(promDatasource()).Expr(q.Expr)
	if q.Table {
		return b.Instant().Format(prometheus.PromQueryFormatTable)
	}
	return b.Range().LegendFormat(q.Legend)
}

// Pipeline builds the "Pipeline health" dashboard: the roles' Prometheus metrics and the
// alerts of deploy/alerts.yml, for whoever keeps the pipeline running.
func Pipeline() (dashboard.Dashboard, error) {
	b := newDashboard(PipelineUID, "Pipeline health",
		"Is every role keeping up? Ingest, consumer lag per role and topic, the estimate's age at the feed, the ClickHouse sink, dead letters, and the alerts of deploy/alerts.yml (Prometheus data source).")
	b.WithPanel(table.NewPanelBuilder().
		Id(1).Title(FiringAlerts.Title).
		Description("Every alert Prometheus holds now, with its labels; alertstate is pending until its `for` has passed. The rules are deploy/alerts.yml; the runbook explains each.").
		Datasource(promDatasource()).WithTarget(promTarget(FiringAlerts)).
		OverrideByRegexp("^(Time|Value|__name__)$", []dashboard.DynamicConfigValue{{Id: "custom.hidden", Value: true}}).
		Height(6).Span(24))
	id := uint32(2)
	for _, q := range PipelineQueries()[1:] {
		b.WithPanel(timeseries.NewPanelBuilder().
			Id(id).Title(q.Title).
			Datasource(promDatasource()).WithTarget(promTarget(q)).
			Legend(legend()).Tooltip(tooltip()).
			Min(0).Unit(q.Unit).
			Height(8).Span(12))
		id++
	}
	return b.Build()
}
