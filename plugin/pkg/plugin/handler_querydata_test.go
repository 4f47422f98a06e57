package plugin

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.jsonc golden files")

var (
	rangeFrom = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	rangeTo   = time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)
)

// panelQuery is a query as a dashboard panel sends it.
func panelQuery(refID, model string) backend.DataQuery {
	return backend.DataQuery{
		RefID:         refID,
		JSON:          json.RawMessage(model),
		TimeRange:     backend.TimeRange{From: rangeFrom, To: rangeTo},
		Interval:      time.Hour,
		MaxDataPoints: 500,
	}
}

func queryData(t *testing.T, ds *Datasource, queries ...backend.DataQuery) *backend.QueryDataResponse {
	t.Helper()
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "metricshub"}},
		Queries:       queries,
	})
	if err != nil {
		t.Fatalf("QueryData returned an error instead of per-query errors: %v", err)
	}
	return resp
}

func decodeQueryRequest(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("plugin sent invalid JSON: %v", err)
	}
	return m
}

const ordersByChannel = `{"refId":"A","datasource":{"type":"metricshub-metrics-datasource","uid":"metricshub"},
  "source":"events","metric":"orders_created","aggregation":"sum","groupBy":["channel"],
  "filters":[{"dimension":"channel","op":"in","value":["web","mobile"]}],"format":"timeseries"}`

