package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
)

// Failure classes of a call to the Metrics Hub backend. Handlers map each one to
// a single Grafana status, so the wrapped detail can change without changing
// what Grafana (and alert rules) see.
var (
	errUnreachable  = errors.New("cannot reach the Metrics Hub backend")
	errTimeout      = errors.New("the Metrics Hub backend did not answer in time")
	errUnauthorized = errors.New("the Metrics Hub backend rejected the API key")
	errRejected     = errors.New("the Metrics Hub backend rejected the request")
	errRateLimited  = errors.New("the Metrics Hub backend is rate limiting this data source")
	errUpstream     = errors.New("the Metrics Hub backend failed")
	errBadResponse  = errors.New("the Metrics Hub backend sent an answer the plugin cannot read")
)

// maxErrorBody caps how much of an error answer is read to build a message.
const maxErrorBody = 64 << 10

// Client talks HTTP to one Metrics Hub backend. It holds one connection pool
// (keep-alive) for the lifetime of a data source instance.
type Client struct {
	base    *url.URL
	apiKey  string
	timeout time.Duration
	// http bounds each whole exchange by the configured timeout.
	http *http.Client
	// stream shares http's transport but has no overall timeout, because a live
	// SSE response is meant to stay open until the subscriber leaves.
	stream *http.Client
	// transport is the connection pool under the SDK's middlewares; the
	// wrapped round tripper does not pass CloseIdleConnections down to it.
	transport *http.Transport
}

// NewClient builds the client for one data source instance.
func NewClient(s Settings) (*Client, error) {
	var transport *http.Transport
	opts := s.HTTP
	if opts.Timeouts == nil {
		t := httpclient.DefaultTimeoutOptions
		opts.Timeouts = &t
	}
	opts.Timeouts.Timeout = s.Timeout
	configure := opts.ConfigureTransport
	opts.ConfigureTransport = func(o httpclient.Options, t *http.Transport) {
		if configure != nil {
			configure(o, t)
		}
		transport = t
	}
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("create HTTP client: %w", err)
	}
	return &Client{
		base:      s.URL,
		apiKey:    s.APIKey,
		timeout:   s.Timeout,
		http:      hc,
		stream:    &http.Client{Transport: hc.Transport},
		transport: transport,
	}, nil
}

// Close releases idle keep-alive connections when the instance is disposed.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
}

// BaseURL is the backend address, for messages the user reads.
func (c *Client) BaseURL() string {
	return c.base.String()
}

// request is one call to the backend API.
type request struct {
	method   string
	path     string // below the base URL, e.g. /api/v1/query
	rawQuery string
	body     []byte
	// contentType of body; JSON unless set.
	contentType string
	// accept is the media type asked for; JSON unless set.
	accept string
}

// send performs a request and returns the response whatever its status; only
// transport failures become errors. The Authorization header is always set here
// from the data source's secure settings and never taken from the caller.
func (c *Client) send(ctx context.Context, hc *http.Client, r request) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawQuery = r.rawQuery

	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreachable, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}

	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	return resp, nil
}

func (c *Client) transportError(err error) error {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%w: no answer from %s within %s", errTimeout, c.BaseURL(), c.timeout)
	default:
		return fmt.Errorf("%w at %s: %v", errUnreachable, c.BaseURL(), unwrapURLError(err))
	}
}

// unwrapURLError drops the "Post <url>:" prefix; messages already name the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// doJSON sends a request and decodes a 2xx JSON answer into out.
func (c *Client) doJSON(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, c.http, r)
	if err != nil {
		return err
	}
	defer func() {
		// Reading to the end lets the transport reuse the connection.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		// A body cut short by the client timeout surfaces here, not in Do.
		if terr := c.transportError(err); errors.Is(terr, errTimeout) || errors.Is(terr, context.Canceled) {
			return terr
		}
		return fmt.Errorf("%w: %s %s answered with invalid JSON (%v); check that the URL points to the Metrics Hub backend", errBadResponse, r.method, r.path, err)
	}
	return nil
}

