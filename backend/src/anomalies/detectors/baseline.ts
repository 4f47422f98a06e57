import { MAD_TO_SIGMA, median, robustScale, scaleFloor } from './robust.js';
import { RollingWindow } from './rolling.js';
import type { Direction, Finding, Point, Severity } from './types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

export interface BaselineOptions {
  /** Sampling interval in ms; estimated from the first points when omitted. */
  intervalMs?: number;
  /** How many past seasons feed the seasonal median (same hour of week over the last N weeks). */
  seasons?: number;
  /** Which deviations count: `above` for spikes only, `below` for drops only. */
  direction?: Direction;
  warningZ?: number;
  criticalZ?: number;
  /** Neither the observed nor the expected value reaches this: not enough volume to judge. */
  minVolume?: number;
  /**
   * For N points after a reported deviation, report only stronger ones (the rest score 0). Useful
   * for scoring a point stream, one detection per incident; the alert state machine, which has
   * its own `for` duration, does not need it.
   */
  suppressPoints?: number;
  /**
   * `sqrt` judges counts and amounts on a square-root scale, where noise is about as large at
   * night (10 orders an hour) as at noon (300 an hour); `none` judges raw values.
   */
  transform?: 'none' | 'sqrt';
  /**
   * Divide z-scores by how much heavier than normal the stream's own tails have been (the 99.9th
   * percentile of past |z| over 3.29, never below 1), so a spiky series is judged against its
   * usual spikes. Right for scoring unknown streams (NAB, the CLI); wrong for alert rules, where
   * the incidents themselves would raise the bar for the next incident.
   */
  tailCalibration?: boolean;
  /**
   * Also flag a value beyond everything the stream has shown, by more than this share of its
   * whole range (0.05: 5 % past the highest or lowest value so far), as at least a warning that
   * grows with the excess. New extremes are what most incidents of an unknown stream look like;
   * 0 (the default) turns it off, as alert rules judge against their seasons only.
   */
  rangeTolerance?: number;
  /**
   * Also judge runs of up to this many consecutive buckets on the same side together: their
   * summed z over the square root of their number, which is a normal z again when the buckets are
   * independent. Two hours at 2.5x the usual night orders say what neither says alone. The run
   * must clear the warning z by a tenth more than one bucket (it is a second look at the same
   * data). 1 (the default) judges single buckets only.
   */
  runBuckets?: number;
  /**
   * Weight of the newest z-score in the drift average (0.05: about the last 40 points). A
   * smaller weight averages more points: it sees slower drifts and fires less on a few noisy
   * points, and takes longer to forget where a replay started (about 10 / driftWeight points).
   */
  driftWeight?: number;
  /**
   * How a model's recent errors are summed up to pick the model that predicts: by default their
   * mean; with a quantile q (0.9: the model whose worst tenth of misses is smallest) one wild point
   * in the window (often the incident itself) does not decide, while frequent big misses still do.
   */
  modelChoiceQuantile?: number;
}

/** Which reference a prediction came from; the detector picks the one that fits the data best. */
export type BaselineModel = 'recent' | 'daily' | 'weekly';

export interface BaselineFinding extends Finding {
  rule: 'baseline';
  z: number;
  model: BaselineModel | null;
  /** Where a single point starts to count as a warning on either side (NaN while the detector learns). */
  lower: number;
  upper: number;
}

const DEFAULTS = { seasons: 6, direction: 'both' as Direction, warningZ: 4, criticalZ: 6, minVolume: 0, suppressPoints: 0, transform: 'none' as 'none' | 'sqrt', tailCalibration: false, rangeTolerance: 0, runBuckets: 1, driftWeight: 0.05, modelChoiceQuantile: undefined as number | undefined };

/** Points looked at by the `recent` model (median of the last few values). */
const RECENT_POINTS = 6;
/** Points the interval is estimated from before the detector starts. */
const WARMUP_POINTS = 8;
/** Errors a model needs before its scale can be trusted. */
const MIN_ERRORS = 24;

/** Calibrated anomaly score: |z| = warningZ maps to 0.5, growing smoothly towards 1. */
export function zToScore(z: number, warningZ = DEFAULTS.warningZ): number {
  const a = Math.abs(z);
  if (!Number.isFinite(a)) return a === Infinity ? 1 : 0;
  return (a * a) / (a * a + warningZ * warningZ);
}

