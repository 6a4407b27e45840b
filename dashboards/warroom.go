package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/barchart"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"votestream/dashboards/live"
)

// WarRoomUID is the war-room dashboard's uid (its URL is /d/votestream-war-room).
const WarRoomUID = "votestream-war-room"

// The war-room panels' SQL. Statuses and call states are listed in full with arrayJoin and
// a left join so a bar stays on the chart at zero instead of disappearing.
var (
	// StationsReported: per ballot, stations whose current result counts (is not
	// disputed), placed at the minute of their first countable result and summed up; the
	// last point equals the "reported" figure of the status panel. Cumulated with
	// arrayCumSum over a sorted array because 18.16 has no window functions.
	StationsReported = Query{
		Name:   "stations_reported",
		Title:  "Stations reported, by ballot",
		Format: FormatTimeSeries,
		SQL: `SELECT t AS time, ballot, s AS stations
FROM (
    SELECT
        ballot,
        arraySort(groupArray((minute, n))) AS steps,
        arrayMap(x -> x.1, steps) AS ts,
        arrayCumSum(arrayMap(x -> x.2, steps)) AS ss
    FROM (
        SELECT ballot, minute, count() AS n
        FROM (
            SELECT
                station_id,
                ballot,
                toStartOfMinute(minIf(updated_at, status != 'disputed')) AS minute,
                argMax(status, version) AS current_status
            FROM station_results
            GROUP BY station_id, ballot
            HAVING current_status != 'disputed'
        )
        GROUP BY ballot, minute
    )
    GROUP BY ballot
)
ARRAY JOIN ts AS t, ss AS s
WHERE $__timeFilter(t)
ORDER BY time, ballot`,
	}

	// ReportsPerMinute: volunteer reports accepted by ingest per minute, by stage; a
	// re-delivered report is counted once.
	ReportsPerMinute = Query{
		Name:   "reports_per_minute",
		Title:  "Reports per minute, by stage",
		Format: FormatTimeSeries,
		SQL: `SELECT toStartOfMinute(received_at) AS time, stage, uniqExact(submission_id) AS reports
FROM submissions
WHERE $__timeFilter(received_at)
GROUP BY time, stage
ORDER BY time, stage`,
	}

	// StationsByStatus: current results per status and ballot, then the reference
	// stations that have no result at all for that ballot.
	StationsByStatus = Query{
		Name:   "stations_by_status",
		Title:  "Stations by status",
		Format: FormatTable,
		SQL: `SELECT status, constituency, partylist
FROM (
    SELECT status, constituency, partylist
    FROM (SELECT arrayJoin(['provisional', 'corroborated', 'disputed', 'verified']) AS status) AS s
    ANY LEFT JOIN (
        SELECT
            status,
            countIf(ballot = 'constituency') AS constituency,
            countIf(ballot = 'partylist') AS partylist
        FROM station_results_current
        GROUP BY status
    ) AS r USING status
    UNION ALL
    SELECT
        'no result' AS status,
        countIf(station_id NOT IN (SELECT station_id FROM station_results WHERE ballot = 'constituency')) AS constituency,
        countIf(station_id NOT IN (SELECT station_id FROM station_results WHERE ballot = 'partylist')) AS partylist
    FROM stations FINAL
)
ORDER BY indexOf(['provisional', 'corroborated', 'disputed', 'verified', 'no result'], status)`,
	}

	// AnomaliesByCode: flags raised in the time range per code, split by severity; a
	// re-delivered flag has the same anomaly_id and is counted once.
	AnomaliesByCode = Query{
		Name:   "anomalies_by_code",
		Title:  "Anomalies by code and severity",
		Format: FormatTable,
		SQL: `SELECT
    code,
    uniqExactIf(anomaly_id, severity = 'hard') AS hard,
    uniqExactIf(anomaly_id, severity = 'soft') AS soft,
    uniqExactIf(anomaly_id, severity = 'info') AS info
FROM anomalies
WHERE $__timeFilter(detected_at)
GROUP BY code
ORDER BY hard + soft + info DESC, code`,
	}

	// DisputedStations: current disputed results, newest input first, with the codes
	// consolidate holds open on them.
	DisputedStations = Query{
		Name:   "disputed_stations",
		Title:  "Disputed stations, latest first",
		Format: FormatTable,
		SQL: `SELECT
    updated_at,
    station_id,
    constituency_id,
    ballot,
    arrayStringConcat(anomalies, ' ') AS codes,
    length(source_submission_ids) AS sources,
    arrayStringConcat(arrayDistinct(source_orgs), ', ') AS orgs,
    version
FROM station_results_current
WHERE status = 'disputed'
ORDER BY updated_at DESC, station_id, ballot
LIMIT 100`,
	}

	// PartyShares: the latest estimate's party-list shares with their 95 % intervals.
	PartyShares = Query{
		Name:   "party_shares",
		Title:  "Party-list: projected share with 95 % interval",
		Format: FormatTable,
		SQL: `SELECT
    party_no,
    if(name_th = '', concat('party ', toString(party_no)), name_th) AS party,
    share,
    share_lo,
    share_hi,
    counted_votes,
    projected_votes
FROM estimate_parties_latest
ANY LEFT JOIN (SELECT party_no, name_th FROM parties FINAL) AS p USING party_no
ORDER BY share DESC, party_no`,
	}

	// ProjectedSeats: per party, projected party-list seats plus the constituencies where
	// its candidate is the projected leader. leader_no is a candidate number, which is not
	// the party number: the candidates table maps one to the other.
	ProjectedSeats = Query{
		Name:   "projected_seats",
		Title:  "Projected seats",
		Format: FormatTable,
		SQL: `SELECT
    if(name_th = '', concat('party ', toString(party_no)), name_th) AS party,
    list_seats,
    constituency_seats
FROM (
    SELECT party_no, sum(l) AS list_seats, sum(k) AS constituency_seats
    FROM (
        SELECT party_no, toUInt64(seats) AS l, toUInt64(0) AS k
        FROM estimate_parties_latest
        UNION ALL
        SELECT party_no, toUInt64(0) AS l, toUInt64(1) AS k
        FROM (
            SELECT constituency_id, leader_no AS candidate_no
            FROM estimate_constituencies_latest
            WHERE leader_no > 0
        ) AS e
        ANY INNER JOIN (SELECT constituency_id, candidate_no, party_no FROM candidates FINAL) AS c
        USING constituency_id, candidate_no
    )
    GROUP BY party_no
) AS s
ANY LEFT JOIN (SELECT party_no, name_th FROM parties FINAL) AS p USING party_no
WHERE list_seats + constituency_seats > 0
ORDER BY list_seats + constituency_seats DESC, party_no`,
	}

	// CallStates: constituencies of the latest estimate per call state.
	CallStates = Query{
		Name:   "call_states",
		Title:  "Constituencies by call",
		Format: FormatTable,
		SQL: `SELECT call, constituencies
FROM (SELECT arrayJoin(['too_early', 'leading', 'likely', 'called']) AS call) AS s
ANY LEFT JOIN (
    SELECT call, count() AS constituencies
    FROM estimate_constituencies_latest
    GROUP BY call
) AS r USING call
ORDER BY indexOf(['too_early', 'leading', 'likely', 'called'], call)`,
	}

	// IngestLag: per estimate run, how old the newest report it reflects was when it was
	// published (data_time is the received_at of the newest input). The tables carry no
	// other processing time, so this is the end-to-end lag from ingest to a published
	// result; it also grows when no reports arrive.
	IngestLag = Query{
		Name:   "ingest_lag",
		Title:  "Ingest-to-result lag (estimate runs)",
		Format: FormatTimeSeries,
		SQL: `SELECT computed_at AS time, toInt64(computed_at) - toInt64(data_time) AS lag_seconds
FROM estimates FINAL
WHERE $__timeFilter(computed_at)
ORDER BY time`,
	}
)

