package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// FieldUID is the volunteers' dashboard's uid: coverage before the night, the chase list and
// critical incidents on it.
const FieldUID = "votestream-field"

// The field dashboard's SQL. "Covered" is station_coverage's rule: the newest roster of
// each organisation, accepted claims and reassignments.
var (
	// FieldCoverage: per constituency, stations with no, one and two or more volunteers,
	// worst covered first (the table `votestream volunteers coverage` prints).
	FieldCoverage = Query{
		Name:   "field_coverage",
		Title:  "Coverage by constituency",
		Format: FormatTable,
		SQL: `SELECT
    constituency_id,
    count() AS stations,
    countIf(volunteers = 0) AS no_volunteer,
    countIf(volunteers = 1) AS one_volunteer,
    countIf(volunteers >= 2) AS two_plus,
    countIf(orgs >= 2) AS two_plus_orgs,
    round(countIf(volunteers = 0) / count(), 3) AS uncovered
FROM station_coverage
GROUP BY constituency_id
ORDER BY uncovered DESC, constituency_id`,
	}

	// FieldChase: per constituency and organisation, stations the organisation covers
	// that have sent no report yet, how many of them a volunteer checked in at, and the
	// first 20 of them: the list a lead or coordinator phones through.
	FieldChase = Query{
		Name:   "field_chase",
		Title:  "Chase list: covered stations with no report",
		Format: FormatTable,
		SQL: `SELECT
    constituency_id,
    org,
    count() AS silent,
    countIf(station_id IN (SELECT station_id FROM field_events WHERE kind = 'checkin')) AS checked_in,
    arrayStringConcat(arraySlice(arraySort(groupArray(station_id)), 1, 20), ' ') AS stations
FROM (
    SELECT DISTINCT station_id, constituency_id, org
    FROM (
        SELECT station_id, constituency_id, org FROM roster
        WHERE role = 'station' AND station_id != '' AND (org, imported_at) IN (SELECT org, max(imported_at) FROM roster GROUP BY org)
        UNION ALL
        SELECT station_id, constituency_id, org FROM field_events WHERE kind = 'assign' OR (kind = 'claim' AND status = 'accepted')
    )
)
WHERE station_id NOT IN (SELECT station_id FROM submissions)
GROUP BY constituency_id, org
ORDER BY silent DESC, constituency_id, org`,
	}

	// FieldIncidents: critical incidents in the time range, newest first.
	FieldIncidents = Query{
		Name:   "field_incidents",
		Title:  "Critical incidents",
		Format: FormatTable,
		SQL: `SELECT received_at, occurred_at, category, station_id, constituency_id, org, text, length(evidence) AS photos
FROM incidents FINAL
WHERE $__timeFilter(received_at)
ORDER BY received_at DESC
LIMIT 200`,
	}
)

// FieldQueries lists the field dashboard's queries in panel order.
func FieldQueries() []Query { return []Query{FieldIncidents, FieldChase, FieldCoverage} }

// Field builds the "Volunteers: coverage, chase list, incidents" dashboard.
func Field() (dashboard.Dashboard, error) {
	b := newDashboard(FieldUID, "Volunteers: coverage, chase list, incidents",
		"Before the night: which stations no volunteer covers. On it: covered stations still silent, and critical incidents.")
	b.WithPanel(table.NewPanelBuilder().
		Id(1).Title(FieldIncidents.Title).
		Description("Count stopped, observers expelled, ballots damaged, violence: reported from the stations, newest first, kept apart from the counts.").
		Datasource(datasource()).WithTarget(NewTarget(FieldIncidents)).
		OverrideByName("constituency_id", []dashboard.DynamicConfigValue{constituencyLink()}).
		Height(10).Span(24))
	b.WithPanel(table.NewPanelBuilder().
		Id(2).Title(FieldChase.Title).
		Description("Per constituency and organisation: stations it covers that sent no report yet; checked_in: a volunteer arrived there.").
		Datasource(datasource()).WithTarget(NewTarget(FieldChase)).
		OverrideByName("constituency_id", []dashboard.DynamicConfigValue{constituencyLink()}).
		Height(10).Span(14))
	b.WithPanel(table.NewPanelBuilder().
		Id(3).Title(FieldCoverage.Title).
		Description("Stations by how many volunteers cover them: the newest roster of each organisation, accepted claims and reassignments. uncovered: share with none.").
		Datasource(datasource()).WithTarget(NewTarget(FieldCoverage)).
		OverrideByName("uncovered", []dashboard.DynamicConfigValue{{Id: "unit", Value: "percentunit"}, {Id: "decimals", Value: 1}}).
		Height(10).Span(10))
	return b.Build()
}