func TestQueryDataSendsTheQueryModelRangeAndKeyToTheBackend(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_timeseries.json"))
	queryData(t, datasourceFor(t, fb.URL), panelQuery("A", ordersByChannel))

	reqs := fb.recorded()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/api/v1/query" {
		t.Fatalf("request = %s %s, want POST /api/v1/query", r.Method, r.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testAPIKey {
		t.Errorf("Authorization = %q", got)
	}
	body := decodeQueryRequest(t, r.Body)
	want := map[string]float64{
		"from": float64(rangeFrom.UnixMilli()), "to": float64(rangeTo.UnixMilli()),
		"intervalMs": float64(time.Hour.Milliseconds()), "maxDataPoints": 500,
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	queries := body["queries"].([]any)
	q := queries[0].(map[string]any)
	if q["refId"] != "A" || q["metric"] != "orders_created" || q["source"] != "events" || q["aggregation"] != "sum" || q["format"] != "timeseries" {
		t.Errorf("query model not forwarded: %v", q)
	}
	filters := q["filters"].([]any)
	f := filters[0].(map[string]any)
	if f["op"] != "in" || len(f["value"].([]any)) != 2 {
		t.Errorf("multi-value filter not forwarded as a list: %v", f)
	}
	if _, ok := q["datasource"]; ok {
		t.Errorf("Grafana's own query fields leaked to the backend: %v", q)
	}
}

func TestQueryDataForwardsTheBandRuleAndOmitsItWhenUnset(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_timeseries.json"))
	withBand := `{"refId":"A","metric":"workflow_failure_rate","format":"timeseries","band":" workflow_failure_rate_high ","bandField":"lower"}`
	queryData(t, datasourceFor(t, fb.URL), panelQuery("A", withBand))
	queryData(t, datasourceFor(t, fb.URL), panelQuery("A", ordersByChannel))
	reqs := fb.recorded()
	if len(reqs) != 2 {
		t.Fatalf("backend got %d requests, want 2", len(reqs))
	}
	first := decodeQueryRequest(t, reqs[0].Body)["queries"].([]any)[0].(map[string]any)
	if first["band"] != "workflow_failure_rate_high" || first["bandField"] != "lower" {
		t.Errorf("band = %v, bandField = %v, want the rule id (trimmed) and lower", first["band"], first["bandField"])
	}
	second := decodeQueryRequest(t, reqs[1].Body)["queries"].([]any)[0].(map[string]any)
	if _, ok := second["band"]; ok || second["bandField"] != nil {
		t.Errorf("a query without band sent one: %v", second)
	}
}

func TestQueryDataReturnsOneFramePerSeriesWithLabelsAndNumberFields(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_timeseries.json"))
	resp := queryData(t, datasourceFor(t, fb.URL), panelQuery("A", ordersByChannel))

	a := resp.Responses["A"]
	if a.Error != nil {
		t.Fatalf("A failed: %v", a.Error)
	}
	if len(a.Frames) != 2 {
		t.Fatalf("A has %d frames, want one per series (2)", len(a.Frames))
	}
	for i, channel := range []string{"web", "mobile"} {
		f := a.Frames[i]
		if f.RefID != "A" {
			t.Errorf("frame %d refId = %q", i, f.RefID)
		}
		if f.Fields[0].Type() != data.FieldTypeTime || f.Fields[1].Type() != data.FieldTypeNullableFloat64 {
			t.Errorf("frame %d field types = %s, %s; want time and nullable float64", i, f.Fields[0].Type(), f.Fields[1].Type())
		}
		if got := f.Fields[1].Labels["channel"]; got != channel {
			t.Errorf("frame %d channel label = %q, want %q", i, got, channel)
		}
		if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
			t.Errorf("frame %d is not typed as timeseries-multi: %+v", i, f.Meta)
		}
		if f.Fields[1].Config == nil || f.Fields[1].Config.Unit != "short" {
			t.Errorf("frame %d lost its unit: %+v", i, f.Fields[1].Config)
		}
	}
	web := a.Frames[0]
	if !web.Fields[0].At(0).(time.Time).Equal(rangeFrom) {
		t.Errorf("first time = %v, want %v", web.Fields[0].At(0), rangeFrom)
	}
	if v := web.Fields[1].At(1).(*float64); v == nil || *v != 15 {
		t.Errorf("web second value = %v, want 15", v)
	}
	if v := web.Fields[1].At(2).(*float64); v != nil {
		t.Errorf("an empty bucket must stay null, got %v", *v)
	}
	custom, _ := a.Frames[1].Meta.Custom.(map[string]any)
	if custom["source"] != "events" || custom["cached"] != true {
		t.Errorf("meta.custom not kept: %v", a.Frames[1].Meta.Custom)
	}
}

func TestQueryDataKeepsBackendErrorsWithTheirOwnRefID(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_timeseries.json"))
	resp := queryData(t, datasourceFor(t, fb.URL),
		panelQuery("A", ordersByChannel),
		panelQuery("B", `{"metric":"ordrs_created","format":"timeseries"}`))

	if len(fb.recorded()) != 1 {
		t.Errorf("queries with one range should share one backend request, got %d", len(fb.recorded()))
	}
	if resp.Responses["A"].Error != nil || len(resp.Responses["A"].Frames) != 2 {
		t.Errorf("A should succeed despite B failing: %+v", resp.Responses["A"])
	}
	b := resp.Responses["B"]
	if b.Status != backend.StatusBadRequest || b.Error == nil || !strings.Contains(b.Error.Error(), "did you mean 'orders_created'") {
		t.Errorf("B = status %d, error %v; want 400 with the backend's message", b.Status, b.Error)
	}
}

func TestQueryDataReadsFramesWrittenWithGrafanaTypeInfo(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_grafana_typeinfo.json"))
	resp := queryData(t, datasourceFor(t, fb.URL), panelQuery("A", `{"metric":"bot_response_ms","aggregation":"p95"}`))
	a := resp.Responses["A"]
	if a.Error != nil || len(a.Frames) != 1 {
		t.Fatalf("A = %+v", a)
	}
	if a.Frames[0].Fields[1].Labels["botId"] != "faq" || a.Frames[0].Fields[1].Type() != data.FieldTypeNullableFloat64 {
		t.Errorf("frame = %+v", a.Frames[0].Fields[1])
	}
}

func TestQueryDataGoldenFrames(t *testing.T) {
	cases := []struct{ fixture, refID, model string }{
		{"query_timeseries.json", "A", ordersByChannel},
		{"query_wide_timeseries.json", "A", `{"metric":"workflow_runs","groupBy":["outcome"],"format":"timeseries"}`},
		{"query_table.json", "T", `{"metric":"orders_created","groupBy":["channel"],"format":"table"}`},
		{"query_kpi.json", "K", `{"metric":"workflow_failure_rate","aggregation":"rate","format":"kpi"}`},
		{"query_list.json", "L", botFeed},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			fb := newFakeBackend(t, serveFile(t, c.fixture))
			resp := queryData(t, datasourceFor(t, fb.URL), panelQuery(c.refID, c.model))
			dr := resp.Responses[c.refID]
			name := strings.TrimSuffix(c.fixture, ".json") + ".golden"
			experimental.CheckGoldenJSONResponse(t, "testdata", name, &dr, *updateGolden)
		})
	}
}

const botFeed = `{"refId":"L","source":"events","metric":"bot_conversations","format":"list","limit":20,
  "columns":["conversationId","botId","status"],"filters":[{"dimension":"botId","op":"eq","value":"booking"}]}`