// statusError turns a non-2xx answer into one of the sentinel errors, keeping
// the backend's own message ({"error": "...", "field": "..."}) for the user.
func statusError(resp *http.Response) error {
	detail := errorDetail(resp)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w (HTTP %d: %s); create a key in Metrics Hub and paste it in the data source settings", errUnauthorized, resp.StatusCode, detail)
	case resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w (HTTP 429, retry after %s): %s", errRateLimited, retryAfter(resp), detail)
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w (HTTP %d): %s", errUpstream, resp.StatusCode, detail)
	default:
		return fmt.Errorf("%w (HTTP %d): %s", errRejected, resp.StatusCode, detail)
	}
}

func errorDetail(resp *http.Response) string {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var apiErr struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	if json.Unmarshal(body, &apiErr) == nil && apiErr.Error != "" {
		if apiErr.Field != "" {
			return fmt.Sprintf("%s (field %s)", apiErr.Error, apiErr.Field)
		}
		return apiErr.Error
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		return http.StatusText(resp.StatusCode)
	}
	const maxText = 200
	if len(text) > maxText {
		text = text[:maxText] + "…"
	}
	return text
}

func retryAfter(resp *http.Response) string {
	if v := resp.Header.Get("Retry-After"); v != "" {
		return v + " s"
	}
	return "a moment"
}

// queryRequest is the body of POST /api/v1/query.
type queryRequest struct {
	From          int64   `json:"from"`
	To            int64   `json:"to"`
	IntervalMs    int64   `json:"intervalMs"`
	MaxDataPoints int64   `json:"maxDataPoints"`
	Queries       []Query `json:"queries"`
}

// queryResult is one entry of the answer's "results", frames still raw so each
// is decoded (and a broken one reported) on its own.
type queryResult struct {
	Status int               `json:"status"`
	Error  string            `json:"error"`
	Frames []json.RawMessage `json:"frames"`
}

// Query runs POST /api/v1/query and returns the results by refId.
func (c *Client) Query(ctx context.Context, qr queryRequest) (map[string]queryResult, error) {
	body, err := json.Marshal(qr)
	if err != nil {
		return nil, fmt.Errorf("encode query: %w", err)
	}
	var answer struct {
		Results map[string]queryResult `json:"results"`
	}
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: "/api/v1/query", body: body}, &answer); err != nil {
		return nil, err
	}
	if answer.Results == nil {
		return nil, fmt.Errorf("%w: POST /api/v1/query answered without \"results\"", errBadResponse)
	}
	return answer.Results, nil
}

// WhoAmI is the answer of GET /api/v1/whoami.
type WhoAmI struct {
	Organization struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"organization"`
	Sources struct {
		Total   int `json:"total"`
		Healthy int `json:"healthy"`
	} `json:"sources"`
	// Key is absent in answers of backends older than key scopes.
	Key struct {
		ID    string `json:"id"`
		Scope string `json:"scope"`
	} `json:"key"`
}

// WhoAmI identifies the organization the API key belongs to.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmI, error) {
	var w WhoAmI
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/api/v1/whoami"}, &w); err != nil {
		return WhoAmI{}, err
	}
	if w.Organization.Name == "" && w.Organization.ID == "" {
		return WhoAmI{}, fmt.Errorf("%w: GET /api/v1/whoami answered without an organization; check that the URL points to the Metrics Hub backend", errBadResponse)
	}
	return w, nil
}

// Forward sends a resource call on to the backend and returns its raw answer.
// The caller closes the body.
func (c *Client) Forward(ctx context.Context, r request) (*http.Response, error) {
	return c.send(ctx, c.http, r)
}

// Live opens the backend's SSE stream of realtime counters. A non-200 answer
// is returned as an error; the caller reads and closes the body.
func (c *Client) Live(ctx context.Context, metrics []string) (io.ReadCloser, error) {
	q := url.Values{"metrics": {strings.Join(metrics, ",")}}
	resp, err := c.send(ctx, c.stream, request{method: http.MethodGet, path: "/api/v1/live", rawQuery: q.Encode(), accept: "text/event-stream"})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, statusError(resp)
	}
	return resp.Body, nil
}
