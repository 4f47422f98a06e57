import { z } from 'zod';
import { isRepresentableInstant, REPRESENTABLE_RANGE } from '../http/input-guard.js';
import { FILTER_OPS } from '../sources/types.js';
import { BAND_FIELDS } from './band-fields.js';
import { parseRelativeTime, RELATIVE_TIME_HINT } from './relative-time.js';

/**
 * The shape of POST /api/v1/query. Only the structure is checked here (a
 * malformed request is refused as a whole with 400). Whether a metric,
 * aggregation or dimension exists is a per-query question answered by the
 * planner, so one bad query in a panel never hides the others' answers.
 */

export const FORMATS = ['timeseries', 'table', 'kpi', 'list'] as const;
/** format 'list': at most this many events per answer, and the default. */
export const LIST_MAX_LIMIT = 1000; // the same bound as a table's top-N limit
export const LIST_DEFAULT_LIMIT = 50;
export type Format = (typeof FORMATS)[number];

const INSTANT_HINT = `an ISO-8601 time (2026-02-01T00:00:00Z), epoch milliseconds, or ${RELATIVE_TIME_HINT}`;

/** ISO-8601, epoch milliseconds as a number or a string of digits (Grafana sends both), or a relative time (`now-7d`). */
export const instantSchema = z
  .union([z.number(), z.string().trim().min(1)], { error: (issue) => (issue.input === undefined ? `required: ${INSTANT_HINT}` : `must be ${INSTANT_HINT}`) })
  .transform((input, ctx) => {
    const relative = typeof input === 'string' ? parseRelativeTime(input) : undefined;
    if (relative && isRepresentableInstant(relative)) return relative;
    if (relative) {
      ctx.addIssue({ code: 'custom', message: `must be ${REPRESENTABLE_RANGE}` });
      return z.NEVER;
    }
    const date = typeof input === 'number' || /^\d+$/.test(input) ? new Date(Number(input)) : new Date(input);
    if (Number.isNaN(date.getTime()) || (typeof input === 'string' && !/^\d+$/.test(input) && !/^\d{4}-\d{2}-\d{2}/.test(input))) {
      ctx.addIssue({ code: 'custom', message: `must be ${INSTANT_HINT}` });
      return z.NEVER;
    }
    if (!isRepresentableInstant(date)) {
      ctx.addIssue({ code: 'custom', message: `must be ${REPRESENTABLE_RANGE}` });
      return z.NEVER;
    }
    return date;
  });

const name = z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

export const filterSchema = z
  .object({
    dimension: name,
    op: z.enum(FILTER_OPS, { message: `must be one of ${FILTER_OPS.join(', ')}` }),
    value: z.union([z.string().max(1000), z.array(z.string().max(1000)).max(1000)], { message: 'must be a string or a list of strings' }),
  })
  .refine((filter) => (filter.op === 'eq' || filter.op === 'neq' ? typeof filter.value === 'string' : Array.isArray(filter.value)), {
    message: 'eq/neq take a string value, in/not_in a list of strings',
    path: ['value'],
  });

export const querySchema = z.object({
  refId: z.string().min(1, 'must not be empty').max(64),
  source: name.optional(),
  metric: name,
  aggregation: name.optional(),
  groupBy: z.array(name).max(10, 'at most 10 group-by dimensions').default([]),
  filters: z.array(filterSchema).max(50, 'at most 50 filters').default([]),
  format: z.enum(FORMATS, { message: `must be one of ${FORMATS.join(', ')}` }).default('timeseries'),
  compareToPrevious: z.boolean().default(false),
  /**
   * Top-N of table queries. Checked per query by the planner (a bad value is
   * that query's 400 naming the field), so here they pass through as given.
   */
  orderBy: z.unknown().optional(),
  /** Tables: top-N; format 'list': how many events (default 50). 1..1000, checked per query by the planner. */
  limit: z.unknown().optional(),
  /** format 'list' only: which of the events' attributes to show as columns. */
  columns: z
    .array(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, 'must be an attribute name: a letter, then letters, digits or _'))
    .max(20, 'at most 20 columns')
    .optional(),
  live: z.boolean().default(false),
  /**
   * The metric over exactly [from, to), to the millisecond, from the raw events: one point per
   * series at `to` (a table: one row per group). What an alert rule on "the last 30 minutes" reads.
   */
  rolling: z.boolean().optional(),
  hide: z.boolean().default(false),
  /** Id of one of the metric's anomaly rules: adds what it judges (expected, lower, upper, score) to each series. */
  band: z.string().max(64, 'must be at most 64 characters').optional(),
  /** With `band`: answer only this column of the band (what an alert rule thresholds), not the series itself. */
  bandField: z.enum(BAND_FIELDS, { message: `must be one of ${BAND_FIELDS.join(', ')}` }).optional(),
});
export type QueryInput = z.infer<typeof querySchema>;

export const LIMIT_MAX = 1000;
export const ORDER_DIRECTIONS = ['asc', 'desc'] as const;
export interface OrderBy {
  /** `value`, or one of the query's group-by dimensions. */
  by: string;
  direction: (typeof ORDER_DIRECTIONS)[number];
}

/** Wider buckets than the longest range mean nothing, and PostgreSQL intervals have a limit. */
export const MAX_INTERVAL_MS = 10 * 366 * 86_400_000;

export const queryRequestSchema = z
  .object({
    from: instantSchema,
    to: instantSchema,
    intervalMs: z.number().positive('must be > 0').max(MAX_INTERVAL_MS, `must be at most ${MAX_INTERVAL_MS} (10 years)`).optional(),
    maxDataPoints: z.number().int('must be a whole number').positive('must be > 0').max(100_000, 'must be at most 100000').default(1000),
    queries: z
      .array(querySchema, { error: (issue) => (issue.input === undefined ? 'required: a list of queries, e.g. [{"refId":"A","metric":"orders_created"}]' : 'must be a list of queries') })
      .min(1, 'needs at least one query').max(50, 'at most 50 queries per request'),
  })
  .superRefine((request, ctx) => {
    const seen = new Set<string>();
    request.queries.forEach((query, index) => {
      if (seen.has(query.refId)) ctx.addIssue({ code: 'custom', path: ['queries', index, 'refId'], message: `duplicate refId '${query.refId}'` });
      seen.add(query.refId);
    });
  });
export type QueryRequest = z.infer<typeof queryRequestSchema>;

/** `queries[0].metric` from ['queries', 0, 'metric']. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '');
}

/** The first problem of a failed parse, as the API reports it: the field and the reason. */
export function firstIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]!;
  const field = fieldPath(issue.path);
  return { field, message: `${field || 'request'}: ${issue.message}` };
}
