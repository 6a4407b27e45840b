package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/barchart"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"

	"votestream/dashboards/live"
)

// AnomaliesUID is the anomalies dashboard's uid (its URL is /d/votestream-anomalies).
const AnomaliesUID = "votestream-anomalies"

// ConsoleVariable holds the review console's address (package console, `votestream
// console`); a station id opens the station's page there. DefaultConsoleURL is the
// console's default listen address, which `votestream up` uses.
const (
	ConsoleVariable   = "console"
	DefaultConsoleURL = "http://127.0.0.1:8070"
)

// The anomalies dashboard's queries, all on the live data source: what is open now (an
// anomaly stands while the current result of its station still lists its code), moving as
// flags are raised and results clear them.
var (
	OpenByCode         = live.Query{QueryType: live.AnomalyCounts, GroupBy: live.ByCode}
	OpenByAge          = live.Query{QueryType: live.AnomalyCounts, GroupBy: live.ByAge}
	OpenByConstituency = live.Query{QueryType: live.AnomalyCounts, GroupBy: live.ByConstituency}
	OpenAnomalies      = live.Query{QueryType: live.Anomalies}
)

// AnomaliesLiveQueries lists the anomalies dashboard's queries in panel order.
func AnomaliesLiveQueries() []live.Query {
	return []live.Query{OpenByCode, OpenByAge, OpenByConstituency, OpenAnomalies}
}

// Anomalies builds the "Open anomalies" dashboard: every open flag, none left out (tables
// page through them), counted by code, age and constituency.
func Anomalies() (dashboard.Dashboard, error) {
	b := newDashboard(AnomaliesUID, "Open anomalies",
		"Every anomaly still open, live from Kafka (votestream live data source): counted by code, age and constituency, then listed in full, oldest first.")
	b.WithVariable(consoleVariable())
	b.WithPanel(barchart.NewPanelBuilder().
		Id(1).Title("Open anomalies by code").
		Description("Every code of the catalogue, open flags stacked hard / soft / info. A hard one disputes its result.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(OpenByCode)).
		Legend(legend()).Tooltip(tooltip()).
		XField("code").Orientation(common.VizOrientationHorizontal).Stacking(common.StackingModeNormal).
		OverrideByName("total", []dashboard.DynamicConfigValue{hidden()}).
		Height(10).Span(12))
	b.WithPanel(barchart.NewPanelBuilder().
		Id(2).Title("Open anomalies by age").
		Description("Time since each open flag was raised; the old ones are the ones nobody has looked at.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(OpenByAge)).
		Legend(legend()).Tooltip(tooltip()).
		XField("age").Stacking(common.StackingModeNormal).ShowValue(common.VisibilityModeAuto).
		OverrideByName("total", []dashboard.DynamicConfigValue{hidden()}).
		Height(10).Span(12))
	b.WithPanel(table.NewPanelBuilder().
		Id(3).Title("Open anomalies by constituency").
		Description("Every constituency with an open flag, most first. Click one for its dashboard.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(OpenByConstituency)).
		Footer(common.NewTableFooterOptionsBuilder().EnablePagination(true)).
		OverrideByName("constituency_id", []dashboard.DynamicConfigValue{constituencyLink()}).
		Height(12).Span(8))
	b.WithPanel(table.NewPanelBuilder().
		Id(4).Title("Open anomalies, oldest first").
		Description("Every open flag, paged, none left out: when, how long ago, code, severity, station (opens it in the review console) and ballot, constituency (links to its dashboard), volunteer, message.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(OpenAnomalies)).
		Footer(common.NewTableFooterOptionsBuilder().EnablePagination(true)).
		OverrideByName("constituency_id", []dashboard.DynamicConfigValue{constituencyLink()}).
		OverrideByName("station_id", []dashboard.DynamicConfigValue{consoleLink()}).
		Height(12).Span(16))
	return b.Build()
}

// consoleVariable is the review console's address, for consoleLink.
func consoleVariable() *dashboard.TextBoxVariableBuilder {
	return dashboard.NewTextBoxVariableBuilder(ConsoleVariable).
		Label("Review console").
		Description("Address of the review console; a station id opens the station there, where a district lead or the war room settles it.").
		DefaultValue(dashboard.StringOrMap{String: cog.ToPtr(DefaultConsoleURL)}).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(DefaultConsoleURL)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(DefaultConsoleURL)},
		})
}

// consoleLink makes a station cell open the station's page in the review console.
func consoleLink() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "links", Value: []map[string]any{{
		"title":       "Station ${__value.raw} in the review console",
		"url":         "${" + ConsoleVariable + "}/#/station/${__value.raw}",
		"targetBlank": true,
	}}}
}
