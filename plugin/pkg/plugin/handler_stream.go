package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// livePathPrefix starts every stream path. Several metrics share one channel
// as live/<metric>/<metric>/...: Grafana Live accepts only [A-z0-9_-/=.] in a
// channel path (no commas), and "/" can never occur in a metric key, so each
// segment is exactly one key. The frontend sorts the keys, so panels watching
// the same set share one channel and one stream (plugin/src/live.ts).
const livePathPrefix = "live/"

// maxLiveMetrics bounds one subscription; the backend counts each metric.
const maxLiveMetrics = 20

// counters is the data of one "counters" event of GET /api/v1/live.
type counters struct {
	Time int64 `json:"time"`
	// A value is null when the metric has nothing to show (an average over no events).
	Values map[string]*float64 `json:"values"`
}

// SubscribeStream accepts subscriptions to live/<metrics> channels. Grafana
// runs one RunStream per channel however many panels subscribe.
func (d *Datasource) SubscribeStream(_ context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if d.settingsErr != nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusPermissionDenied}, nil
	}
	if _, err := liveMetrics(req.Path); err != nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
}

// PublishStream refuses publishing: counters come from the backend only.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream relays the backend's realtime counters to Grafana Live until the
// last subscriber leaves (ctx done), reconnecting with backoff when the backend
// drops the stream or is not reachable.
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	metrics, err := liveMetrics(req.Path)
	if err != nil {
		return err
	}
	if d.settingsErr != nil {
		return d.settingsErr
	}
	logger := log.DefaultLogger.FromContext(ctx)

	delay := d.liveBackoff.initial
	for {
		received, err := d.relay(ctx, metrics, sender)
		if ctx.Err() != nil {
			return nil
		}
		if received {
			// The connection worked for a while: start the backoff over.
			delay = d.liveBackoff.initial
		}
		logger.Warn("live stream interrupted, reconnecting", "path", req.Path, "error", err.Error(), "retryIn", delay.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = d.liveBackoff.next(delay)
	}
}

// relay runs one connection to the backend's SSE endpoint and reports whether
// any counters reached Grafana before it ended.
func (d *Datasource) relay(ctx context.Context, metrics []string, sender *backend.StreamSender) (received bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while relaying live counters: %v", r)
		}
	}()
	body, err := d.client.Live(ctx, metrics)
	if err != nil {
		return false, err
	}
	defer body.Close()
	// Closing the body is what unblocks a read waiting on a quiet stream.
	stop := context.AfterFunc(ctx, func() { body.Close() })
	defer stop()

	err = readSSE(body, func(ev sseEvent) error {
		if ev.name != "counters" {
			return nil
		}
		var c counters
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			return fmt.Errorf("%w: counters event is not valid JSON: %v", errBadResponse, err)
		}
		if err := sender.SendFrame(countersFrame(metrics, c), data.IncludeAll); err != nil {
			return fmt.Errorf("send live frame: %w", err)
		}
		received = true
		return nil
	})
	return received, err
}

// countersFrame is one row: the event time and one number field per metric in
// the order subscribed; a metric missing from the event (or null in it) is
// null, not 0, so a gap is not drawn as a drop.
func countersFrame(metrics []string, c counters) *data.Frame {
	fields := make([]*data.Field, 0, len(metrics)+1)
	fields = append(fields, data.NewField("time", nil, []time.Time{time.UnixMilli(c.Time).UTC()}))
	for _, m := range metrics {
		fields = append(fields, data.NewField(m, nil, []*float64{c.Values[m]}))
	}
	return data.NewFrame("live", fields...)
}

// liveMetrics reads the metric keys from a stream path.
func liveMetrics(path string) ([]string, error) {
	rest, ok := strings.CutPrefix(path, livePathPrefix)
	if !ok {
		return nil, fmt.Errorf("stream path %q does not start with %q", path, livePathPrefix)
	}
	parts := strings.Split(rest, "/")
	if len(parts) > maxLiveMetrics {
		return nil, fmt.Errorf("stream path %q names %d metrics; at most %d can stream together", path, len(parts), maxLiveMetrics)
	}
	metrics := make([]string, 0, len(parts))
	for _, m := range parts {
		if !isMetricKey(m) {
			return nil, fmt.Errorf("stream path %q: %q is not a metric key", path, m)
		}
		if slices.Contains(metrics, m) {
			return nil, fmt.Errorf("stream path %q names %q twice", path, m)
		}
		metrics = append(metrics, m)
	}
	return metrics, nil
}

// livePath is the stream path of a set of metrics, the inverse of liveMetrics.
func livePath(metrics []string) string {
	return livePathPrefix + strings.Join(metrics, "/")
}

func isMetricKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// backoff doubles the wait between reconnections up to max.
type backoff struct {
	initial, max time.Duration
}

func (b backoff) next(d time.Duration) time.Duration {
	return min(2*d, b.max)
}
