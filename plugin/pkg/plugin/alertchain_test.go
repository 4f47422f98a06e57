package plugin

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// This file evaluates a provisioned alert rule as Grafana's alerting does: each Metrics Hub
// query runs through QueryData over the rule's relative range, then the server-side expressions
// run in order, with the semantics Grafana documents for them:
//   - reduce (mode dropNN): nulls and NaN are dropped; `last` is the last value left, `mean`
//     their mean; a series with no value left reduces to NaN (Grafana's NoData for it);
//   - math: + - * / and comparisons give numbers (a comparison 1 or 0), && and || treat a
//     non-zero as true; operands join by labels, a label-less number applies to every series;
//   - threshold: 1 where the evaluator holds, 0 otherwise (NaN never holds).
// The rule's condition is firing for every series whose value is 1.

// numbers are one value per series, keyed by the series' labels ("" without labels).
type numbers map[string]float64

// seriesValues are the values of every series of a query result, nulls as NaN.
type seriesValues map[string][]float64

// evaluation is a rule evaluated once: the value of every step and whether the condition holds.
type evaluation struct {
	firing bool
	values map[string]numbers
}

// evaluateRule runs the rule as Grafana would at `at`. An error is a query that failed (the
// rule's execErrState would apply), never a judgement.
func evaluateRule(t *testing.T, ds *Datasource, rule provisionedRule, at time.Time) (evaluation, error) {
	t.Helper()
	series := map[string]seriesValues{}
	values := map[string]numbers{}
	for _, step := range rule.Data {
		if step.DatasourceUID != "__expr__" {
			result, err := runDataStep(t, ds, step, at)
			if err != nil {
				return evaluation{}, fmt.Errorf("%s: %w", step.RefID, err)
			}
			series[step.RefID] = result
			continue
		}
		model := step.Model
		input, _ := model["expression"].(string)
		switch model["type"] {
		case "reduce":
			in, ok := series[input]
			if !ok {
				return evaluation{}, fmt.Errorf("%s: reduce reads %s, which is not a query", step.RefID, input)
			}
			values[step.RefID] = reduceSeries(in, model["reducer"].(string))
		case "math":
			out, err := evalMath(input, values)
			if err != nil {
				return evaluation{}, fmt.Errorf("%s: %w", step.RefID, err)
			}
			values[step.RefID] = out
		case "threshold":
			raw, _ := json.Marshal(model)
			var condition thresholdModel
			if err := json.Unmarshal(raw, &condition); err != nil {
				return evaluation{}, fmt.Errorf("%s: %w", step.RefID, err)
			}
			out := numbers{}
			for key, v := range values[input] {
				out[key] = 0
				if !math.IsNaN(v) && condition.Conditions[0].Evaluator.holds(v) {
					out[key] = 1
				}
			}
			values[step.RefID] = out
		default:
			return evaluation{}, fmt.Errorf("%s: expression type %v not emulated", step.RefID, model["type"])
		}
	}
	firing := false
	for _, v := range values[rule.Condition] {
		firing = firing || v == 1
	}
	return evaluation{firing: firing, values: values}, nil
}

func runDataStep(t *testing.T, ds *Datasource, step ruleStep, at time.Time) (seriesValues, error) {
	t.Helper()
	query, err := step.queryAt(at)
	if err != nil {
		return nil, err
	}
	resp := queryData(t, ds, query)
	dr := resp.Responses[step.RefID]
	if dr.Error != nil {
		return nil, dr.Error
	}
	out := seriesValues{}
	for _, f := range dr.Frames {
		var vs []float64
		for i := 0; i < f.Rows(); i++ {
			v, err := f.Fields[1].NullableFloatAt(i)
			if err != nil || v == nil {
				vs = append(vs, math.NaN())
				continue
			}
			vs = append(vs, *v)
		}
		out[seriesKey(f)] = vs
	}
	return out, nil
}

func reduceSeries(in seriesValues, reducer string) numbers {
	out := numbers{}
	for key, vs := range in {
		var kept []float64
		for _, v := range vs {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				kept = append(kept, v)
			}
		}
		out[key] = math.NaN()
		if len(kept) == 0 {
			continue
		}
		switch reducer {
		case "last":
			out[key] = kept[len(kept)-1]
		case "mean":
			sum := 0.0
			for _, v := range kept {
				sum += v
			}
			out[key] = sum / float64(len(kept))
		default:
			panic("reducer " + reducer + " not emulated")
		}
	}
	return out
}

// evalMath evaluates a math expression over earlier steps: $A, numbers, parentheses,
// || && == != > >= < <= + - * /, with Go's precedence for them.
func evalMath(expression string, values map[string]numbers) (numbers, error) {
	p := &mathParser{tokens: tokenizeMath(expression), values: values}
	out, err := p.binary(0)
	if err == nil && p.pos < len(p.tokens) {
		err = fmt.Errorf("math %q: unexpected %q", expression, p.tokens[p.pos])
	}
	return out, err
}

func tokenizeMath(s string) []string {
	var tokens []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '$':
			j := i + 1
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			tokens = append(tokens, s[i:j])
			i = j
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.') {
				j++
			}
			tokens = append(tokens, s[i:j])
			i = j
		case i+1 < len(s) && strings.Contains("&& || == != >= <=", s[i:i+2]):
			tokens = append(tokens, s[i:i+2])
			i += 2
		default:
			tokens = append(tokens, string(c))
			i++
		}
	}
	return tokens
}

type mathParser struct {
	tokens []string
	pos    int
	values map[string]numbers
}

