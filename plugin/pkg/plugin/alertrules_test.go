package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"go.yaml.in/yaml/v3"
)

// provisionedRules is the alert rule file Grafana loads (provisioning/alerting).
var provisionedRules = filepath.Join("..", "..", "..", "provisioning", "alerting", "rules.yaml")

// Grafana's alerting evaluates a data query with these when the rule's model
// sets none (ngalert's defaults: 12 hours of 1 s points).
const (
	alertDefaultMaxDataPoints = 43200
	alertDefaultInterval      = time.Second
)

// alertQuery is one metricshub query of a provisioned rule, as Grafana's
// alerting would send it to QueryData when the rule is evaluated at now.
type alertQuery struct {
	rule  string
	query backend.DataQuery
}

func provisionedAlertQueries(t *testing.T, now time.Time) []alertQuery {
	t.Helper()
	raw, err := os.ReadFile(provisionedRules)
	if err != nil {
		t.Skipf("no provisioned alert rules at %s: %v", provisionedRules, err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				UID  string `yaml:"uid"`
				Data []struct {
					RefID             string `yaml:"refId"`
					DatasourceUID     string `yaml:"datasourceUid"`
					RelativeTimeRange struct {
						From int64 `yaml:"from"`
						To   int64 `yaml:"to"`
					} `yaml:"relativeTimeRange"`
					Model map[string]any `yaml:"model"`
				} `yaml:"data"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("%s: %v", provisionedRules, err)
	}
	var out []alertQuery
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			for _, d := range r.Data {
				if d.DatasourceUID != "metricshub" {
					continue
				}
				model, err := json.Marshal(d.Model)
				if err != nil {
					t.Fatalf("rule %s query %s: %v", r.UID, d.RefID, err)
				}
				out = append(out, alertQuery{rule: r.UID, query: backend.DataQuery{
					RefID: d.RefID,
					JSON:  model,
					TimeRange: backend.TimeRange{
						From: now.Add(-time.Duration(d.RelativeTimeRange.From) * time.Second),
						To:   now.Add(-time.Duration(d.RelativeTimeRange.To) * time.Second),
					},
					Interval:      alertDefaultInterval,
					MaxDataPoints: alertDefaultMaxDataPoints,
				}})
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rule querying the metricshub data source", provisionedRules)
	}
	return out
}

func TestProvisionedAlertRuleQueriesAreValidQueryModels(t *testing.T) {
	for _, aq := range provisionedAlertQueries(t, time.Now()) {
		q, err := ParseQuery(aq.query)
		if err != nil {
			t.Errorf("rule %s query %s: %v", aq.rule, aq.query.RefID, err)
			continue
		}
		if q.Format != FormatTimeSeries || q.Live {
			t.Errorf("rule %s query %s: alert queries must be timeseries and not live, got format %q live %v", aq.rule, aq.query.RefID, q.Format, q.Live)
		}
	}
}
