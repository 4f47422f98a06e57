import type { Plan } from './planner.js';

/**
 * Answer budgets (issue 23): an answer is bounded before it is built, so one
 * organization's huge question cannot take the process's memory or event
 * loop from the others. Going over is a per-query error that names the limit
 * and how to narrow the question; the rest of the request still answers.
 */
export interface AnswerLimits {
  /** Series one query may answer (group-by cardinality): QUERY_MAX_SERIES. */
  maxSeries: number;
  /** Cells (series x buckets) one request may answer, all its queries together: QUERY_MAX_CELLS. */
  maxCells: number;
  /** Bytes of one /query response: QUERY_MAX_RESPONSE_BYTES. */
  maxResponseBytes: number;
  /** Rows of one export.csv: EXPORT_MAX_ROWS. */
  maxExportRows: number;
}

/** The per-query status of an answer over budget: the question is valid, only too big. */
export const OVER_BUDGET_STATUS = 422;

/** Roughly what one cell costs in the JSON frame (time, value, separators) and one series' schema. */
const BYTES_PER_CELL = 24;
const BYTES_PER_SERIES = 400;

/** What a query holds of the request's byte budget until its answer is serialized. */
export interface Reservation {
  bytes: number;
}

export class BudgetError extends Error {
  readonly status = OVER_BUDGET_STATUS;
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

/** Buckets of [from, to) at bucketMs, counted without building them. */
export function bucketCount(from: number, to: number, bucketMs: number): number {
  return Math.max(0, Math.floor((to - 1) / bucketMs) - Math.floor(from / bucketMs) + 1);
}

const grouped = (plan: Plan) => (plan.groupBy.length > 0 ? ` by ${plan.groupBy.join(', ')}` : '');

function tooManySeries(plan: Plan, series: number, limit: number): BudgetError {
  const dimension = plan.groupBy[0] ?? 'a dimension';
  return new BudgetError(
    `grouping ${plan.metric.key}${grouped(plan)} gives ${series > limit ? `more than ${limit}` : series} series; the limit is ${limit} series per query (QUERY_MAX_SERIES). ` +
      `Narrow it: add a filter (e.g. {"dimension":"${dimension}","op":"in","value":[...]}) or group by fewer dimensions.`,
  );
}

/**
 * One request's budget: every query reserves its cells and bytes before it
 * reads its source, in request order, and the ones that do not fit get their
 * own error.
 */
export class AnswerBudget {
  private cellsLeft: number;
  private bytesLeft: number;

  constructor(readonly limits: AnswerLimits) {
    this.cellsLeft = limits.maxCells;
    this.bytesLeft = limits.maxResponseBytes;
  }

  /** Checks a series count (estimated before reading, or actual after): throws BudgetError when over. */
  checkSeries(plan: Plan, series: number): void {
    if (series > this.limits.maxSeries) throw tooManySeries(plan, series, this.limits.maxSeries);
  }

  /**
   * Reserves what a query will answer: `series` series of the plan's buckets,
   * twice with the previous period. Throws BudgetError naming the limit and
   * the coarsest change that would fit.
   */
  reserve(plan: Plan, series: number): Reservation {
    this.checkSeries(plan, series);
    const periods = plan.compareToPrevious && plan.format === 'timeseries' ? 2 : 1;
    const buckets = bucketCount(plan.from.getTime(), plan.to.getTime(), plan.bucketMs);
    const lines = Math.max(1, series) * periods;
    const cells = lines * buckets;
    if (cells > this.cellsLeft) {
      const fitting = Math.floor(this.cellsLeft / lines);
      const span = plan.to.getTime() - plan.from.getTime();
      const hint =
        fitting >= 1
          ? `use a coarser interval (intervalMs >= ${Math.ceil(span / fitting)}) or a shorter range`
          : 'add a filter, group by fewer dimensions, or split the panel into fewer queries';
      throw new BudgetError(
        `${plan.metric.key}${grouped(plan)} would answer ${lines} series x ${buckets} buckets = ${cells} cells; ` +
          `${this.cellsLeft === this.limits.maxCells ? '' : `${this.cellsLeft} of `}the limit of ${this.limits.maxCells} cells per request (QUERY_MAX_CELLS) ${this.cellsLeft === this.limits.maxCells ? 'is left' : 'are left'}. Narrow it: ${hint}.`,
      );
    }
    const bytes = cells * BYTES_PER_CELL + lines * BYTES_PER_SERIES;
    if (bytes > this.bytesLeft) throw this.overBytes(plan, bytes);
    this.cellsLeft -= cells;
    this.bytesLeft -= bytes;
    return { bytes };
  }

  /**
   * Settles a reservation against the answer's actual serialized size: the
   * estimate is given back and the actual size taken. False (nothing taken)
   * when the actual answer does not fit what is left.
   */
  settle(reservation: Reservation, actualBytes: number): boolean {
    this.bytesLeft += reservation.bytes;
    reservation.bytes = 0;
    if (actualBytes > this.bytesLeft) return false;
    this.bytesLeft -= actualBytes;
    return true;
  }

  overBytes(plan: Plan, bytes: number): BudgetError {
    return new BudgetError(
      `the answer to ${plan.metric.key}${grouped(plan)} would take about ${bytes} bytes, over what is left of the limit of ${this.limits.maxResponseBytes} bytes per response (QUERY_MAX_RESPONSE_BYTES). ` +
        'Narrow it: a filter, a coarser interval, a shorter range, or fewer queries per request.',
    );
  }

  /** export.csv: rows are series x buckets (one per series for a table). */
  static checkExportRows(plan: Plan, series: number, limits: AnswerLimits): void {
    const rows = Math.max(1, series) * bucketCount(plan.from.getTime(), plan.to.getTime(), plan.bucketMs);
    if (rows > limits.maxExportRows) {
      throw new BudgetError(
        `the export of ${plan.metric.key}${grouped(plan)} would have ${rows} rows; the limit is ${limits.maxExportRows} rows (EXPORT_MAX_ROWS). ` +
          'Narrow it: a filter, a coarser interval (intervalMs), or a shorter range.',
      );
    }
  }
}
