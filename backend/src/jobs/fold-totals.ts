import { Counter, Gauge } from 'prom-client';
import type { AppContext } from '../context.js';
import type { Pool } from '../db/pool.js';
import { refreshCumulativeSketches } from '../rollups/cumulative-sketches.js';
import { foldDistinctBlocks } from '../rollups/distinct-blocks.js';
import type { RecurringJob } from './queue.js';

/** How often pending totals rows are folded: readers merge at most this much ingestion per bucket. */
export const FOLD_TOTALS_EVERY_MS = 5_000;
export const FOLD_TOTALS_JOB = 'fold-rollup-totals';
/**
 * How often the same job folds the distinct daily totals into the blocks of
 * days (rollups/distinct-blocks.ts): each fold rewrites every block a folded
 * day touches (32 KiB when dense), so it batches six totals folds' worth.
 * Readers also read the days waiting for it, so answers stay exact meanwhile.
 * The same cadence rewrites the cumulative daily sketches of keys whose past
 * days changed (rollups/cumulative-sketches.ts, migration 0200): late events,
 * and once a day each key's day just over. Readers check them and read the
 * daily rows of a key they do not match, so answers stay exact meanwhile too.
 */
export const FOLD_BLOCKS_EVERY_MS = 30_000;

/**
 * How often the per-dimension totals fold (migration 0160). Their pending
 * rows outnumber the other totals' (one per dimension value), and most of a
 * fold's cost is merging each into a folded row's large sketch: folding them
 * a sixth as often merges the batches of the same hour or day once instead
 * of six times. Readers read the pending rows, so answers stay exact.
 */
export const FOLD_DIMENSIONS_EVERY_MS = 30_000;

/**
 * Folds the totals rows ingestion appended into the totals tables
 * (`fold_rollup_totals()`, migration 0014, `fold_distinct_totals()`, 0020,
 * and, unless `dimensions` is false, `fold_dimension_totals()`, 0160 and
 * 0170: the hourly pending rows into the hourly and the daily rows).
 * Returns how many totals rows changed, or -1 when another process was
 * folding at the time.
 */
export async function foldPendingTotals(pool: Pool, { dimensions = true } = {}): Promise<number> {
  // Each kind folds under its own lock, in the same transaction.
  const { rows } = await pool.query<{ folded: string; distinct: string; dimensions: string }>(
    `SELECT fold_rollup_totals() AS folded, fold_distinct_totals() AS distinct, ${dimensions ? 'fold_dimension_totals()' : '-1'} AS dimensions`,
  );
  const changed = [rows[0]!.folded, rows[0]!.distinct, rows[0]!.dimensions].map(Number);
  if (changed.every((n) => n < 0)) return -1;
  return changed.reduce((sum, n) => sum + Math.max(n, 0), 0);
}

/**
 * One tick of the fold every FOLD_TOTALS_EVERY_MS: the totals each time, the
 * per-dimension totals every FOLD_DIMENSIONS_EVERY_MS, and the distinct blocks
 * and cumulative sketches every FOLD_BLOCKS_EVERY_MS (everything on the first
 * tick). The server's job
 * and the ingest benchmark run the same cadence. Returns the rows changed.
 */
export function foldCadence(pool: Pool): () => Promise<number> {
  let dimensionsAt = -Infinity;
  let blocksAt = -Infinity;
  return async () => {
    const now = Date.now();
    const dimensions = now - dimensionsAt >= FOLD_DIMENSIONS_EVERY_MS;
    if (dimensions) dimensionsAt = now;
    // -1: another process is folding right now.
    let changed = Math.max(await foldPendingTotals(pool, { dimensions }), 0);
    if (now - blocksAt >= FOLD_BLOCKS_EVERY_MS) {
      blocksAt = now;
      changed += Math.max(await foldDistinctBlocks(pool), 0);
      changed += Math.max(await refreshCumulativeSketches(pool), 0);
    }
    return changed;
  };
}

/**
 * The recurring fold (foldCadence),
 * with what an SRE needs to see it keep up: rows folded by this process, and
 * the rows waiting in PostgreSQL (the same from every instance, whichever one
 * ran the last fold). Answers stay exact while the fold lags, but read more
 * pending rows the longer it lags.
 */
export function foldTotalsJob(context: AppContext): RecurringJob {
  const registry = context.metrics.registry;
  const folded =
    (registry.getSingleMetric('metricshub_rollup_totals_folded_rows_total') as Counter | undefined) ??
    new Counter({ name: 'metricshub_rollup_totals_folded_rows_total', help: 'Totals rows changed by this process folding pending ingestion into them', registers: [registry] });
  if (!registry.getSingleMetric('metricshub_rollup_totals_pending_rows')) {
    new Gauge({
      name: 'metricshub_rollup_totals_pending_rows',
      help: 'Totals rows appended by ingestion and not folded yet (a few batches worth when the fold keeps up)',
      registers: [registry],
      async collect() {
        // A scrape while PostgreSQL is down keeps the last value; /health/ready reports the outage.
        const result = await context.pool
          .query<{ n: string }>(
            `SELECT (SELECT count(*) FROM rollup_totals_hourly_pending) + (SELECT count(*) FROM rollup_totals_daily_pending)
                  + (SELECT count(*) FROM rollup_totals_distinct_hourly_pending) + (SELECT count(*) FROM rollup_totals_distinct_daily_pending)
                  + (SELECT count(*) FROM rollup_totals_distinct_blocks_pending)
                  + (SELECT count(*) FROM rollup_dimension_totals_hourly_pending) AS n`,
          )
          .catch(() => undefined);
        if (result) this.set(Number(result.rows[0]!.n));
      },
    });
  }
  const tick = foldCadence(context.pool);
  return {
    name: FOLD_TOTALS_JOB,
    everyMs: FOLD_TOTALS_EVERY_MS,
    run: async () => {
      const changed = await tick();
      if (changed > 0) folded.inc(changed);
    },
  };
}