/** Error scales adapt over about two days of points, bounded so sparse and dense series both work. */
const errorWindowPoints = (daily: number | null) => Math.min(2000, Math.max(48, 2 * (daily ?? 24)));
/** After this many points an old z-score weighs less than e^-10 = 4.5e-5 in the drift average (0.95^200 = 3.5e-5). */
const driftSettlePoints = (driftWeight: number) => Math.ceil(10 / driftWeight);

/**
 * Points of history after which a finding no longer depends on where the stream started: the
 * seasons the references reach back to, the error windows that pick the model and set its
 * scale, and the drift average. The alert evaluator and the band query both start this far back,
 * so they judge every bucket alike.
 */
export function historyPoints(intervalMs: number, seasons: number = DEFAULTS.seasons, driftWeight: number = DEFAULTS.driftWeight): number {
  const { daily, weekly } = seasonLengths(intervalMs);
  return (weekly ?? daily ?? RECENT_POINTS) * seasons + errorWindowPoints(daily) + RECENT_POINTS + driftSettlePoints(driftWeight);
}

/**
 * Of those points, how many at the end a detector must judge in full; the earlier ones only fill
 * its seasons (`seed`). Judging means the error windows, which keep only their last points, and
 * the drift average, which forgets its start after about 10 / driftWeight points; a season's reference
 * needs the value alone. Seeding the rest makes a cold replay about 5x cheaper, same findings.
 */
export function judgedHistoryPoints(intervalMs: number, driftWeight: number = DEFAULTS.driftWeight): number {
  return errorWindowPoints(seasonLengths(intervalMs).daily) + MIN_ERRORS + driftSettlePoints(driftWeight);
}

/** Seasons worth modelling for a sampling interval: daily below 6 h, weekly up to 1 day. */
export function seasonLengths(intervalMs: number): { daily: number | null; weekly: number | null } {
  const perDay = Math.round(DAY / intervalMs);
  const daily = intervalMs <= 6 * HOUR && perDay >= 2 ? perDay : null;
  const weekly = intervalMs <= DAY ? Math.round(WEEK / intervalMs) : null;
  return { daily, weekly };
}

interface Model {
  name: BaselineModel;
  /** Magnitudes of this model's recent prediction errors. */
  errors: RollingWindow;
  /** The reference values of the point being judged (reused, so judging a point allocates nothing). */
  refs: Float64Array;
}

/** The stream's tails are measured at this quantile of |z|, and |z| of a normal variable there. */
const TAIL_QUANTILE = 0.999;
const NORMAL_TAIL_Z = 3.29;
/** z-scores remembered to learn how heavy the stream's tails are. */
const TAIL_WINDOW = 5000;
const MIN_TAIL_SAMPLES = 200;
/** Points seen before a new extreme means anything (a range of a few points is no range). */
const MIN_RANGE_POINTS = 200;
/** How much more than a single bucket's z a run's combined z must reach (see `runBuckets`). */
const RUN_MARGIN = 1.1;
/** One wild point moves the drift average by at most this many sigmas. */
const DRIFT_CLIP = 6;

/**
 * Seasonal baseline as a stream: `push` one point at a time and get its finding, decided from
 * earlier points only.
 *
 * Each model predicts the point as the median of reference values: the last few points
 * (`recent`), the same time of day over the last N days (`daily`), the same hour of week over the
 * last N weeks (`weekly`); which seasons exist follows from the sampling interval. The model whose
 * recent mean error is smallest wins. Its error becomes a robust z-score, divided by the largest of
 * - 1.4826 * MAD of the reference values (the textbook robust z-score),
 * - 1.4826 * the median of the model's recent absolute errors (an adaptive scale: four similar
 *   weeks must not make a tiny wiggle look huge, and MAD = 0 never divides by zero),
 * - 1% of the expected value (a flat series stays finite),
 * and optionally by how heavy the stream's own tails have been (`tailCalibration`).
 * A second statistic, the exponentially averaged z-score, catches slow drifts and level shifts
 * that no single point reveals; the finding reports whichever of the two deviates more.
 */
