package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Two transitions as GET /api/v1/annotations answers them
// (backend/src/anomalies/routes.ts, toAnnotation): a resolved critical alert
// spanning 40 minutes and a warning still firing.
const annotationsAnswer = `[
 {"time":1769904000000,"timeEnd":1769906400000,"title":"workflow_failure_rate firing (critical)",
  "text":"Failure rate 31% is above 20%. Check the payment provider.",
  "tags":["critical","rule:failure_rate_high","metric:workflow_failure_rate","state:firing","workflow:checkout, retry"],
  "metric":"workflow_failure_rate","severity":"critical","rule":"failure_rate_high","state":"firing"},
 {"time":1769907600000,"timeEnd":null,"title":"delivery_rate pending (warning)","text":"Delivery rate 81% is below 85%.",
  "tags":["warning"],"metric":"delivery_rate","severity":"warning","rule":"delivery_low","state":"pending"}
]`

func annotationQueryOf(refID, model string) backend.DataQuery {
	q := panelQuery(refID, model)
	q.QueryType = queryTypeAnnotations
	return q
}

func TestAnnotationQueriesAreAnsweredServerSide(t *testing.T) {
	fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json", annotationsAnswer))
	resp := queryData(t, datasourceFor(t, fb.URL), annotationQueryOf("Anomalies", `{"metric":"workflow_failure_rate","severity":"critical"}`))

	r := resp.Responses["Anomalies"]
	if r.Error != nil {
		t.Fatalf("error: %v", r.Error)
	}
	reqs := fb.recorded()
	if len(reqs) != 1 || reqs[0].Method != http.MethodGet || reqs[0].Path != "/api/v1/annotations" {
		t.Fatalf("backend calls = %+v, want one GET /api/v1/annotations", reqs)
	}
	params, _ := url.ParseQuery(reqs[0].Query)
	want := url.Values{
		"from": {"1769904000000"}, "to": {"1769914800000"},
		"metric": {"workflow_failure_rate"}, "severity": {"critical"},
	}
	for name, v := range want {
		if params.Get(name) != v[0] {
			t.Errorf("query parameter %s = %q, want %q", name, params.Get(name), v[0])
		}
	}

	if len(r.Frames) != 1 || r.Frames[0].RefID != "Anomalies" {
		t.Fatalf("frames = %d, want one frame for refId Anomalies", len(r.Frames))
	}
	f := r.Frames[0]
	if rows, _ := f.RowLen(); rows != 2 {
		t.Fatalf("rows = %d, want 2", rows)
	}
	// Grafana reads annotation events from these field names.
	get := func(name string, row int) any {
		field, _ := f.FieldByName(name)
		if field == nil {
			t.Fatalf("no field %q", name)
		}
		return field.At(row)
	}
	if got := get("time", 0).(time.Time); !got.Equal(time.UnixMilli(1769904000000)) {
		t.Errorf("time = %s", got)
	}
	if got := get("timeEnd", 0).(time.Time); !got.Equal(time.UnixMilli(1769906400000)) {
		t.Errorf("timeEnd of the resolved alert = %s, want its end (a region)", got)
	}
	if start, end := get("time", 1).(time.Time), get("timeEnd", 1).(time.Time); !start.Equal(end) {
		t.Errorf("an alert still firing must be a point: time %s, timeEnd %s", start, end)
	}
	if got := get("title", 1); got != "delivery_rate pending (warning)" {
		t.Errorf("title = %v", got)
	}
	if got := get("text", 0); !strings.Contains(got.(string), "Check the payment provider") {
		t.Errorf("text = %v", got)
	}
	// Grafana splits the tags field on commas; a comma inside a tag must not split it.
	if got := strings.Split(get("tags", 0).(string), ","); len(got) != 5 || got[4] != "workflow:checkout; retry" {
		t.Errorf("tags = %q", got)
	}
	if got := strings.Split(get("tags", 1).(string), ","); strings.Join(got, " ") != "warning rule:delivery_low metric:delivery_rate" {
		t.Errorf("tags of the second event = %q, want severity, rule and metric", got)
	}
	if got := get("severity", 0); got != "critical" {
		t.Errorf("severity = %v", got)
	}
	if field, _ := f.FieldByName("color"); field != nil {
		t.Errorf("a color field would be ignored by Grafana (it paints events in the annotation query's colour)")
	}
}

func TestAnnotationQueriesRunBesideMetricQueries(t *testing.T) {
	fb := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/annotations" {
			serveBody(http.StatusOK, "application/json", `[]`)(w, r)
			return
		}
		serveBody(http.StatusOK, "application/json", `{"results":{"A":{"status":200,"frames":[]}}}`)(w, r)
	})
	resp := queryData(t, datasourceFor(t, fb.URL),
		annotationQueryOf("Anomalies", `{}`),
		panelQuery("A", `{"metric":"orders_created"}`))
	for _, ref := range []string{"Anomalies", "A"} {
		if r, ok := resp.Responses[ref]; !ok || r.Error != nil {
			t.Errorf("%s: present %v, error %v", ref, ok, r.Error)
		}
	}
	var queryBody map[string]any
	for _, req := range fb.recorded() {
		if req.Path == "/api/v1/query" {
			_ = json.Unmarshal(req.Body, &queryBody)
		}
	}
	if queries, _ := queryBody["queries"].([]any); len(queries) != 1 {
		t.Errorf("POST /api/v1/query got %v, want only the metric query", queryBody["queries"])
	}
}

func TestAnnotationQueryErrorsNameTheField(t *testing.T) {
	fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json", `[]`))
	resp := queryData(t, datasourceFor(t, fb.URL), annotationQueryOf("A", `{"severity":"fatal"}`))
	r := resp.Responses["A"]
	if r.Status != backend.StatusBadRequest || r.Error == nil || !strings.Contains(r.Error.Error(), `severity "fatal"`) {
		t.Errorf("got status %d, error %v", r.Status, r.Error)
	}
	if n := len(fb.recorded()); n != 0 {
		t.Errorf("backend got %d requests for an invalid query", n)
	}
}

// A query whose caller went away is neither a timeout nor a backend failure.
func TestCancelledQueriesAreNotReportedAsBackendTimeouts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	arrived := make(chan struct{})
	fb := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	go func() {
		<-arrived
		cancel()
	}()
	ds := datasourceFor(t, fb.URL)
	resp, err := ds.QueryData(ctx, &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "metricshub"}},
		Queries:       []backend.DataQuery{panelQuery("A", `{"metric":"orders_created"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := resp.Responses["A"]
	if !errors.Is(a.Error, context.Canceled) {
		t.Fatalf("error %v does not keep context.Canceled", a.Error)
	}
	if a.Status == backend.StatusTimeout || a.Status != statusClientClosedRequest {
		t.Errorf("status = %d, want %d (client closed request)", a.Status, statusClientClosedRequest)
	}
	if a.ErrorSource == backend.ErrorSourceDownstream {
		t.Errorf("a cancelled query is marked as a downstream error")
	}
	if got := backend.RequestStatusFromQueryDataResponse(resp, nil); got != backend.RequestStatusCancelled {
		t.Errorf("the SDK counts the request as %s, want cancelled", got)
	}
}
