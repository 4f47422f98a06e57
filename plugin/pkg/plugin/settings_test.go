package plugin

import (
	"errors"
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
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			s, err := LoadSettings(c.settings)
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
			_, err := LoadSettings(c.settings)
			if !errors.Is(err, errSettings) || !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("err = %v, want one containing %q", err, c.wantText)
			}
		})
	}
}