export class BaselineDetector {
  private readonly opts: typeof DEFAULTS & { intervalMs?: number };
  private intervalMs: number | undefined;
  private origin = 0;
  private readonly pending: Point[] = [];
  /** Values of the last `horizon` buckets, in a ring indexed by bucket, and which bucket each slot holds. */
  private seasonValues = new Float64Array(0);
  private seasonBuckets = new Float64Array(0);
  /** The last RECENT_POINTS values in a ring; `recentCount` of them are set. */
  private readonly recent = new Float64Array(RECENT_POINTS);
  private recentCount = 0;
  private models: Model[] = [];
  private daily: number | null = null;
  private weekly: number | null = null;
  private horizon = 0;
  /** Past |z| and |drift z| for `tailCalibration` (null without it: alert rules keep 10 KiB less each). */
  private readonly pastZ: RollingWindow | null;
  private readonly pastDriftZ: RollingWindow | null;
  private drift = 0;
  private readonly driftNormaliser: number;
  /** The last `runBuckets` clipped z-scores, newest last. */
  private readonly runZ: number[] = [];
  private rangeMin = Infinity;
  private rangeMax = -Infinity;
  private peak: { index: number; size: number } | null = null;
  private count = 0;

  constructor(options: BaselineOptions = {}) {
    this.opts = { ...DEFAULTS, ...stripUndefined(options) };
    if (this.opts.warningZ > this.opts.criticalZ) {
      throw new Error(`baseline: warningZ ${this.opts.warningZ} must not exceed criticalZ ${this.opts.criticalZ}`);
    }
    if (!(this.opts.seasons >= 1)) throw new Error(`baseline: seasons must be >= 1, got ${this.opts.seasons}`);
    if (!(Number.isInteger(this.opts.runBuckets) && this.opts.runBuckets >= 1)) throw new Error(`baseline: runBuckets must be a whole number >= 1, got ${this.opts.runBuckets}`);
    if (!(this.opts.driftWeight > 0 && this.opts.driftWeight < 1)) throw new Error(`baseline: driftWeight must be between 0 and 1 (exclusive), got ${this.opts.driftWeight}`);
    const q = this.opts.modelChoiceQuantile;
    if (q !== undefined && !(q > 0 && q < 1)) throw new Error(`baseline: modelChoiceQuantile must be between 0 and 1 (exclusive), got ${q}`);
    // An exponential average of independent unit z-scores has variance w / (2 - w).
    this.driftNormaliser = Math.sqrt((2 - this.opts.driftWeight) / this.opts.driftWeight);
    this.pastZ = this.opts.tailCalibration ? new RollingWindow(TAIL_WINDOW) : null;
    this.pastDriftZ = this.opts.tailCalibration ? new RollingWindow(TAIL_WINDOW) : null;
    if (options.intervalMs !== undefined) this.start(options.intervalMs, 0);
  }

  push(point: Point): BaselineFinding {
    // A missing value (NaN from an upstream gap) carries no information and must not poison the medians.
    if (!Number.isFinite(point.value) || !Number.isFinite(point.time)) return quiet(point);
    if (this.intervalMs === undefined) {
      this.pending.push(point);
      if (this.pending.length < WARMUP_POINTS) return quiet(point);
      const gaps = this.pending.slice(1).map((p, i) => p.time - this.pending[i]!.time).filter((g) => g > 0);
      this.start(gaps.length > 0 ? median(gaps) : HOUR, this.pending[0]!.time);
      for (const p of this.pending.slice(0, -1)) this.observe(p);
      this.pending.length = 0;
    }
    return this.observe(point);
  }

  /**
   * Takes a point as history without judging it: it fills the seasons, the recent values and the
   * range, not the error windows or the drift. For the start of a replay (`judgedHistoryPoints`).
   */
  seed(point: Point): void {
    if (!Number.isFinite(point.value) || !Number.isFinite(point.time)) return;
    if (this.intervalMs === undefined) {
      this.push(point);
      return;
    }
    this.remember(Math.round((point.time - this.origin) / this.intervalMs), this.forward(point.value));
    this.rangeExcess(point.value);
    this.count++;
  }

