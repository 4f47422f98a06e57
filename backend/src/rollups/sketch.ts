import { DDSketch } from '@datadog/sketches-js';
// The mapping is not re-exported from the package root.
import { LogarithmicMapping } from '@datadog/sketches-js/dist/ddsketch/mapping/index.js';

/**
 * Quantile sketches for rollups: DDSketch (relative-error guarantee, exactly
 * mergeable) stored as a flat JSON map of bin key -> count, so PostgreSQL can
 * merge two sketches with `sketch_merge()` inside an increment upsert.
 *
 * Keys: "<n>" a positive value's bin n (n < 0 for values below 1), "n<n>" a
 * negative value's bin n (of |value|), "z" zero. SQL's `sketch_bin()` (migration
 * 0012) computes the same keys.
 * Relative accuracy 0.5%: a quantile read from merged bins is within 0.5% of
 * a value at that rank, comfortably inside the 1% the API promises.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.005;
const mapping = new LogarithmicMapping(SKETCH_RELATIVE_ACCURACY);

export type SketchBins = Record<string, number>;

export function binKey(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`sketch value must be finite, got ${value}`);
  if (Math.abs(value) < mapping.minPossible) return 'z';
  return value > 0 ? String(mapping.key(value)) : `n${mapping.key(-value)}`;
}

/** Adds one value to a bin map in place. */
export function addToBins(bins: SketchBins, value: number, weight = 1): SketchBins {
  const key = binKey(value);
  bins[key] = (bins[key] ?? 0) + weight;
  return bins;
}

export function binsFromValues(values: Iterable<number>): SketchBins {
  const bins: SketchBins = {};
  for (const value of values) addToBins(bins, value);
  return bins;
}

/** Adds `source` into `target` in place (same merge as SQL `sketch_merge`). */
export function mergeBins(target: SketchBins, source: SketchBins | null | undefined): SketchBins {
  if (!source) return target;
  // for-in rather than Object.entries: no array per bin on the cold-query path.
  for (const key in source) target[key] = (target[key] ?? 0) + Number(source[key]);
  return target;
}

export function binCount(bins: SketchBins): number {
  let total = 0;
  for (const key in bins) total += Number(bins[key]);
  return total;
}

/** Rebuilds a DDSketch from bins so quantiles use the library's rank logic. */
function toSketch(bins: SketchBins): DDSketch {
  const sketch = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
  for (const [key, count] of Object.entries(bins)) {
    const weight = Number(count);
    if (weight <= 0) continue;
    if (key === 'z') sketch.accept(0, weight);
    else if (key.startsWith('n')) sketch.accept(-mapping.value(Number(key.slice(1))), weight);
    else sketch.accept(mapping.value(Number(key)), weight);
  }
  return sketch;
}

/** Value at quantile q in [0, 1]; undefined for an empty sketch. */
export function quantile(bins: SketchBins, q: number): number | undefined {
  if (q < 0 || q > 1) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  if (binCount(bins) === 0) return undefined;
  return toSketch(bins).getValueAtQuantile(q);
}
