package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// TestEndToEndAgainstARunningBackend ingests events into a real Metrics Hub
// backend and reads them back through QueryData, as Grafana and its alert
// rules would. Every event carries a product value unique to this run, and
// every query filters on it, so other data of the organization cannot change
// the numbers.
func TestEndToEndAgainstARunningBackend(t *testing.T) {
	baseURL, apiKey := os.Getenv("METRICSHUB_E2E_URL"), os.Getenv("METRICSHUB_E2E_KEY")
	if baseURL == "" || apiKey == "" {
		t.Skip("set METRICSHUB_E2E_URL (backend base URL) and METRICSHUB_E2E_KEY (an API key of its organization) to run against a real backend")
	}
	run := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	hour := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)

	type order struct {
		channel string
		at      time.Duration
		value   float64
	}
	orders := []order{
		{"web", 5 * time.Minute, 10}, {"web", 20 * time.Minute, 20}, {"mobile", 40 * time.Minute, 5},
		{"web", 65 * time.Minute, 7.5}, {"mobile", 90 * time.Minute, 2.5},
	}
	events := make([]map[string]any, 0, len(orders))
	for i, o := range orders {
		events = append(events, map[string]any{
			"id": fmt.Sprintf("%s-%d", run, i), "type": "order.created",
			"occurredAt": hour.Add(o.at).Format(time.RFC3339), "value": o.value,
			"attributes": map[string]any{"channel": o.channel, "product": run},
		})
	}
	// The second delivery of the same batch must change nothing (idempotent ingest).
	for range 2 {
		ingest(t, baseURL, apiKey, events)
	}

	ds := newTestDatasource(t, instanceSettings(map[string]any{"url": baseURL}, apiKey))
	health := checkHealth(t, ds)
	if health.Status != backend.HealthStatusOk {
		t.Fatalf("CheckHealth: %s", health.Message)
	}

	only := fmt.Sprintf(`[{"dimension":"product","op":"eq","value":%q}]`, run)
	rng := backend.TimeRange{From: hour, To: hour.Add(2 * time.Hour)}
	resp := queryData(t, ds,
		// As an alert rule sends it: absolute range, no maxDataPoints, no interval.
		backend.DataQuery{RefID: "ALERT", TimeRange: rng, JSON: json.RawMessage(
			`{"metric":"orders_created","groupBy":["channel"],"filters":` + only + `}`)},
		backend.DataQuery{RefID: "VALUE", TimeRange: rng, Interval: time.Hour, MaxDataPoints: 100, JSON: json.RawMessage(
			`{"metric":"order_value","aggregation":"sum","groupBy":["channel"],"filters":` + only + `,"format":"timeseries"}`)},
		backend.DataQuery{RefID: "TABLE", TimeRange: rng, Interval: time.Hour, MaxDataPoints: 100, JSON: json.RawMessage(
			`{"metric":"orders_created","groupBy":["channel"],"filters":` + only + `,"format":"table"}`)},
	)

	alert := seriesTotals(t, resp.Responses["ALERT"], "channel")
	assertTotals(t, "ALERT orders_created by channel", alert, map[string]float64{"web": 3, "mobile": 2})

	value := seriesTotals(t, resp.Responses["VALUE"], "channel")
	assertTotals(t, "VALUE order_value by channel", value, map[string]float64{"web": 37.5, "mobile": 7.5})
	webFirstHour := valueAt(t, resp.Responses["VALUE"], "web", hour)
	if webFirstHour != 30 {
		t.Errorf("order_value for web in the hour starting %s = %v, want 30", hour.Format(time.RFC3339), webFirstHour)
	}

	table := resp.Responses["TABLE"]
	if table.Error != nil || len(table.Frames) != 1 {
		t.Fatalf("TABLE = %+v", table)
	}
	rows := map[string]float64{}
	f := table.Frames[0]
	channelField, _ := f.FieldByName("channel")
	valueField, _ := f.FieldByName("value")
	if channelField == nil || valueField == nil {
		t.Fatalf("TABLE fields = %v", f.Fields)
	}
	for i := 0; i < f.Rows(); i++ {
		ch, _ := channelField.ConcreteAt(i)
		v, _ := valueField.FloatAt(i)
		rows[fmt.Sprint(ch)] = v
	}
	assertTotals(t, "TABLE orders_created by channel", rows, map[string]float64{"web": 3, "mobile": 2})

	t.Run("resources", func(t *testing.T) {
		catalog := callResource(t, ds, &backend.CallResourceRequest{Path: "catalog", Method: http.MethodGet, URL: "catalog"})
		if catalog.Status != http.StatusOK || !bytes.Contains(catalog.Body, []byte(`"orders_created"`)) {
			t.Errorf("catalog = %d %.200s", catalog.Status, catalog.Body)
		}
		values := callResource(t, ds, &backend.CallResourceRequest{Path: "variables", Method: http.MethodPost, URL: "variables",
			Body: []byte(`{"query":"metrics"}`), Headers: map[string][]string{"Content-Type": {"application/json"}}})
		if values.Status != http.StatusOK || !bytes.Contains(values.Body, []byte(`"orders_created"`)) {
			t.Errorf("variables = %d %.200s", values.Status, values.Body)
		}
		ann := callResource(t, ds, &backend.CallResourceRequest{Path: "annotations", Method: http.MethodGet,
			URL: fmt.Sprintf("annotations?from=%d&to=%d", hour.UnixMilli(), hour.Add(2*time.Hour).UnixMilli())})
		var list []map[string]any
		if ann.Status != http.StatusOK || json.Unmarshal(ann.Body, &list) != nil {
			t.Errorf("annotations = %d %.200s", ann.Status, ann.Body)
		}
	})

	t.Run("provisioned alert rules", func(t *testing.T) {
		now := time.Now().UTC()
		ingest(t, baseURL, apiKey, []map[string]any{{"id": run + "-alert", "type": "order.created",
			"occurredAt": now.Add(-time.Minute).Format(time.RFC3339), "value": 1000, "attributes": map[string]any{"product": run}}})

		for _, aq := range provisionedAlertQueries(t, now) {
			dr := queryData(t, ds, aq.query).Responses[aq.query.RefID]
			if dr.Error != nil {
				t.Errorf("rule %s query %s: %v", aq.rule, aq.query.RefID, dr.Error)
				continue
			}
			for _, f := range dr.Frames {
				if len(f.Fields) != 2 || f.Fields[0].Type() != data.FieldTypeTime || !f.Fields[1].Type().Numeric() {
					t.Errorf("rule %s query %s: frame is not time + one number: %v", aq.rule, aq.query.RefID, f.Fields)
				}
			}
			var model Query
			_ = json.Unmarshal(aq.query.JSON, &model)
			if model.Metric == "order_value" && aq.query.TimeRange.To.Equal(now) {
				// The "last" reducer with dropNN must find this hour's revenue.
				if last := lastNonNull(dr); !(last >= 1000) {
					t.Errorf("rule %s query %s: last value %v, want at least the 1000 just ingested", aq.rule, aq.query.RefID, last)
				}
			}
		}
	})

	t.Run("live", func(t *testing.T) {
		now := time.Now().UTC()
		ingest(t, baseURL, apiKey, []map[string]any{
			{"id": run + "-live-1", "type": "order.created", "occurredAt": now.Format(time.RFC3339), "attributes": map[string]any{"product": run}},
			{"id": run + "-live-2", "type": "order.created", "occurredAt": now.Format(time.RFC3339), "attributes": map[string]any{"product": run}},
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sink := make(packetSink, 10)
		done := runStream(ds, ctx, "live/orders_created", sink)
		frame := sink.next(t)
		// Other writers of the organization may add to the count, never remove.
		if v, err := frame.Fields[1].FloatAt(0); err != nil || v < 2 {
			t.Errorf("live orders_created over the last minute = %v (%v), want at least the 2 just ingested", v, err)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(failAfter):
			t.Fatal("RunStream did not stop on unsubscribe")
		}
	})
}

func ingest(t *testing.T, baseURL, apiKey string, events []map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"events": events})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest answered %d: %s", resp.StatusCode, errorDetail(resp))
	}
}

