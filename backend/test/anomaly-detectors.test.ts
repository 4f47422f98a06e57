import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BaselineDetector,
  deltaPercent,
  describeFinding,
  evaluateBaseline,
  evaluateChange,
  evaluateRatio,
  evaluateThreshold,
  formatValue,
  historyPoints,
  judgedHistoryPoints,
  mad,
  median,
  ratio,
  ratioOfSums,
  replay,
  robustStats,
  seasonLengths,
  thresholdSeverity,
  validateChangeRule,
  validateThresholdRule,
  wilsonInterval,
  zToScore,
  type Point,
  type Severity,
  type ThresholdRule,
} from '../src/anomalies/detectors/index.js';
import { seededRandom } from './support/seeded-random.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MONDAY = Date.UTC(2026, 0, 5);

describe('threshold rule', () => {
  const failureRate: ThresholdRule = { direction: 'above', warning: 0.05, critical: 0.15 };

  test('10 runs with 2 failures is a 20% failure rate, critical against 5% / 15% bounds', () => {
    const rate = ratio(2, 10);
    const finding = evaluateThreshold(failureRate, { time: 0, value: rate.value });
    assert.equal(rate.value, 0.2);
    assert.equal(finding.severity, 'critical');
    assert.equal(finding.expected, 0.05);
    assert.equal(finding.bound, 0.15);
    assert.equal(finding.score, 1);
  });

  test('below-direction rules fire on low values only', () => {
    const delivery: ThresholdRule = { direction: 'below', warning: 0.95, critical: 0.85 };
    assert.equal(thresholdSeverity(delivery, 0.97), 'healthy');
    assert.equal(thresholdSeverity(delivery, 0.9), 'warning');
    assert.equal(thresholdSeverity(delivery, 0.8), 'critical');
  });

  test('hysteresis keeps a value hovering at the bound from flapping', () => {
    const rule: ThresholdRule = { direction: 'above', warning: 0.05, hysteresis: 0.005 };
    const values = [0.049, 0.05, 0.049, 0.051, 0.046, 0.044, 0.049];
    let previous: Severity = 'healthy';
    const states = values.map((v) => (previous = thresholdSeverity(rule, v, previous)));
    assert.deepEqual(states, ['healthy', 'warning', 'warning', 'warning', 'warning', 'healthy', 'healthy']);

    // The same values without a margin flap on every crossing.
    let raw: Severity = 'healthy';
    const flapping = values.map((v) => (raw = thresholdSeverity({ ...rule, hysteresis: 0 }, v, raw)));
    assert.deepEqual(flapping, ['healthy', 'warning', 'healthy', 'warning', 'healthy', 'healthy', 'healthy']);
  });

  test('critical drops to warning, not healthy, inside the critical margin band', () => {
    const rule: ThresholdRule = { direction: 'above', warning: 100, critical: 200, hysteresis: 10 };
    assert.equal(thresholdSeverity(rule, 195, 'critical'), 'critical');
    assert.equal(thresholdSeverity(rule, 189, 'critical'), 'warning');
    assert.equal(thresholdSeverity(rule, 95, 'warning'), 'warning');
    assert.equal(thresholdSeverity(rule, 89, 'warning'), 'healthy');
  });

  test('NaN never alerts', () => {
    assert.equal(evaluateThreshold(failureRate, { time: 0, value: Number.NaN }).severity, 'healthy');
    assert.equal(evaluateThreshold(failureRate, { time: 0, value: Number.NaN }).score, 0);
  });

  test('invalid rules are rejected with the reason', () => {
    assert.throws(() => validateThresholdRule({ direction: 'above' }), /needs a warning or a critical bound/);
    assert.throws(() => validateThresholdRule({ direction: 'above', warning: 10, critical: 5 }), /warning bound 10 must be below the critical bound 5/);
    assert.throws(() => validateThresholdRule({ direction: 'below', warning: 5, critical: 10 }), /must be above the critical bound/);
  });
});

