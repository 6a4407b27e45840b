package dashboards

import (
	"errors"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// The data source every panel queries: provisioned by dashboards/provisioning/datasources.
const (
	DatasourceUID  = "votestream-clickhouse"
	DatasourceType = "grafana-clickhouse-datasource"
)

// pluginVersion marks targets as written for the plugin's v4 query model, so the plugin
// does not run its v3 migration on them.
const pluginVersion = "4.0.0"

// Format is how the ClickHouse plugin shapes a result: the numeric enum of its backend
// (sqlds' FormatQueryOption), not a string.
type Format int

const (
	// FormatTimeSeries: the first DateTime column is the time; a String column splits the
	// rows into one series per value (the plugin turns long rows into wide series), so rows
	// must come ordered by time.
	FormatTimeSeries Format = 0
	// FormatTable: rows as they come.
	FormatTable Format = 1
)

// queryType is the plugin's editor name for a format.
func (f Format) queryType() string {
	if f == FormatTimeSeries {
		return "timeseries"
	}
	return "table"
}

// ErrEmptySQL: a target without SQL, which Grafana would show as an empty panel.
var ErrEmptySQL = errors.New("dashboards: target has no SQL")

// Target is one query of a panel in the ClickHouse plugin's raw-SQL model (editorType
// "sql"). The SDK ships no ClickHouse query type, so this is the SDK's custom-query
// extension point: it implements variants.Dataquery.
type Target struct {
	RefID         string               `json:"refId"`
	Datasource    common.DataSourceRef `json:"datasource"`
	EditorType    string               `json:"editorType"`
	QueryType     string               `json:"queryType"`
	Format        Format               `json:"format"`
	RawSQL        string               `json:"rawSql"`
	PluginVersion string               `json:"pluginVersion"`
}

var _ variants.Dataquery = Target{}

// ImplementsDataqueryVariant marks Target as a panel query for the SDK.
func (Target) ImplementsDataqueryVariant() {}

// DataqueryType is the plugin id.
func (Target) DataqueryType() string { return DatasourceType }

// Validate refuses a target Grafana could not run.
func (t Target) Validate() error {
	if t.RawSQL == "" {
		return ErrEmptySQL
	}
	return nil
}

// Equals compares two targets field by field.
func (t Target) Equals(other variants.Dataquery) bool {
	o, ok := other.(Target)
	return ok && reflect.DeepEqual(t, o)
}

// TargetBuilder builds a Target; its Build error is a cog.BuildErrors, as the SDK's panel
// builders require of every query builder.
type TargetBuilder struct {
	target Target
}

var _ cog.Builder[variants.Dataquery] = (*TargetBuilder)(nil)

// NewTarget starts a target running q on the votestream data source, with refId A.
func NewTarget(q Query) *TargetBuilder {
	return &TargetBuilder{target: Target{
		RefID:         "A",
		Datasource:    datasource(),
		EditorType:    "sql",
		QueryType:     q.Format.queryType(),
		Format:        q.Format,
		RawSQL:        q.SQL,
		PluginVersion: pluginVersion,
	}}
}

// RefID sets the query's reference id within its panel.
func (b *TargetBuilder) RefID(id string) *TargetBuilder {
	b.target.RefID = id
	return b
}

// Build returns the target, or a cog.BuildErrors when it is not valid.
func (b *TargetBuilder) Build() (variants.Dataquery, error) {
	if err := b.target.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("clickhouse.target", err)
	}
	return b.target, nil
}

func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr(DatasourceType), Uid: cog.ToPtr(DatasourceUID)}
}
