package plugin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func checkHealth(t *testing.T, ds *Datasource) *backend.CheckHealthResult {
	t.Helper()
	res, err := ds.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatalf("CheckHealth returned an error instead of a result: %v", err)
	}
	return res
}

func TestCheckHealthReportsOrganizationAndSources(t *testing.T) {
	fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json",
		`{"organization":{"id":"org_1","name":"acme"},"sources":{"total":3,"healthy":2}}`))
	res := checkHealth(t, datasourceFor(t, fb.URL))

	if res.Status != backend.HealthStatusOk {
		t.Fatalf("status = %v, message %q", res.Status, res.Message)
	}
	if !strings.Contains(res.Message, `organization "acme"`) || !strings.Contains(res.Message, "2 of 3 sources healthy") {
		t.Errorf("message = %q", res.Message)
	}
	r := fb.recorded()[0]
	if r.Method != http.MethodGet || r.Path != "/api/v1/whoami" || r.Header.Get("Authorization") != "Bearer "+testAPIKey {
		t.Errorf("request = %s %s auth %q", r.Method, r.Path, r.Header.Get("Authorization"))
	}
}

func TestCheckHealthReportsTheKeyScope(t *testing.T) {
	answer := func(scope string) *backend.CheckHealthResult {
		fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json",
			`{"organization":{"id":"org_1","name":"acme"},"sources":{"total":1,"healthy":1},"key":{"id":"k1","scope":"`+scope+`"}}`))
		return checkHealth(t, datasourceFor(t, fb.URL))
	}
	read := answer("read")
	if read.Status != backend.HealthStatusOk || !strings.Contains(read.Message, "scope read") || strings.Contains(read.Message, "Warning") {
		t.Errorf("read key: %v %q", read.Status, read.Message)
	}
	admin := answer("admin")
	if admin.Status != backend.HealthStatusOk || !strings.Contains(admin.Message, "Warning: the key has scope admin") || !strings.Contains(admin.Message, "--scope read") {
		t.Errorf("admin key: %v %q", admin.Status, admin.Message)
	}
	ingest := answer("ingest")
	if ingest.Status != backend.HealthStatusError || !strings.Contains(ingest.Message, "scope ingest") {
		t.Errorf("ingest key: %v %q", ingest.Status, ingest.Message)
	}
}

func TestCheckHealthFailures(t *testing.T) {
	closed := newFakeBackend(t, serveBody(http.StatusOK, "application/json", `{}`))
	closedURL := closed.URL
	closed.Close()

	cases := []struct {
		name     string
		ds       func(t *testing.T) *Datasource
		wantText []string
	}{
		{"unreachable URL", func(t *testing.T) *Datasource { return datasourceFor(t, closedURL) },
			[]string{"Cannot reach the Metrics Hub backend at " + closedURL, "connection refused", "Check the URL"}},
		{"bad key", func(t *testing.T) *Datasource {
			fb := newFakeBackend(t, serveBody(http.StatusUnauthorized, "application/json", `{"error":"API key is revoked"}`))
			return datasourceFor(t, fb.URL)
		}, []string{"rejected the API key", "API key is revoked", "paste it in the data source settings"}},
		{"not a Metrics Hub backend", func(t *testing.T) *Datasource {
			fb := newFakeBackend(t, serveBody(http.StatusOK, "text/html", `<!doctype html><title>Grafana</title>`))
			return datasourceFor(t, fb.URL)
		}, []string{"invalid JSON", "check that the URL points to the Metrics Hub backend"}},
		{"backend error", func(t *testing.T) *Datasource {
			fb := newFakeBackend(t, serveBody(http.StatusServiceUnavailable, "application/json", `{"error":"database unavailable"}`))
			return datasourceFor(t, fb.URL)
		}, []string{"HTTP 503", "database unavailable"}},
		{"timeout", func(t *testing.T) *Datasource {
			release := make(chan struct{})
			fb := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			t.Cleanup(func() { close(release) })
			return newTestDatasource(t, instanceSettings(map[string]any{"url": fb.URL, "timeoutSeconds": "0.2"}, testAPIKey))
		}, []string{"did not answer in time", "raise the timeout"}},
		{"missing URL", func(t *testing.T) *Datasource {
			return newTestDatasource(t, instanceSettings(map[string]any{}, testAPIKey))
		}, []string{"Metrics Hub URL is not set"}},
		{"missing key", func(t *testing.T) *Datasource {
			return newTestDatasource(t, instanceSettings(map[string]any{"url": "http://localhost:8080"}, ""))
		}, []string{"API key is not set"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := checkHealth(t, c.ds(t))
			if res.Status != backend.HealthStatusError {
				t.Errorf("status = %v, want error", res.Status)
			}
			for _, want := range c.wantText {
				if !strings.Contains(res.Message, want) {
					t.Errorf("message %q lacks %q", res.Message, want)
				}
			}
			if strings.Contains(res.Message, testAPIKey) {
				t.Errorf("message leaks the API key: %q", res.Message)
			}
		})
	}
}
