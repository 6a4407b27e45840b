// Command gpx_votestream is the back end of votestream's Grafana data source plugin: Grafana
// starts it (plugin.json's executable, with _<os>_<arch> appended) and talks to it over
// gRPC. It is not meant to be run by hand; `make plugin` builds it into
// dashboards/plugin/dist with the rest of the plugin (the Dockerfile's grafana stage, into
// the Grafana image).
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"votestream/dashboards/live"
	"votestream/dashboards/plugin"
)

func main() {
	if err := datasource.Manage(live.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("votestream plugin stopped", "err", err)
		os.Exit(1)
	}
}