describe('change rule', () => {
  test('deltaPercent is relative to the previous period and undefined from zero', () => {
    assert.equal(deltaPercent(130, 100), 30);
    assert.equal(deltaPercent(50, 100), -50);
    assert.equal(deltaPercent(5, 0), null);
  });

  test('a rise past the bounds is a warning, then critical', () => {
    const rule = { direction: 'above' as const, warningPercent: 20, criticalPercent: 50, minVolume: 10 };
    const warn = evaluateChange(rule, 0, 130, 100);
    assert.equal(warn.severity, 'warning');
    assert.equal(warn.deltaPercent, 30);
    assert.equal(warn.bound, 120);
    assert.equal(evaluateChange(rule, 0, 160, 100).severity, 'critical');
    assert.equal(evaluateChange(rule, 0, 110, 100).severity, 'healthy');
  });

  test('1 -> 2 is not +100% under the minimum volume', () => {
    const rule = { direction: 'both' as const, warningPercent: 20, minVolume: 10 };
    const finding = evaluateChange(rule, 0, 2, 1);
    assert.equal(finding.severity, 'healthy');
    assert.equal(finding.deltaPercent, null);
    assert.equal(finding.score, 0);
    assert.equal(evaluateChange(rule, 0, 0, 0).severity, 'healthy');
    assert.ok(!Number.isNaN(evaluateChange(rule, 0, 0, 0).score));
  });

  test('only the bad direction counts', () => {
    const revenue = { direction: 'below' as const, warningPercent: 20, criticalPercent: 50, minVolume: 100 };
    assert.equal(evaluateChange(revenue, 0, 300, 1000).severity, 'critical');
    assert.equal(evaluateChange(revenue, 0, 3000, 1000).severity, 'healthy');
  });

  test('invalid rules are rejected', () => {
    assert.throws(() => validateChangeRule({ direction: 'both', minVolume: 1 }), /needs warningPercent or criticalPercent/);
    assert.throws(() => validateChangeRule({ direction: 'both', warningPercent: -5, minVolume: 1 }), /warningPercent must be > 0/);
    assert.throws(() => validateChangeRule({ direction: 'both', warningPercent: 50, criticalPercent: 20, minVolume: 1 }), /must not exceed/);
  });
});

describe('ratio metrics', () => {
  test('an empty denominator gives 0 without volume, never NaN', () => {
    assert.deepEqual(ratio(0, 0), { value: 0, numerator: 0, denominator: 0, hasVolume: false });
    assert.equal(ratio(3, 0).value, 0);
    assert.equal(ratio(Number.NaN, Number.NaN).value, 0);
    assert.equal(ratio(5, Number.NaN).hasVolume, false);
  });

  test('Wilson interval: 2 failures in 10 runs is at least 5.7% at 95% confidence', () => {
    const { lower, upper } = wilsonInterval(2, 10);
    assert.ok(Math.abs(lower - 0.0567) < 1e-4, `lower ${lower}`);
    assert.ok(Math.abs(upper - 0.5098) < 1e-4, `upper ${upper}`);
    assert.deepEqual(wilsonInterval(0, 0), { lower: 0, upper: 1 });
  });

  test('a ratio rule alerts on evidence: 2 of 10 fires at a 5% bound, 1 of 10 does not', () => {
    const rule = { direction: 'above' as const, warning: 0.05, critical: 0.3 };
    const two = evaluateRatio(rule, 0, 2, 10);
    assert.equal(two.severity, 'warning');
    assert.equal(two.observed, 0.2);
    assert.equal(evaluateRatio(rule, 0, 1, 10).severity, 'healthy');
    assert.equal(evaluateRatio({ ...rule, confidenceZ: 0 }, 0, 1, 10).severity, 'warning');
    assert.equal(evaluateRatio(rule, 0, 200, 1000).severity, 'warning', '20% of 1,000 is surely above 5%, not surely above 30%');
    assert.equal(evaluateRatio(rule, 0, 400, 1000).severity, 'critical');
  });

  test('an empty or too small denominator keeps the previous state and never yields NaN', () => {
    const rule = { direction: 'above' as const, warning: 0.05, minDenominator: 5 };
    for (const previous of ['healthy', 'warning'] as const) {
      const empty = evaluateRatio(rule, 0, 0, 0, previous);
      assert.equal(empty.severity, previous);
      assert.equal(empty.observed, 0);
      assert.equal(empty.score, 0);
      assert.equal(evaluateRatio(rule, 0, 3, 4, previous).severity, previous);
    }
  });

  test('averages (numerator above denominator) are judged on the raw value', () => {
    const rating = { direction: 'below' as const, warning: 3.5, minDenominator: 3 };
    assert.equal(evaluateRatio(rating, 0, 9, 4).severity, 'warning');
    assert.equal(evaluateRatio(rating, 0, 18, 4).severity, 'healthy');
  });

  test('ratio of sums weighs buckets by their volume', () => {
    const r = ratioOfSums([1, 1, 0], [10, 90, 0]);
    assert.equal(r.value, 0.02);
    assert.equal(r.hasVolume, true);
    assert.equal(ratioOfSums([], []).value, 0);
  });
});

