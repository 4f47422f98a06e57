/**
 * Business-case quality benchmark. Prints precision, recall and detection delay of the anomaly
 * rules on (1) the demo generator's 90 days with its recorded incidents and (2) seeded synthetic
 * series with labelled spikes, drops, level shifts and slow drifts on daily and weekly seasonality.
 *
 *   node --import tsx bench/anomaly/business.ts          (from the repository root)
 *   ... --ratio-confidence 0   judges ratio rules on the raw rate (a threshold rule's default)
 *                              instead of the Wilson interval at z = 1.96 (its `confidence: 1.96`)
 *   BENCH_VERBOSE=1 ... prints one line per series and rule
 */
import { parseArgs } from 'node:util';
import { demoScenarios } from './business/demo.js';
import { emptyTally, evaluate, HOUR, persistencePoints, row, score, type Scenario, type Shape, type Tally } from './business/evaluate.js';
import { syntheticScenarios } from './business/synthetic.js';

interface Group {
  total: Tally;
  shapes: Map<Shape, Tally>;
  unit: string;
}

/** Scores every rule of every scenario, grouped by `groupOf`, and prints the table. */
function report(title: string, scenarios: Scenario[], groupOf: (scenario: Scenario, ruleType: string, hourly: boolean) => string, byShape: boolean): Tally {
  const groups = new Map<string, Group>();
  for (const scenario of scenarios) {
    const hourly = scenario.samples.length > 1 && scenario.samples[1]!.time - scenario.samples[0]!.time === HOUR;
    for (const rule of scenario.rules) {
      const key = groupOf(scenario, rule.type, hourly);
      const group = groups.get(key) ?? { total: emptyTally(), shapes: new Map<Shape, Tally>(), unit: hourly ? 'h' : 'd' };
      groups.set(key, group);
      const shapeTally = (shape: Shape) => {
        const t = group.shapes.get(shape) ?? emptyTally();
        group.shapes.set(shape, t);
        return t;
      };
      const before = { ...group.total };
      score(evaluate(rule, scenario.samples), scenario.incidents, persistencePoints(rule.type, hourly ? 24 : 1), shapeTally, group.total);
      if (process.env.BENCH_VERBOSE) {
        const t = group.total;
        console.log(`  ${scenario.name.padEnd(50)}${rule.type.padEnd(10)} detected ${t.detected - before.detected}/${scenario.incidents.length}, false alerts ${t.falsePositives - before.falsePositives}, repeats ${t.repeats - before.repeats}`);
      }
    }
  }
  const incidents = scenarios.reduce((n, s) => n + s.incidents.length, 0);
  console.log(`\n${title}: ${scenarios.length} series, ${incidents} labelled incidents\n`);
  const head = ['incidents', 'detected', 'TP', 'FP', 'repeat', 'precision', 'recall', 'median delay'];
  console.log(`${'rule'.padEnd(36)}${head.map((h, k) => h.padStart([10, 9, 7, 7, 7, 11, 8, 14][k]!)).join('')}`);
  const grand = emptyTally();
  for (const [key, { total, shapes, unit }] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(row(key, total, unit, true));
    if (byShape) for (const [shape, t] of [...shapes].sort(([a], [b]) => a.localeCompare(b))) console.log(row(`  ${shape}`, t, unit, false));
    grand.incidents += total.incidents;
    grand.detected += total.detected;
    grand.truePositives += total.truePositives;
    grand.falsePositives += total.falsePositives;
    grand.repeats += total.repeats;
  }
  console.log(row('all rules', grand, '', true));
  return grand;
}

const { values: flags } = parseArgs({ options: { 'ratio-confidence': { type: 'string' } } });
const ratioConfidence = flags['ratio-confidence'] === undefined ? undefined : Number(flags['ratio-confidence']);
if (ratioConfidence !== undefined && !(ratioConfidence >= 0)) throw new Error('--ratio-confidence must be a number >= 0 (0: raw rate)');
/** Ratio rules with the z of the command line, when one was given. */
const withConfidence = (scenarios: Scenario[]): Scenario[] =>
  ratioConfidence === undefined
    ? scenarios
    : scenarios.map((scenario) => ({
        ...scenario,
        rules: scenario.rules.map((rule) => (rule.type === 'ratio' ? { ...rule, rule: { ...rule.rule, confidenceZ: ratioConfidence } } : rule)),
      }));
if (ratioConfidence !== undefined) console.log(`ratio rules judged at confidence z = ${ratioConfidence}${ratioConfidence === 0 ? ' (raw rate)' : ''}`);

const demo = withConfidence(demoScenarios());
report('Demo generator, 90 days, 2 organizations', demo, (s, type) => `${(s as Scenario & { metric: string }).metric} · ${type}`, false);
report('Synthetic business series', withConfidence(syntheticScenarios()), (_s, type, hourly) => `${type} (${hourly ? 'hourly' : 'daily'})`, true);
