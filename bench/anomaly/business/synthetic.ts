/**
 * Seeded synthetic business metrics with labelled incidents: hourly series with daily and
 * weekly seasonality, daily series with weekly seasonality, each named by the catalog metric it
 * stands for.
 */
import { DAY, HOUR, type Bucket, type Incident, type MetricSeries, type Shape } from './series.js';

const START = Date.UTC(2026, 0, 5); // a Monday, so weekends fall where a reader expects them

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

/** How long after an incident starts a detection still counts as catching it, in time. */
function labelled(plan: ReturnType<typeof planIncidents>, stepMs: number): Incident[] {
  return plan.map(({ shape, at, length }) => ({
    shape,
    start: START + at * stepMs,
    end: START + (at + (shape === 'level shift' ? (stepMs === DAY ? 7 : 24) : length)) * stepMs,
  }));
}

const series = (metric: string, name: string, stepMs: number, buckets: Bucket[], plan: ReturnType<typeof planIncidents>): MetricSeries => ({ metric, name, stepMs, buckets, incidents: labelled(plan, stepMs) });

function hourlyCounts(metric: string, seed: number, level: number): MetricSeries {
  const random = rng(seed);
  const points = 70 * 24;
  const plan = planIncidents(random, points, 24, [
    ['spike', 3, 2 / 24],
    ['drop', 0.2, 4 / 24],
    ['level shift', 0.55, 0],
    ['slow drift', 1.7, 3],
  ]);
  const buckets = Array.from({ length: points }, (_, i) => {
    const time = START + i * HOUR;
    const n = poisson(random, level * season(time, 0.6) * incidentFactor(i, plan));
    return { time, count: n, sum: n };
  });
  return series(metric, `${metric} #${seed} (${level}/h)`, HOUR, buckets, plan);
}

/** A failure-style proportion (failed / runs) with empty nights: empty denominators must stay silent. */
function failureRate(metric: string, seed: number, runsPerHour: number, normalRate: number): MetricSeries {
  const random = rng(seed);
  const points = 60 * 24;
  const plan = planIncidents(random, points, 24, [
    ['spike', 10, 3 / 24],
    ['spike', 6, 6 / 24],
    ['level shift', 8, 0],
  ]);
  const buckets = Array.from({ length: points }, (_, i) => {
    const time = START + i * HOUR;
    const total = new Date(time).getUTCHours() < 5 ? 0 : poisson(random, runsPerHour * season(time, 0.5));
    const failed = binomial(random, total, Math.min(0.9, normalRate * incidentFactor(i, plan)));
    return { time, count: total, sum: total, numerator: failed, denominator: total };
  });
  return series(metric, `${metric} #${seed} (${runsPerHour}/h)`, HOUR, buckets, plan);
}

/** A success-style proportion (delivered / sent) that drops. */
function successRate(metric: string, seed: number, perHour: number, normalRate: number): MetricSeries {
  const random = rng(seed);
  const points = 60 * 24;
  const plan = planIncidents(random, points, 24, [
    ['drop', 0.85, 4 / 24],
    ['drop', 0.7, 2 / 24],
    ['level shift', 0.9, 0],
  ]);
  const buckets = Array.from({ length: points }, (_, i) => {
    const time = START + i * HOUR;
    const sent = poisson(random, perHour * season(time, 0.7));
    const delivered = binomial(random, sent, normalRate * incidentFactor(i, plan));
    return { time, count: sent, sum: sent, numerator: delivered, denominator: sent };
  });
  return series(metric, `${metric} #${seed} (${perHour}/h)`, HOUR, buckets, plan);
}

/** Response times: every response's latency kept, so any percentile and window can be computed. */
function responseTime(metric: string, seed: number): MetricSeries {
  const random = rng(seed);
  const points = 60 * 24;
  const plan = planIncidents(random, points, 24, [
    ['spike', 3, 2 / 24],
    ['level shift', 1.8, 0],
    ['slow drift', 2.2, 2],
  ]);
  const buckets = Array.from({ length: points }, (_, i) => {
    const time = START + i * HOUR;
    const typical = 400 * (0.8 + 0.4 * season(time, 0.6)) * incidentFactor(i, plan);
    const values = Array.from({ length: 20 + poisson(random, 60 * season(time, 0.6)) }, () => typical * Math.exp(0.5 * gaussian(random)));
    return { time, count: values.length, sum: values.reduce((a, b) => a + b, 0), values };
  });
  return series(metric, `${metric} #${seed}`, HOUR, buckets, plan);
}