describe('robust statistics', () => {
  test('median and MAD of a small sample', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(mad([1, 2, 3, 4, 100]), 1);
    const stats = robustStats([1, 2, 3, 4, 100], 0);
    assert.equal(stats.median, 3);
    assert.ok(Math.abs(stats.scale - 1.4826) < 1e-12);
  });

  test('MAD = 0 falls back to the mean absolute deviation, then to the floor', () => {
    const mostlyFlat = robustStats([5, 5, 5, 5, 9], 0);
    assert.equal(mostlyFlat.median, 5);
    assert.ok(mostlyFlat.scale > 0 && Number.isFinite(mostlyFlat.scale));
    assert.equal(robustStats([5, 5, 5], 0.25).scale, 0.25);
  });
});

/** Hourly points following `level(time)` from MONDAY on. */
function hourly(hours: number, level: (time: number, i: number) => number): Point[] {
  return Array.from({ length: hours }, (_, i) => ({ time: MONDAY + i * HOUR, value: level(MONDAY + i * HOUR, i) }));
}

/** A weekly business shape: busy afternoons, quiet nights, quieter weekends, and a little jitter. */
function weeklyShape(time: number, i: number): number {
  const d = new Date(time);
  const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6;
  const daily = 20 + 60 * Math.max(0, Math.sin((Math.PI * (d.getUTCHours() - 6)) / 16));
  return (weekend ? 0.5 : 1) * daily + ((i * 7919) % 5) - 2;
}

