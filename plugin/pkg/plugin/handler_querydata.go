package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/live"
)

// defaultMaxDataPoints is sent when a query comes without one (rules created
// through the API, server-side callers): the backend rejects 0, and an alert
// rule would then go to its error state instead of evaluating.
const defaultMaxDataPoints = 1000

// minIntervalMs is the finest bucket asked for when Grafana gives no interval.
const minIntervalMs = 1000

// maxQueriesPerRequest is the most queries the backend takes in one request.
const maxQueriesPerRequest = 50

// batchKey groups queries that can share one POST /api/v1/query: a panel's
// queries share range and resolution, alert queries may not.
type batchKey struct {
	from, to, intervalMs, maxDataPoints int64
}

// QueryData answers Grafana's queries. Queries sharing a time range are sent to
// the backend in one request; every failure stays with its own refId.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (resp *backend.QueryDataResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			log.DefaultLogger.FromContext(ctx).Error("panic in QueryData", "panic", fmt.Sprint(r))
			resp, err = nil, errors.New("internal error in the Metrics Hub plugin; see the Grafana server log")
		}
	}()
	resp = backend.NewQueryDataResponse()
	if d.settingsErr != nil {
		for _, q := range req.Queries {
			resp.Responses[q.RefID] = backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, d.settingsErr.Error())
		}
		return resp, nil
	}

	batches := map[batchKey][]Query{}
	var annotations []backend.DataQuery
	for _, dq := range req.Queries {
		if dq.QueryType == queryTypeAnnotations {
			annotations = append(annotations, dq)
			continue
		}
		q, err := ParseQuery(dq)
		switch {
		case err != nil:
			resp.Responses[dq.RefID] = backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, fmt.Sprintf("query %s: %v", dq.RefID, err))
		case q.Live:
			resp.Responses[dq.RefID] = liveResponse(req.PluginContext, q)
		default:
			key := keyFor(dq)
			batches[key] = append(batches[key], q)
		}
	}

	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for key, queries := range batches {
		for chunk := range slices.Chunk(queries, maxQueriesPerRequest) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results := d.runBatch(ctx, key, chunk)
				mu.Lock()
				defer mu.Unlock()
				for refID, r := range results {
					resp.Responses[refID] = r
				}
			}()
		}
	}
	for _, dq := range annotations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A panic here would take down the plugin process (see runBatch).
				if r := recover(); r != nil {
					log.DefaultLogger.FromContext(ctx).Error("panic while answering an annotation query", "panic", fmt.Sprint(r))
					mu.Lock()
					defer mu.Unlock()
					resp.Responses[dq.RefID] = backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "internal error in the Metrics Hub plugin while reading the anomalies; see the Grafana server log")
				}
			}()
			r := d.annotationResponse(ctx, dq)
			mu.Lock()
			defer mu.Unlock()
			resp.Responses[dq.RefID] = r
		}()
	}
	wg.Wait()
	return resp, nil
}

func keyFor(dq backend.DataQuery) batchKey {
	from, to := dq.TimeRange.From.UnixMilli(), dq.TimeRange.To.UnixMilli()
	maxDataPoints := dq.MaxDataPoints
	if maxDataPoints <= 0 {
		maxDataPoints = defaultMaxDataPoints
	}
	intervalMs := dq.Interval.Milliseconds()
	if intervalMs <= 0 {
		// Spread the range over maxDataPoints buckets, rounded up.
		intervalMs = max(minIntervalMs, (to-from+maxDataPoints-1)/maxDataPoints)
	}
	return batchKey{from: from, to: to, intervalMs: intervalMs, maxDataPoints: maxDataPoints}
}

// runBatch sends one request and converts its answer. It never panics: a bug
// while converting one answer must not take down the plugin process, which
// would fail every dashboard and alert using it.
func (d *Datasource) runBatch(ctx context.Context, key batchKey, queries []Query) (out map[string]backend.DataResponse) {
	out = make(map[string]backend.DataResponse, len(queries))
	defer func() {
		if r := recover(); r != nil {
			log.DefaultLogger.FromContext(ctx).Error("panic while answering queries", "panic", fmt.Sprint(r))
			for _, q := range queries {
				if _, done := out[q.RefID]; !done {
					out[q.RefID] = backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "internal error in the Metrics Hub plugin while reading the answer; see the Grafana server log")
				}
			}
		}
	}()

	results, err := d.client.Query(ctx, queryRequest{
		From: key.from, To: key.to, IntervalMs: key.intervalMs, MaxDataPoints: key.maxDataPoints, Queries: queries,
	})
	if err != nil {
		failed := errorResponse(err)
		for _, q := range queries {
			out[q.RefID] = failed
		}
		return out
	}
	for _, q := range queries {
		r, ok := results[q.RefID]
		if !ok {
			out[q.RefID] = backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, fmt.Sprintf("the Metrics Hub backend returned no result for query %s", q.RefID))
			continue
		}
		out[q.RefID] = convertResult(q, r)
	}
	return out
}