  private start(intervalMs: number, origin: number): void {
    if (!(intervalMs > 0)) throw new Error(`baseline: intervalMs must be > 0, got ${intervalMs}`);
    this.intervalMs = intervalMs;
    this.origin = origin;
    const { daily, weekly } = seasonLengths(intervalMs);
    this.daily = daily;
    this.weekly = weekly;
    // Error scales adapt over about two days of points, bounded so sparse and dense series both work.
    const errorWindow = errorWindowPoints(daily);
    const model = (name: BaselineModel): Model => ({ name, errors: new RollingWindow(errorWindow), refs: new Float64Array(name === 'recent' ? RECENT_POINTS : this.opts.seasons) });
    this.models = [model('recent')];
    if (daily !== null) this.models.push(model('daily'));
    if (weekly !== null) this.models.push(model('weekly'));
    this.horizon = (weekly ?? daily ?? RECENT_POINTS) * this.opts.seasons + 1;
    this.seasonValues = new Float64Array(this.horizon);
    this.seasonBuckets = new Float64Array(this.horizon).fill(Number.NaN);
  }

  /** Writes the model's reference values for `bucket` into `model.refs`; returns how many there are. */
  private references(model: Model, bucket: number): number {
    const refs = model.refs;
    if (model.name === 'recent') {
      // Oldest first, as the values arrived (the scale's fallback sums them in this order).
      const oldest = this.recentCount < RECENT_POINTS ? 0 : this.count % RECENT_POINTS;
      for (let i = 0; i < this.recentCount; i++) refs[i] = this.recent[(oldest + i) % RECENT_POINTS]!;
      return this.recentCount;
    }
    const period = model.name === 'daily' ? this.daily! : this.weekly!;
    let n = 0;
    for (let k = 1; k <= this.opts.seasons; k++) {
      const wanted = bucket - k * period;
      const slot = this.slot(wanted);
      if (this.seasonBuckets[slot] === wanted) refs[n++] = this.seasonValues[slot]!;
    }
    return n;
  }

  private slot(bucket: number): number {
    const slot = bucket % this.horizon;
    return slot < 0 ? slot + this.horizon : slot;
  }

