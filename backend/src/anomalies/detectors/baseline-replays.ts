import { BaselineDetector, type BaselineOptions } from './baseline.js';

/**
 * What a baseline detector found at each point of a replay: the points (ascending times) and, from
 * `judgedFrom` on, the finding's expected value, bounds and score (NaN where the detector had no
 * model yet). Read it right away: the next replay of the same key may extend these arrays.
 */
export interface BaselineReplay {
  readonly times: readonly number[];
  readonly values: readonly number[];
  /** Points before this index were only seeded (`BaselineDetector.seed`); the findings start here. */
  readonly judgedFrom: number;
  /** Per judged point i, at index i - judgedFrom. */
  readonly expected: readonly number[];
  readonly lower: readonly number[];
  readonly upper: readonly number[];
  readonly score: readonly number[];
}

interface Entry extends BaselineReplay {
  times: number[];
  values: number[];
  expected: number[];
  lower: number[];
  upper: number[];
  score: number[];
  detector: BaselineDetector;
}

/** The first values of a replay go into its key: two organizations' series of one dashboard keep an entry each. */
const SIGNATURE_POINTS = 8;

/**
 * Baseline replays kept between answers and extended instead of fitted again. A band query replays
 * the rule's detector over weeks of history (1,430 hourly points for a week shown) on every cold
 * answer, and a cold answer mostly follows a write that changed only the newest hour, or none of
 * the history at all: the detector is a pure function of the sequence of points it is given (and
 * of which are seeded), so a kept replay whose points are exactly the first points of the new
 * sequence, with the same seeded part, is continued with the rest and gives the very findings of
 * a fresh replay. Any other change (a late event in an old hour, a bucket that is no longer
 * complete) fails that check, and the sequence is replayed from its start.
 *
 * Least recently used entries go past `capacity` (a week of hourly points is about 60 kB).
 */
export class BaselineReplays {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity = 128) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The replay of `times`/`values` (ascending times, finite values; the caller hands them over
   * and does not change them after): points before `seedUntil` seeded, the rest judged. `key`
   * names where the points come from (metric, labels, range start, bucket); the options are
   * part of it.
   */
  replay(key: string, options: BaselineOptions, times: number[], values: number[], seedUntil: number): BaselineReplay {
    const full = `${JSON.stringify(options)}\u0000${key}\u0000${times[0]}\u0000${values.slice(0, SIGNATURE_POINTS).join(',')}`;
    let entry = this.entries.get(full);
    if (entry !== undefined) this.entries.delete(full);
    if (entry === undefined || !continues(entry, times, values, seedUntil)) entry = fresh(options, seedUntil);
    extend(entry, times, values);
    this.entries.set(full, entry);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }
}

function fresh(options: BaselineOptions, seedUntil: number): Entry {
  const judgedFrom = Math.max(0, seedUntil);
  return { times: [], values: [], judgedFrom, expected: [], lower: [], upper: [], score: [], detector: new BaselineDetector(options) };
}

/** Whether `entry` replayed a prefix of these points, with the same seeded part. */
function continues(entry: Entry, times: number[], values: number[], seedUntil: number): boolean {
  if (entry.judgedFrom !== Math.max(0, seedUntil) || entry.times.length > times.length) return false;
  const kept = entry.times;
  const keptValues = entry.values;
  for (let index = 0; index < kept.length; index += 1) {
    if (kept[index] !== times[index] || !Object.is(keptValues[index], values[index])) return false;
  }
  return true;
}

/** Feeds the points past those the entry has replayed to its detector, and takes the new arrays as its points. */
function extend(entry: Entry, times: number[], values: number[]): void {
  const { detector } = entry;
  for (let index = entry.times.length; index < times.length; index += 1) {
    const point = { time: times[index]!, value: values[index]! };
    if (index < entry.judgedFrom) {
      detector.seed(point);
      continue;
    }
    const finding = detector.push(point);
    const judged = finding.model !== null;
    entry.expected.push(judged ? finding.expected : Number.NaN);
    entry.lower.push(judged ? finding.lower : Number.NaN);
    entry.upper.push(judged ? finding.upper : Number.NaN);
    entry.score.push(judged ? finding.score : Number.NaN);
  }
  entry.times = times;
  entry.values = values;
}
