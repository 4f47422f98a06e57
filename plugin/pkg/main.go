// Command gpx_metricshub is the backend component of the Metrics Hub data source.
// It only wires the plugin into Grafana; the behaviour lives in package plugin.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/metricshub/metricshub-datasource/pkg/plugin"
)

func main() {
	// Manage starts the gRPC server Grafana talks to and creates one Datasource
	// per data source configuration through the instance manager, disposing the
	// old one when its settings change.
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("metricshub-metrics-datasource stopped", "error", err.Error())
		os.Exit(1)
	}
}
