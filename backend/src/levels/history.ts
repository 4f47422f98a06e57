import type { Pool } from '../db/pool.js';
import { matchesFilters } from '../sources/points.js';
import type { Filter, Series } from '../sources/types.js';

/**
 * Reads the history of level metrics (open prospects, balances) from their
 * snapshots. A level is summed across the dimension values a query does not
 * group by; filters keep some values. Within a bucket the last snapshot
 * counts: a level at the end of a bucket, never the sum of its snapshots.
 */

/** A snapshot older than this says nothing about a later time (snapshots are daily). */
export const SNAPSHOT_MAX_AGE_MS = 2 * 86_400_000;

interface Row {
  bucket: number;
  labels: Record<string, string>;
  value: number;
}

function combine(rows: Row[], groupBy: string[], filters: Filter[]): Series[] {
  const series = new Map<string, { labels: Record<string, string>; byTime: Map<number, number> }>();
  for (const row of rows) {
    if (!matchesFilters(row.labels, filters)) continue;
    const labels = Object.fromEntries(groupBy.map((dimension) => [dimension, row.labels[dimension] ?? '']));
    const key = JSON.stringify(labels);
    let entry = series.get(key);
    if (!entry) series.set(key, (entry = { labels, byTime: new Map() }));
    entry.byTime.set(row.bucket, (entry.byTime.get(row.bucket) ?? 0) + row.value);
  }
  return [...series.values()].map(({ labels, byTime }) => {
    const times = [...byTime.keys()].sort((a, b) => a - b);
    return { labels, times, values: times.map((time) => byTime.get(time)!) };
  });
}

export class LevelHistory {
  constructor(private readonly pool: Pool) {}

  /** Per bucket of [from, to), the last snapshot taken in it, grouped and filtered. */
  async series(organizationId: string, metric: string, range: { from: Date; to: Date; bucketMs: number }, groupBy: string[], filters: Filter[]): Promise<Series[]> {
    const result = await this.pool.query<{ bucket: number; labels: Record<string, string>; value: number }>(
      `SELECT DISTINCT ON (bucket, labels) (floor(extract(epoch FROM taken_at) * 1000 / $4) * $4)::double precision AS bucket, labels, value
       FROM level_snapshots
       WHERE organization_id = $1 AND metric = $2 AND taken_at >= $3 AND taken_at < $5
       ORDER BY bucket, labels, taken_at DESC`,
      [organizationId, metric, range.from, range.bucketMs, range.to],
    );
    return combine(result.rows, groupBy, filters);
  }

  /**
   * The level at `time` from the last snapshot at or before it (and not older
   * than SNAPSHOT_MAX_AGE_MS); undefined when there is none.
   */
  async at(organizationId: string, metric: string, time: Date, filters: Filter[]): Promise<{ value: number; takenAt: Date } | undefined> {
    const result = await this.pool.query<{ taken_at: Date; labels: Record<string, string>; value: number }>(
      `SELECT taken_at, labels, value FROM level_snapshots
       WHERE organization_id = $1 AND metric = $2
         AND taken_at = (SELECT max(taken_at) FROM level_snapshots WHERE organization_id = $1 AND metric = $2 AND taken_at <= $3 AND taken_at > $4)`,
      [organizationId, metric, time, new Date(time.getTime() - SNAPSHOT_MAX_AGE_MS)],
    );
    if (result.rows.length === 0) return undefined;
    const [series] = combine(
      result.rows.map((row) => ({ bucket: 0, labels: row.labels, value: row.value })),
      [],
      filters,
    );
    return { value: series?.values[0] ?? 0, takenAt: result.rows[0]!.taken_at };
  }
}
