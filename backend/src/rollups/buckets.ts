/**
 * Rollup bucket boundaries, always in UTC: an hourly row covers
 * [bucket, bucket + 1 h), a daily row [bucket, bucket + 24 h) from 00:00 UTC.
 */
export type Granularity = 'hour' | 'day';

export const BUCKET_MS: Record<Granularity, number> = { hour: 3_600_000, day: 86_400_000 };

/** Start (epoch ms) of the bucket holding `epochMs`. */
export function bucketStart(epochMs: number, granularity: Granularity): number {
  const size = BUCKET_MS[granularity];
  return Math.floor(epochMs / size) * size;
}
