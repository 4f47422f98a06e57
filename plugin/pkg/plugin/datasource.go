// Package plugin is the backend component of the Metrics Hub data source: it
// forwards Grafana's queries, health checks, resource calls and live streams to
// the Metrics Hub backend and converts its answers, nothing more.
package plugin

import (
	"context"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
)

// PluginID is the id in plugin.json.
const PluginID = "metricshub-metrics-datasource"

// The SDK only routes calls to the handlers the instance implements; a missing
// one would surface at run time as "not implemented", so assert them here.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured Metrics Hub data source.
type Datasource struct {
	// client is nil when settingsErr is set.
	client *Client
	// settingsErr is kept rather than returned from NewDatasource so every
	// handler can show the user what to fix instead of a generic plugin error.
	settingsErr error
	// liveBackoff paces reconnections of live streams.
	liveBackoff backoff
}

// NewDatasource is the instance factory: the SDK calls it once per data source
// configuration and again (after Dispose) when the configuration changes.
func NewDatasource(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	ds := &Datasource{liveBackoff: backoff{initial: time.Second, max: 30 * time.Second}}
	settings, err := LoadSettings(ctx, s)
	if err != nil {
		ds.settingsErr = err
		return ds, nil
	}
	client, err := NewClient(settings)
	if err != nil {
		return nil, err
	}
	ds.client = client
	return ds, nil
}

// Dispose closes the keep-alive connections of an instance whose settings
// changed or whose data source was deleted.
func (d *Datasource) Dispose() {
	if d.client != nil {
		d.client.Close()
	}
}
