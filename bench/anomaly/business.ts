/**
 * Business-case quality benchmark: seeded synthetic metrics with labelled incidents (spikes,
 * drops, level shifts, slow drifts) on daily and weekly seasonality, evaluated point by point
 * with the rules the catalog ships for each case. Prints precision, recall and detection delay
 * per rule type and per incident shape.
 *
 *   node --import tsx bench/anomaly/business.ts
 */
import { BaselineDetector, evaluateChange, ratio, ratioOfSums, thresholdSeverity, type BaselineOptions, type ChangeRule, type Severity, type ThresholdRule } from '../../backend/src/anomalies/detectors/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 5); // a Monday, so weekends fall where a reader expects them

type Shape = 'spike' | 'drop' | 'level shift' | 'slow drift';

interface Incident {
  shape: Shape;
  /** Index of the first affected point and of the last point where a detection still counts. */
  start: number;
  end: number;
}

/** One evaluation step: the metric's value, and for ratio metrics the counts behind it. */
interface Sample {
  time: number;
  value: number;
  numerator?: number;
  denominator?: number;
}

type Rule =
  | { type: 'baseline'; options: BaselineOptions }
  | { type: 'threshold'; rule: ThresholdRule }
  | { type: 'ratio'; rule: ThresholdRule; minDenominator: number; windowPoints: number }
  | { type: 'change'; rule: ChangeRule; periodPoints: number };

interface Scenario {
  name: string;
  samples: Sample[];
  incidents: Incident[];
  rules: Rule[];
}

/** mulberry32: small, fast and seedable, so every run sees the same series. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Poisson draw (normal approximation above 30, exact inversion below). */
function poisson(random: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(random)));
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

function binomial(random: () => number, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (random() < p) k++;
  return k;
}

/** Business-hours daily shape (quiet nights, busy afternoons) and quieter weekends. */
function season(time: number, weekend: number): number {
  const date = new Date(time);
  const hour = date.getUTCHours();
  const daily = 0.25 + 0.75 * Math.max(0, Math.sin((Math.PI * (hour - 6)) / 16));
  const day = date.getUTCDay();
  return daily * (day === 0 || day === 6 ? weekend : 1);
}

/**
 * Multiplier on the normal level at point i for the incidents of a series. Level shifts and
 * drifts persist after their labelled window: the new level becomes the normal.
 */
function incidentFactor(i: number, plan: Array<{ shape: Shape; at: number; size: number; length: number }>): number {
  let factor = 1;
  for (const { shape, at, size, length } of plan) {
    if (i < at) continue;
    if (shape === 'level shift') factor *= size;
    else if (shape === 'slow drift') factor *= 1 + (size - 1) * Math.min(1, (i - at + 1) / length);
    else if (i < at + length) factor *= size;
  }
  return factor;
}

/** Incidents spread over the second half of the series, one of each shape in a seeded order. */
function planIncidents(random: () => number, points: number, perDay: number, shapes: Array<[Shape, number, number]>) {
  const first = Math.floor(points * 0.5);
  const gap = Math.floor((points - first) / (shapes.length + 0.5));
  return shapes.map(([shape, size, lengthDays], k) => ({
    shape,
    size,
    at: first + k * gap + Math.floor(random() * perDay),
    length: Math.max(1, Math.round(lengthDays * perDay)),
  }));
}

/** How long after an incident starts a detection still counts as catching it. */
function labelled(plan: ReturnType<typeof planIncidents>, perDay: number): Incident[] {
  return plan.map(({ shape, at, length }) => ({
    shape,
    start: at,
    end: at + (shape === 'level shift' ? (perDay === 1 ? 7 : perDay) : length),
  }));
}

function hourlyCounts(name: string, seed: number, level: number, rules: Rule[]): Scenario {
  const random = rng(seed);
  const points = 70 * 24;
  const plan = planIncidents(random, points, 24, [
    ['spike', 3, 2 / 24],
    ['drop', 0.2, 4 / 24],
    ['level shift', 0.55, 0],
    ['slow drift', 1.7, 3],
  ]);
  const samples = Array.from({ length: points }, (_, i) => {
    const time = START + i * HOUR;
    return { time, value: poisson(random, level * season(time, 0.6) * incidentFactor(i, plan)) };
  });
  return { name, samples, incidents: labelled(plan, 24), rules };
}