// seriesTotals sums each series of a time series answer, keyed by one label.
func seriesTotals(t *testing.T, dr backend.DataResponse, label string) map[string]float64 {
	t.Helper()
	if dr.Error != nil {
		t.Fatalf("query failed: %v", dr.Error)
	}
	totals := map[string]float64{}
	for _, f := range dr.Frames {
		if len(f.Fields) != 2 || f.Fields[0].Type() != data.FieldTypeTime || !f.Fields[1].Type().Numeric() {
			t.Fatalf("series frame must be time + one number, got %v", f.Fields)
		}
		key := f.Fields[1].Labels[label]
		for i := 0; i < f.Rows(); i++ {
			if v, err := f.Fields[1].NullableFloatAt(i); err == nil && v != nil {
				totals[key] += *v
			}
		}
	}
	return totals
}

func valueAt(t *testing.T, dr backend.DataResponse, channel string, at time.Time) float64 {
	t.Helper()
	for _, f := range dr.Frames {
		if f.Fields[1].Labels["channel"] != channel {
			continue
		}
		for i := 0; i < f.Rows(); i++ {
			if f.Fields[0].At(i).(time.Time).Equal(at) {
				v, _ := f.Fields[1].FloatAt(i)
				return v
			}
		}
	}
	t.Errorf("no %s bucket at %s", channel, at.Format(time.RFC3339))
	return math.NaN()
}

func assertTotals(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-9 {
			t.Errorf("%s[%s] = %v, want %v (all: %v)", what, k, got[k], w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s has series %v, want exactly %v", what, got, want)
	}
}

// lastNonNull is what Grafana's "last" reducer in dropNN mode reads from a
// single-series answer.
func lastNonNull(dr backend.DataResponse) float64 {
	last := math.NaN()
	for _, f := range dr.Frames {
		for i := 0; i < f.Rows(); i++ {
			if v, err := f.Fields[1].NullableFloatAt(i); err == nil && v != nil && !math.IsNaN(*v) {
				last = *v
			}
		}
	}
	return last
}
