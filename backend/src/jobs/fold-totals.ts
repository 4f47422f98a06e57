import { Counter, Gauge } from 'prom-client';
import type { AppContext } from '../context.js';
import type { Pool } from '../db/pool.js';
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
 */
export const FOLD_BLOCKS_EVERY_MS = 30_000;

/**
 * Folds the totals rows ingestion appended into the totals tables
 * (`fold_rollup_totals()`, migration 0014, `fold_distinct_totals()`, 0020, and
 * `fold_dimension_totals()`, 0160). Returns how many totals rows changed, or
 * -1 when another process was folding at the time.
 */
export async function foldPendingTotals(pool: Pool): Promise<number> {
  // Each kind folds under its own lock, in the same transaction.
  const { rows } = await pool.query<{ folded: string; distinct: string; dimensions: string }>(
    'SELECT fold_rollup_totals() AS folded, fold_distinct_totals() AS distinct, fold_dimension_totals() AS dimensions',
  );
  const changed = [rows[0]!.folded, rows[0]!.distinct, rows[0]!.dimensions].map(Number);
  if (changed.every((n) => n < 0)) return -1;
  return changed.reduce((sum, n) => sum + Math.max(n, 0), 0);
}

/**
 * The recurring fold (and, every FOLD_BLOCKS_EVERY_MS, the distinct blocks'),
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
                  + (SELECT count(*) FROM rollup_dimension_totals_hourly_pending) + (SELECT count(*) FROM rollup_dimension_totals_daily_pending) AS n`,
          )
          .catch(() => undefined);
        if (result) this.set(Number(result.rows[0]!.n));
      },
    });
  }
  let blocksFoldedAt = 0;
  return {
    name: FOLD_TOTALS_JOB,
    everyMs: FOLD_TOTALS_EVERY_MS,
    run: async () => {
      const changed = await foldPendingTotals(context.pool);
      // -1: another process is folding right now.
      if (changed > 0) folded.inc(changed);
      if (Date.now() - blocksFoldedAt >= FOLD_BLOCKS_EVERY_MS) {
        blocksFoldedAt = Date.now();
        const blocks = await foldDistinctBlocks(context.pool);
        if (blocks > 0) folded.inc(blocks);
      }
    },
  };
}
