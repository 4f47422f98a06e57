/** MAD of a normal sample times this constant estimates its standard deviation. */
export const MAD_TO_SIGMA = 1.4826;

/** Reused sort buffer: the detector takes medians of a handful of values per point, millions of times. */
let scratch = new Float64Array(64);

function scratchFor(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(2 * n);
  return scratch;
}

/** Median of the first `n` values of the scratch buffer, sorted in place (no allocation, no closure). */
function scratchMedian(n: number): number {
  if (n === 0) return Number.NaN;
  const buffer = scratch;
  if (n <= 32) {
    // Insertion sort: fastest for the few references a seasonal model has.
    for (let i = 1; i < n; i++) {
      const v = buffer[i]!;
      let j = i - 1;
      while (j >= 0 && buffer[j]! > v) {
        buffer[j + 1] = buffer[j]!;
        j--;
      }
      buffer[j + 1] = v;
    }
  } else buffer.subarray(0, n).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? buffer[mid]! : (buffer[mid - 1]! + buffer[mid]!) / 2;
}

/** Median of the first `n` values (all by default). */
export function median(values: ArrayLike<number>, n = values.length): number {
  const buffer = scratchFor(n);
  for (let i = 0; i < n; i++) buffer[i] = values[i]!;
  return scratchMedian(n);
}

/** Median absolute deviation around `center` (the median when omitted), unscaled. */
export function mad(values: ArrayLike<number>, center = median(values), n = values.length): number {
  const buffer = scratchFor(n);
  for (let i = 0; i < n; i++) buffer[i] = Math.abs(values[i]! - center);
  return scratchMedian(n);
}

export interface RobustStats {
  median: number;
  /** Robust standard deviation: MAD * 1.4826, never below `floor`. */
  scale: number;
}

/**
 * Median and robust scale of a sample. When more than half the sample is identical the MAD
 * is 0 and any difference would be an infinite z-score; the scale then falls back to the mean
 * absolute deviation (times sqrt(pi/2), its normal-consistency factor) and finally to `floor`,
 * so a flat series still yields finite, comparable scores.
 */
export function robustStats(values: ArrayLike<number>, floor: number, n = values.length): RobustStats {
  const center = median(values, n);
  return { median: center, scale: robustScale(values, center, floor, n) };
}

/** The scale of `robustStats` around a median already known (the first `n` values). */
export function robustScale(values: ArrayLike<number>, center: number, floor: number, n = values.length): number {
  let scale = MAD_TO_SIGMA * mad(values, center, n);
  if (!(scale > 0) && n > 0) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.abs(values[i]! - center);
    scale = Math.sqrt(Math.PI / 2) * (sum / n);
  }
  return Math.max(scale, floor);
}

/** Default scale floor: a small fraction of the level, so 100 -> 100.001 is not an anomaly. */
export function scaleFloor(level: number, relative = 0.01, absolute = 1e-9): number {
  return Math.max(Math.abs(level) * relative, absolute);
}
