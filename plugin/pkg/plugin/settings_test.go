package plugin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func TestLoadSettings(t *testing.T) {
	ok := []struct {
		name        string
		settings    backend.DataSourceInstanceSettings
		wantURL     string
		wantTimeout time.Duration
	}{
		{"defaults", instanceSettings(map[string]any{"url": "http://metricshub:8080/"}, "k"), "http://metricshub:8080", defaultTimeout},
		{"timeout as number", instanceSettings(map[string]any{"url": "https://mh.example/api-root", "timeoutSeconds": 5}, "k"), "https://mh.example/api-root", 5 * time.Second},
		{"timeout as string", instanceSettings(map[string]any{"url": "http://h:1", "timeoutSeconds": "2.5"}, "k"), "http://h:1", 2500 * time.Millisecond},
		{"top-level url from provisioning", func() backend.DataSourceInstanceSettings {
			s := instanceSettings(map[string]any{}, "k")
			s.URL = "http://provisioned:8080"
			return s
		}(), "http://provisioned:8080", defaultTimeout},
		{"standard url wins over the legacy jsonData.url", func() backend.DataSourceInstanceSettings {
			s := instanceSettings(map[string]any{"url": "http://old:8080"}, "k")
			s.URL = "http://new:8080"
			return s
		}(), "http://new:8080", defaultTimeout},
		{"standard timeout wins over the legacy timeoutSeconds", instanceSettings(map[string]any{"url": "http://h:1", "timeout": 7, "timeoutSeconds": 3}, "k"), "http://h:1", 7 * time.Second},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			s, err := LoadSettings(context.Background(), c.settings)
			if err != nil {
				t.Fatal(err)
			}
			if s.URL.String() != c.wantURL || s.Timeout != c.wantTimeout || s.APIKey != "k" {
				t.Errorf("settings = %s %s %q", s.URL, s.Timeout, s.APIKey)
			}
		})
	}

	bad := []struct {
		name     string
		settings backend.DataSourceInstanceSettings
		wantText string
	}{
		{"no url", instanceSettings(map[string]any{}, "k"), "URL is not set"},
		{"not http", instanceSettings(map[string]any{"url": "metricshub:8080"}, "k"), "is not an http(s) address"},
		{"no key", instanceSettings(map[string]any{"url": "http://h"}, " "), "API key is not set"},
		{"zero timeout", instanceSettings(map[string]any{"url": "http://h", "timeoutSeconds": 0}, "k"), "greater than 0"},
		{"text timeout", instanceSettings(map[string]any{"url": "http://h", "timeoutSeconds": "soon"}, "k"), `"soon" is not a number`},
		{"bad jsonData", backend.DataSourceInstanceSettings{JSONData: []byte("{")}, "not valid JSON"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadSettings(context.Background(), c.settings)
			if !errors.Is(err, errSettings) || !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("err = %v, want one containing %q", err, c.wantText)
			}
		})
	}
}

// The HTTP options Grafana's settings page configures (here a custom header and
// basic auth) reach the Metrics Hub backend, next to the API key.
func TestStandardHTTPSettingsReachTheBackend(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"organization":{"id":"o1","name":"Acme"},"sources":{"total":1,"healthy":1}}`))
	}))
	t.Cleanup(srv.Close)

	s := instanceSettings(map[string]any{"httpHeaderName1": "X-Tenant"}, "k")
	s.URL = srv.URL
	s.DecryptedSecureJSONData["httpHeaderValue1"] = "acme"
	settings, err := LoadSettings(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewClient(settings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	if _, err := client.WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Tenant") != "acme" {
		t.Errorf("X-Tenant = %q, want the custom header from the data source settings", got.Get("X-Tenant"))
	}
	if got.Get("Authorization") != "Bearer k" {
		t.Errorf("Authorization = %q, want the API key as bearer token", got.Get("Authorization"))
	}
}
