package plugin

import (
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func TestQueryDataPassesRollingThroughToTheBackend(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_timeseries.json"))
	queryData(t, datasourceFor(t, fb.URL), panelQuery("A", `{"refId":"A","metric":"orders_created","rolling":true}`))

	reqs := fb.recorded()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests, want 1", len(reqs))
	}
	q := decodeQueryRequest(t, reqs[0].Body)["queries"].([]any)[0].(map[string]any)
	if q["rolling"] != true {
		t.Errorf("rolling not forwarded: %v", q)
	}
}

func TestQueryDataLeavesRollingOutWhenUnset(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_timeseries.json"))
	queryData(t, datasourceFor(t, fb.URL), panelQuery("A", `{"refId":"A","metric":"orders_created"}`))
	q := decodeQueryRequest(t, fb.recorded()[0].Body)["queries"].([]any)[0].(map[string]any)
	if _, ok := q["rolling"]; ok {
		t.Errorf("rolling sent without being asked: %v", q)
	}
}

func TestParseQueryRefusesRollingOutsideTimeSeriesAndTables(t *testing.T) {
	_, err := ParseQuery(backend.DataQuery{RefID: "A", JSON: []byte(`{"metric":"m","format":"kpi","rolling":true}`)})
	if err == nil || !strings.Contains(err.Error(), "rolling: applies to formats timeseries and table, not 'kpi'") {
		t.Errorf("error %v", err)
	}
	for _, format := range []string{"timeseries", "table"} {
		q, err := ParseQuery(backend.DataQuery{RefID: "A", JSON: []byte(`{"metric":"m","rolling":true,"format":"` + format + `"}`)})
		if err != nil || !q.Rolling {
			t.Errorf("%s: %v %+v", format, err, q)
		}
	}
}
