import { BUCKET_MS } from '../../rollups/buckets.js';
import { BLOCK_LEVELS } from '../../rollups/distinct-blocks.js';
import { timeParam } from './events-time-params.js';

const DAY = BUCKET_MS.day;

/** One sketch of a run of days: level 0 is a daily totals row, levels 1-8 a block. */
export interface DayPiece {
  level: number;
  /** Epoch ms of the first day, a multiple of 2^level days. */
  start: number;
}

/**
 * The fewest aligned blocks whose days are exactly [from, to) (whole days,
 * epoch ms), none of them straddling a query bucket (epoch multiples of
 * bucketMs): from the left, the largest block that starts here and fits, as a
 * segment tree's range decomposition. At most two pieces per level, so a
 * 30-day table reads 5-8 sketches instead of 29.
 */
export function dayPieces(from: number, to: number, bucketMs: number): DayPiece[] {
  if (from % DAY !== 0 || to % DAY !== 0) throw new RangeError(`day pieces need whole days, got [${from}, ${to})`);
  const pieces: DayPiece[] = [];
  for (let start = from; start < to; ) {
    let level = BLOCK_LEVELS;
    for (; level > 0; level -= 1) {
      const length = DAY * 2 ** level;
      if (start % length === 0 && start + length <= to && Math.floor(start / bucketMs) === Math.floor((start + length - 1) / bucketMs)) break;
    }
    pieces.push({ level, start });
    start += DAY * 2 ** level;
  }
  return pieces;
}

/**
 * The distinct totals of the whole days [from, to) of a question without
 * group-by or filters, as rows of (bucket, sp, dn): the blocks and daily rows
 * of the day pieces, plus the days' rows that are pending for the daily totals
 * or for the blocks (migration 0150). A union is idempotent, so a pending day
 * that a piece also holds counts once.
 *
 * `keys` are the conditions on organization, event types and attribute;
 * `add` binds a parameter.
 */
export function distinctDaysSql(keys: string[], columns: string, from: number, to: number, bucketMs: number, add: (value: unknown) => string): string {
  // A daily slice may end inside a day, which then counts whole (slicesFor).
  const pieces = dayPieces(from, Math.ceil(to / DAY) * DAY, bucketMs);
  const blocks = pieces.filter((piece) => piece.level > 0);
  const days = pieces.filter((piece) => piece.level === 0).map((piece) => timeParam(piece.start));
  const where = (...more: string[]) => [...keys, ...more].join(' AND ');
  return [
    `SELECT bucket, ${columns} FROM rollup_totals_distinct_blocks WHERE ${where(
      `(level, bucket) IN (SELECT * FROM unnest(${add(blocks.map((piece) => piece.level))}::int2[], ${add(blocks.map((piece) => timeParam(piece.start)))}::timestamptz[]))`,
    )}`,
    `SELECT bucket, ${columns} FROM rollup_totals_distinct_daily WHERE ${where(`bucket = ANY(${add(days)}::timestamptz[])`)}`,
    ...['rollup_totals_distinct_daily_pending', 'rollup_totals_distinct_blocks_pending'].map(
      (table) => `SELECT bucket, ${columns} FROM ${table} WHERE ${where(`bucket >= ${add(timeParam(from))}::timestamptz`, `bucket < ${add(timeParam(to))}::timestamptz`)}`,
    ),
  ].join(' UNION ALL ');
}
