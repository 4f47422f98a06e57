import type { CacheVersions } from '../cache/versions.js';
import type { Catalog } from '../catalog/load.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { WHOLE_RANGE_MS } from '../query/buckets.js';
import type { SourceRegistry } from '../sources/registry.js';
import type { RecurringJob } from '../jobs/queue.js';

export const LEVEL_SNAPSHOT_JOB = 'level-snapshots';
const DAY_MS = 86_400_000;
/** A level's SQL answers the state "now"; this window around the clock catches its row. */
const NOW_WINDOW_MS = 3_600_000;

export interface SnapshotDependencies {
  pool: Pool;
  catalog: Catalog;
  registry: SourceRegistry;
  cacheVersions: CacheVersions;
  logger: Logger;
}

export interface SnapshotOutcome {
  taken: number;
  /** "organization metric: reason" for each one that could not be read (no mapping, source down). */
  skipped: string[];
}

/**
 * Records the current value of every level metric for every organization,
 * split by all of the metric's dimensions, under the logical time `takenAt`.
 * Idempotent per tick; one organization or source failing skips only itself.
 */
export async function takeLevelSnapshots(deps: SnapshotDependencies, takenAt: Date): Promise<SnapshotOutcome> {
  const levels = deps.catalog.metrics.filter((metric) => metric.level);
  const outcome: SnapshotOutcome = { taken: 0, skipped: [] };
  if (levels.length === 0) return outcome;
  const organizations = await deps.pool.query<{ id: string; name: string }>('SELECT id, name FROM organizations ORDER BY name');
  for (const organization of organizations.rows) {
    let wrote = false;
    for (const metric of levels) {
      const now = Date.now();
      try {
        const series = await deps.registry.query(metric.source, {
          organizationId: organization.id,
          metric,
          aggregation: 'sum',
          groupBy: metric.dimensions,
          filters: [],
          from: new Date(now - NOW_WINDOW_MS),
          to: new Date(now + NOW_WINDOW_MS),
          bucketMs: WHOLE_RANGE_MS,
        });
        // No rows is a level of zero, recorded as such rather than as a gap.
        const rows = series.length > 0 ? series.map((one) => ({ labels: one.labels, value: one.values.at(-1) ?? 0 })) : [{ labels: {}, value: 0 }];
        const inserted = await deps.pool.query(
          `INSERT INTO level_snapshots (organization_id, metric, taken_at, labels, value)
           SELECT $1, $2, $3, labels, value FROM unnest($4::jsonb[], $5::double precision[]) AS r(labels, value)
           -- A retried tick keeps what the first attempt recorded, even if the level moved since.
           WHERE NOT EXISTS (SELECT 1 FROM level_snapshots WHERE organization_id = $1 AND metric = $2 AND taken_at = $3)
           ON CONFLICT DO NOTHING`,
          [organization.id, metric.key, takenAt, rows.map((row) => JSON.stringify(row.labels)), rows.map((row) => row.value)],
        );
        outcome.taken += inserted.rowCount ?? 0;
        wrote ||= (inserted.rowCount ?? 0) > 0;
      } catch (error) {
        outcome.skipped.push(`${organization.name} ${metric.key}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (wrote) await deps.cacheVersions.bump(organization.id);
  }
  if (outcome.skipped.length > 0) deps.logger.info({ skipped: outcome.skipped }, 'level snapshots skipped for some organizations');
  return outcome;
}

/** True when no snapshot was taken in the last day (a fresh deployment takes one at start). */
export async function snapshotDue(pool: Pool, now = Date.now()): Promise<boolean> {
  const result = await pool.query<{ latest: Date | null }>('SELECT max(taken_at) AS latest FROM level_snapshots');
  const latest = result.rows[0]?.latest;
  return !latest || latest.getTime() <= now - DAY_MS;
}

/** The daily job; run on demand with `metrics-hub levels snapshot`. */
export function levelSnapshotJob(deps: SnapshotDependencies): RecurringJob {
  return {
    name: LEVEL_SNAPSHOT_JOB,
    everyMs: DAY_MS,
    run: async (scheduledAt) => {
      const outcome = await takeLevelSnapshots(deps, scheduledAt);
      deps.logger.info({ taken: outcome.taken, skipped: outcome.skipped.length }, 'level snapshots taken');
    },
  };
}