func TestListQueryPassesLimitAndColumnsAndKeepsOneFrame(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_list.json"))
	resp := queryData(t, datasourceFor(t, fb.URL), panelQuery("L", botFeed))
	q := decodeQueryRequest(t, fb.recorded()[0].Body)["queries"].([]any)[0].(map[string]any)
	if q["format"] != "list" || q["limit"] != float64(20) || fmt.Sprint(q["columns"]) != "[conversationId botId status]" {
		t.Errorf("list query not forwarded as written: %v", q)
	}
	l := resp.Responses["L"]
	if l.Error != nil || len(l.Frames) != 1 || len(l.Frames[0].Fields) != 6 || l.Frames[0].Rows() != 2 {
		t.Fatalf("L = %+v", l)
	}
	if status := l.Frames[0].Fields[4]; status.Name != "status" || *(status.At(1).(*string)) != "active" {
		t.Errorf("status field = %s %v", status.Name, status.At(1))
	}
}

func TestListOnlyFieldsAreRejectedOutsideTheirFormat(t *testing.T) {
	for model, want := range map[string]string{
		`{"metric":"bot_conversations","format":"list","limit":0}`:            "limit must be from 1 to 1000",
		`{"metric":"bot_conversations","format":"list","limit":1001}`:         "limit must be from 1 to 1000",
		`{"metric":"bot_conversations","format":"table","columns":["botId"]}`: `columns apply to format "list" only`,
		`{"metric":"bot_conversations","format":"list","columns":[" "]}`:      "columns[0] is empty",
	} {
		_, err := ParseQuery(panelQuery("A", model))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %v, want %q", model, err, want)
		}
	}
}

func TestQueryDataTableAndKPIKeepOneWideFrame(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_kpi.json"))
	resp := queryData(t, datasourceFor(t, fb.URL), panelQuery("K", `{"metric":"workflow_failure_rate","aggregation":"rate","format":"kpi"}`))
	k := resp.Responses["K"]
	if k.Error != nil || len(k.Frames) != 1 || len(k.Frames[0].Fields) != 5 {
		t.Fatalf("K = %+v", k)
	}
	if sev := k.Frames[0].Fields[4]; sev.Name != "severity" || *(sev.At(0).(*string)) != "critical" {
		t.Errorf("severity field = %s %v", sev.Name, sev.At(0))
	}
}

// An alert rule sends an absolute range and neither maxDataPoints nor interval.
func TestAlertQueryGetsNumericSeriesWithLabels(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_wide_timeseries.json"))
	alert := backend.DataQuery{
		RefID:     "A",
		JSON:      json.RawMessage(`{"refId":"A","metric":"workflow_runs","aggregation":"count","groupBy":["outcome"]}`),
		TimeRange: backend.TimeRange{From: rangeFrom, To: rangeTo},
	}
	resp := queryData(t, datasourceFor(t, fb.URL), alert)

	body := decodeQueryRequest(t, fb.recorded()[0].Body)
	if body["maxDataPoints"] != float64(defaultMaxDataPoints) {
		t.Errorf("maxDataPoints = %v, want the default %d", body["maxDataPoints"], defaultMaxDataPoints)
	}
	if iv, _ := body["intervalMs"].(float64); iv < minIntervalMs {
		t.Errorf("intervalMs = %v, want a positive bucket size", body["intervalMs"])
	}
	if body["from"] != float64(rangeFrom.UnixMilli()) || body["to"] != float64(rangeTo.UnixMilli()) {
		t.Errorf("range = %v..%v, want the rule's absolute range", body["from"], body["to"])
	}
	q := body["queries"].([]any)[0].(map[string]any)
	if q["format"] != FormatTimeSeries {
		t.Errorf("a query without format must default to timeseries, got %v", q["format"])
	}

	a := resp.Responses["A"]
	if a.Error != nil {
		t.Fatalf("alert query failed: %v", a.Error)
	}
	if len(a.Frames) != 2 {
		t.Fatalf("got %d frames, want one per series (2)", len(a.Frames))
	}
	wantLast := map[string]float64{"SUCCESS": 42, "FAILED": 9}
	for _, f := range a.Frames {
		if len(f.Fields) != 2 || !f.Fields[1].Type().Numeric() {
			t.Fatalf("series frame must be time + one number, got %v", f.Fields)
		}
		if f.TimeSeriesSchema().Type != data.TimeSeriesTypeWide {
			t.Errorf("frame is not a time series to Grafana: %v", f.TimeSeriesSchema().Type)
		}
		outcome := f.Fields[1].Labels["outcome"]
		last, err := f.Fields[1].FloatAt(f.Rows() - 1)
		if err != nil || last != wantLast[outcome] {
			t.Errorf("series %q last = %v (%v), want %v", outcome, last, err, wantLast[outcome])
		}
	}
}

