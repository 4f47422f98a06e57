package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// resourceRoute is a backend endpoint the frontend may reach through Grafana,
// so the browser never holds the API key.
type resourceRoute struct {
	method string
	path   string
	// keepQuery forwards the caller's query string (annotations take from/to).
	keepQuery bool
}

var resourceRoutes = map[string]resourceRoute{
	"catalog":     {method: http.MethodGet, path: "/api/v1/catalog"},
	"variables":   {method: http.MethodPost, path: "/api/v1/variables"},
	"annotations": {method: http.MethodGet, path: "/api/v1/annotations", keepQuery: true},
	"whoami":      {method: http.MethodGet, path: "/api/v1/whoami"},
}

// maxResourceAnswer caps what is relayed to the browser from one call.
const maxResourceAnswer = 32 << 20

// CallResource forwards /api/datasources/uid/<uid>/resources/<name> to the
// matching backend route. Only the body and its content type are taken from the
// caller; the Authorization header is always the data source's own key.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	name := strings.Trim(req.Path, "/")
	route, ok := resourceRoutes[name]
	if !ok {
		return sendJSONError(sender, http.StatusNotFound, fmt.Sprintf("unknown resource %q; available: %s", name, strings.Join(resourceNames(), ", ")))
	}
	if req.Method != route.method {
		return sendJSONError(sender, http.StatusMethodNotAllowed, fmt.Sprintf("resource %q takes %s, not %s", name, route.method, req.Method))
	}
	if d.settingsErr != nil {
		return sendJSONError(sender, http.StatusBadRequest, d.settingsErr.Error())
	}

	fwd := request{method: route.method, path: route.path}
	if route.keepQuery {
		if u, err := url.Parse(req.URL); err == nil {
			fwd.rawQuery = u.RawQuery
		}
	}
	if route.method == http.MethodPost {
		fwd.body = req.Body
		if fwd.body == nil {
			fwd.body = []byte("{}")
		}
		fwd.contentType = firstHeader(req.Headers, "Content-Type")
	}

	resp, err := d.client.Forward(ctx, fwd)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		return sendJSONError(sender, status, err.Error())
	}
	defer resp.Body.Close()

	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// Relaying 401 would make Grafana's frontend treat the user's own
		// session as expired; the data source key is what is wrong.
		return sendJSONError(sender, http.StatusBadRequest, statusError(resp).Error())
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResourceAnswer))
	if err != nil {
		return sendJSONError(sender, http.StatusBadGateway, fmt.Sprintf("%v: reading %s: %v", errUnreachable, route.path, err))
	}
	headers := map[string][]string{}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		headers["Content-Type"] = []string{ct}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		headers["Retry-After"] = []string{ra}
	}
	return sender.Send(&backend.CallResourceResponse{Status: resp.StatusCode, Headers: headers, Body: body})
}

func sendJSONError(sender backend.CallResourceResponseSender, status int, msg string) error {
	body, err := json.Marshal(map[string]string{"error": msg})
	if err != nil {
		return err
	}
	return sender.Send(&backend.CallResourceResponse{
		Status:  status,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    body,
	})
}

func firstHeader(h map[string][]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func resourceNames() []string {
	names := make([]string, 0, len(resourceRoutes))
	for n := range resourceRoutes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