function failureRate(name: string, seed: number, runsPerHour: number, rules: Rule[]): Scenario {
  const random = rng(seed);
  const points = 60 * 24;
  const plan = planIncidents(random, points, 24, [
    ['spike', 10, 3 / 24],
    ['spike', 6, 6 / 24],
    ['level shift', 8, 0],
  ]);
  const samples = Array.from({ length: points }, (_, i) => {
    const time = START + i * HOUR;
    // Nights have no runs at all: empty denominators must stay silent.
    const total = new Date(time).getUTCHours() < 5 ? 0 : poisson(random, runsPerHour * season(time, 0.5));
    const failed = binomial(random, total, Math.min(0.9, 0.015 * incidentFactor(i, plan)));
    return { time, value: ratio(failed, total).value, numerator: failed, denominator: total };
  });
  return { name, samples, incidents: labelled(plan, 24), rules };
}

function deliveryRate(name: string, seed: number, rules: Rule[]): Scenario {
  const random = rng(seed);
  const points = 60 * 24;
  const plan = planIncidents(random, points, 24, [
    ['drop', 0.85, 4 / 24],
    ['drop', 0.7, 2 / 24],
    ['level shift', 0.9, 0],
  ]);
  const samples = Array.from({ length: points }, (_, i) => {
    const time = START + i * HOUR;
    const sent = poisson(random, 250 * season(time, 0.7));
    const delivered = binomial(random, sent, 0.975 * incidentFactor(i, plan));
    return { time, value: ratio(delivered, sent).value, numerator: delivered, denominator: sent };
  });
  return { name, samples, incidents: labelled(plan, 24), rules };
}

function responseTime(name: string, seed: number, rules: Rule[]): Scenario {
  const random = rng(seed);
  const points = 60 * 24;
  const plan = planIncidents(random, points, 24, [
    ['spike', 3, 2 / 24],
    ['level shift', 1.8, 0],
    ['slow drift', 2.2, 2],
  ]);
  const samples = Array.from({ length: points }, (_, i) => {
    const time = START + i * HOUR;
    const load = 0.8 + 0.4 * season(time, 0.6);
    return { time, value: 700 * load * incidentFactor(i, plan) * Math.exp(0.08 * gaussian(random)) };
  });
  return { name, samples, incidents: labelled(plan, 24), rules };
}

function dailySeries(name: string, seed: number, weekday: number, weekend: number, noise: number, shapes: Array<[Shape, number, number]>, rules: Rule[]): Scenario {
  const random = rng(seed);
  const points = 180;
  const plan = planIncidents(random, points, 1, shapes);
  const samples = Array.from({ length: points }, (_, i) => {
    const time = START + i * DAY;
    const day = new Date(time).getUTCDay();
    const normal = day === 0 || day === 6 ? weekend : weekday;
    return { time, value: Math.max(0, normal * incidentFactor(i, plan) * (1 + noise * gaussian(random))) };
  });
  return { name, samples, incidents: labelled(plan, 1), rules };
}

const baseline = (options: BaselineOptions = {}): Rule => ({ type: 'baseline', options });

