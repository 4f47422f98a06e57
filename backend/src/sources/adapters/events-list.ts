import type { Pool } from '../../db/pool.js';
import { dimensionsOf } from '../../ingest/schema.js';
import type { Filter, ListQuery, ListRow } from '../types.js';

/**
 * `format: list`: the newest raw events of a metric, read from the events
 * table (partitions outside [from, to) are pruned; there is no secondary
 * index, so a list reads its range's rows: keep feed ranges short).
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

export async function listEvents(pool: Pool, query: ListQuery, eventTypes: string[], where: Record<string, string[]>): Promise<ListRow[]> {
  const result = await pool.query<{ t: number; event_type: string; value: number | null; attributes: Record<string, unknown> }>(listSql(query, eventTypes, where));
  return result.rows.map((row) => {
    const derived = dimensionsOf(row.event_type, row.attributes);
    const fields: Record<string, unknown> = { ...row.attributes, ...('dims' in derived ? derived.dims : {}) };
    return { time: Number(row.t), type: row.event_type, value: row.value === null ? null : Number(row.value), columns: query.columns.map((name) => text(fields[name])) };
  });
}