describe('baseline rule', () => {
  test('season lengths follow the sampling interval', () => {
    assert.deepEqual(seasonLengths(HOUR), { daily: 24, weekly: 168 });
    assert.deepEqual(seasonLengths(5 * 60_000), { daily: 288, weekly: 2016 });
    assert.deepEqual(seasonLengths(DAY), { daily: null, weekly: 7 });
    assert.deepEqual(seasonLengths(7 * DAY), { daily: null, weekly: null });
  });

  test('a normal hour is healthy and is expected at the median of the same hour of week', () => {
    const series = hourly(6 * 168 + 14, weeklyShape);
    const finding = evaluateBaseline(series, { intervalMs: HOUR });
    const sameHour = [1, 2, 3, 4, 5, 6].map((k) => series[series.length - 1 - k * 168]!.value);
    assert.equal(finding.severity, 'healthy');
    assert.equal(finding.model, 'weekly');
    assert.equal(finding.expected, median(sameHour));
  });

  test('a drop to a third at 14:00 on a weekday is critical, a spike above the bound too', () => {
    const history = hourly(6 * 168 + 14, weeklyShape);
    const last = history[history.length - 1]!;
    const drop = evaluateBaseline([...history.slice(0, -1), { ...last, value: last.value / 3 }], { intervalMs: HOUR });
    assert.equal(drop.severity, 'critical');
    assert.equal(drop.direction, 'below');
    assert.ok(drop.observed < drop.bound && drop.bound < drop.expected);
    assert.ok(drop.z < -6 && drop.score > 0.6);

    const spike = evaluateBaseline([...history.slice(0, -1), { ...last, value: last.value * 2 }], { intervalMs: HOUR, direction: 'below' });
    assert.equal(spike.severity, 'healthy', 'a below-only rule ignores spikes');
    assert.equal(spike.score, 0);
  });

  test('weekly seasonality on daily data: a weekday level on a Saturday is unusual', () => {
    const days = Array.from({ length: 8 * 7 }, (_, i) => {
      const time = MONDAY + i * DAY;
      const weekend = new Date(time).getUTCDay() % 6 === 0;
      return { time, value: (weekend ? 10 : 100) + (i % 3) };
    });
    const saturday = days.map((p) => new Date(p.time).getUTCDay()).lastIndexOf(6);
    const normal = evaluateBaseline(days.slice(0, saturday + 1));
    assert.equal(normal.severity, 'healthy');
    assert.equal(normal.model, 'weekly');
    const busy = evaluateBaseline([...days.slice(0, saturday), { time: days[saturday]!.time, value: 100 }]);
    assert.equal(busy.severity, 'critical');
    assert.equal(busy.direction, 'above');
  });

  test('a flat series (MAD = 0) gives finite scores and still sees a jump', () => {
    const detector = new BaselineDetector({ intervalMs: HOUR });
    for (const p of hourly(3 * 168, () => 100)) {
      const f = detector.push(p);
      assert.ok(Number.isFinite(f.z) && Number.isFinite(f.score) && Number.isFinite(f.bound));
      assert.equal(f.severity, 'healthy');
    }
    const next = MONDAY + 3 * 168 * HOUR;
    const same = detector.push({ time: next, value: 100.5 });
    assert.equal(same.severity, 'healthy');
    const jump = detector.push({ time: next + HOUR, value: 130 });
    assert.equal(jump.severity, 'critical');
    assert.ok(Number.isFinite(jump.z) && jump.z > 6);
  });

  test('a slow drift is caught before any single point is extreme', () => {
    const base = hourly(6 * 168, weeklyShape);
    const drifting = hourly(72, (t, i) => weeklyShape(t, i) * (1 + (0.5 * (i + 1)) / 72)).map((p) => ({ ...p, time: p.time + 6 * 168 * HOUR }));
    const detector = new BaselineDetector({ intervalMs: HOUR });
    for (const p of base) detector.push(p);
    const first = drifting.findIndex((p) => detector.push(p).severity !== 'healthy');
    assert.ok(first >= 0 && first < 60, `drift found after ${first} hours`);
  });

  test('a NaN value is healthy and leaves the detector as it was', () => {
    const series = hourly(3 * 168, weeklyShape);
    const clean = new BaselineDetector();
    const gappy = new BaselineDetector();
    const scores = series.map((p) => clean.push(p).score);
    const gappyScores = series.map((p, i) => {
      if (i % 50 === 0) {
        const gap = gappy.push({ time: p.time, value: Number.NaN });
        assert.equal(gap.severity, 'healthy');
        assert.equal(gap.score, 0);
      }
      return gappy.push(p).score;
    });
    assert.deepEqual(gappyScores, scores);
  });

  for (const driftWeight of [undefined, 0.02]) test(`a cold replay that only seeds the older history judges as a replay of all of it (drift weight ${driftWeight ?? 'default'})`, () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 100_000);
    console.log(`seed ${seed}`);
    const random = seededRandom(seed);
    const options = { intervalMs: HOUR, seasons: 6, warningZ: 4.5, criticalZ: 7, transform: 'sqrt' as const, minVolume: 5, driftWeight };
    const length = historyPoints(HOUR, 6, driftWeight) + 48;
    // Poisson-like orders with a weekly shape, an incident somewhere in the last 48 hours.
    const incident = length - 1 - Math.floor(random() * 48);
    const series = hourly(length, (t, i) => weeklyShape(t, i) * (0.8 + 0.4 * random())).map((p, i) => (i >= incident && i < incident + 6 ? { ...p, value: p.value * 0.2 } : p));
    assert.ok(judgedHistoryPoints(HOUR, driftWeight) < historyPoints(HOUR, 6, driftWeight) / (driftWeight === undefined ? 4 : 2), 'most of the history is only seeded');
    for (let end = length - 48; end <= length; end += 6) {
      const points = series.slice(end - historyPoints(HOUR, 6, driftWeight), end);
      const full = evaluateBaseline(points, options);
      const { finding } = replay(points, options);
      assert.equal(finding.severity, full.severity, `severity at point ${end}`);
      assert.equal(finding.model, full.model);
      assert.equal(finding.expected, full.expected);
      assert.ok(Math.abs(finding.z - full.z) < 1e-3, `z ${finding.z} vs ${full.z} at point ${end}`);
    }
  });

  test('each decision uses earlier points only: a prefix scores the same as the full stream', () => {
    const series = hourly(3 * 168, weeklyShape);
    const full = new BaselineDetector();
    const scores = series.map((p) => full.push(p).score);
    const prefix = new BaselineDetector();
    const prefixScores = series.slice(0, 300).map((p) => prefix.push(p).score);
    assert.deepEqual(prefixScores, scores.slice(0, 300));
  });

  test('suppression reports one detection per incident, then listens again', () => {
    const detector = new BaselineDetector({ intervalMs: HOUR, suppressPoints: 10 });
    let k = 0;
    const push = (value: number) => detector.push({ time: MONDAY + k++ * HOUR, value });
    for (let i = 0; i < 3 * 168; i++) push(100);
    const first = push(200);
    const repeat = push(200);
    for (let i = 0; i < 10; i++) push(100);
    const later = push(200);
    assert.equal(first.severity, 'critical');
    assert.ok(first.score > 0.9);
    assert.equal(repeat.severity, 'healthy');
    assert.equal(repeat.score, 0);
    assert.equal(later.severity, 'critical');
    assert.ok(later.score > 0.9);
  });

  test('tail calibration judges a spiky stream against its usual spikes', () => {
    const spiky = hourly(4 * 168, (t, i) => (i % 40 === 0 ? 300 : 100 + (i % 3)));
    const probe = { time: MONDAY + 4 * 168 * HOUR, value: 300 };
    const plain = evaluateBaseline([...spiky, probe], { intervalMs: HOUR });
    const calibrated = evaluateBaseline([...spiky, probe], { intervalMs: HOUR, tailCalibration: true });
    assert.ok(calibrated.score < plain.score, `${calibrated.score} < ${plain.score}`);
  });

  test('driftWeight: a longer drift average sees a small lasting rise that the default one does not', () => {
    // Fixed data (seed 1): a weekly shape with normal noise (sigma 3), then 120 hours 10 % higher.
    const random = seededRandom(1);
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const length = 7 * 168;
    const riseAt = length - 120;
    const series = hourly(length, (t, i) => weeklyShape(t, 0) * (i >= riseAt ? 1.1 : 1) + 3 * gaussian());
    const last = (driftWeight?: number) => {
      const detector = new BaselineDetector({ intervalMs: HOUR, driftWeight });
      let finding = detector.push(series[0]!);
      for (const p of series.slice(1)) finding = detector.push(p);
      return finding;
    };
    const short = last();
    const long = last(0.02);
    assert.equal(long.model, 'weekly');
    assert.equal(short.severity, 'healthy', `about 40 hours of average: z ${short.z}`);
    assert.equal(long.severity, 'warning', `about 100 hours of average: z ${long.z}`);
    assert.ok(long.z > short.z + 0.5);
  });

  test('runBuckets: three hours a little high together are a warning that no single hour is', () => {
    // Fixed data (seed 1): a weekly shape with a little noise, so the weekly model judges.
    const random = seededRandom(1);
    const history = hourly(7 * 168, (t) => weeklyShape(t, 0) + 4 * (random() - 0.5));
    const options = { intervalMs: HOUR, seasons: 6 };
    const [single, runs, zigzag, probe] = [options, { ...options, runBuckets: 3 }, { ...options, runBuckets: 3 }, options].map((o) => new BaselineDetector(o));
    for (const p of history) [single, runs, zigzag, probe].forEach((d) => d!.push(p));
    const severities: Severity[][] = [[], [], []];
    for (let k = 0; k < 3; k++) {
      const time = MONDAY + (7 * 168 + 10 + k) * HOUR;
      // The probe tells what this hour is expected at and what one sigma is, before the others see it.
      const normal = probe!.push({ time, value: weeklyShape(time, 0) });
      const sigma = (normal.upper - normal.expected) / 4;
      severities[0]!.push(single!.push({ time, value: normal.expected + 3.3 * sigma }).severity);
      severities[1]!.push(runs!.push({ time, value: normal.expected + 3.3 * sigma }).severity);
      severities[2]!.push(zigzag!.push({ time, value: normal.expected + (k % 2 === 0 ? 3.3 : -3.3) * sigma }).severity);
    }
    assert.deepEqual(severities[0], ['healthy', 'healthy', 'healthy'], 'no single hour is a warning (warning z 4)');
    assert.equal(severities[1]!.at(-1), 'warning', `the run of three is: ${severities[1]}`);
    assert.deepEqual(severities[2], ['healthy', 'healthy', 'healthy'], 'hours on alternating sides are no run');
    assert.throws(() => new BaselineDetector({ runBuckets: 0 }), /runBuckets/);
    assert.throws(() => new BaselineDetector({ driftWeight: 0 }), /driftWeight must be between 0 and 1/);
    assert.throws(() => new BaselineDetector({ driftWeight: 1 }), /driftWeight must be between 0 and 1/);
    assert.throws(() => new BaselineDetector({ modelChoiceQuantile: 1.5 }), /modelChoiceQuantile must be between 0 and 1/);
  });

  test('minimum volume: 0 -> 2 orders at night is not an anomaly', () => {
    const quiet = hourly(3 * 168, (t) => (new Date(t).getUTCHours() < 6 ? 0 : 50));
    const night = { time: MONDAY + 3 * 168 * HOUR + 2 * HOUR, value: 2 };
    assert.equal(evaluateBaseline([...quiet, night], { intervalMs: HOUR, minVolume: 5 }).severity, 'healthy');
    assert.notEqual(evaluateBaseline([...quiet, night], { intervalMs: HOUR }).severity, 'healthy');
  });

  test('the score is a calibrated, bounded function of z', () => {
    assert.equal(zToScore(0), 0);
    assert.equal(zToScore(4, 4), 0.5);
    assert.ok(zToScore(-8, 4) > 0.79 && zToScore(-8, 4) < 0.81);
    assert.equal(zToScore(Infinity), 1);
    assert.equal(zToScore(Number.NaN), 0);
  });

  test('options are validated', () => {
    assert.throws(() => new BaselineDetector({ warningZ: 5, criticalZ: 3 }), /warningZ 5 must not exceed criticalZ 3/);
    assert.throws(() => new BaselineDetector({ intervalMs: 0 }), /intervalMs must be > 0/);
    assert.throws(() => evaluateBaseline([]), /series is empty/);
  });
});

