package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

const testAPIKey = "mh_test_key"

// recorded is one request the fake backend received.
type recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// fakeBackend is a local HTTP server standing in for the Metrics Hub backend;
// it records what the plugin sends and answers with the handler given.
type fakeBackend struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

func newFakeBackend(t *testing.T, answer http.HandlerFunc) *fakeBackend {
	t.Helper()
	fb := &fakeBackend{}
	fb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fb.mu.Lock()
		fb.requests = append(fb.requests, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		fb.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		answer(w, r)
	}))
	t.Cleanup(fb.Close)
	return fb
}

func (fb *fakeBackend) recorded() []recorded {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return append([]recorded(nil), fb.requests...)
}

// fixture reads a file from testdata/.
func fixture(t *testing.T, name string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return string(body)
}

// serveFile answers every request with a fixture from testdata/.
func serveFile(t *testing.T, name string) http.HandlerFunc {
	t.Helper()
	return serveBody(http.StatusOK, "application/json", fixture(t, name))
}

func serveBody(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// instanceSettings builds what Grafana passes for a configured data source.
func instanceSettings(jsonData map[string]any, apiKey string) backend.DataSourceInstanceSettings {
	raw, _ := json.Marshal(jsonData)
	secure := map[string]string{}
	if apiKey != "" {
		secure["apiKey"] = apiKey
	}
	return backend.DataSourceInstanceSettings{UID: "metricshub", Type: PluginID, JSONData: raw, DecryptedSecureJSONData: secure}
}

// newTestDatasource creates an instance the way the SDK's instance manager does.
func newTestDatasource(t *testing.T, s backend.DataSourceInstanceSettings) *Datasource {
	t.Helper()
	inst, err := NewDatasource(context.Background(), s)
	if err != nil {
		t.Fatalf("NewDatasource: %v", err)
	}
	ds := inst.(*Datasource)
	t.Cleanup(ds.Dispose)
	return ds
}

func datasourceFor(t *testing.T, url string) *Datasource {
	t.Helper()
	return newTestDatasource(t, instanceSettings(map[string]any{"url": url}, testAPIKey))
}
