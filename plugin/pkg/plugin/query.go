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

// LimitMax is the largest top-N a table query may ask for.
const LimitMax = 1000

var (
	validDirections   = []string{"asc", "desc"}
	validFormats      = []string{FormatTimeSeries, FormatTable, FormatKPI, FormatList}
	validAggregations = []string{"sum", "count", "avg", "min", "max", "p50", "p90", "p95", "p99", "rate", "distinct"}
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
	// Top-N of table queries, passed through to the backend as they are.
	OrderBy *OrderBy `json:"orderBy,omitempty"`
	// Limit is a table's top-N or, for FormatList, how many events; unset, the backend's default applies.
	Limit *int `json:"limit,omitempty"`
	// Columns applies to FormatList only: the event attributes shown.
	Columns []string `json:"columns,omitempty"`
	// Band names one of the metric's anomaly rules; the answer then carries what that rule
	// judges next to each series (expected, lower, upper, score), for alert rules to act on.
	Band string `json:"band,omitempty"`
	// BandField answers only one band column (expected, lower, upper or score): what an alert rule thresholds.
	BandField string `json:"bandField,omitempty"`
	// Rolling answers the metric over exactly the query's range, to the millisecond, from raw
	// events: one point per series at the range's end. An alert rule with a 30-minute relative
	// range then judges the last 30 minutes, the current partial hour included.
	Rolling bool `json:"rolling,omitempty"`
	// Live queries are answered by a Grafana Live channel, never sent to /api/v1/query.
	Live bool `json:"-"`
}

// OrderBy sorts a table query's rows by "value" or by one of its groupBy dimensions.
type OrderBy struct {
	By        string `json:"by"`
	Direction string `json:"direction"`
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
	OrderBy           *OrderBy `json:"orderBy"`
	Limit             *float64 `json:"limit"`
	Columns           []string `json:"columns"`
	Band              string   `json:"band"`
	BandField         string   `json:"bandField"`
	Rolling           bool     `json:"rolling"`
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
		OrderBy:           raw.OrderBy,
		Columns:           raw.Columns,
		Band:              strings.TrimSpace(raw.Band),
		BandField:         strings.TrimSpace(raw.BandField),
		Rolling:           raw.Rolling,
		Live:              raw.Live,
	}
	if raw.Limit != nil {
		limit := int(*raw.Limit)
		if float64(limit) != *raw.Limit {
			return Query{}, fmt.Errorf("%w: limit: must be a whole number from 1 to %d", errInvalidQuery, LimitMax)
		}
		q.Limit = &limit
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
	if q.Rolling && q.Format != FormatTimeSeries && q.Format != FormatTable {
		return fmt.Errorf("%w: rolling: applies to formats timeseries and table, not '%s'", errInvalidQuery, q.Format)
	}
	if err := q.validateTopN(); err != nil {
		return err
	}
	return q.validateList()
}

// validateTopN checks orderBy and limit with the backend's rules and words
// (docs/api.md), so an alert rule fails before it reaches the backend.
func (q Query) validateTopN() error {
	if (q.OrderBy == nil && q.Limit == nil) || q.Format == FormatList {
		return nil
	}
	if q.Format != FormatTable {
		field := "limit"
		if q.OrderBy != nil {
			field = "orderBy"
		}
		return fmt.Errorf("%w: %s: applies to table queries only (format 'table'), not '%s'", errInvalidQuery, field, q.Format)
	}
	if q.OrderBy != nil {
		if q.OrderBy.By != "value" && !slices.Contains(q.GroupBy, q.OrderBy.By) {
			return fmt.Errorf("%w: orderBy.by: '%s' must be 'value' or one of the query's groupBy dimensions (%s)", errInvalidQuery, q.OrderBy.By, strings.Join(q.GroupBy, ", "))
		}
		if !slices.Contains(validDirections, q.OrderBy.Direction) {
			return fmt.Errorf("%w: orderBy.direction: must be 'asc' or 'desc'", errInvalidQuery)
		}
	}
	if q.Limit != nil && (*q.Limit < 1 || *q.Limit > LimitMax) {
		return fmt.Errorf("%w: limit: must be a whole number from 1 to %d", errInvalidQuery, LimitMax)
	}
	return nil
}

// validateList checks the fields only format "list" takes.
func (q Query) validateList() error {
	if q.Format != FormatList {
		if len(q.Columns) > 0 {
			return fmt.Errorf("%w: columns apply to format %q only", errInvalidQuery, FormatList)
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