/** A daily amount (hours, money) with a weekly cycle, or a daily average of `perDay` facts. */
function dailySeries(metric: string, seed: number, weekday: number, weekend: number, noise: number, shapes: Array<[Shape, number, number]>, perDay?: number): MetricSeries {
  const random = rng(seed);
  const points = 180;
  const plan = planIncidents(random, points, 1, shapes);
  const buckets = Array.from({ length: points }, (_, i) => {
    const time = START + i * DAY;
    const day = new Date(time).getUTCDay();
    const normal = day === 0 || day === 6 ? weekend : weekday;
    const value = Math.max(0, normal * incidentFactor(i, plan) * (1 + noise * gaussian(random)));
    return perDay ? { time, count: perDay, sum: value * perDay } : { time, count: 1, sum: value };
  });
  return series(metric, `${metric} #${seed}`, DAY, buckets, plan);
}

/**
 * The seeds' cases as series of catalog metrics; the benchmark judges each with the rules the
 * catalog has for its metric.
 */
export function syntheticSeries(): MetricSeries[] {
  const list: MetricSeries[] = [];
  [40, 120, 15, 300, 60, 25].forEach((level, k) => list.push(hourlyCounts('orders_created', 100 + k, level)));
  [80, 200, 40].forEach((level, k) => list.push(hourlyCounts('payments_total', 200 + k, level)));
  [30, 60, 20, 45].forEach((runs, k) => list.push(failureRate('workflow_failure_rate', 300 + k, runs, 0.04)));
  [60, 150].forEach((runs, k) => list.push(failureRate('bot_error_rate', 350 + k, runs, 0.01)));
  [250, 120, 400].forEach((sent, k) => list.push(successRate('delivery_rate', 400 + k, sent, 0.975)));
  [80, 40].forEach((attempts, k) => list.push(successRate('payment_success_rate', 450 + k, attempts, 0.985)));
  [0, 1].forEach((k) => list.push(responseTime('bot_response_time_ms', 500 + k)));
  [0, 1, 2].forEach((k) => list.push(dailySeries('billable_hours', 600 + k, 64 + 8 * k, 4, 0.06, [['drop', 0.55, 3], ['level shift', 0.7, 0], ['slow drift', 0.6, 10]])));
  [0, 1].forEach((k) => list.push(dailySeries('expenses', 700 + k, 900 + 300 * k, 900 + 300 * k, 0.05, [['spike', 2.2, 1], ['level shift', 1.5, 0], ['spike', 1.6, 2]])));
  [0, 1].forEach((k) => list.push(dailySeries('revenue', 750 + k, 4000 + 2000 * k, 1500, 0.12, [['spike', 3, 1], ['spike', 2.2, 1], ['level shift', 1.6, 0]])));
  [0, 1].forEach((k) => list.push(dailySeries('average_rating', 800 + k, 4.5, 4.5, 0.015, [['drop', 0.85, 3], ['level shift', 0.88, 0]], 6)));
  // Conversations and bots (issue 16's rules): handoff and spam shares with the failure-rate
  // shapes, opt-outs of contacts reached, a daily bot cost, and a daily average satisfaction of
  // 12 ratings (a rating's spread of about 0.9 stars makes their average vary by about 6 %).
  [12, 30].forEach((conversations, k) => list.push(failureRate('bot_handoff_rate', 360 + k, conversations, 0.16)));
  [10, 25].forEach((opened, k) => list.push(failureRate('spam_rate', 370 + k, opened, 0.06)));
  [40, 100].forEach((contacted, k) => list.push(failureRate('opt_out_rate', 380 + k, contacted, 0.01)));
  [0, 1].forEach((k) => list.push(dailySeries('bot_cost', 720 + k, 40 + 40 * k, 15 + 15 * k, 0.1, [['spike', 2.5, 1], ['level shift', 1.6, 0], ['spike', 1.8, 2]])));
  [0, 1].forEach((k) => list.push(dailySeries('conversation_satisfaction', 820 + k, 4.3, 4.3, 0.06, [['drop', 0.55, 3], ['level shift', 0.85, 0]], 12)));
  return list;
}
