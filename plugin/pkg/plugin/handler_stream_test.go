package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/live"
)

// failAfter guards waits in these tests against hanging forever; it is not a
// performance bound, so it is generous.
const failAfter = 10 * time.Second

// packetSink collects what RunStream sends to Grafana Live.
type packetSink chan *data.Frame

func (s packetSink) Send(p *backend.StreamPacket) error {
	f := &data.Frame{}
	if err := json.Unmarshal(p.Data, f); err != nil {
		return err
	}
	s <- f
	return nil
}

func (s packetSink) next(t *testing.T) *data.Frame {
	t.Helper()
	select {
	case f := <-s:
		return f
	case <-time.After(failAfter):
		t.Fatal("no frame reached Grafana Live")
		return nil
	}
}

// sseServer writes the given events on each connection, then either holds
// the connection open until the client leaves or drops it.
func sseServer(t *testing.T, hold bool, events func(conn int) []string) (*fakeBackend, *atomic.Int32) {
	var conns atomic.Int32
	fb := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		n := int(conns.Add(1))
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for _, ev := range events(n) {
			_, _ = fmt.Fprint(w, ev)
			w.(http.Flusher).Flush()
		}
		if hold {
			<-r.Context().Done()
		}
	})
	return fb, &conns
}

func countersEvent(ms int64, values string) string {
	return fmt.Sprintf("event: counters\ndata: {\"time\": %d, \"values\": %s}\n\n", ms, values)
}

func runStream(ds *Datasource, ctx context.Context, path string, sink packetSink) chan error {
	done := make(chan error, 1)
	go func() {
		done <- ds.RunStream(ctx, &backend.RunStreamRequest{Path: path}, backend.NewStreamSender(sink))
	}()
	return done
}

func TestRunStreamSendsCountersFramesAndStopsWhenUnsubscribed(t *testing.T) {
	t0 := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	fb, _ := sseServer(t, true, func(int) []string {
		return []string{
			": connected\n\n",
			"event: ping\ndata: {}\n\n",
			countersEvent(t0.UnixMilli(), `{"orders_created": 3, "payments_total": 5}`),
			countersEvent(t0.Add(time.Second).UnixMilli(), `{"orders_created": 4}`),
		}
	})
	ds := datasourceFor(t, fb.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := make(packetSink, 10)
	done := runStream(ds, ctx, "live/orders_created/payments_total", sink)

	first := sink.next(t)
	if len(first.Fields) != 3 || first.Fields[0].Name != "time" || first.Fields[1].Name != "orders_created" || first.Fields[2].Name != "payments_total" {
		t.Fatalf("fields = %v", first.Fields)
	}
	if !first.Fields[0].At(0).(time.Time).Equal(t0) {
		t.Errorf("time = %v, want %v", first.Fields[0].At(0), t0)
	}
	if v, _ := first.Fields[1].FloatAt(0); v != 3 {
		t.Errorf("orders_created = %v, want 3", v)
	}
	if v, _ := first.Fields[2].FloatAt(0); v != 5 {
		t.Errorf("payments_total = %v, want 5", v)
	}
	second := sink.next(t)
	if v, _ := second.Fields[1].FloatAt(0); v != 4 {
		t.Errorf("orders_created = %v, want 4", v)
	}
	if second.Fields[2].At(0).(*float64) != nil {
		t.Errorf("a metric missing from an event must be null")
	}

	r := fb.recorded()[0]
	if r.Path != "/api/v1/live" || r.Query != "metrics=orders_created%2Cpayments_total" || r.Header.Get("Authorization") != "Bearer "+testAPIKey {
		t.Errorf("request = %s?%s auth %q", r.Path, r.Query, r.Header.Get("Authorization"))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunStream returned %v after unsubscribe, want nil", err)
		}
	case <-time.After(failAfter):
		t.Fatal("RunStream did not stop after its context was cancelled")
	}
}

func TestRunStreamReconnectsWhenTheBackendDropsTheStream(t *testing.T) {
	fb, conns := sseServer(t, false, func(n int) []string {
		return []string{countersEvent(int64(n)*1000, fmt.Sprintf(`{"orders_created": %d}`, n))}
	})
	ds := datasourceFor(t, fb.URL)
	ds.liveBackoff = backoff{initial: time.Millisecond, max: 5 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := make(packetSink, 100)
	done := runStream(ds, ctx, "live/orders_created", sink)

	for want := 1.0; want <= 3; want++ {
		if v, _ := sink.next(t).Fields[1].FloatAt(0); v != want {
			t.Errorf("frame from connection %v carried %v", want, v)
		}
	}
	if conns.Load() < 3 {
		t.Errorf("backend saw %d connections, want a new one after each drop", conns.Load())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(failAfter):
		t.Fatal("RunStream did not stop while reconnecting")
	}
}

func TestRunStreamKeepsRetryingWhileTheBackendIsDown(t *testing.T) {
	var calls atomic.Int32
	fb := newFakeBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ds := datasourceFor(t, fb.URL)
	ds.liveBackoff = backoff{initial: time.Millisecond, max: 2 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := runStream(ds, ctx, "live/orders_created", make(packetSink, 1))

	deadline := time.Now().Add(failAfter)
	for calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if calls.Load() < 3 {
		t.Errorf("RunStream tried %d times, want it to keep retrying", calls.Load())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunStream = %v, want nil on unsubscribe", err)
		}
	case <-time.After(failAfter):
		t.Fatal("RunStream did not stop")
	}
}

func TestSubscribeStreamAcceptsOnlyLiveMetricPaths(t *testing.T) {
	ds := datasourceFor(t, "http://localhost:1")
	cases := map[string]backend.SubscribeStreamStatus{
		"live/orders_created":                backend.SubscribeStreamStatusOK,
		"live/orders_created/payments_total": backend.SubscribeStreamStatusOK,
		"live/":                              backend.SubscribeStreamStatusNotFound,
		"live/orders_created/":               backend.SubscribeStreamStatusNotFound,
		"live/orders_created/orders_created": backend.SubscribeStreamStatusNotFound,
		"live/orders_created,payments_total": backend.SubscribeStreamStatusNotFound,
		"live/orders created":                backend.SubscribeStreamStatusNotFound,
		"other/orders_created":               backend.SubscribeStreamStatusNotFound,
	}
	for path, want := range cases {
		res, err := ds.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{Path: path})
		if err != nil || res.Status != want {
			t.Errorf("%q: status %v (err %v), want %v", path, res.Status, err, want)
		}
	}
	pub, err := ds.PublishStream(context.Background(), &backend.PublishStreamRequest{Path: "live/orders_created"})
	if err != nil || pub.Status != backend.PublishStreamStatusPermissionDenied {
		t.Errorf("publish = %v, %v; want permission denied", pub, err)
	}
}

// Every path the plugin builds must pass the SDK's own channel validation,
// which is what rejected the comma-separated form.
func TestLivePathsAreValidGrafanaLiveChannels(t *testing.T) {
	for _, metrics := range [][]string{{"orders_created"}, {"orders_created", "payments_total", "bot.response-time_ms"}} {
		path := livePath(metrics)
		ch := live.Channel{Scope: live.ScopeDatasource, Namespace: "metricshub", Path: path}
		if !ch.IsValid() {
			t.Errorf("channel %q is not valid for Grafana Live", ch.String())
		}
		parsed, err := liveMetrics(path)
		if err != nil || strings.Join(parsed, " ") != strings.Join(metrics, " ") {
			t.Errorf("liveMetrics(%q) = %v, %v; want %v", path, parsed, err, metrics)
		}
	}
}
