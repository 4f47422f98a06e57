/**
 * Business-case quality benchmark of the rules a catalog ships. Loads the catalog (the default
 * one unless given), and judges every rule it declares, through the alert evaluator's own
 * judging functions, on (1) the demo generator's 90 days with its recorded incidents and (2)
 * seeded synthetic series of the same metrics with labelled spikes, drops, level shifts and
 * slow drifts. Prints precision, recall and median detection delay per rule.
 *
 *   node --import tsx bench/anomaly/business.ts [--catalog backend/catalog/default.yaml]
 *   BENCH_VERBOSE=1 ... prints one line per series and rule
 */
import { parseArgs } from 'node:util';
import { loadRules, type MetricRule } from '../../backend/src/anomalies/rules.js';
import { DEFAULT_CATALOG_FILE, loadCatalog, type Catalog } from '../../backend/src/catalog/load.js';
import { demoSeries } from './business/demo.js';
import { emptyTally, evaluate, row, ruleStep, score, type Tally } from './business/evaluate.js';
import type { MetricSeries, Shape } from './business/series.js';
import { syntheticSeries } from './business/synthetic.js';

interface Group {
  total: Tally;
  shapes: Map<Shape, Tally>;
}

/** Scores every rule on its metric's series and prints one row per rule (and per incident shape). */
function report(title: string, rules: MetricRule[], seriesOf: (metricRule: MetricRule) => MetricSeries[] | null, byShape: boolean): Tally {
  const groups = new Map<string, Group>();
  const unmeasured: string[] = [];
  let seriesCount = 0;
  for (const metricRule of rules) {
    const all = seriesOf(metricRule);
    const usable = (all ?? []).filter((s) => typeof ruleStep(metricRule, s) === 'number');
    if (usable.length === 0) {
      const why = all === null || all.length === 0 ? 'no series of this metric' : String(ruleStep(metricRule, all[0]!));
      unmeasured.push(`${metricRule.rule.id} (${metricRule.metric.key}): ${why}`);
      continue;
    }
    const key = `${metricRule.rule.id} · ${metricRule.rule.type}`;
    const group: Group = { total: emptyTally(), shapes: new Map() };
    groups.set(key, group);
    for (const series of usable) {
      seriesCount++;
      const step = ruleStep(metricRule, series) as number;
      const before = { ...group.total };
      const shapeTally = (shape: Shape) => {
        const t = group.shapes.get(shape) ?? emptyTally();
        group.shapes.set(shape, t);
        return t;
      };
      score(evaluate(metricRule, series), step, metricRule, series.incidents, shapeTally, group.total);
      if (process.env.BENCH_VERBOSE) {
        const t = group.total;
        console.log(`  ${series.name.padEnd(56)}${metricRule.rule.id.padEnd(30)} detected ${t.detected - before.detected}/${series.incidents.length}, false alerts ${t.falsePositives - before.falsePositives}, repeats ${t.repeats - before.repeats}`);
      }
    }
  }
  const incidents = [...groups.values()].reduce((n, g) => n + g.total.incidents, 0);
  console.log(`\n${title}: ${groups.size} rules on ${seriesCount} series, ${incidents} labelled incidents\n`);
  const head = ['incidents', 'detected', 'TP', 'FP', 'repeat', 'precision', 'recall', 'median delay'];
  console.log(`${'rule'.padEnd(44)}${head.map((h, k) => h.padStart([10, 9, 7, 7, 7, 11, 8, 14][k]!)).join('')}`);
  const grand = emptyTally();
  for (const [key, { total, shapes }] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(row(key, total, true));
    if (byShape) for (const [shape, t] of [...shapes].sort(([a], [b]) => a.localeCompare(b))) console.log(row(`  ${shape}`, t, false));
    grand.incidents += total.incidents;
    grand.detected += total.detected;
    grand.truePositives += total.truePositives;
    grand.falsePositives += total.falsePositives;
    grand.repeats += total.repeats;
    grand.delays.push(...total.delays);
  }
  console.log(row('all rules', grand, true));
  for (const line of unmeasured) console.log(`not measured: ${line}`);
  return grand;
}

const { values: flags } = parseArgs({ options: { catalog: { type: 'string', default: DEFAULT_CATALOG_FILE } } });
const catalog: Catalog = loadCatalog(flags.catalog);
const rules = loadRules(catalog);
console.log(`${rules.length} rules from ${catalog.file}`);

report('Demo generator, 90 days, 2 organizations', rules, ({ metric, rule }) => demoSeries(catalog, metric, rule.groupBy), false);
const synthetic = syntheticSeries();
report('Synthetic business series', rules, ({ metric }) => synthetic.filter((s) => s.metric === metric.key), true);
