package plugin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestThroughGrafanasPluginProtocol serves the plugin over gRPC as Grafana
// talks to it: the instance is built from the settings in the plugin context
// by the SDK's instance manager, and frames travel Arrow-encoded.
func TestThroughGrafanasPluginProtocol(t *testing.T) {
	fb := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/query":
			serveFile(t, "recorded_query_timeseries.json")(w, r)
		case "/api/v1/whoami":
			serveFile(t, "recorded_whoami.json")(w, r)
		default:
			serveBody(http.StatusOK, "application/json", `{"sources":[],"metrics":[]}`)(w, r)
		}
	})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	// The SDK registers its request metrics globally; a fresh registry lets
	// the test run more than once in one process (-count).
	prometheus.DefaultRegisterer = prometheus.NewRegistry()
	tp, err := datasourcetest.Manage(NewDatasource, datasourcetest.ManageOpts{Address: addr})
	if err != nil {
		t.Fatalf("serve plugin: %v", err)
	}
	t.Cleanup(func() { _ = tp.Shutdown() })

	settings := instanceSettings(map[string]any{"url": fb.URL}, testAPIKey)
	settings.ID, settings.Updated = 1, time.Now()
	pc := backend.PluginContext{PluginID: PluginID, DataSourceInstanceSettings: &settings}
	ctx := context.Background()

	health, err := tp.Client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
	if err != nil || health.Status != backend.HealthStatusOk {
		t.Fatalf("CheckHealth = %+v, %v", health, err)
	}

	resp, err := tp.Client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{
		{RefID: "A", JSON: json.RawMessage(`{"metric":"order_value","aggregation":"sum","groupBy":["channel"]}`),
			TimeRange: backend.TimeRange{From: recordedHour, To: recordedHour.Add(2 * time.Hour)}},
		{RefID: "B", JSON: json.RawMessage(`{"metric":"ordrs_created"}`),
			TimeRange: backend.TimeRange{From: recordedHour, To: recordedHour.Add(2 * time.Hour)}},
	}})
	if err != nil {
		t.Fatalf("QueryData over gRPC: %v", err)
	}
	a := resp.Responses["A"]
	if a.Error != nil || len(a.Frames) != 2 {
		t.Fatalf("A = %+v", a)
	}
	for _, f := range a.Frames {
		if f.Fields[1].Type() != data.FieldTypeNullableFloat64 || f.Fields[1].Labels["channel"] == "" {
			t.Errorf("frame after Arrow round trip: %v", f.Fields)
		}
		if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
			t.Errorf("frame type lost in transport: %+v", f.Meta)
		}
	}
	if b := resp.Responses["B"]; b.Status != backend.StatusBadRequest || b.Error == nil {
		t.Errorf("B = %+v", b)
	}

	var catalog *backend.CallResourceResponse
	err = tp.Client.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc, Path: "catalog", Method: http.MethodGet, URL: "catalog"},
		backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error { catalog = r; return nil }))
	if err != nil || catalog == nil || catalog.Status != http.StatusOK {
		t.Fatalf("CallResource = %+v, %v", catalog, err)
	}
}