  private observe(point: Point): BaselineFinding {
    const bucket = Math.round((point.time - this.origin) / this.intervalMs!);
    const value = this.forward(point.value);
    // The winner so far (locals, not an object: this runs for every point of every replay).
    let chosen: Model | null = null;
    let chosenRefs = 0;
    let chosenError = Infinity;
    let chosenExpected = 0;
    let chosenErrScale = 0;
    for (const model of this.models) {
      const refs = this.references(model, bucket);
      if (refs < (model.name === 'recent' ? RECENT_POINTS : 2)) continue;
      const expected = median(model.refs, refs);
      if (model.errors.size >= MIN_ERRORS) {
        // Mean error (or an upper quantile) picks the model: it counts the big misses a median would hide.
        const quantile = this.opts.modelChoiceQuantile;
        const meanError = quantile === undefined ? model.errors.mean() : model.errors.quantile(quantile);
        if (chosen === null || meanError < chosenError) {
          chosen = model;
          chosenRefs = refs;
          chosenError = meanError;
          chosenExpected = expected;
          chosenErrScale = MAD_TO_SIGMA * model.errors.median();
        }
      }
      model.errors.push(Math.abs(value - expected));
    }
    // The spread of the references is needed for the winning model only.
    const best =
      chosen === null
        ? null
        : {
            expected: chosenExpected,
            scale: Math.max(chosenErrScale, robustScale(chosen.refs, chosenExpected, 0, chosenRefs), scaleFloor(chosenExpected)),
            model: chosen.name,
          };
    this.remember(bucket, value);
    const index = this.count++;
    const beyond = this.rangeExcess(point.value);
    if (best === null) return quiet(point);

    const rawZ = (value - best.expected) / best.scale;
    const tail = this.tailFactor(this.pastZ, rawZ);
    // A drift moves many points a little: the smoothed z sees it long before any single point does.
    const weight = this.opts.driftWeight;
    this.drift = (1 - weight) * this.drift + weight * Math.max(-DRIFT_CLIP, Math.min(DRIFT_CLIP, rawZ));
    const driftZ = this.drift * this.driftNormaliser;
    const driftTail = this.tailFactor(this.pastDriftZ, driftZ);
    let z = rawZ / tail;
    let scale = best.scale * tail;
    if (Math.abs(driftZ / driftTail) > Math.abs(z)) {
      z = driftZ / driftTail;
      scale = (best.scale * driftTail) / this.driftNormaliser;
    }
    const run = this.runStatistic(rawZ);
    if (Math.abs(run) > Math.abs(z)) {
      z = run;
      // The single-bucket bound that this run would have made a warning.
      scale = Math.abs(value - best.expected) / Math.abs(run);
    }
    const side: 'above' | 'below' = z >= 0 ? 'above' : 'below';
    const counts = this.opts.direction === 'both' || this.opts.direction === side;
    const expected = this.inverse(best.expected);
    const enoughVolume = Math.max(Math.abs(point.value), Math.abs(expected)) >= this.opts.minVolume;
    let size = counts && enoughVolume ? Math.abs(z) : 0;
    let rangeBound: number | null = null;
    if (beyond.excess > 0 && (this.opts.direction === 'both' || this.opts.direction === beyond.side) && enoughVolume) {
      const rangeSize = this.opts.warningZ * (1 + beyond.excess);
      if (rangeSize > size) {
        size = rangeSize;
        rangeBound = beyond.edge;
      }
    }
    if (this.opts.suppressPoints > 0) {
      // Only an escalation may speak within the quiet period after a reported point, so for any
      // score threshold an incident yields one detection (or a few, each stronger than the last).
      const quietNow = this.peak !== null && index - this.peak.index <= this.opts.suppressPoints && size <= this.peak.size;
      if (quietNow) size = 0;
      else if (size > 0) this.peak = { index, size };
    }
    let severity: Severity = 'healthy';
    if (size >= this.opts.criticalZ) severity = 'critical';
    else if (size >= this.opts.warningZ) severity = 'warning';
    const sign = side === 'above' ? 1 : -1;
    return {
      rule: 'baseline',
      time: point.time,
      severity,
      observed: point.value,
      expected,
      bound: rangeBound ?? this.inverse(best.expected + sign * this.opts.warningZ * scale),
      direction: rangeBound !== null ? beyond.side : side,
      score: zToScore(size, this.opts.warningZ),
      z,
      model: best.model,
      lower: this.inverse(best.expected - this.opts.warningZ * best.scale * tail),
      upper: this.inverse(best.expected + this.opts.warningZ * best.scale * tail),
    };
  }

  /**
   * The strongest combined z of the runs of 2..runBuckets latest buckets (this one included) on
   * the same side, over RUN_MARGIN; 0 when runs are off or none is on one side.
   */
  private runStatistic(rawZ: number): number {
    if (this.opts.runBuckets < 2) return 0;
    const clipped = Math.max(-DRIFT_CLIP, Math.min(DRIFT_CLIP, rawZ));
    this.runZ.push(clipped);
    if (this.runZ.length > this.opts.runBuckets) this.runZ.shift();
    let strongest = 0;
    let sum = clipped;
    for (let k = 2; k <= this.runZ.length; k++) {
      const earlier = this.runZ[this.runZ.length - k]!;
      if (Math.sign(earlier) !== Math.sign(clipped) || clipped === 0) break;
      sum += earlier;
      const combined = sum / Math.sqrt(k) / RUN_MARGIN;
      if (Math.abs(combined) > Math.abs(strongest)) strongest = combined;
    }
    return strongest;
  }

  /**
   * How far past the range of all earlier values `value` lies beyond the tolerance, as a share of
   * that range (0 inside it), then widen the range. Off when `rangeTolerance` is 0.
   */
  private rangeExcess(value: number): RangeExcess {
    if (!(this.opts.rangeTolerance > 0)) return NO_EXCESS;
    const min = this.rangeMin;
    const max = this.rangeMax;
    this.rangeMin = Math.min(min, value);
    this.rangeMax = Math.max(max, value);
    const span = max - min;
    if (!(span > 0) || this.count < MIN_RANGE_POINTS) return NO_EXCESS;
    const past = value > max ? (value - max) / span : value < min ? (min - value) / span : 0;
    const side = value > max ? 'above' : 'below';
    // The edge is where a value starts to count: reported as the bound, so the alert says what was crossed.
    const edge = side === 'above' ? max + this.opts.rangeTolerance * span : min - this.opts.rangeTolerance * span;
    return { excess: Math.max(0, past - this.opts.rangeTolerance), side, edge };
  }

