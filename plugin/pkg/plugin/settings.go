package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
)

// defaultTimeout bounds every request/response exchange with the Metrics Hub
// backend when the data source configuration sets no timeout.
const defaultTimeout = 30 * time.Second

// Settings is the parsed configuration of one Metrics Hub data source.
type Settings struct {
	// URL is the base URL of the Metrics Hub backend, e.g. http://metricshub:8080.
	URL *url.URL
	// Timeout bounds each request to the backend (not the live stream).
	Timeout time.Duration
	// APIKey is sent as a bearer token; it comes from secureJsonData only.
	APIKey string
	// HTTP holds what Grafana's standard HTTP settings configure (TLS and CA,
	// proxy and private data source connect, custom headers, timeouts), read by
	// the SDK from the data source exactly as Grafana's own data sources do.
	HTTP httpclient.Options
}

// errSettings marks a configuration the user must fix in the data source page.
var errSettings = errors.New("data source settings are incomplete")

// legacyJSONData holds the fields of data sources saved before the plugin used
// Grafana's standard settings: the URL lived in jsonData.url and the timeout in
// jsonData.timeoutSeconds. They are still read, so nothing breaks before the
// config editor moves them to `url` and `timeout` on the next save.
type legacyJSONData struct {
	URL            string `json:"url"`
	TimeoutSeconds any    `json:"timeoutSeconds"`
	Timeout        any    `json:"timeout"`
}

// LoadSettings reads the standard `url`, the HTTP options Grafana's settings
// page configures, and secureJsonData.apiKey. Its errors are written for the
// person filling in the data source page.
func LoadSettings(ctx context.Context, s backend.DataSourceInstanceSettings) (Settings, error) {
	var jd legacyJSONData
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &jd); err != nil {
			return Settings{}, fmt.Errorf("%w: jsonData is not valid JSON: %v", errSettings, err)
		}
	}

	rawURL := strings.TrimSpace(s.URL)
	if rawURL == "" {
		rawURL = strings.TrimSpace(jd.URL)
	}
	if rawURL == "" {
		return Settings{}, fmt.Errorf("%w: the Metrics Hub URL is not set; enter the backend address (for example http://localhost:8080) in the data source settings", errSettings)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Settings{}, fmt.Errorf("%w: the Metrics Hub URL %q is not an http(s) address like http://localhost:8080", errSettings, rawURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")

	opts, err := s.HTTPClientOptions(ctx)
	if err != nil {
		return Settings{}, fmt.Errorf("%w: %v", errSettings, err)
	}
	if opts.Timeouts == nil {
		t := httpclient.DefaultTimeoutOptions
		opts.Timeouts = &t
	}
	// The standard `timeout` wins; the legacy field counts only when it is absent.
	if jd.Timeout == nil || jd.Timeout == "" {
		timeout, err := parseTimeout(jd.TimeoutSeconds)
		if err != nil {
			return Settings{}, err
		}
		opts.Timeouts.Timeout = timeout
	}

	apiKey := strings.TrimSpace(s.DecryptedSecureJSONData["apiKey"])
	if apiKey == "" {
		return Settings{}, fmt.Errorf("%w: the API key is not set; paste a Metrics Hub API key in the data source settings", errSettings)
	}

	return Settings{URL: u, Timeout: opts.Timeouts.Timeout, APIKey: apiKey, HTTP: opts}, nil
}

// parseTimeout accepts a number or a numeric string, since provisioning YAML and
// the config editor may store either.
func parseTimeout(v any) (time.Duration, error) {
	var seconds float64
	switch t := v.(type) {
	case nil:
		return defaultTimeout, nil
	case float64:
		seconds = t
	case string:
		if strings.TrimSpace(t) == "" {
			return defaultTimeout, nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return 0, fmt.Errorf("%w: timeoutSeconds %q is not a number of seconds", errSettings, t)
		}
		seconds = f
	default:
		return 0, fmt.Errorf("%w: timeoutSeconds must be a number of seconds", errSettings)
	}
	if seconds <= 0 || math.IsNaN(seconds) || math.IsInf(seconds, 0) {
		return 0, fmt.Errorf("%w: timeoutSeconds must be greater than 0 (leave it empty for the default of %d s)", errSettings, int(defaultTimeout.Seconds()))
	}
	return time.Duration(seconds * float64(time.Second)), nil
}