func TestQueryDataBatchesByTimeRange(t *testing.T) {
	fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json", `{"results":{"A":{"status":200,"frames":[]},"B":{"status":200,"frames":[]}}}`))
	other := panelQuery("B", `{"metric":"orders_created"}`)
	other.TimeRange.From = rangeFrom.Add(-24 * time.Hour)
	queryData(t, datasourceFor(t, fb.URL), panelQuery("A", `{"metric":"orders_created"}`), other)
	if n := len(fb.recorded()); n != 2 {
		t.Fatalf("two ranges need two backend requests, got %d", n)
	}
	for _, r := range fb.recorded() {
		qs := decodeQueryRequest(t, r.Body)["queries"].([]any)
		if len(qs) != 1 {
			t.Errorf("a request carries %d queries, want 1", len(qs))
		}
	}
}

func TestQueryDataMapsBackendFailuresToStatuses(t *testing.T) {
	cases := []struct {
		name       string
		answer     http.HandlerFunc
		wantStatus backend.Status
		wantText   string
	}{
		{"401 bad key", serveBody(http.StatusUnauthorized, "application/json", `{"error":"unknown API key"}`),
			backend.StatusBadRequest, "API key"},
		{"500", serveBody(http.StatusInternalServerError, "application/json", `{"error":"database is down"}`),
			backend.StatusBadGateway, "database is down"},
		{"503 html", serveBody(http.StatusServiceUnavailable, "text/html", `<html>maintenance</html>`),
			backend.StatusBadGateway, "HTTP 503"},
		{"malformed JSON", serveBody(http.StatusOK, "application/json", `{"results": {"A": {"status": 200, "frames": [`),
			backend.StatusBadGateway, "invalid JSON"},
		{"400 request", serveBody(http.StatusBadRequest, "application/json", `{"error":"from must be before to","field":"from"}`),
			backend.StatusBadRequest, "field from"},
		{"429", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		}, backend.StatusTooManyRequests, "retry after 7 s"},
		{"unknown field type", serveBody(http.StatusOK, "application/json",
			`{"results":{"A":{"status":200,"frames":[{"schema":{"fields":[{"name":"x","type":"weird"}]},"data":{"values":[[1]]}}]}}}`),
			backend.StatusBadGateway, `unknown type "weird"`},
		{"refId missing from answer", serveBody(http.StatusOK, "application/json", `{"results":{}}`),
			backend.StatusBadGateway, "no result for query A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fb := newFakeBackend(t, c.answer)
			resp := queryData(t, datasourceFor(t, fb.URL), panelQuery("A", `{"metric":"orders_created"}`))
			a := resp.Responses["A"]
			if a.Status != c.wantStatus || a.Error == nil || !strings.Contains(a.Error.Error(), c.wantText) {
				t.Errorf("got status %d, error %v; want %d containing %q", a.Status, a.Error, c.wantStatus, c.wantText)
			}
			if a.ErrorSource != backend.ErrorSourceDownstream {
				t.Errorf("error source = %q, want downstream", a.ErrorSource)
			}
		})
	}
}

func TestQueryDataTimesOutAfterTheConfiguredTimeout(t *testing.T) {
	release := make(chan struct{})
	fb := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	ds := newTestDatasource(t, instanceSettings(map[string]any{"url": fb.URL, "timeoutSeconds": 0.2}, testAPIKey))

	resp := queryData(t, ds, panelQuery("A", `{"metric":"orders_created"}`))
	a := resp.Responses["A"]
	if a.Status != backend.StatusTimeout || a.Error == nil || !strings.Contains(a.Error.Error(), "did not answer in time") {
		t.Errorf("got status %d, error %v; want gateway timeout", a.Status, a.Error)
	}
}

func TestQueryDataReportsAnUnreachableBackendWithItsURL(t *testing.T) {
	fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json", `{}`))
	url := fb.URL
	fb.Close()
	resp := queryData(t, datasourceFor(t, url), panelQuery("A", `{"metric":"orders_created"}`))
	a := resp.Responses["A"]
	if a.Status != backend.StatusBadGateway || !strings.Contains(a.Error.Error(), url) {
		t.Errorf("got status %d, error %v; want bad gateway naming %s", a.Status, a.Error, url)
	}
}

