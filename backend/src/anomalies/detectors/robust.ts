/** MAD of a normal sample times this constant estimates its standard deviation. */
export const MAD_TO_SIGMA = 1.4826;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median absolute deviation around `center` (the median when omitted), unscaled. */
export function mad(values: readonly number[], center = median(values)): number {
  return median(values.map((v) => Math.abs(v - center)));
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
export function robustStats(values: readonly number[], floor: number): RobustStats {
  const center = median(values);
  let scale = MAD_TO_SIGMA * mad(values, center);
  if (!(scale > 0) && values.length > 0) {
    const meanAbs = values.reduce((sum, v) => sum + Math.abs(v - center), 0) / values.length;
    scale = Math.sqrt(Math.PI / 2) * meanAbs;
  }
  return { median: center, scale: Math.max(scale, floor) };
}

/** Default scale floor: a small fraction of the level, so 100 -> 100.001 is not an anomaly. */
export function scaleFloor(level: number, relative = 0.01, absolute = 1e-9): number {
  return Math.max(Math.abs(level) * relative, absolute);
}
