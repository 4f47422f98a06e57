import { Counter, Gauge } from 'prom-client';
import type { AppContext } from '../context.js';
import type { Pool } from '../db/pool.js';
import type { RecurringJob } from './queue.js';

/** How often pending totals rows are folded: readers merge at most this much ingestion per bucket. */
export const FOLD_TOTALS_EVERY_MS = 5_000;
export const FOLD_TOTALS_JOB = 'fold-rollup-totals';

/**
 * Folds the totals rows ingestion appended into the totals tables
 * (`fold_rollup_totals()`, migration 0014). Returns how many totals rows
 * changed, or -1 when another process was folding at the time.
 */
export async function foldPendingTotals(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ folded: string }>('SELECT fold_rollup_totals() AS folded');
  return Number(rows[0]!.folded);
}

/**
 * The recurring fold, with what an SRE needs to see it keeping up: rows
 * folded, and the time of the last completed fold (alert when it lags:
 * answers stay exact, but read more pending rows the longer it lags).
 */
export function foldTotalsJob(context: AppContext): RecurringJob {
  const registry = context.metrics.registry;
  const folded =
    (registry.getSingleMetric('metricshub_rollup_totals_folded_rows_total') as Counter | undefined) ??
    new Counter({ name: 'metricshub_rollup_totals_folded_rows_total', help: 'Totals rows changed by folding pending ingestion into them', registers: [registry] });
  const lastFold =
    (registry.getSingleMetric('metricshub_rollup_totals_last_fold_seconds') as Gauge | undefined) ??
    new Gauge({ name: 'metricshub_rollup_totals_last_fold_seconds', help: 'Unix time of the last completed fold of pending totals (by any process)', registers: [registry] });
  return {
    name: FOLD_TOTALS_JOB,
    everyMs: FOLD_TOTALS_EVERY_MS,
    run: async () => {
      const changed = await foldPendingTotals(context.pool);
      // -1: another process holds the fold; its metrics tell its story.
      if (changed < 0) return;
      folded.inc(changed);
      lastFold.set(Date.now() / 1000);
    },
  };
}
