package plugin

import (
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

const topClients = `{"refId":"A","metric":"orders_created","groupBy":["channel"],"format":"table",
  "orderBy":{"by":"value","direction":"desc"},"limit":20}`

func TestQueryDataPassesTopNThroughToTheBackend(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "query_timeseries.json"))
	queryData(t, datasourceFor(t, fb.URL), panelQuery("A", topClients))

	reqs := fb.recorded()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests, want 1", len(reqs))
	}
	q := decodeQueryRequest(t, reqs[0].Body)["queries"].([]any)[0].(map[string]any)
	orderBy, ok := q["orderBy"].(map[string]any)
	if !ok || orderBy["by"] != "value" || orderBy["direction"] != "desc" {
		t.Errorf("orderBy not forwarded: %v", q["orderBy"])
	}
	if q["limit"] != float64(20) {
		t.Errorf("limit = %v, want 20", q["limit"])
	}
}

func TestParseQueryLeavesTopNOutWhenUnset(t *testing.T) {
	q, err := ParseQuery(backend.DataQuery{RefID: "A", JSON: []byte(`{"metric":"orders_created","format":"table"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if q.OrderBy != nil || q.Limit != nil {
		t.Errorf("top-N set without being asked: %+v %+v", q.OrderBy, q.Limit)
	}
}

func TestParseQueryRefusesBadTopNNamingTheField(t *testing.T) {
	cases := map[string]string{
		`{"metric":"m","format":"table","groupBy":["channel"],"orderBy":{"by":"market","direction":"desc"}}`: "orderBy.by: 'market' must be 'value' or one of the query's groupBy dimensions (channel)",
		`{"metric":"m","format":"table","orderBy":{"by":"value","direction":"down"}}`:                        "orderBy.direction: must be 'asc' or 'desc'",
		`{"metric":"m","format":"table","limit":0}`:                                                          "limit: must be a whole number from 1 to 1000",
		`{"metric":"m","format":"table","limit":1001}`:                                                       "limit: must be a whole number from 1 to 1000",
		`{"metric":"m","format":"table","limit":2.5}`:                                                        "limit: must be a whole number from 1 to 1000",
		`{"metric":"m","format":"timeseries","limit":5}`:                                                     "limit: applies to table queries only",
	}
	for model, want := range cases {
		_, err := ParseQuery(backend.DataQuery{RefID: "A", JSON: []byte(model)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", model, err, want)
		}
	}
}
