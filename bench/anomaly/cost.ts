/**
 * What evaluating rules costs, without the database: N rules (default 1,000), cycling through the
 * catalog's rules, each judged once on its own series exactly as the evaluator judges it at a tick
 * (a baseline rule runs its detector over the history it reads, `historyPoints` buckets; a
 * threshold rule judges its window's totals). Prints the time of one pass and the memory a rule's
 * judging holds (the detectors kept alive together, divided by N).
 *
 *   node --expose-gc --import tsx bench/anomaly/cost.ts [--rules 1000] [--catalog backend/catalog/default.yaml]
 */
import { parseArgs } from 'node:util';
import { BaselineDetector, historyPoints } from '../../backend/src/anomalies/detectors/index.js';
import { baselineOptionsOf, judgeThreshold } from '../../backend/src/anomalies/judge.js';
import { loadRules, type MetricRule } from '../../backend/src/anomalies/rules.js';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../../backend/src/catalog/load.js';

const { values: flags } = parseArgs({ options: { rules: { type: 'string', default: '1000' }, catalog: { type: 'string', default: DEFAULT_CATALOG_FILE } } });
const count = Number(flags.rules);
if (!(count >= 1)) throw new Error('--rules must be a number >= 1');
const catalogRules = loadRules(loadCatalog(flags.catalog));
const rules: MetricRule[] = Array.from({ length: count }, (_, i) => catalogRules[i % catalogRules.length]!);

const HOUR = 3_600_000;
const END = Date.UTC(2026, 2, 1);
/** A seasonal hourly series ending at END, different per rule. */
function series(seed: number, points: number): Array<{ time: number; value: number }> {
  return Array.from({ length: points }, (_, i) => {
    const time = END - (points - i) * HOUR;
    const hour = new Date(time).getUTCHours();
    return { time, value: 50 + 40 * Math.sin((Math.PI * (hour - 6)) / 12) + ((seed * 7919 + i * 104729) % 17) };
  });
}

const inputs = rules.map(({ rule }, k) => (rule.type === 'baseline' ? series(k, historyPoints(rule.bucket, rule.seasons)) : null));

/** Judges every rule once; returns what was judged so the work cannot be optimised away. */
function pass(keep?: unknown[]): number {
  let breaches = 0;
  rules.forEach((metricRule, k) => {
    const { metric, rule } = metricRule;
    if (rule.type === 'baseline') {
      const detector = new BaselineDetector(baselineOptionsOf(rule));
      let severity = 'healthy';
      for (const point of inputs[k]!) severity = detector.push(point).severity;
      if (severity !== 'healthy') breaches++;
      keep?.push(detector);
    } else if (rule.type === 'threshold') {
      const finding = judgeThreshold(metric, rule, END, { value: 0.04 + (k % 10) / 100, numerator: 4 + (k % 10), denominator: 100, count: 100 }, 'healthy');
      if (finding && finding.severity !== 'healthy') breaches++;
    }
  });
  return breaches;
}

pass(); // warm the JIT
const times: number[] = [];
for (let run = 0; run < 5; run++) {
  const started = performance.now();
  pass();
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const before = process.memoryUsage().heapUsed;
const kept: unknown[] = [];
pass(kept);
gc?.();
const held = process.memoryUsage().heapUsed - before;

const kinds = rules.reduce<Record<string, number>>((acc, { rule }) => ({ ...acc, [rule.type]: (acc[rule.type] ?? 0) + 1 }), {});
console.log(`${count} rules (${Object.entries(kinds).map(([type, n]) => `${n} ${type}`).join(', ')}) from ${flags.catalog}`);
console.log(`one evaluation pass: median ${times[2]!.toFixed(0)} ms, best ${times[0]!.toFixed(0)} ms, worst ${times[4]!.toFixed(0)} ms (5 runs)`);
console.log(
  gc
    ? `memory held while judging: ${(held / 1024 / 1024).toFixed(1)} MiB for ${kept.length} baseline detectors, ${(held / Math.max(1, kept.length) / 1024).toFixed(1)} KiB each (threshold rules hold nothing)`
    : 'run with node --expose-gc for the memory per rule',
);
