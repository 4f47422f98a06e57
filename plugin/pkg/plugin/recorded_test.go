package plugin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// These tests replay answers recorded from the real backend by
// testdata/record.sh, over the data set that script ingests.

var recordedHour = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func recordedQuery(refID, model string) backend.DataQuery {
	return backend.DataQuery{
		RefID:         refID,
		JSON:          json.RawMessage(model),
		TimeRange:     backend.TimeRange{From: recordedHour, To: recordedHour.Add(2 * time.Hour)},
		Interval:      time.Hour,
		MaxDataPoints: 100,
	}
}

func TestRecordedTimeSeriesAnswer(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "recorded_query_timeseries.json"))
	resp := queryData(t, datasourceFor(t, fb.URL),
		recordedQuery("A", `{"metric":"order_value","aggregation":"sum","groupBy":["channel"],"filters":[{"dimension":"product","op":"eq","value":"fixture"}]}`),
		recordedQuery("B", `{"metric":"ordrs_created"}`))

	a := resp.Responses["A"]
	if a.Error != nil {
		t.Fatalf("A: %v", a.Error)
	}
	want := map[string][]float64{"web": {30, 7.5}, "mobile": {5, 2.5}}
	if len(a.Frames) != len(want) {
		t.Fatalf("A has %d frames, want %d", len(a.Frames), len(want))
	}
	for _, f := range a.Frames {
		if f.Fields[0].Type() != data.FieldTypeTime || f.Fields[1].Type() != data.FieldTypeNullableFloat64 {
			t.Errorf("types = %s, %s", f.Fields[0].Type(), f.Fields[1].Type())
		}
		channel := f.Fields[1].Labels["channel"]
		for i, w := range want[channel] {
			at := f.Fields[0].At(i).(time.Time)
			v, _ := f.Fields[1].FloatAt(i)
			if !at.Equal(recordedHour.Add(time.Duration(i)*time.Hour)) || v != w {
				t.Errorf("%s[%d] = %v at %v, want %v at %v", channel, i, v, at, w, recordedHour.Add(time.Duration(i)*time.Hour))
			}
		}
		if f.Fields[1].Config.Unit != "currencyUSD" {
			t.Errorf("unit = %q", f.Fields[1].Config.Unit)
		}
	}
	b := resp.Responses["B"]
	if b.Status != backend.StatusBadRequest || !strings.Contains(b.Error.Error(), "did you mean 'orders_created'") {
		t.Errorf("B = %d %v", b.Status, b.Error)
	}
}

func TestRecordedTableAndKPIAnswer(t *testing.T) {
	fb := newFakeBackend(t, serveFile(t, "recorded_query_table_kpi.json"))
	only := `[{"dimension":"product","op":"eq","value":"fixture"}]`
	resp := queryData(t, datasourceFor(t, fb.URL),
		recordedQuery("T", `{"metric":"orders_created","groupBy":["channel"],"filters":`+only+`,"format":"table"}`),
		recordedQuery("K", `{"metric":"orders_created","filters":`+only+`,"format":"kpi"}`))

	table := resp.Responses["T"]
	if table.Error != nil || len(table.Frames) != 1 {
		t.Fatalf("T = %+v", table)
	}
	tf := table.Frames[0]
	rows := map[string]float64{}
	for i := 0; i < tf.Rows(); i++ {
		ch, _ := tf.Fields[0].ConcreteAt(i)
		v, _ := tf.Fields[1].FloatAt(i)
		rows[ch.(string)] = v
	}
	if rows["web"] != 3 || rows["mobile"] != 2 || len(rows) != 2 {
		t.Errorf("table rows = %v, want web 3, mobile 2", rows)
	}

	kpi := resp.Responses["K"]
	if kpi.Error != nil || len(kpi.Frames) != 1 {
		t.Fatalf("K = %+v", kpi)
	}
	kf := kpi.Frames[0]
	value, _ := kf.FieldByName("value")
	delta, _ := kf.FieldByName("deltaPercent")
	if v, _ := value.FloatAt(0); v != 5 {
		t.Errorf("kpi value = %v, want 5 orders", v)
	}
	if delta.At(0).(*float64) != nil {
		t.Errorf("deltaPercent against an empty previous period must stay null")
	}
}

func TestRecordedWhoAmIAndUnauthorizedAnswers(t *testing.T) {
	ok := newFakeBackend(t, serveFile(t, "recorded_whoami.json"))
	res := checkHealth(t, datasourceFor(t, ok.URL))
	if res.Status != backend.HealthStatusOk || !strings.Contains(res.Message, `"plugin-e2e": 1 of 1 sources healthy`) {
		t.Errorf("health = %v %q", res.Status, res.Message)
	}

	denied := newFakeBackend(t, serveBody(http.StatusUnauthorized, "application/json", fixture(t, "recorded_unauthorized.json")))
	res = checkHealth(t, datasourceFor(t, denied.URL))
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "API key is unknown or revoked") {
		t.Errorf("health = %v %q", res.Status, res.Message)
	}
}
