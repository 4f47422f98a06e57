/**
 * Seeded synthetic business metrics with labelled incidents: hourly series with daily and
 * weekly seasonality, daily series with weekly seasonality, each with the rules a catalog
 * would declare for it.
 */
import { ratio, type BaselineOptions } from '../../../backend/src/anomalies/detectors/index.js';
import { DAY, HOUR, type Incident, type Rule, type Scenario, type Shape } from './evaluate.js';

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
export function syntheticScenarios(): Scenario[] {
  const list: Scenario[] = [];
  [40, 120, 15, 300, 60, 25].forEach((level, k) => list.push(hourlyCounts(`orders_created #${k + 1} (${level}/h)`, 100 + k, level, [baseline({ minVolume: 5, transform: 'sqrt' })])));
  [80, 200, 40].forEach((level, k) => list.push(hourlyCounts(`payments_count #${k + 1} (${level}/h)`, 200 + k, level, [baseline({ minVolume: 5, transform: 'sqrt' })])));
  [30, 60, 20, 45].forEach((runs, k) =>
    list.push(
      failureRate(`workflow_failure_rate #${k + 1} (${runs} runs/h)`, 300 + k, runs, [
        { type: 'ratio', rule: { direction: 'above', warning: 0.05, critical: 0.15, hysteresis: 0.02, minDenominator: 10 }, windowPoints: 3 },
      ]),
    ),
  );
  [0, 1, 2].forEach((k) =>
    list.push(deliveryRate(`message_delivery_rate #${k + 1}`, 400 + k, [{ type: 'ratio', rule: { direction: 'below', warning: 0.93, critical: 0.85, hysteresis: 0.01, minDenominator: 100 }, windowPoints: 3 }])),
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
