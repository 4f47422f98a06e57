package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Formats a query can ask for (docs/api.md, "The query model").
const (
	FormatTimeSeries = "timeseries"
	FormatTable      = "table"
	FormatKPI        = "kpi"
	// FormatList lists the newest raw events a metric counts: one frame of
	// time, type, one string field per column and value (docs/api.md).
	FormatList = "list"
	// ListMaxLimit is the most events one list query returns (the backend's cap).
	ListMaxLimit = 1000
)

var (
	validFormats      = []string{FormatTimeSeries, FormatTable, FormatKPI, FormatList}
	validAggregations = []string{"sum", "count", "avg", "min", "max", "p50", "p90", "p95", "p99", "rate"}
	validOps          = []string{"eq", "neq", "in", "not_in"}
)

// errInvalidQuery marks a query the user must fix in the query editor.
var errInvalidQuery = errors.New("invalid query")

// Query is one Metrics Hub query as the query editor writes it. The same JSON
// goes to the backend's POST /api/v1/query, so the field names follow docs/api.md.
type Query struct {
	RefID             string   `json:"refId"`
	Source            string   `json:"source,omitempty"`
	Metric            string   `json:"metric"`
	Aggregation       string   `json:"aggregation,omitempty"`
	GroupBy           []string `json:"groupBy,omitempty"`
	Filters           []Filter `json:"filters,omitempty"`
	Format            string   `json:"format"`
	CompareToPrevious bool     `json:"compareToPrevious,omitempty"`
	// Limit and Columns apply to FormatList only; unset, the backend's defaults apply.
	Limit   *int     `json:"limit,omitempty"`
	Columns []string `json:"columns,omitempty"`
	// Live queries are answered by a Grafana Live channel, never sent to /api/v1/query.
	Live bool `json:"-"`
}

// Filter restricts a query to some values of one dimension. Value is a string
// for eq/neq and a list of strings for in/not_in.
type Filter struct {
	Dimension string `json:"dimension"`
	Op        string `json:"op"`
	Value     any    `json:"value"`
}

// queryJSON mirrors Query for decoding, because Live must be read from the
// editor's JSON but never written to the backend.
type queryJSON struct {
	Source            string   `json:"source"`
	Metric            string   `json:"metric"`
	Aggregation       string   `json:"aggregation"`
	GroupBy           []string `json:"groupBy"`
	Filters           []Filter `json:"filters"`
	Format            string   `json:"format"`
	CompareToPrevious bool     `json:"compareToPrevious"`
	Limit             *int     `json:"limit"`
	Columns           []string `json:"columns"`
	Live              bool     `json:"live"`
}

// ParseQuery reads and validates the query model of one Grafana query. Errors
// name the field at fault so the user can fix it in the editor or alert rule.
func ParseQuery(dq backend.DataQuery) (Query, error) {
	var raw queryJSON
	if len(dq.JSON) > 0 {
		if err := json.Unmarshal(dq.JSON, &raw); err != nil {
			return Query{}, fmt.Errorf("%w: the query is not valid JSON for Metrics Hub: %v", errInvalidQuery, err)
		}
	}
	q := Query{
		RefID:             dq.RefID,
		Source:            strings.TrimSpace(raw.Source),
		Metric:            strings.TrimSpace(raw.Metric),
		Aggregation:       strings.TrimSpace(raw.Aggregation),
		GroupBy:           raw.GroupBy,
		Filters:           raw.Filters,
		Format:            strings.TrimSpace(raw.Format),
		CompareToPrevious: raw.CompareToPrevious,
		Limit:             raw.Limit,
		Columns:           raw.Columns,
		Live:              raw.Live,
	}
	if q.Format == "" {
		q.Format = FormatTimeSeries
	}
	if err := q.validate(); err != nil {
		return Query{}, err
	}
	return q, nil
}

func (q Query) validate() error {
	if q.Metric == "" {
		return fmt.Errorf("%w: metric is required; choose a metric in the query editor", errInvalidQuery)
	}
	if !slices.Contains(validFormats, q.Format) {
		return fmt.Errorf("%w: format %q is not one of %s", errInvalidQuery, q.Format, strings.Join(validFormats, ", "))
	}
	if q.Aggregation != "" && !slices.Contains(validAggregations, q.Aggregation) {
		return fmt.Errorf("%w: aggregation %q is not one of %s", errInvalidQuery, q.Aggregation, strings.Join(validAggregations, ", "))
	}
	for i, g := range q.GroupBy {
		if strings.TrimSpace(g) == "" {
			return fmt.Errorf("%w: groupBy[%d] is empty", errInvalidQuery, i)
		}
	}
	for i, f := range q.Filters {
		if err := f.validate(); err != nil {
			return fmt.Errorf("%w: filters[%d]: %v", errInvalidQuery, i, err)
		}
	}
	return q.validateList()
}

// validateList checks the fields only format "list" takes.
func (q Query) validateList() error {
	if q.Format != FormatList {
		if q.Limit != nil || len(q.Columns) > 0 {
			return fmt.Errorf("%w: limit and columns apply to format %q only", errInvalidQuery, FormatList)
		}
		return nil
	}
	if q.Limit != nil && (*q.Limit < 1 || *q.Limit > ListMaxLimit) {
		return fmt.Errorf("%w: limit must be from 1 to %d, not %d", errInvalidQuery, ListMaxLimit, *q.Limit)
	}
	for i, c := range q.Columns {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("%w: columns[%d] is empty", errInvalidQuery, i)
		}
	}
	return nil
}

func (f Filter) validate() error {
	if strings.TrimSpace(f.Dimension) == "" {
		return errors.New("dimension is required")
	}
	switch f.Op {
	case "eq", "neq":
		if _, ok := f.Value.(string); !ok {
			return fmt.Errorf("value must be a string for op %q", f.Op)
		}
	case "in", "not_in":
		list, ok := f.Value.([]any)
		if !ok {
			return fmt.Errorf("value must be a list of strings for op %q", f.Op)
		}
		for j, v := range list {
			if _, ok := v.(string); !ok {
				return fmt.Errorf("value[%d] must be a string", j)
			}
		}
	default:
		return fmt.Errorf("op %q is not one of %s", f.Op, strings.Join(validOps, ", "))
	}
	return nil
}
