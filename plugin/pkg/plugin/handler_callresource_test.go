package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func callResource(t *testing.T, ds *Datasource, req *backend.CallResourceRequest) *backend.CallResourceResponse {
	t.Helper()
	var got *backend.CallResourceResponse
	err := ds.CallResource(context.Background(), req, backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
		got = r
		return nil
	}))
	if err != nil {
		t.Fatalf("CallResource: %v", err)
	}
	if got == nil {
		t.Fatal("CallResource sent no response")
	}
	return got
}

func TestCallResourceForwardsToTheBackendWithTheDataSourceKey(t *testing.T) {
	cases := []struct {
		name      string
		req       backend.CallResourceRequest
		wantPath  string
		wantQuery string
		wantBody  string
	}{
		{"catalog", backend.CallResourceRequest{Path: "catalog", Method: http.MethodGet, URL: "catalog?x=1"}, "/api/v1/catalog", "", ""},
		{"variables", backend.CallResourceRequest{Path: "variables", Method: http.MethodPost, URL: "variables",
			Body: []byte(`{"query":"dimension_values","metric":"orders_created","dimension":"channel"}`)},
			"/api/v1/variables", "", `{"query":"dimension_values","metric":"orders_created","dimension":"channel"}`},
		{"annotations", backend.CallResourceRequest{Path: "annotations", Method: http.MethodGet,
			URL: "annotations?from=1769904000000&to=1769914800000&severity=critical"},
			"/api/v1/annotations", "from=1769904000000&to=1769914800000&severity=critical", ""},
		{"whoami", backend.CallResourceRequest{Path: "/whoami/", Method: http.MethodGet, URL: "whoami"}, "/api/v1/whoami", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fb := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Set-Cookie", "backend=secret")
				_, _ = w.Write([]byte(`{"answered":"` + r.URL.Path + `"}`))
			})
			req := c.req
			// A browser-side caller must not be able to choose the key.
			req.Headers = map[string][]string{"Authorization": {"Bearer stolen"}, "Content-Type": {"application/json"}}
			resp := callResource(t, datasourceFor(t, fb.URL), &req)

			if resp.Status != http.StatusOK || string(resp.Body) != `{"answered":"`+c.wantPath+`"}` {
				t.Errorf("response = %d %s", resp.Status, resp.Body)
			}
			if _, leaked := resp.Headers["Set-Cookie"]; leaked {
				t.Errorf("backend headers beyond Content-Type must not reach the browser: %v", resp.Headers)
			}
			r := fb.recorded()[0]
			if r.Method != c.req.Method || r.Path != c.wantPath || r.Query != c.wantQuery {
				t.Errorf("forwarded %s %s?%s, want %s %s?%s", r.Method, r.Path, r.Query, c.req.Method, c.wantPath, c.wantQuery)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer "+testAPIKey {
				t.Errorf("Authorization = %q, want the data source key", got)
			}
			if string(r.Body) != c.wantBody {
				t.Errorf("body = %q, want %q", r.Body, c.wantBody)
			}
		})
	}
}

func TestCallResourceRejectsUnknownResourcesAndMethods(t *testing.T) {
	fb := newFakeBackend(t, serveBody(http.StatusOK, "application/json", `{}`))
	ds := datasourceFor(t, fb.URL)

	notFound := callResource(t, ds, &backend.CallResourceRequest{Path: "events", Method: http.MethodPost})
	if notFound.Status != http.StatusNotFound || !strings.Contains(string(notFound.Body), "available: annotations, catalog, variables, whoami") {
		t.Errorf("unknown resource = %d %s", notFound.Status, notFound.Body)
	}
	wrongMethod := callResource(t, ds, &backend.CallResourceRequest{Path: "catalog", Method: http.MethodDelete})
	if wrongMethod.Status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE catalog = %d %s", wrongMethod.Status, wrongMethod.Body)
	}
	if n := len(fb.recorded()); n != 0 {
		t.Errorf("rejected calls reached the backend %d times", n)
	}
}

func TestCallResourceErrors(t *testing.T) {
	closed := newFakeBackend(t, serveBody(http.StatusOK, "application/json", `{}`))
	closedURL := closed.URL
	closed.Close()

	cases := []struct {
		name       string
		url        func(t *testing.T) string
		wantStatus int
		wantText   string
	}{
		{"bad key becomes 400 so Grafana keeps the user's session", func(t *testing.T) string {
			return newFakeBackend(t, serveBody(http.StatusUnauthorized, "application/json", `{"error":"unknown API key"}`)).URL
		}, http.StatusBadRequest, "rejected the API key"},
		{"backend errors pass through", func(t *testing.T) string {
			return newFakeBackend(t, serveBody(http.StatusServiceUnavailable, "application/json", `{"error":"source down"}`)).URL
		}, http.StatusServiceUnavailable, "source down"},
		{"unreachable", func(*testing.T) string { return closedURL }, http.StatusBadGateway, closedURL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := callResource(t, datasourceFor(t, c.url(t)), &backend.CallResourceRequest{Path: "catalog", Method: http.MethodGet})
			if resp.Status != c.wantStatus || !strings.Contains(string(resp.Body), c.wantText) {
				t.Errorf("got %d %s; want %d containing %q", resp.Status, resp.Body, c.wantStatus, c.wantText)
			}
			var body map[string]any
			if err := json.Unmarshal(resp.Body, &body); err != nil {
				t.Errorf("error answers must be JSON: %v", err)
			}
		})
	}
}