// WarRoomQueries lists the war room's queries in panel order.
func WarRoomQueries() []Query {
	return []Query{
		StationsReported, ReportsPerMinute,
		StationsByStatus, AnomaliesByCode, CallStates,
		PartyShares, ProjectedSeats,
		DisputedStations, IngestLag,
	}
}

// The war room's live panels: queries on votestream's own data source (dashboards/plugin),
// which reads Kafka and pushes each new estimate to the panel as it is published.
var (
	LiveShares    = live.Query{QueryType: live.Shares, Top: LiveSharesTop}
	LiveReporting = live.Query{QueryType: live.Reporting}
	LiveSeats     = live.Query{QueryType: live.Seats}
)

// LiveSharesTop is how many parties the live share chart draws: the leaders by latest
// share. With about 70 parties on the ballot, all of them with bands is unreadable.
const LiveSharesTop = 8

// WarRoomLiveQueries lists the war room's live queries in panel order.
func WarRoomLiveQueries() []live.Query { return []live.Query{LiveShares, LiveReporting, LiveSeats} }

// WarRoom builds the "War room: election night" dashboard.
func WarRoom() (dashboard.Dashboard, error) {
	b := newDashboard(WarRoomUID, "War room: election night",
		"The night at a glance: the live estimate on top (votestream live data source, from Kafka), then reporting progress, result quality and the latest estimate from ClickHouse.")
	b.WithPanel(timeseries.NewPanelBuilder().
		Id(10).Title("Party-list share with 95 % interval (live)").
		Description("Each estimate run as it is published: the share of the valid party-list votes of the leading parties, each with its 95 % interval as a band in the party's colour.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(LiveShares)).
		Legend(legend()).Tooltip(tooltip()).
		Unit("percentunit").Decimals(1).Min(0).
		ShowPoints(common.VisibilityModeNever).
		Height(10).Span(14))
	b.WithPanel(stat.NewPanelBuilder().
		Id(11).Title("Stations reported (live)").
		Description("Party-list ballot, whole country: stations whose result the latest estimate counts (disputed ones are not), of all stations; the line is the night so far.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(LiveReporting)).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields("/^stations_(reported|total)$/")).
		GraphMode(common.BigValueGraphModeArea).TextMode(common.BigValueTextModeValueAndName).
		ColorMode(common.BigValueColorModeNone).
		Decimals(0).Unit("none").
		Height(5).Span(10))
	b.WithPanel(barchart.NewPanelBuilder().
		Id(12).Title("Projected seats (live)").
		Description("Latest estimate as it is published: party-list seats, and constituencies where the party's candidate leads (counted only when the data source has the reference data folder).").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(LiveSeats)).
		Legend(legend()).Tooltip(tooltip()).
		XField("party").Stacking(common.StackingModeNormal).ShowValue(common.VisibilityModeAuto).
		OverrideByRegexp("^(party_no|seats)$", []dashboard.DynamicConfigValue{hidden()}).
		Height(5).Span(10))
	b.WithPanel(timeseries.NewPanelBuilder().
		Id(1).Title(StationsReported.Title).
		Description("Stations whose current result counts (not disputed), by the minute of their first countable result.").
		Datasource(datasource()).WithTarget(NewTarget(StationsReported)).
		Legend(legend()).Tooltip(tooltip()).
		LineInterpolation(common.LineInterpolationStepAfter).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(true)}).
		Min(0).Decimals(0).Unit("none").
		Height(8).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Id(2).Title(ReportsPerMinute.Title).
		Description("Volunteer reports accepted by ingest per minute; progress = tally board, final = signed count form.").
		Datasource(datasource()).WithTarget(NewTarget(ReportsPerMinute)).
		Legend(legend()).Tooltip(tooltip()).
		DrawStyle(common.GraphDrawStyleBars).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		Min(0).Decimals(0).Unit("none").
		Height(8).Span(12))
	b.WithPanel(barchart.NewPanelBuilder().
		Id(3).Title(StationsByStatus.Title).
		Description("Current results by status and ballot; disputed stations count as unreported in estimates. 'no result': stations not heard from yet.").
		Datasource(datasource()).WithTarget(NewTarget(StationsByStatus)).
		Legend(legend()).Tooltip(tooltip()).
		XField("status").ShowValue(common.VisibilityModeAuto).
		Height(8).Span(8))
	b.WithPanel(barchart.NewPanelBuilder().
		Id(4).Title(AnomaliesByCode.Title).
		Description("Flags raised in the time range; a hard one disputes the result.").
		Datasource(datasource()).WithTarget(NewTarget(AnomaliesByCode)).
		Legend(legend()).Tooltip(tooltip()).
		XField("code").Orientation(common.VizOrientationHorizontal).
		Stacking(common.StackingModeNormal).
		Height(8).Span(8))
	b.WithPanel(barchart.NewPanelBuilder().
		Id(5).Title(CallStates.Title).
		Description("Constituencies in the latest estimate by call: too early, leading, likely, called (no remaining ballots can change it).").
		Datasource(datasource()).WithTarget(NewTarget(CallStates)).
		Legend(legend()).Tooltip(tooltip()).
		XField("call").ShowValue(common.VisibilityModeAuto).
		Height(8).Span(8))
	b.WithPanel(table.NewPanelBuilder().
		Id(6).Title(PartyShares.Title).
		Description("Latest estimate: share of valid party-list votes with its 95 % interval, votes counted and projected.").
		Datasource(datasource()).WithTarget(NewTarget(PartyShares)).
		OverrideByRegexp("^share", []dashboard.DynamicConfigValue{
			{Id: "unit", Value: "percentunit"},
			{Id: "decimals", Value: 1},
		}).
		Height(10).Span(12))
	b.WithPanel(barchart.NewPanelBuilder().
		Id(7).Title(ProjectedSeats.Title).
		Description("Latest estimate: party-list seats plus constituencies where the party's candidate leads.").
		Datasource(datasource()).WithTarget(NewTarget(ProjectedSeats)).
		Legend(legend()).Tooltip(tooltip()).
		XField("party").Stacking(common.StackingModeNormal).ShowValue(common.VisibilityModeAuto).
		Height(10).Span(12))
	b.WithPanel(table.NewPanelBuilder().
		Id(8).Title(DisputedStations.Title).
		Description("Current disputed results, newest input first, with the anomaly codes held open. Click a constituency for its dashboard.").
		Datasource(datasource()).WithTarget(NewTarget(DisputedStations)).
		OverrideByName("constituency_id", []dashboard.DynamicConfigValue{constituencyLink()}).
		Height(10).Span(16))
	b.WithPanel(timeseries.NewPanelBuilder().
		Id(9).Title(IngestLag.Title).
		Description("Per estimate run: computed_at minus data_time, the age of the newest ingested report it reflects. Grows in quiet periods too.").
		Datasource(datasource()).WithTarget(NewTarget(IngestLag)).
		Legend(legend()).Tooltip(tooltip()).
		Min(0).Unit("s").ShowPoints(common.VisibilityModeAlways).
		Height(10).Span(8))
	return b.Build()
}

// newDashboard sets what both dashboards share: Bangkok time, the election-night window,
// a refresh rate a war room can live with, and tooltips shared across panels.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"votestream"}).
		Timezone("Asia/Bangkok").
		Time("now-6h", "now").
		Refresh("30s").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly()
}

// legend shows series names under the chart (the SDK's default hides it).
func legend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		ShowLegend(true).
		DisplayMode(common.LegendDisplayModeList).
		Placement(common.LegendPlacementBottom)
}

// tooltip shows every series at the hovered time or bar.
func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().
		Mode(common.TooltipDisplayModeMulti).
		Sort(common.SortOrderNone)
}

// hidden keeps a field out of the chart, its legend and tooltip (it stays in the data).
func hidden() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "custom.hideFrom", Value: map[string]bool{"legend": true, "tooltip": true, "viz": true}}
}

// constituencyLink makes a constituency cell open the constituency dashboard on it,
// keeping the time range.
func constituencyLink() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "links", Value: []map[string]any{{
		"title": "Constituency ${__value.raw}",
		"url":   "/d/" + ConstituencyUID + "?var-constituency=${__value.raw}&${__url_time_range}",
	}}}
}
