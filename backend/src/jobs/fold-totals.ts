import type { Pool } from '../db/pool.js';

/** How often pending totals rows are folded: readers merge at most this much ingestion per bucket. */
export const FOLD_TOTALS_EVERY_MS = 5_000;

/**
 * Folds the totals rows ingestion appended into the totals tables
 * (`fold_rollup_totals()`, migration 0014). Returns how many totals rows
 * changed, or -1 when another process was folding at the time.
 */
export async function foldPendingTotals(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ folded: string }>('SELECT fold_rollup_totals() AS folded');
  return Number(rows[0]!.folded);
}
