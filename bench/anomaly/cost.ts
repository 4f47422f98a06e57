/**
 * What evaluating rules costs, without the database: N rules (default 1,000), cycling through the
 * catalog's rules, each judged once on its own series as the evaluator judges it at a tick (a
 * baseline rule through the evaluator's detector cache over the history it reads, `historyPoints`
 * buckets; a threshold rule on its window's totals). Prints the time of a pass on a cold cache
 * (a new process), in steady state (one new bucket) and within an hour, and the memory per rule.
 *
 *   node --expose-gc --import tsx bench/anomaly/cost.ts [--rules 1000] [--catalog backend/catalog/default.yaml] [--only baseline] [--rule orders_unusual]
 *
 * `--only baseline` cycles through the catalog's baseline rules alone, as only they replay
 * history on a cold cache; `--rule <id>` repeats one rule (an hourly baseline rule such as
 * `orders_unusual` reads the longest history: the worst case).
 */
import { parseArgs } from 'node:util';
import { DetectorCache } from '../../backend/src/anomalies/detector-cache.js';
import { historyPoints } from '../../backend/src/anomalies/detectors/index.js';
import { baselineOptionsOf, judgeThreshold } from '../../backend/src/anomalies/judge.js';
import { loadRules, type MetricRule } from '../../backend/src/anomalies/rules.js';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../../backend/src/catalog/load.js';

const { values: flags } = parseArgs({ options: { rules: { type: 'string', default: '1000' }, catalog: { type: 'string', default: DEFAULT_CATALOG_FILE }, only: { type: 'string' }, rule: { type: 'string' } } });
const count = Number(flags.rules);
if (!(count >= 1)) throw new Error('--rules must be a number >= 1');
const catalogRules = loadRules(loadCatalog(flags.catalog)).filter(({ rule }) => (flags.only === undefined || rule.type === flags.only) && (flags.rule === undefined || rule.id === flags.rule));
if (catalogRules.length === 0) throw new Error(`no ${flags.only ?? ''} rule${flags.rule ? ` '${flags.rule}'` : 's'} in ${flags.catalog}`);
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

// One extra bucket per baseline rule: the history the evaluator reads, then the next hour.
const inputs = rules.map(({ rule }, k) => (rule.type === 'baseline' ? series(k, historyPoints(rule.bucket, rule.seasons) + 1) : null));

/**
 * Judges every rule once at the tick after bucket `upTo` (exclusive end index of the series) with
 * the evaluator's detector cache; returns how many are in breach so the work stays observable.
 */
function pass(cache: DetectorCache, upTo: (points: number) => number): number {
  let breaches = 0;
  rules.forEach(({ metric, rule }, k) => {
    if (rule.type === 'baseline') {
      const points = inputs[k]!;
      if (cache.judge(String(k), points.slice(0, upTo(points.length)), baselineOptionsOf(rule)).severity !== 'healthy') breaches++;
    } else if (rule.type === 'threshold') {
      const finding = judgeThreshold(metric, rule, END, { value: 0.04 + (k % 10) / 100, numerator: 4 + (k % 10), denominator: 100, count: 100 }, 'healthy');
      if (finding && finding.severity !== 'healthy') breaches++;
    }
  });
  return breaches;
}

/**
 * Median, best and worst of 5 runs of `run` (each on fresh state from `setup`), wall time and
 * the process's CPU time: on a shared machine the wall time grows with the others' load, the CPU
 * time much less.
 */
function timed(setup: () => DetectorCache, run: (cache: DetectorCache) => void): string {
  const times: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < 5; k++) {
    const cache = setup();
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    run(cache);
    const used = process.cpuUsage(cpuStarted);
    times.push(performance.now() - started);
    cpu.push((used.user + used.system) / 1000);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return `median ${times[2]!.toFixed(1)} ms, best ${times[0]!.toFixed(1)} ms, worst ${times[4]!.toFixed(1)} ms; CPU median ${cpu[2]!.toFixed(1)} ms (5 runs)`;
}

const all = (n: number) => n;
const allButLast = (n: number) => n - 1;
pass(new DetectorCache(), all); // warm the JIT

const kinds = rules.reduce<Record<string, number>>((acc, { rule }) => ({ ...acc, [rule.type]: (acc[rule.type] ?? 0) + 1 }), {});
console.log(`${count} rules (${Object.entries(kinds).map(([type, n]) => `${n} ${type}`).join(', ')}) from ${flags.catalog}`);
console.log(`cold pass (a new process: every baseline rule replays its history): ${timed(() => new DetectorCache(), (cache) => pass(cache, all))}`);
const warm = () => {
  const cache = new DetectorCache();
  pass(cache, allButLast);
  return cache;
};
console.log(`steady pass (a new hour: one bucket per baseline rule):             ${timed(warm, (cache) => pass(cache, all))}`);
console.log(`same-hour pass (the minute ticks within an hour):                   ${timed(warm, (cache) => pass(cache, allButLast))}`);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  // Typed arrays keep their values outside the JS heap, freed after their owners: count both,
  // with the detectors held and after letting them go.
  const used = () => {
    for (let k = 0; k < 3; k++) gc();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  };
  let cache: DetectorCache | null = warm();
  const size = cache.size;
  const withCache = used();
  cache = null;
  const held = withCache - used();
  console.log(`memory the evaluator keeps: ${(held / 1024 / 1024).toFixed(1)} MiB for ${size} baseline detectors, ${(held / Math.max(1, size) / 1024).toFixed(1)} KiB each (threshold rules keep nothing)`);
} else console.log('run with node --expose-gc for the memory per rule');
