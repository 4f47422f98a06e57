package plugin

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// The backend writes Grafana's data-frame JSON with schema.fields[].typeInfo
// (the Go type of the column), as Grafana does. The SDK refuses a field without
// it, and earlier backend builds or other TypeScript writers emit only the
// portable "type" (the recorded fixtures are such answers); typeInfoFor fills
// typeInfo from "type" in that case. Numbers are nullable float64 because
// empty buckets arrive as null and alert expressions need floats.
var typeInfoFor = map[string]map[string]any{
	"time":    {"frame": "time.Time"},
	"number":  {"frame": "float64", "nullable": true},
	"string":  {"frame": "string", "nullable": true},
	"boolean": {"frame": "bool", "nullable": true},
	"other":   {"frame": "json.RawMessage", "nullable": true},
}

// decodeFrame reads one frame of the wire format into a data.Frame.
func decodeFrame(raw json.RawMessage) (*data.Frame, error) {
	normalized, err := withTypeInfo(raw)
	if err != nil {
		return nil, err
	}
	frame := &data.Frame{}
	if err := json.Unmarshal(normalized, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// withTypeInfo returns raw with typeInfo set on every schema field that lacks
// it, written schema first: the SDK reads "data" only after "schema", while a
// writer is free to order object keys as it likes.
func withTypeInfo(raw json.RawMessage) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("frame is not a JSON object: %w", err)
	}
	var schema map[string]json.RawMessage
	if err := json.Unmarshal(top["schema"], &schema); err != nil || schema == nil {
		return nil, fmt.Errorf("frame has no schema object")
	}
	var fields []map[string]json.RawMessage
	if err := json.Unmarshal(schema["fields"], &fields); err != nil {
		return nil, fmt.Errorf("frame schema has no fields list: %w", err)
	}
	for i, f := range fields {
		if _, ok := f["typeInfo"]; ok {
			continue
		}
		var typ string
		_ = json.Unmarshal(f["type"], &typ)
		info, ok := typeInfoFor[typ]
		if !ok {
			return nil, fmt.Errorf("field %d has unknown type %q (expected time, number, string, boolean or other)", i, typ)
		}
		b, err := json.Marshal(info)
		if err != nil {
			return nil, err
		}
		f["typeInfo"] = b
	}
	var err error
	if schema["fields"], err = json.Marshal(fields); err != nil {
		return nil, err
	}
	ordered := struct {
		Schema map[string]json.RawMessage `json:"schema"`
		Data   json.RawMessage            `json:"data,omitempty"`
	}{Schema: schema, Data: top["data"]}
	return json.Marshal(ordered)
}

// splitSeries turns a wide time series frame (one time field, several value
// fields) into one frame per value field, the "multi" shape Grafana's alert
// expressions read series from. Other frames are returned as they are.
func splitSeries(frame *data.Frame) []*data.Frame {
	timeIdx := -1
	var values []int
	for i, f := range frame.Fields {
		switch {
		case f.Type().Time() && timeIdx < 0:
			timeIdx = i
		case f.Type().Numeric():
			values = append(values, i)
		}
	}
	if timeIdx < 0 || len(values) == 0 || len(values)+1 != len(frame.Fields) {
		return []*data.Frame{frame}
	}

	out := make([]*data.Frame, 0, len(values))
	for _, vi := range values {
		series := data.NewFrame(frame.Name, frame.Fields[timeIdx], frame.Fields[vi])
		series.RefID = frame.RefID
		series.Meta = timeSeriesMeta(frame.Meta)
		out = append(out, series)
	}
	return out
}

// timeSeriesMeta copies meta and declares the frame a "timeseries-multi" frame
// of the data plane contract, so server-side expressions need not guess.
func timeSeriesMeta(in *data.FrameMeta) *data.FrameMeta {
	meta := &data.FrameMeta{}
	if in != nil {
		copied := *in
		meta = &copied
	}
	if meta.Type == "" {
		meta.Type = data.FrameTypeTimeSeriesMulti
		meta.TypeVersion = data.FrameTypeVersion{0, 1}
	}
	return meta
}