/** The seeds' cases, each with the rules the catalog ships for it. */
function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  [40, 120, 15, 300, 60, 25].forEach((level, k) => list.push(hourlyCounts(`orders_created #${k + 1} (${level}/h)`, 100 + k, level, [baseline({ minVolume: 5, transform: 'sqrt' })])));
  [80, 200, 40].forEach((level, k) => list.push(hourlyCounts(`payments_count #${k + 1} (${level}/h)`, 200 + k, level, [baseline({ minVolume: 5, transform: 'sqrt' })])));
  [30, 60, 20, 45].forEach((runs, k) =>
    list.push(
      failureRate(`workflow_failure_rate #${k + 1} (${runs} runs/h)`, 300 + k, runs, [
        { type: 'ratio', rule: { direction: 'above', warning: 0.08, critical: 0.15, hysteresis: 0.03 }, minDenominator: 30, windowPoints: 3 },
      ]),
    ),
  );
  [0, 1, 2].forEach((k) =>
    list.push(deliveryRate(`message_delivery_rate #${k + 1}`, 400 + k, [{ type: 'ratio', rule: { direction: 'below', warning: 0.93, critical: 0.85, hysteresis: 0.01 }, minDenominator: 100, windowPoints: 3 }])),
  );
  [0, 1].forEach((k) =>
    list.push(responseTime(`bot_response_p95_ms #${k + 1}`, 500 + k, [{ type: 'threshold', rule: { direction: 'above', warning: 1200, critical: 2000, hysteresis: 100 } }, baseline({ direction: 'above' })])),
  );
  [0, 1, 2].forEach((k) =>
    list.push(
      dailySeries(`billable_hours_per_day #${k + 1}`, 600 + k, 64 + 8 * k, 4, 0.06, [['drop', 0.55, 3], ['level shift', 0.7, 0], ['slow drift', 0.6, 10]], [
        baseline({ direction: 'below', seasons: 4 }),
        { type: 'change', rule: { direction: 'below', warningPercent: 15, criticalPercent: 30, minVolume: 50 }, periodPoints: 7 },
      ]),
    ),
  );
  [0, 1].forEach((k) =>
    list.push(
      dailySeries(`cloud_expenses_eur_per_day #${k + 1}`, 700 + k, 900 + 300 * k, 900 + 300 * k, 0.05, [['spike', 2.2, 1], ['level shift', 1.5, 0], ['spike', 1.6, 2]], [
        baseline({ direction: 'above', seasons: 4 }),
        { type: 'change', rule: { direction: 'above', warningPercent: 30, criticalPercent: 80, minVolume: 100 }, periodPoints: 1 },
      ]),
    ),
  );
  [0, 1].forEach((k) =>
    list.push(
      dailySeries(`review_rating_avg #${k + 1}`, 800 + k, 4.5, 4.5, 0.015, [['drop', 0.85, 3], ['level shift', 0.88, 0]], [
        { type: 'threshold', rule: { direction: 'below', warning: 4.1, critical: 3.8, hysteresis: 0.1 } },
        baseline({ direction: 'below', seasons: 4 }),
      ]),
    ),
  );
  return list;
}

/** Severity of every sample under one rule, evaluated as the scheduler would: in time order. */
function evaluate(rule: Rule, samples: Sample[]): Severity[] {
  switch (rule.type) {
    case 'baseline': {
      const detector = new BaselineDetector(rule.options);
      return samples.map((s) => detector.push(s).severity);
    }
    case 'threshold': {
      let previous: Severity = 'healthy';
      return samples.map((s) => (previous = thresholdSeverity(rule.rule, s.value, previous)));
    }
    case 'ratio': {
      let previous: Severity = 'healthy';
      return samples.map((_, i) => {
        const window = samples.slice(Math.max(0, i + 1 - rule.windowPoints), i + 1);
        const r = ratioOfSums(window.map((s) => s.numerator ?? 0), window.map((s) => s.denominator ?? 0));
        // Too few runs say nothing; keep the previous state rather than flap on noise.
        if (!r.hasVolume || r.denominator < rule.minDenominator) return previous;
        return (previous = thresholdSeverity(rule.rule, r.value, previous));
      });
    }
    case 'change': {
      const n = rule.periodPoints;
      const sum = (from: number, to: number) => samples.slice(Math.max(0, from), to).reduce((acc, s) => acc + s.value, 0);
      return samples.map((s, i) => (i + 1 < 2 * n ? 'healthy' : evaluateChange(rule.rule, s.time, sum(i + 1 - n, i + 1), sum(i + 1 - 2 * n, i + 1 - n)).severity));
    }
  }
}

interface Tally {
  incidents: number;
  detected: number;
  truePositives: number;
  falsePositives: number;
  /** Alerts while a level shift or drift from the last week persists: the same problem again. */
  repeats: number;
  delays: number[];
}

const emptyTally = (): Tally => ({ incidents: 0, detected: 0, truePositives: 0, falsePositives: 0, repeats: 0, delays: [] });

/**
 * The first 35% of every series is the history a deployment starts with (the evaluator reads
 * weeks of rollups); alerts there are not counted, as NAB does not score its probation period.
 * Incidents all lie in the second half.
 */
const warmUp = (points: number) => Math.floor(points * 0.35);

/** A shifted level stays abnormal (against the old normal) for this many days of repeats. */
const PERSISTENCE_DAYS = 7;

/**
 * Alerts are runs of non-healthy evaluations (gaps of up to 3 points merged, as a
 * `keepFiringFor` would). An alert that starts inside an incident's window is a true positive;
 * one that starts while an earlier level shift or drift still persists is a repeat; any other
 * is a false positive. An incident is detected when some evaluation inside its window is not
 * healthy; the first such evaluation gives the detection delay.
 */
