// Package plugin is the back end of votestream's Grafana data source (plugin id
// votestream-live-datasource): it reads estimates.v1, station-results.v1 and anomalies.v1
// from Kafka into a Night held in memory, answers panel queries from it (QueryData), and
// pushes each change to panels through Grafana Live (SubscribeStream, RunStream; browsers
// may not publish). The query model it reads is package dashboards/live's, shared with the
// dashboard generator. It writes nothing anywhere.
//
// It is its own Go module (dashboards/plugin/go.mod, with votestream replaced by the
// repository): grafana-plugin-sdk-go brings gRPC, OpenTelemetry and Kubernetes' OpenAPI
// packages, which the votestream binary has no use for.
package plugin
