// Package dashboards builds votestream's Grafana dashboards as code with the Grafana
// Foundation SDK: the war room's election-night overview, a per-constituency view, the
// open anomalies, pipeline health and the volunteers' coverage. Panels with history query the ClickHouse data source; panels that must
// move the moment an estimate or a flag is published query votestream's own live data
// source (dashboards/plugin) through LiveTarget, whose query model is package
// dashboards/live. Both data sources are declared in dashboards/provisioning. Every panel's
// SQL is a named Query so tests run it against a real ClickHouse; Expand stands in for
// Grafana's macro expansion. The committed *.json files are the generator's output
// (go generate ./dashboards); a test fails when they drift from the code. The package reads
// nothing and talks to no server; its TestDashboardsOnALiveNight (make dashboards-check)
// runs the panels' queries on a live night, on Prometheus and ClickHouse.
package dashboards

//go:generate go run ./cmd/gen -dir .
