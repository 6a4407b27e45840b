package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"

	"votestream/dashboards/live"
)

// ConstituencyUID is the constituency dashboard's uid; the war room links to it with
// ?var-constituency=<constituency_id>.
const ConstituencyUID = "votestream-constituency"

// ConstituencyVariable is the dashboard variable the constituency queries filter on.
const ConstituencyVariable = "constituency"

// The constituency dashboard's SQL; ${constituency:singlequote} is the chosen
// constituency_id.
var (
	// ConstituencyList fills the $constituency drop-down.
	ConstituencyList = Query{
		Name:   "constituency_list",
		Title:  "Constituency",
		Format: FormatTable,
		SQL:    `SELECT constituency_id FROM constituencies FINAL ORDER BY constituency_id`,
	}

	// ConstituencyProjection: the latest estimate's call for the constituency.
	ConstituencyProjection = Query{
		Name:   "constituency_projection",
		Title:  "Projection",
		Format: FormatTable,
		SQL: `SELECT
    call,
    leader_no,
    name AS leader,
    win_probability,
    stations_reported,
    stations_total,
    data_time
FROM (
    SELECT constituency_id, leader_no AS candidate_no, leader_no, call, win_probability,
        stations_reported, stations_total, data_time
    FROM estimate_constituencies_latest
    WHERE constituency_id = ${constituency:singlequote}
) AS e
ANY LEFT JOIN (
    SELECT constituency_id, candidate_no, name
    FROM candidates FINAL
    WHERE constituency_id = ${constituency:singlequote}
) AS c USING constituency_id, candidate_no`,
	}

	// ConstituencyStations: per ballot, stations with a countable result, disputed,
	// verified and final, against the stations of the reference data.
	ConstituencyStations = Query{
		Name:   "constituency_stations",
		Title:  "Stations reported",
		Format: FormatTable,
		SQL: `SELECT
    ballot,
    stations_reported,
    stations_disputed,
    stations_verified,
    stations_final,
    (SELECT count() FROM stations FINAL WHERE constituency_id = ${constituency:singlequote}) AS stations_total
FROM (SELECT arrayJoin(['constituency', 'partylist']) AS ballot) AS b
ANY LEFT JOIN (
    SELECT ballot, stations_reported, stations_disputed, stations_verified, stations_final
    FROM constituency_totals
    WHERE constituency_id = ${constituency:singlequote}
) AS t USING ballot
ORDER BY ballot`,
	}

	// ConstituencyCandidates: every candidate of the reference data with the votes counted
	// so far on non-disputed stations (live, from the current results) and the latest
	// estimate's projection.
	ConstituencyCandidates = Query{
		Name:   "constituency_candidates",
		Title:  "Candidates: counted and projected votes",
		Format: FormatTable,
		SQL: `SELECT
    candidate_no,
    name,
    if(name_th = '', concat('party ', toString(party_no)), name_th) AS party,
    counted_votes,
    projected_votes
FROM (
    SELECT candidate_no, name, party_no, counted_votes, projected_votes
    FROM (
        SELECT candidate_no, name, party_no, counted_votes
        FROM (
            SELECT candidate_no, name, party_no
            FROM candidates FINAL
            WHERE constituency_id = ${constituency:singlequote}
        ) AS c
        ANY LEFT JOIN (
            SELECT number AS candidate_no, votes AS counted_votes
            FROM constituency_votes
            WHERE constituency_id = ${constituency:singlequote} AND ballot = 'constituency'
        ) AS v USING candidate_no
    ) AS cv
    ANY LEFT JOIN (
        SELECT candidate_no, projected_votes
        FROM estimate_constituencies_latest
        ARRAY JOIN candidate_no, projected_votes
        WHERE constituency_id = ${constituency:singlequote}
    ) AS e USING candidate_no
) AS k
ANY LEFT JOIN (SELECT party_no, name_th FROM parties FINAL) AS p USING party_no
ORDER BY projected_votes DESC, counted_votes DESC, candidate_no`,
	}

	// ConstituencyAnomalies: the flags raised on the constituency's stations in the time
	// range, newest first.
	ConstituencyAnomalies = Query{
		Name:   "constituency_anomalies",
		Title:  "Anomalies",
		Format: FormatTable,
		SQL: `SELECT detected_at, station_id, ballot, code, severity, message
FROM anomalies FINAL
WHERE constituency_id = ${constituency:singlequote} AND $__timeFilter(detected_at)
ORDER BY detected_at DESC, station_id, code
LIMIT 200`,
	}
)