describe('messages', () => {
  test('failure rate in plain words with the rule\'s own advice', () => {
    const finding = evaluateThreshold({ direction: 'above', warning: 0.05, critical: 0.15 }, { time: Date.UTC(2026, 2, 3, 15, 20), value: ratio(2, 10).value });
    const text = describeFinding(finding, { label: 'Workflow failure rate', unit: 'ratio' }, {
      since: Date.UTC(2026, 2, 3, 14, 0),
      recommendation: 'Check the workflows with the most failures since {since}.',
    });
    assert.equal(text.message, 'Workflow failure rate 20% (expected < 5%).');
    assert.equal(text.recommendation, 'Check the workflows with the most failures since 14:00.');
  });

  test('change and baseline findings name the comparison', () => {
    const change = evaluateChange({ direction: 'below', warningPercent: 20, minVolume: 100 }, 0, 5200, 10000);
    assert.equal(describeFinding(change, { label: 'Revenue', unit: 'EUR' }).message, 'Revenue 5,200 EUR, down 48% vs the previous period (10,000 EUR).');
    const baseline = { ...change, rule: 'baseline' as const, observed: 12, expected: 40, bound: 25 };
    const text = describeFinding(baseline, { label: 'Orders' }, { since: Date.UTC(2026, 2, 3, 9, 0), timeZone: 'Europe/Berlin' });
    assert.equal(text.message, 'Orders 12, usually about 40 at this time (alert below 25).');
    assert.match(text.recommendation, /^Orders is unusually low .* since 10:00\.$/);
  });

  test('values are formatted by unit', () => {
    assert.equal(formatValue(0.125, { unit: 'ratio' }), '12.5%');
    assert.equal(formatValue(1234.5, { unit: 'ms' }), '1,235 ms');
    assert.equal(formatValue(4.25, {}), '4.25');
    assert.equal(formatValue(97, { unit: 'percent' }), '97%');
  });
});