var mathPrecedence = map[string]int{"||": 1, "&&": 2, "==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3, "<=": 3, "+": 4, "-": 4, "*": 5, "/": 5}

func (p *mathParser) binary(min int) (numbers, error) {
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	for p.pos < len(p.tokens) {
		op := p.tokens[p.pos]
		prec, ok := mathPrecedence[op]
		if !ok || prec <= min {
			break
		}
		p.pos++
		right, err := p.binary(prec)
		if err != nil {
			return nil, err
		}
		left = join(left, right, op)
	}
	return left, nil
}

func (p *mathParser) operand() (numbers, error) {
	if p.pos >= len(p.tokens) {
		return nil, fmt.Errorf("math: expression ends early")
	}
	token := p.tokens[p.pos]
	p.pos++
	switch {
	case token == "(":
		inner, err := p.binary(0)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.tokens) || p.tokens[p.pos] != ")" {
			return nil, fmt.Errorf("math: missing )")
		}
		p.pos++
		return inner, nil
	case strings.HasPrefix(token, "$"):
		v, ok := p.values[token[1:]]
		if !ok {
			return nil, fmt.Errorf("math: %s is not an earlier reduce or math step", token)
		}
		return v, nil
	default:
		f, err := strconv.ParseFloat(token, 64)
		if err != nil {
			return nil, fmt.Errorf("math: %q is not a number", token)
		}
		return numbers{"": f}, nil
	}
}

func join(a, b numbers, op string) numbers {
	out := numbers{}
	apply := func(key string, x, y float64) { out[key] = binaryOp(x, y, op) }
	for key, x := range a {
		if y, ok := b[key]; ok {
			apply(key, x, y)
		} else if y, ok := b[""]; ok && len(b) == 1 {
			apply(key, x, y)
		}
	}
	if x, ok := a[""]; ok && len(a) == 1 {
		for key, y := range b {
			if _, done := out[key]; !done {
				apply(key, x, y)
			}
		}
	}
	return out
}

func binaryOp(x, y float64, op string) float64 {
	truth := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	switch op {
	case "+":
		return x + y
	case "-":
		return x - y
	case "*":
		return x * y
	case "/":
		return x / y
	case ">":
		return truth(x > y)
	case ">=":
		return truth(x >= y)
	case "<":
		return truth(x < y)
	case "<=":
		return truth(x <= y)
	case "==":
		return truth(x == y)
	case "!=":
		return truth(x != y)
	case "&&":
		return truth(x != 0 && y != 0)
	case "||":
		return truth(x != 0 || y != 0)
	}
	panic("operator " + op + " not emulated")
}

func TestMathEmulationFollowsPrecedenceAndJoinsByLabels(t *testing.T) {
	values := map[string]numbers{"C": {"": 10}, "D": {"": 4}, "S": {"a": 1, "b": 5}}
	cases := map[string]float64{
		"$D > 0 && $C > $D * 1.5": 1,
		"$D > 0 && $C > $D * 3":   0,
		"($C - $D) / 2":           3,
		"$C < 5 || $D == 4":       1,
	}
	for expression, want := range cases {
		got, err := evalMath(expression, values)
		if err != nil || got[""] != want {
			t.Errorf("%s = %v (%v), want %v", expression, got, err, want)
		}
	}
	got, err := evalMath("$S > 2", values)
	if err != nil || got["a"] != 0 || got["b"] != 1 {
		t.Errorf("$S > 2 = %v (%v)", got, err)
	}
	if _, err := evalMath("$X + 1", values); err == nil {
		t.Error("an unknown step must be an error")
	}
}

// scenarioFile is what backend/test/alert-rules-e2e.test.ts writes: when to evaluate, and per
// organization (each holding one scenario's events) which rules' conditions must hold.
type scenarioFile struct {
	At            int64 `json:"at"`
	Organizations []struct {
		Name     string   `json:"name"`
		Key      string   `json:"key"`
		Expected []string `json:"firing"`
	} `json:"organizations"`
}

// TestProvisionedRulesFireOnlyOnTheirIncident evaluates every provisioned rule, whole (its
// queries through QueryData against the running backend, then its expressions), for each
// scenario: no traffic at all, normal traffic up to a partial current hour, normal traffic that
// stopped hours ago, and incidents that began in the partial current hour. Each rule's condition
// must hold exactly in the scenarios that hold its incident.
func TestProvisionedRulesFireOnlyOnTheirIncident(t *testing.T) {
	var scenarios scenarioFile
	baseURL := backendScenario(t, "METRICSHUB_SCENARIO_FILE", "backend/test/alert-rules-e2e.test.ts", &scenarios)
	at := time.UnixMilli(scenarios.At)
	rules := loadProvisionedRules(t)
	fired := map[string]int{}
	for _, org := range scenarios.Organizations {
		ds := newTestDatasource(t, instanceSettings(map[string]any{"url": baseURL}, org.Key))
		expected := map[string]bool{}
		for _, uid := range org.Expected {
			expected[uid] = true
		}
		for _, rule := range rules {
			result, err := evaluateRule(t, ds, rule, at)
			if err != nil {
				t.Errorf("%s, rule %s: %v", org.Name, rule.UID, err)
				continue
			}
			t.Logf("%s, %s: firing %v, steps %v", org.Name, rule.UID, result.firing, result.values)
			if result.firing {
				fired[rule.UID]++
			}
			if result.firing != expected[rule.UID] {
				t.Errorf("%s, rule %s (%s): firing %v, want %v; steps %v", org.Name, rule.UID, rule.Title, result.firing, expected[rule.UID], result.values)
			}
		}
	}
	t.Logf("%d rules x %d scenarios evaluated at %s; fired: %v", len(rules), len(scenarios.Organizations), at.UTC().Format(time.RFC3339), fired)
}