// The constituency dashboard's live queries (votestream live data source): the front end
// puts the chosen constituency for $constituency before the query reaches the plugin.
var (
	LiveConstituencyProjection = live.Query{QueryType: live.Constituencies, Constituency: "$" + ConstituencyVariable}
	LiveConstituencyCandidates = live.Query{QueryType: live.Candidates, Constituency: "$" + ConstituencyVariable}
	LiveConstituencyAnomalies  = live.Query{QueryType: live.Anomalies, Constituency: "$" + ConstituencyVariable}
)

// ConstituencyLiveQueries lists the constituency dashboard's live queries in panel order.
func ConstituencyLiveQueries() []live.Query {
	return []live.Query{LiveConstituencyProjection, LiveConstituencyCandidates, LiveConstituencyAnomalies}
}

// ConstituencyQueries lists the constituency dashboard's queries: the variable's, then the
// panels' in order.
func ConstituencyQueries() []Query {
	return []Query{
		ConstituencyList, ConstituencyProjection, ConstituencyStations,
		ConstituencyCandidates, ConstituencyAnomalies,
	}
}

// Constituency builds the "Constituency" dashboard, one constituency at a time.
func Constituency() (dashboard.Dashboard, error) {
	b := newDashboard(ConstituencyUID, "Constituency",
		"One constituency for its district lead: live on top (projection, candidates, open anomalies, from Kafka through the votestream live data source), then stations reported, counted votes and the anomalies of the time range from ClickHouse.")
	b.WithVariable(dashboard.NewQueryVariableBuilder(ConstituencyVariable).
		Label("Constituency").
		Datasource(datasource()).
		// A plain SQL string: every version of the plugin's variable editor accepts it.
		Query(dashboard.StringOrMap{String: cog.ToPtr(ConstituencyList.SQL)}).
		Definition(ConstituencyList.SQL).
		Refresh(dashboard.VariableRefreshOnDashboardLoad).
		Sort(dashboard.VariableSortAlphabeticalAsc))
	b.WithVariable(consoleVariable())
	b.WithPanel(table.NewPanelBuilder().
		Id(10).Title("Projection (live)").
		Description("The latest estimate as it is published: projected leader, win probability, call (too early, leading, likely, called), stations the estimate counts of all.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(LiveConstituencyProjection)).
		OverrideByName("constituency_id", []dashboard.DynamicConfigValue{hidden()}).
		Height(5).Span(24))
	b.WithPanel(table.NewPanelBuilder().
		Id(11).Title("Candidates (live)").
		Description("Each candidate in the latest estimate, most projected votes first: votes counted on the stations the estimate counts (not disputed), projected votes and win probability; leader marks the projected winner.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(LiveConstituencyCandidates)).
		OverrideByName("constituency_id", []dashboard.DynamicConfigValue{hidden()}).
		Height(9).Span(12))
	b.WithPanel(table.NewPanelBuilder().
		Id(12).Title("Open anomalies (live)").
		Description("Every flag still open on this constituency's stations, oldest first, paged: a station id opens it in the review console, where it is settled.").
		Datasource(liveDatasource()).WithTarget(NewLiveTarget(LiveConstituencyAnomalies)).
		Footer(common.NewTableFooterOptionsBuilder().EnablePagination(true)).
		OverrideByName("constituency_id", []dashboard.DynamicConfigValue{hidden()}).
		OverrideByName("station_id", []dashboard.DynamicConfigValue{consoleLink()}).
		Height(9).Span(12))
	b.WithPanel(table.NewPanelBuilder().
		Id(1).Title(ConstituencyProjection.Title).
		Description("Latest estimate: projected leader, win probability and call (too early, leading, likely, called).").
		Datasource(datasource()).WithTarget(NewTarget(ConstituencyProjection)).
		OverrideByName("win_probability", []dashboard.DynamicConfigValue{
			{Id: "unit", Value: "percentunit"},
			{Id: "decimals", Value: 0},
		}).
		Height(5).Span(12))
	b.WithPanel(table.NewPanelBuilder().
		Id(2).Title(ConstituencyStations.Title).
		Description("Stations with a countable result (not disputed), disputed, verified and on the final count form, of all stations.").
		Datasource(datasource()).WithTarget(NewTarget(ConstituencyStations)).
		Height(5).Span(12))
	b.WithPanel(table.NewPanelBuilder().
		Id(3).Title(ConstituencyCandidates.Title).
		Description("Counted: live sum over non-disputed stations. Projected: the latest estimate.").
		Datasource(datasource()).WithTarget(NewTarget(ConstituencyCandidates)).
		Height(10).Span(24))
	b.WithPanel(table.NewPanelBuilder().
		Id(4).Title(ConstituencyAnomalies.Title).
		Description("Flags raised on this constituency's stations in the time range, newest first.").
		Datasource(datasource()).WithTarget(NewTarget(ConstituencyAnomalies)).
		Height(10).Span(24))
	return b.Build()
}
