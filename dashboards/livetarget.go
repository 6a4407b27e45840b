package dashboards

import (
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"

	"votestream/dashboards/live"
)

// LiveTarget is one query of a panel on votestream's own data source (dashboards/plugin):
// the query model of package live, which the plugin reads with the same type. The plugin
// answers from Kafka and keeps the panel moving through Grafana Live.
type LiveTarget struct {
	RefID      string               `json:"refId"`
	Datasource common.DataSourceRef `json:"datasource"`
	live.Query
}

var _ variants.Dataquery = LiveTarget{}

// ImplementsDataqueryVariant marks LiveTarget as a panel query for the SDK.
func (LiveTarget) ImplementsDataqueryVariant() {}

// DataqueryType is the plugin id.
func (LiveTarget) DataqueryType() string { return live.PluginID }

// Validate refuses a query the plugin would refuse.
func (t LiveTarget) Validate() error {
	q := t.Query
	return q.Check()
}

// Equals compares two targets field by field.
func (t LiveTarget) Equals(other variants.Dataquery) bool {
	o, ok := other.(LiveTarget)
	return ok && reflect.DeepEqual(t, o)
}

// LiveTargetBuilder builds a LiveTarget for the SDK's panel builders.
type LiveTargetBuilder struct{ target LiveTarget }

var _ cog.Builder[variants.Dataquery] = (*LiveTargetBuilder)(nil)

// NewLiveTarget starts a target asking the live data source q, with refId A.
func NewLiveTarget(q live.Query) *LiveTargetBuilder {
	return &LiveTargetBuilder{target: LiveTarget{RefID: "A", Datasource: liveDatasource(), Query: q}}
}

// Build returns the target with the plugin's defaults filled in (as the plugin fills them,
// so the channel a panel subscribes to is the canonical one), or a cog.BuildErrors.
func (b *LiveTargetBuilder) Build() (variants.Dataquery, error) {
	t := b.target
	if err := t.Query.Check(); err != nil {
		return nil, cog.MakeBuildErrors("votestream.live.target", err)
	}
	return t, nil
}

func liveDatasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr(live.PluginID), Uid: cog.ToPtr(live.DatasourceUID)}
}