describe('baseline range tolerance (stream scoring)', () => {
  // A flat daily cycle between 90 and 110 for 30 days, then one point.
  const history = Array.from({ length: 30 * 24 }, (_, i) => ({ time: i * 3_600_000, value: 100 + 10 * Math.sin((2 * Math.PI * i) / 24) }));
  // At 06:00 the cycle peaks at 110, at 18:00 it bottoms at 90: there 112 and 88 are close to what the seasons predict.
  const judge = (value: number, rangeTolerance: number, hour = 6) => {
    const detector = new BaselineDetector({ rangeTolerance });
    for (const point of history) detector.push(point);
    return detector.push({ time: (history.length + hour) * 3_600_000, value });
  };

  test('a value more than the tolerance past every earlier value is at least a warning, on its side', () => {
    // 112 is 10% of the 20-wide range above the highest value so far; the tolerance is 5%.
    assert.equal(judge(112, 0).severity, 'healthy', 'the seasons alone see nothing wrong');
    const finding = judge(112, 0.05);
    assert.notEqual(finding.severity, 'healthy');
    assert.ok(finding.score >= 0.5);
    // The bound it reports is the edge it crossed: 5% of the range past the highest value so far.
    assert.equal(finding.direction, 'above');
    assert.ok(Math.abs(finding.bound - 111) < 0.01, `bound ${finding.bound}`);
    assert.equal(judge(88, 0, 18).severity, 'healthy');
    const low = judge(88, 0.05, 18);
    assert.notEqual(low.severity, 'healthy', 'a new low counts too');
    assert.equal(low.direction, 'below');
  });

  test('within the tolerance, or with the option off, the seasonal model alone decides', () => {
    // 110.5 is 2.5% of the range past the highest value: inside the tolerance, the same finding as without it.
    assert.deepEqual(judge(110.5, 0.05), judge(110.5, 0));
    assert.deepEqual(judge(105, 0.05, 3), judge(105, 0, 3));
  });
});
