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
	var out []alertQuery
	for _, r := range loadProvisionedRules(t) {
		for _, step := range r.Data {
			if step.DatasourceUID != "metricshub" {
				continue
			}
			query, err := step.queryAt(now)
			if err != nil {
				t.Fatalf("rule %s query %s: %v", r.UID, step.RefID, err)
			}
			out = append(out, alertQuery{rule: r.UID, query: query})
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rule querying the metricshub data source", provisionedRules)
	}
	return out
}

// ruleStep is one entry of a rule's `data`.
type ruleStep struct {
	RefID             string `yaml:"refId"`
	DatasourceUID     string `yaml:"datasourceUid"`
	RelativeTimeRange struct {
		From int64 `yaml:"from"`
		To   int64 `yaml:"to"`
	} `yaml:"relativeTimeRange"`
	Model map[string]any `yaml:"model"`
}

// queryAt is the DataQuery Grafana's alerting sends for this step when the rule is evaluated at `at`.
func (s ruleStep) queryAt(at time.Time) (backend.DataQuery, error) {
	model, err := json.Marshal(s.Model)
	if err != nil {
		return backend.DataQuery{}, err
	}
	return backend.DataQuery{
		RefID: s.RefID,
		JSON:  model,
		TimeRange: backend.TimeRange{
			From: at.Add(-time.Duration(s.RelativeTimeRange.From) * time.Second),
			To:   at.Add(-time.Duration(s.RelativeTimeRange.To) * time.Second),
		},
		Interval:      alertDefaultInterval,
		MaxDataPoints: alertDefaultMaxDataPoints,
	}, nil
}

type provisionedRule struct {
	UID       string     `yaml:"uid"`
	Title     string     `yaml:"title"`
	Condition string     `yaml:"condition"`
	Data      []ruleStep `yaml:"data"`
}

func loadProvisionedRules(t *testing.T) []provisionedRule {
	t.Helper()
	raw, err := os.ReadFile(provisionedRules)
	if err != nil {
		t.Fatalf("%s: %v", provisionedRules, err)
	}
	var file struct {
		Groups []struct {
			Rules []provisionedRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("%s: %v", provisionedRules, err)
	}
	var out []provisionedRule
	for _, g := range file.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// backendScenario is the backend URL and the scenario file a backend test hands a Go test in
// the environment (`fileVar`), decoded into `into`; the test is skipped when run on its own.
func backendScenario(t *testing.T, fileVar, runBy string, into any) string {
	t.Helper()
	baseURL, path := os.Getenv("METRICSHUB_E2E_URL"), os.Getenv(fileVar)
	if baseURL == "" || path == "" {
		t.Skipf("run by %s (sets METRICSHUB_E2E_URL and %s)", runBy, fileVar)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
	return baseURL
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
