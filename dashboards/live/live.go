// Package live is the contract between the dashboards and votestream's Grafana data source
// plugin (dashboards/plugin): the plugin's id, its query types and the JSON of one query.
// The dashboard generator writes targets with it and the plugin reads them with it, so a
// query type or parameter cannot be spelt two ways. It holds no logic beyond checking a
// query's parameters, and imports schemas only.
package live

import (
	"errors"
	"fmt"
	"slices"

	"votestream/schemas"
)

// PluginID is the plugin's id in plugin.json; Grafana loads it unsigned by this name.
const PluginID = "votestream-live-datasource"

// DatasourceUID is the uid dashboards/provisioning gives the plugin's data source.
const DatasourceUID = "votestream-live"

// QueryType names what a query asks for. Each answers from the state the plugin keeps by
// reading estimates.v1, station-results.v1 and anomalies.v1, and each can be streamed.
type QueryType string

const (
	// Shares: party-list share of each party with its 95 % interval, one row per estimate
	// in the time range (a time series; live: each new estimate appends a row).
	Shares QueryType = "shares"
	// Parties: the latest estimate per party: share, interval, votes counted and projected,
	// party-list seats (a table; live: replaced on each estimate).
	Parties QueryType = "parties"
	// Seats: per party, projected party-list seats and constituencies led (constituencies
	// need the reference data setting to map candidates to parties).
	Seats QueryType = "seats"
	// Reporting: stations and eligible voters reported, one row per estimate (a time series).
	Reporting QueryType = "reporting"
	// Statuses: per ballot, current station results by status (live from station-results.v1).
	Statuses QueryType = "statuses"
	// Constituencies: per constituency, projected leader, win probability and call.
	Constituencies QueryType = "constituencies"
	// Candidates: per candidate of the latest estimate, votes counted and projected and win
	// probability, by constituency (a table; live: replaced on each estimate).
	Candidates QueryType = "candidates"
	// Calls: constituencies per call state.
	Calls QueryType = "calls"
	// Anomalies: every open anomaly, oldest first, with its age.
	Anomalies QueryType = "anomalies"
	// AnomalyCounts: open anomalies counted by severity, grouped by GroupBy.
	AnomalyCounts QueryType = "anomaly_counts"
)

// QueryTypes lists every query type, in the order the query editor offers them.
var QueryTypes = []QueryType{Shares, Parties, Seats, Reporting, Statuses, Constituencies, Candidates, Calls, Anomalies, AnomalyCounts}

// GroupBy is how AnomalyCounts groups open anomalies.
type GroupBy string

const (
	ByCode         GroupBy = "code"
	ByConstituency GroupBy = "constituency"
	ByProvince     GroupBy = "province" // needs the reference data setting
	ByRegion       GroupBy = "region"   // needs the reference data setting
	ByAge          GroupBy = "age"      // buckets of time since detection
)

// GroupBys lists every grouping AnomalyCounts accepts.
var GroupBys = []GroupBy{ByCode, ByConstituency, ByProvince, ByRegion, ByAge}

// Query is the JSON model of one panel query on the plugin, beside Grafana's own refId,
// datasource and hide. Empty filters match everything.
type Query struct {
	QueryType    QueryType `json:"queryType"`
	Top          int       `json:"top,omitempty"`          // Shares: only the Top parties by latest share; 0 = every party
	GroupBy      GroupBy   `json:"groupBy,omitempty"`      // AnomalyCounts; default code
	Code         string    `json:"code,omitempty"`         // Anomalies, AnomalyCounts: one anomaly code
	Severity     string    `json:"severity,omitempty"`     // Anomalies, AnomalyCounts: hard, soft or info
	Constituency string    `json:"constituency,omitempty"` // Constituencies, Candidates, Anomalies, AnomalyCounts
	Call         string    `json:"call,omitempty"`         // Constituencies: one call state
}

// Params lists the parameters (JSON names) each query type takes; a type not listed takes
// none.
var Params = map[QueryType][]string{
	Shares:         {"top"},
	Constituencies: {"constituency", "call"},
	Candidates:     {"constituency"},
	Anomalies:      {"code", "severity", "constituency"},
	AnomalyCounts:  {"groupBy", "code", "severity", "constituency"},
}

// Severities lists the anomaly severities, most serious first: the order of the columns
// AnomalyCounts answers with.
var Severities = []schemas.Severity{schemas.SeverityHard, schemas.SeveritySoft, schemas.SeverityInfo}

// ErrQuery: a query the plugin cannot answer. Messages name the field and the value.
var ErrQuery = errors.New("live: bad query")

// MaxTop bounds Query.Top; there are about 70 parties on a ballot.
const MaxTop = 1000

// Check refuses an unknown query type, a parameter the type does not take, or a value out
// of its set (codes, severities and call states are the contract's, from schemas), and
// fills the defaults (GroupBy code).
func (q *Query) Check() error {
	if !slices.Contains(QueryTypes, q.QueryType) {
		return fmt.Errorf("%w: unknown queryType %q (one of %v)", ErrQuery, q.QueryType, QueryTypes)
	}
	takes := Params[q.QueryType]
	for _, p := range []struct {
		name string
		set  bool
	}{
		{"top", q.Top != 0}, {"groupBy", q.GroupBy != ""}, {"code", q.Code != ""},
		{"severity", q.Severity != ""}, {"constituency", q.Constituency != ""}, {"call", q.Call != ""},
	} {
		if p.set && !slices.Contains(takes, p.name) {
			return fmt.Errorf("%w: %s does not take %s", ErrQuery, q.QueryType, p.name)
		}
	}
	if q.Top < 0 || q.Top > MaxTop {
		return fmt.Errorf("%w: top %d out of 0..%d", ErrQuery, q.Top, MaxTop)
	}
	if q.QueryType == AnomalyCounts && q.GroupBy == "" {
		q.GroupBy = ByCode
	}
	if q.GroupBy != "" && !slices.Contains(GroupBys, q.GroupBy) {
		return fmt.Errorf("%w: unknown groupBy %q (one of %v)", ErrQuery, q.GroupBy, GroupBys)
	}
	if q.Code != "" && !slices.Contains(schemas.AnomalyCodes, q.Code) {
		return fmt.Errorf("%w: unknown anomaly code %q (one of %v)", ErrQuery, q.Code, schemas.AnomalyCodes)
	}
	if q.Severity != "" && !slices.Contains(Severities, schemas.Severity(q.Severity)) {
		return fmt.Errorf("%w: unknown severity %q (one of %v)", ErrQuery, q.Severity, Severities)
	}
	if q.Call != "" && !slices.Contains(schemas.CallStates, schemas.CallState(q.Call)) {
		return fmt.Errorf("%w: unknown call %q (one of %v)", ErrQuery, q.Call, schemas.CallStates)
	}
	return nil
}