// convertResult turns one backend result into Grafana's answer for its refId.
func convertResult(q Query, r queryResult) backend.DataResponse {
	if r.Error != "" || (r.Status != 0 && r.Status != 200) {
		status := backend.Status(r.Status)
		if r.Status == 0 || r.Status == 200 {
			status = backend.StatusBadGateway
		}
		msg := r.Error
		if msg == "" {
			msg = fmt.Sprintf("the Metrics Hub backend answered status %d without a message", r.Status)
		}
		return backend.ErrDataResponseWithSource(status, backend.ErrorSourceDownstream, msg)
	}

	frames := make(data.Frames, 0, len(r.Frames))
	for i, raw := range r.Frames {
		frame, err := decodeFrame(raw)
		if err != nil {
			return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, fmt.Sprintf("%v: frame %d of query %s: %v", errBadResponse, i, q.RefID, err))
		}
		frame.RefID = q.RefID
		if q.Format == FormatTimeSeries {
			frames = append(frames, splitSeries(frame)...)
		} else {
			frames = append(frames, frame)
		}
	}
	return backend.DataResponse{Frames: frames}
}

// errorResponse maps a failed backend call to the one status Grafana shows for
// its failure class.
func errorResponse(err error) backend.DataResponse {
	if errors.Is(err, context.Canceled) {
		return cancelledResponse(err)
	}
	status := backend.StatusInternal
	source := backend.ErrorSourceDownstream
	switch {
	case errors.Is(err, errUnauthorized):
		// Not 401: the user's Grafana session is fine, the data source key is not.
		status = backend.StatusBadRequest
	case errors.Is(err, errRejected):
		status = backend.StatusBadRequest
	case errors.Is(err, errRateLimited):
		status = backend.StatusTooManyRequests
	case errors.Is(err, errTimeout), errors.Is(err, context.DeadlineExceeded):
		status = backend.StatusTimeout
	case errors.Is(err, errUnreachable), errors.Is(err, errUpstream), errors.Is(err, errBadResponse):
		status = backend.StatusBadGateway
	default:
		source = backend.ErrorSourcePlugin
	}
	return backend.ErrDataResponseWithSource(status, source, err.Error())
}

// statusClientClosedRequest is the status Grafana's own HTTP API uses for a
// request its caller gave up on (the nginx convention); the SDK has no name for it.
const statusClientClosedRequest backend.Status = 499

// cancelledResponse answers a query whose caller went away (panel closed, range
// changed, alert evaluation stopped). It is neither a timeout nor a failure of
// the Metrics Hub backend: the error keeps context.Canceled in its chain, so the
// SDK's logs and metrics count the request as cancelled, not as an error, and
// the plugin does not mark it as a downstream error.
func cancelledResponse(err error) backend.DataResponse {
	return backend.DataResponse{
		Status: statusClientClosedRequest,
		Error:  fmt.Errorf("query cancelled before the Metrics Hub backend answered: %w", err),
	}
}

// liveResponse answers a live query with an empty frame naming the Grafana Live
// channel; the frontend subscribes to it and RunStream feeds it.
func liveResponse(pc backend.PluginContext, q Query) backend.DataResponse {
	uid := ""
	if pc.DataSourceInstanceSettings != nil {
		uid = pc.DataSourceInstanceSettings.UID
	}
	channel := live.Channel{Scope: live.ScopeDatasource, Namespace: uid, Path: livePath([]string{q.Metric})}
	frame := data.NewFrame(q.Metric)
	frame.RefID = q.RefID
	frame.SetMeta(&data.FrameMeta{Channel: channel.String()})
	return backend.DataResponse{Frames: data.Frames{frame}}
}
