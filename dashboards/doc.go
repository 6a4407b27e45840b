// Package dashboards builds votestream's Grafana dashboards as code with the Grafana
// Foundation SDK: the war room's election-night overview and a per-constituency view, both
// on the ClickHouse data source that dashboards/provisioning declares. Every panel's SQL is
// a named Query so tests run it against a real ClickHouse; Expand stands in for Grafana's
// macro expansion. The committed war-room.json and constituency.json are the generator's
// output (go generate ./dashboards); a test fails when they drift from the code. The
// package reads nothing and talks to no server.
package dashboards

//go:generate go run ./cmd/gen -dir .