function score(severities: Severity[], incidents: Incident[], perDay: number, shapeTally: (shape: Shape) => Tally, total: Tally) {
  const starts: number[] = [];
  let lastBad = -Infinity;
  severities.forEach((s, i) => {
    if (s === 'healthy') return;
    if (i - lastBad > 3) starts.push(i);
    lastBad = i;
  });
  for (const start of starts) {
    if (start < warmUp(severities.length)) continue;
    if (incidents.some((inc) => start >= inc.start && start <= inc.end)) total.truePositives++;
    else if (incidents.some((inc) => (inc.shape === 'level shift' || inc.shape === 'slow drift') && start > inc.start && start <= inc.start + PERSISTENCE_DAYS * perDay)) total.repeats++;
    else total.falsePositives++;
  }
  for (const inc of incidents) {
    const t = shapeTally(inc.shape);
    t.incidents++;
    total.incidents++;
    const first = severities.findIndex((s, i) => i >= inc.start && i <= inc.end && s !== 'healthy');
    if (first < 0) continue;
    for (const tally of [t, total]) {
      tally.detected++;
      tally.delays.push(first - inc.start);
    }
  }
}

function row(label: string, t: Tally, unit: string, withAlerts: boolean): string {
  const alerts = t.truePositives + t.falsePositives;
  const precision = alerts === 0 ? 1 : t.truePositives / alerts;
  const recall = t.incidents === 0 ? 1 : t.detected / t.incidents;
  const sorted = [...t.delays].sort((a, b) => a - b);
  const med = sorted.length === 0 ? '-' : `${sorted[Math.floor((sorted.length - 1) / 2)]}${unit ? ` ${unit}` : ''}`;
  const cells = withAlerts
    ? [t.truePositives, t.falsePositives, t.repeats, precision.toFixed(2)]
    : ['', '', '', ''];
  return `${label.padEnd(28)}${String(t.incidents).padStart(10)}${String(t.detected).padStart(9)}${cells.map((c, k) => String(c).padStart(k === 3 ? 11 : 7)).join('')}${recall.toFixed(2).padStart(8)}${med.padStart(14)}`;
}

const all = scenarios();
const byRule = new Map<string, { total: Tally; shapes: Map<Shape, Tally>; unit: string }>();
for (const scenario of all) {
  const hourly = scenario.samples.length > 1 && scenario.samples[1]!.time - scenario.samples[0]!.time === HOUR;
  for (const rule of scenario.rules) {
    const key = `${rule.type} (${hourly ? 'hourly' : 'daily'})`;
    const entry = byRule.get(key) ?? { total: emptyTally(), shapes: new Map<Shape, Tally>(), unit: hourly ? 'h' : 'd' };
    byRule.set(key, entry);
    const shapeTally = (shape: Shape) => {
      const t = entry.shapes.get(shape) ?? emptyTally();
      entry.shapes.set(shape, t);
      return t;
    };
    const before = { ...entry.total };
    score(evaluate(rule, scenario.samples), scenario.incidents, hourly ? 24 : 1, shapeTally, entry.total);
    if (process.env.BENCH_VERBOSE) {
      const t = entry.total;
      console.log(`${scenario.name.padEnd(44)}${key.padEnd(20)} detected ${t.detected - before.detected}/${scenario.incidents.length}, false alerts ${t.falsePositives - before.falsePositives}, repeats ${t.repeats - before.repeats}`);
    }
  }
}

console.log(`Business cases: ${all.length} seeded series, ${all.reduce((n, s) => n + s.incidents.length, 0)} labelled incidents\n`);
const head = ['incidents', 'detected', 'TP', 'FP', 'repeat', 'precision', 'recall', 'median delay'];
console.log(`${'rule type / incident shape'.padEnd(28)}${head.map((h, k) => h.padStart([10, 9, 7, 7, 7, 11, 8, 14][k]!)).join('')}`);
const grand = emptyTally();
for (const [key, { total, shapes, unit }] of [...byRule].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(row(key, total, unit, true));
  for (const [shape, t] of [...shapes].sort(([a], [b]) => a.localeCompare(b))) console.log(row(`  ${shape}`, t, unit, false));
  grand.incidents += total.incidents;
  grand.detected += total.detected;
  grand.truePositives += total.truePositives;
  grand.falsePositives += total.falsePositives;
  grand.repeats += total.repeats;
}
console.log(row('all rules', grand, '', true));
