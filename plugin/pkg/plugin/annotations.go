package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// queryTypeAnnotations marks a query for anomaly annotations (plugin/src/types.ts,
// ANNOTATIONS_QUERY_TYPE). Answering it here, not in the browser, lets public
// dashboards, reports and every other server-side caller draw the anomalies.
const queryTypeAnnotations = "annotations"

var validSeverities = []string{"warning", "critical"}

// annotationQuery is the model of an annotation query: both filters optional.
type annotationQuery struct {
	Metric   string `json:"metric"`
	Severity string `json:"severity"`
}

// backendAnnotation is one item of GET /api/v1/annotations: an alert transition.
type backendAnnotation struct {
	Time     int64    `json:"time"`
	TimeEnd  *int64   `json:"timeEnd"`
	Title    string   `json:"title"`
	Text     string   `json:"text"`
	Tags     []string `json:"tags"`
	Metric   string   `json:"metric"`
	Severity string   `json:"severity"`
	Rule     string   `json:"rule"`
	State    string   `json:"state"`
}

func parseAnnotationQuery(dq backend.DataQuery) (annotationQuery, error) {
	var q annotationQuery
	if len(dq.JSON) > 0 {
		if err := json.Unmarshal(dq.JSON, &q); err != nil {
			return q, fmt.Errorf("%w: the annotation query is not valid JSON for Metrics Hub: %v", errInvalidQuery, err)
		}
	}
	q.Metric, q.Severity = strings.TrimSpace(q.Metric), strings.TrimSpace(q.Severity)
	if q.Severity != "" && !slices.Contains(validSeverities, q.Severity) {
		return q, fmt.Errorf("%w: severity %q is not one of %s (or empty for both)", errInvalidQuery, q.Severity, strings.Join(validSeverities, ", "))
	}
	return q, nil
}

// Annotations runs GET /api/v1/annotations for a time range.
func (c *Client) Annotations(ctx context.Context, tr backend.TimeRange, q annotationQuery) ([]backendAnnotation, error) {
	params := url.Values{
		"from": {strconv.FormatInt(tr.From.UnixMilli(), 10)},
		"to":   {strconv.FormatInt(tr.To.UnixMilli(), 10)},
	}
	if q.Metric != "" {
		params.Set("metric", q.Metric)
	}
	if q.Severity != "" {
		params.Set("severity", q.Severity)
	}
	var items []backendAnnotation
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/api/v1/annotations", rawQuery: params.Encode()}, &items); err != nil {
		return nil, err
	}
	return items, nil
}

// annotationResponse answers one annotation query.
func (d *Datasource) annotationResponse(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	q, err := parseAnnotationQuery(dq)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, fmt.Sprintf("query %s: %v", dq.RefID, err))
	}
	items, err := d.client.Annotations(ctx, dq.TimeRange, q)
	if err != nil {
		return errorResponse(err)
	}
	frame := annotationFrame(items)
	frame.RefID = dq.RefID
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// annotationFrame holds the fields Grafana turns into annotation events by
// name (time, timeEnd, title, text, tags), plus metric, severity, rule and
// state for table panels. Tags are one comma-separated string: a frame cannot
// hold string lists, and Grafana splits the tags field on commas. There is no
// colour field: Grafana paints every event of an annotation query in that
// query's colour, so colour by severity means one annotation query per severity.
func annotationFrame(items []backendAnnotation) *data.Frame {
	n := len(items)
	var (
		times, ends                        = make([]time.Time, n), make([]time.Time, n)
		titles, texts, tags                = make([]string, n), make([]string, n), make([]string, n)
		metrics, severities, rules, states = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	)
	for i, a := range items {
		times[i] = time.UnixMilli(a.Time).UTC()
		// An alert that has not ended yet is a point in time, not an open region.
		ends[i] = times[i]
		if a.TimeEnd != nil {
			ends[i] = time.UnixMilli(*a.TimeEnd).UTC()
		}
		titles[i], texts[i], tags[i] = a.Title, a.Text, joinTags(a)
		metrics[i], severities[i], rules[i], states[i] = a.Metric, a.Severity, a.Rule, a.State
	}
	return data.NewFrame("annotations",
		data.NewField("time", nil, times),
		data.NewField("timeEnd", nil, ends),
		data.NewField("title", nil, titles),
		data.NewField("text", nil, texts),
		data.NewField("tags", nil, tags),
		data.NewField("metric", nil, metrics),
		data.NewField("severity", nil, severities),
		data.NewField("rule", nil, rules),
		data.NewField("state", nil, states),
	)
}

// joinTags makes the comma-separated tags; a comma inside a tag would split it.
func joinTags(a backendAnnotation) string {
	tags := slices.Clone(a.Tags)
	for _, extra := range []string{a.Severity, prefixed("rule:", a.Rule), prefixed("metric:", a.Metric)} {
		if extra != "" && !slices.Contains(tags, extra) {
			tags = append(tags, extra)
		}
	}
	for i, t := range tags {
		tags[i] = strings.ReplaceAll(t, ",", ";")
	}
	return strings.Join(tags, ",")
}

func prefixed(prefix, value string) string {
	if value == "" {
		return ""
	}
	return prefix + value
}