func TestQueryDataRejectsInvalidQueriesWithoutCallingTheBackend(t *testing.T) {
	fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json", `{"results":{"OK":{"status":200,"frames":[]}}}`))
	resp := queryData(t, datasourceFor(t, fb.URL),
		panelQuery("NOMETRIC", `{"aggregation":"sum"}`),
		panelQuery("BADOP", `{"metric":"orders_created","filters":[{"dimension":"channel","op":"like","value":"w%"}]}`),
		panelQuery("BADVALUE", `{"metric":"orders_created","filters":[{"dimension":"channel","op":"in","value":"web"}]}`),
		panelQuery("BADFORMAT", `{"metric":"orders_created","format":"heatmap"}`),
		panelQuery("BADJSON", `{"metric":`),
		panelQuery("OK", `{"metric":"orders_created"}`))

	want := map[string]string{
		"NOMETRIC":  "metric is required",
		"BADOP":     `filters[0]: op "like" is not one of eq, neq, in, not_in`,
		"BADVALUE":  `value must be a list of strings for op "in"`,
		"BADFORMAT": `format "heatmap"`,
		"BADJSON":   "not valid JSON",
	}
	for ref, text := range want {
		r := resp.Responses[ref]
		if r.Status != backend.StatusBadRequest || r.Error == nil || !strings.Contains(r.Error.Error(), text) {
			t.Errorf("%s: status %d, error %v; want 400 containing %q", ref, r.Status, r.Error, text)
		}
	}
	if resp.Responses["OK"].Error != nil {
		t.Errorf("a valid query must still run: %v", resp.Responses["OK"].Error)
	}
	if n := len(fb.recorded()); n != 1 {
		t.Errorf("backend got %d requests, want 1 (only the valid query)", n)
	}
}

func TestQueryDataWithIncompleteSettingsSaysWhatToFix(t *testing.T) {
	ds := newTestDatasource(t, instanceSettings(map[string]any{"url": "http://localhost:1"}, ""))
	resp := queryData(t, ds, panelQuery("A", `{"metric":"orders_created"}`))
	a := resp.Responses["A"]
	if a.Status != backend.StatusBadRequest || !strings.Contains(a.Error.Error(), "API key is not set") {
		t.Errorf("got status %d, error %v", a.Status, a.Error)
	}
}

func TestLiveQueryAnswersWithTheStreamChannel(t *testing.T) {
	fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json", `{}`))
	resp := queryData(t, datasourceFor(t, fb.URL), panelQuery("L", `{"metric":"orders_created","live":true}`))
	l := resp.Responses["L"]
	if l.Error != nil || len(l.Frames) != 1 || l.Frames[0].Meta == nil {
		t.Fatalf("L = %+v", l)
	}
	if got := l.Frames[0].Meta.Channel; got != "ds/metricshub/live/orders_created" {
		t.Errorf("channel = %q", got)
	}
	if n := len(fb.recorded()); n != 0 {
		t.Errorf("a live query must not call /api/v1/query, got %d requests", n)
	}
}

func TestQueryDataSplitsLargeBatchesToTheBackendLimit(t *testing.T) {
	// Answers every query it is sent with an empty success.
	fb := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Queries []Query `json:"queries"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		results := map[string]any{}
		for _, q := range req.Queries {
			results[q.RefID] = map[string]any{"status": 200, "frames": []any{}}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
	})
	queries := make([]backend.DataQuery, 0, 120)
	for i := range 120 {
		queries = append(queries, panelQuery(fmt.Sprintf("Q%d", i), `{"metric":"orders_created"}`))
	}
	resp := queryData(t, datasourceFor(t, fb.URL), queries...)

	reqs := fb.recorded()
	if len(reqs) != 3 {
		t.Fatalf("120 queries went out in %d requests, want 3 of at most %d", len(reqs), maxQueriesPerRequest)
	}
	for _, r := range reqs {
		if n := len(decodeQueryRequest(t, r.Body)["queries"].([]any)); n > maxQueriesPerRequest {
			t.Errorf("a request carries %d queries", n)
		}
	}
	for _, q := range queries {
		if r, ok := resp.Responses[q.RefID]; !ok || r.Error != nil {
			t.Errorf("%s: %+v", q.RefID, r)
		}
	}
}
