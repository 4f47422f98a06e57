package plugin

import (
	"math"
	"os"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"go.yaml.in/yaml/v3"
)

// replayFile is what backend/test/alert-replay.test.ts writes: the hours it replayed and, per
// organization, whether each backend rule was in breach (not healthy) after each of them.
type replayFile struct {
	Ticks         []int64 `json:"ticks"`
	Organizations []struct {
		Name   string            `json:"name"`
		Key    string            `json:"key"`
		Breach map[string][]bool `json:"breach"`
	} `json:"organizations"`
}

// thresholdModel is the condition step of a provisioned rule: Grafana's threshold expression
// with its optional recovery threshold (unloadEvaluator).
type thresholdModel struct {
	Conditions []struct {
		Evaluator       evaluator  `yaml:"evaluator"`
		UnloadEvaluator *evaluator `yaml:"unloadEvaluator"`
	} `yaml:"conditions"`
}

type evaluator struct {
	Type   string    `yaml:"type"`
	Params []float64 `yaml:"params"`
}

// holds applies one evaluator as Grafana's threshold expression does.
func (e evaluator) holds(v float64) bool {
	switch e.Type {
	case "gt":
		return v > e.Params[0]
	case "gte":
		return v >= e.Params[0]
	case "lt":
		return v < e.Params[0]
	case "lte":
		return v <= e.Params[0]
	}
	panic("evaluator type " + e.Type + " not emulated")
}

// bandRule is a provisioned rule that queries a band: the backend rule it reads, its condition,
// and whether it reads a rolling window (the last N hours up to the evaluation) or whole buckets.
type bandRule struct {
	band      string
	rolling   bool
	condition thresholdModel
}

// bandRules reads the provisioned rules that query a band, by uid.
func bandRules(t *testing.T) map[string]bandRule {
	t.Helper()
	raw, err := os.ReadFile(provisionedRules)
	if err != nil {
		t.Fatalf("%s: %v", provisionedRules, err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				UID       string `yaml:"uid"`
				Condition string `yaml:"condition"`
				Data      []struct {
					RefID string    `yaml:"refId"`
					Model yaml.Node `yaml:"model"`
				} `yaml:"data"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("%s: %v", provisionedRules, err)
	}
	out := map[string]bandRule{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			var band string
			var rolling bool
			var condition thresholdModel
			for _, d := range r.Data {
				var model struct {
					Band    string `yaml:"band"`
					Rolling bool   `yaml:"rolling"`
				}
				_ = d.Model.Decode(&model)
				if model.Band != "" {
					band, rolling = model.Band, model.Rolling
				}
				if d.RefID == r.Condition {
					if err := d.Model.Decode(&condition); err != nil {
						t.Fatalf("rule %s condition: %v", r.UID, err)
					}
				}
			}
			if band != "" {
				out[r.UID] = bandRule{band, rolling, condition}
			}
		}
	}
	return out
}

// seriesKey names a series by its labels, as Grafana keys alert instances.
func seriesKey(f *data.Frame) string {
	if len(f.Fields) < 2 || f.Fields[1].Labels == nil {
		return ""
	}
	return f.Fields[1].Labels.String()
}

// TestProvisionedBandRulesFireInTheHoursTheirBackendRulesDo replays hours of demo history: at
// each tick it runs every provisioned rule that reads a band through QueryData, as Grafana's
// alerting would (the rule's relative range, 1 s interval, 43,200 points), applies its
// expression chain with Grafana's semantics (reduce `last` dropping null and NaN, no value is
// NoData; threshold, and for a series that is firing the recovery threshold instead), and
// requires the condition to hold exactly in the ticks where the backend's own rule was in breach.
func TestProvisionedBandRulesFireInTheHoursTheirBackendRulesDo(t *testing.T) {
	var replay replayFile
	baseURL := backendScenario(t, "METRICSHUB_REPLAY_FILE", "backend/test/alert-replay.test.ts", &replay)
	rules := bandRules(t)
	if len(rules) == 0 {
		t.Fatal("no provisioned rule reads a band")
	}
	fired := 0
	for _, org := range replay.Organizations {
		ds := newTestDatasource(t, instanceSettings(map[string]any{"url": baseURL}, org.Key))
		for uid, rule := range rules {
			expected, ok := org.Breach[rule.band]
			if !ok {
				t.Fatalf("%s: the replay has no backend results for rule %s", org.Name, rule.band)
			}
			loaded := map[string]bool{}
			for i, tick := range replay.Ticks {
				at := time.UnixMilli(tick)
				if rule.rolling {
					// A rolling window evaluated on the hour holds exactly the hours the backend judged a minute later.
					at = at.Truncate(time.Hour)
				}
				var queries []alertQuery
				for _, aq := range provisionedAlertQueries(t, at) {
					if aq.rule == uid {
						queries = append(queries, aq)
					}
				}
				resp := queryData(t, ds, queries[0].query)
				dr := resp.Responses[queries[0].query.RefID]
				if dr.Error != nil {
					t.Fatalf("%s %s at %s: %v", org.Name, uid, at.UTC().Format(time.RFC3339), dr.Error)
				}
				breach := false
				seen := map[string]bool{}
				for _, f := range dr.Frames {
					key := seriesKey(f)
					v := lastNonNull(backend.DataResponse{Frames: data.Frames{f}})
					if math.IsNaN(v) {
						continue // NoData for this series: not firing, and it forgets its state
					}
					seen[key] = true
					c := rule.condition.Conditions[0]
					holds := c.Evaluator.holds(v)
					if loaded[key] && c.UnloadEvaluator != nil {
						holds = !c.UnloadEvaluator.holds(v)
					}
					loaded[key] = holds
					breach = breach || holds
				}
				for key := range loaded {
					if !seen[key] {
						delete(loaded, key)
					}
				}
				if breach {
					fired++
				}
				if breach != expected[i] {
					t.Errorf("%s %s (backend rule %s) at %s: Grafana condition %v, backend breach %v", org.Name, uid, rule.band, at.UTC().Format(time.RFC3339), breach, expected[i])
				}
			}
		}
	}
	if fired == 0 {
		t.Error("no rule fired in any replayed hour: the replay must cover an incident")
	}
	t.Logf("%d ticks x %d organizations x %d band rules compared; the Grafana condition held %d times", len(replay.Ticks), len(replay.Organizations), len(rules), fired)
}
