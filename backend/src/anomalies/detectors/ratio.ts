/**
 * Value of a ratio metric (failure rate = failed / total, delivery rate = delivered / sent).
 * An empty or missing denominator gives 0, never NaN or Infinity; `hasVolume` tells the caller
 * the 0 carries no information so no rule may alert on it.
 */
export interface RatioValue {
  value: number;
  numerator: number;
  denominator: number;
  hasVolume: boolean;
}

export function ratio(numerator: number, denominator: number): RatioValue {
  const num = Number.isFinite(numerator) ? numerator : 0;
  const den = Number.isFinite(denominator) ? denominator : 0;
  if (den <= 0) return { value: 0, numerator: num, denominator: den, hasVolume: false };
  return { value: num / den, numerator: num, denominator: den, hasVolume: true };
}

/** Ratio of sums over buckets, e.g. hourly failed and total counts of a day. */
export function ratioOfSums(numerators: readonly number[], denominators: readonly number[]): RatioValue {
  const sum = (xs: readonly number[]) => xs.reduce((acc, x) => acc + (Number.isFinite(x) ? x : 0), 0);
  return ratio(sum(numerators), sum(denominators));
}