  /** Signed square root keeps order and sign, so negative values stay meaningful. */
  private forward(value: number): number {
    return this.opts.transform === 'sqrt' ? Math.sign(value) * Math.sqrt(Math.abs(value)) : value;
  }

  private inverse(value: number): number {
    return this.opts.transform === 'sqrt' ? Math.sign(value) * value * value : value;
  }

  /**
   * How much heavier than normal the tails of a statistic have been (1 when they are not), then
   * remember `value`. Dividing by it judges a spiky metric against its usual spikes.
   */
  private tailFactor(past: RollingWindow | null, value: number): number {
    if (past === null) return 1;
    const factor = past.size >= MIN_TAIL_SAMPLES ? Math.max(1, past.quantile(TAIL_QUANTILE) / NORMAL_TAIL_Z) : 1;
    past.push(Math.abs(value));
    return factor;
  }

  private remember(bucket: number, value: number): void {
    const slot = this.slot(bucket);
    this.seasonBuckets[slot] = bucket;
    this.seasonValues[slot] = value;
    this.recent[this.count % RECENT_POINTS] = value;
    if (this.recentCount < RECENT_POINTS) this.recentCount++;
  }
}

interface RangeExcess {
  excess: number;
  side: 'above' | 'below';
  edge: number;
}

const NO_EXCESS: Readonly<RangeExcess> = { excess: 0, side: 'above', edge: Number.NaN };

function quiet(point: Point): BaselineFinding {
  return {
    rule: 'baseline',
    time: point.time,
    severity: 'healthy',
    observed: point.value,
    expected: point.value,
    bound: point.value,
    direction: 'above',
    score: 0,
    z: 0,
    model: null,
    lower: Number.NaN,
    upper: Number.NaN,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Judge the last point of `series` (time-ordered) against everything before it: the evaluator's
 * entry point, running the very same streaming detector the CLI and the benchmarks use.
 */
export function evaluateBaseline(series: readonly Point[], options: BaselineOptions = {}): BaselineFinding {
  if (series.length === 0) throw new Error('baseline: the series is empty');
  const detector = new BaselineDetector(options);
  let last: BaselineFinding | undefined;
  for (const point of series) last = detector.push(point);
  return last!;
}

/**
 * A detector that has taken `points` (time-ordered) and its finding for the last one: the points
 * before the last `judgedHistoryPoints` are only seeded (with a known interval), the rest judged.
 * The alert evaluator's cold start and the band query both start this way, so they agree.
 */
export function replay(points: readonly Point[], options: BaselineOptions): { detector: BaselineDetector; finding: BaselineFinding } {
  if (points.length === 0) throw new Error('baseline: the series is empty');
  const detector = new BaselineDetector(options);
  const seedUntil = options.intervalMs === undefined ? 0 : points.length - judgedHistoryPoints(options.intervalMs, options.driftWeight);
  let finding: BaselineFinding | undefined;
  for (let index = 0; index < points.length; index++) {
    if (index < seedUntil) detector.seed(points[index]!);
    else finding = detector.push(points[index]!);
  }
  return { detector, finding: finding! };
}

/**
 * Settings for scoring a raw point stream (the `detect` CLI and the NAB benchmark): one
 * detection per incident, then a quiet period, so an operator sees one signal, not a burst.
 * The drift averages about the last 100 points (weight 0.02): on a stream of unknown points,
 * 40 points of ordinary noise too often looked like a drift (NAB: 146 -> 137 false positives).
 * The model is picked by the 90th percentile of its recent errors, not their mean, so one
 * incident in a model's error window does not hand the stream to another model (NAB 69.9 -> 70.2,
 * and a threshold fitted on half the files transfers better to the other half).
 */
export const STREAM_SCORING: Readonly<BaselineOptions> = { seasons: 8, suppressPoints: 200, tailCalibration: true, rangeTolerance: 0.05, driftWeight: 0.02, modelChoiceQuantile: 0.9 };
