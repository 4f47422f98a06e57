import type { Pool } from '../../db/pool.js';
import { dimensionsOf } from '../../ingest/schema.js';
import type { Filter, ListQuery, ListRow } from '../types.js';

/**
 * `format: list`: the newest raw events of a metric, read from the events
 * table (partitions outside [from, to) are pruned; there is no secondary
 * index, so a list reads its range's rows: keep feed ranges short). The
 * range is read newest first in growing windows (`listWindows`), so a feed
 * over a week usually reads its last hour or hours, not the week.
 */

/**
 * A dimension as SQL over a raw row. Mirrors dimensionsOf (ingest/schema.ts):
 * the status of a bot response comes from `success`, a started bot
 * conversation is `active`; any other dimension is the attribute as text.
 */
export function dimensionSql(nameParam: string): string {
  return `CASE
    WHEN ${nameParam} = 'status' AND event_type = 'bot.response' THEN CASE WHEN attributes->'success' = 'true'::jsonb THEN 'success' ELSE 'error' END
    WHEN ${nameParam} = 'status' AND event_type = 'bot.conversation_started' THEN 'active'
    ELSE attributes->>${nameParam} END`;
}

export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export function condition(filter: Filter, params: Params): string {
  const column = dimensionSql(`${params.add(filter.dimension)}::text`);
  const values = Array.isArray(filter.value) ? filter.value : [filter.value];
  if (filter.op === 'eq' || filter.op === 'in') return `(${column}) = ANY(${params.add(values)}::text[])`;
  return `((${column}) IS NULL OR NOT ((${column}) = ANY(${params.add(values)}::text[])))`;
}

/**
 * Events that count once per conversation (a bot conversation's start and
 * end, a first response): a repeated callback is stored raw but listed only
 * if it holds the claim (ingest_keys keeps the claiming event's time), so a
 * feed shows each once, as the rollups count it.
 */
const ONCE_PER_CONVERSATION = ['bot.conversation_started', 'bot.conversation_ended', 'conversation.first_response'];
// Repeats at the very same time say the same thing: the smallest event id stands for them.
const HOLDS_CLAIM = `(NOT (e.event_type = ANY($ONCE::text[])) OR (EXISTS (
  SELECT 1 FROM ingest_keys k WHERE k.organization_id = e.organization_id AND k.scope = e.event_type
    AND k.key = btrim(e.attributes->>'conversationId') AND k.occurred_at = e.occurred_at)
  AND NOT EXISTS (
  SELECT 1 FROM events r WHERE r.organization_id = e.organization_id AND r.occurred_at = e.occurred_at AND r.event_type = e.event_type
    AND btrim(r.attributes->>'conversationId') = btrim(e.attributes->>'conversationId') AND r.event_id < e.event_id)))`;

export function listSql(query: ListQuery, eventTypes: string[], where: Record<string, string[]>): { text: string; values: unknown[] } {
  const params = new Params();
  const conditions = [
    `organization_id = ${params.add(query.organizationId)}::uuid`,
    `event_type = ANY(${params.add(eventTypes)}::text[])`,
    `occurred_at >= ${params.add(query.from)}::timestamptz`,
    `occurred_at < ${params.add(query.to)}::timestamptz`,
    ...Object.entries(where).map(([dimension, values]) => condition({ dimension, op: 'in', value: values }, params)),
    ...query.filters.map((filter) => condition(filter, params)),
    HOLDS_CLAIM.replace('$ONCE', params.add(ONCE_PER_CONVERSATION)),
  ];
  return {
    text: `SELECT extract(epoch FROM occurred_at)::float8 * 1000 AS t, event_type, value, attributes FROM events e
      WHERE ${conditions.join(' AND ')} ORDER BY occurred_at DESC, event_id DESC LIMIT ${params.add(query.limit)}`,
    values: params.values,
  };
}

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

const HOUR_MS = 3_600_000;
/** Each window is this many times as long as the one after it (newer). */
const WINDOW_GROWTH = 6;

/**
 * [from, to) cut into windows, newest first: the last hour, the 5 hours
 * before it, then 6 times longer each time, the oldest cut at `from`. The
 * newest events of a 7-day feed are then read in at most 4 statements, and
 * usually in the first: the whole week was one statement that read and
 * filtered every event of the week (22,000 rows and 60-90 ms of PostgreSQL
 * CPU for the workflow failures of the bench's largest organization, most of
 * it JIT-compiling a plan estimated that costly).
 */
export function listWindows(from: Date, to: Date): Array<{ from: Date; to: Date }> {
  const windows: Array<{ from: Date; to: Date }> = [];
  let end = to.getTime();
  let span = HOUR_MS;
  while (end > from.getTime()) {
    const start = Math.max(from.getTime(), to.getTime() - span);
    windows.push({ from: new Date(start), to: new Date(end) });
    end = start;
    span *= WINDOW_GROWTH;
  }
  return windows;
}

export async function listEvents(pool: Pool, query: ListQuery, eventTypes: string[], where: Record<string, string[]>): Promise<ListRow[]> {
  type Raw = { t: number; event_type: string; value: number | null; attributes: Record<string, unknown> };
  const rows: Raw[] = [];
  // Windows are disjoint and newest first, each read newest first: their rows in turn are the range's, in order.
  for (const window of listWindows(query.from, query.to)) {
    const result = await pool.query<Raw>(listSql({ ...query, ...window, limit: query.limit - rows.length }, eventTypes, where));
    rows.push(...result.rows);
    if (rows.length >= query.limit) break;
  }
  return rows.map((row) => {
    const derived = dimensionsOf(row.event_type, row.attributes);
    const fields: Record<string, unknown> = { ...row.attributes, ...('dims' in derived ? derived.dims : {}) };
    return { time: Number(row.t), type: row.event_type, value: row.value === null ? null : Number(row.value), columns: query.columns.map((name) => text(fields[name])) };
  });
}
