import type { Pool } from '../../db/pool.js';
import { SourceError } from '../errors.js';
import type { Series, SourceQuery } from '../types.js';
import { condition, dimensionSql, Params } from './events-list.js';
import type { EventsMetricQuery, Measure } from './events.js';

/**
 * The `rolling` query option for the built-in source: a metric over exactly [from, to), to the
 * millisecond, read from the raw events rather than from the hourly rollups (whose buckets
 * cannot be split). This is what an alert rule on "the last 30 minutes" needs: the current,
 * partial hour counts as far as it has happened, and nothing before `from` does.
 *
 * An event type counts here as ingestion counts it in the rollups (ingest/store.ts):
 * - most types count every stored event;
 * - message callbacks count once per messageId, the event holding the claim in ingest_keys
 *   (a read message counts as delivered even when its delivery callback got lost);
 * - a bot conversation's start and end and a conversation's first response count once per
 *   conversation, the event holding the claim.
 * Types ingestion counts from state it keeps (a conversation's or an agent's status changes,
 * and the derived `type:name` rollups) have no raw equivalent and are refused, as are
 * distinct counts (sketched per hour) and levels (running totals).
 */

/** How one event type of a metric is read from the raw rows. */
interface Claimed {
  /** Raw event types whose rows may hold the claim. */
  raw: string[];
  /** The ingest_keys scope and the attribute whose trimmed value is the key. */
  scope: string;
  keyAttribute: string;
}

const CLAIMED: Record<string, Claimed> = {
  'message.delivered': { raw: ['message.delivered', 'message.read'], scope: 'message.delivered', keyAttribute: 'messageId' },
  'message.read': { raw: ['message.read'], scope: 'message.read', keyAttribute: 'messageId' },
  'bot.conversation_started': { raw: ['bot.conversation_started'], scope: 'bot.conversation_started', keyAttribute: 'conversationId' },
  'bot.conversation_ended': { raw: ['bot.conversation_ended'], scope: 'bot.conversation_ended', keyAttribute: 'conversationId' },
  'conversation.first_response': { raw: ['conversation.first_response'], scope: 'conversation.first_response', keyAttribute: 'conversationId' },
};

/** Counted from the state ingestion keeps (ingest/derived/), not from the events alone. */
const STATEFUL = ['conversation.status_changed', 'agent.status_changed'];

const QUANTILES: Record<string, number> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

/** Why a metric has no rolling window, or undefined when it has one. */
export function rollingProblem(key: string, metricQuery: EventsMetricQuery, measure: Measure): string | undefined {
  const derived = metricQuery.eventTypes.find((type) => type.includes(':') || STATEFUL.includes(type));
  if (derived) return `metric '${key}' counts '${derived}', which ingestion derives from the state it keeps, so it has no rolling window; turn off rolling to read its hourly buckets`;
  if (measure === 'distinct') return `metric '${key}' is a distinct count, sketched per hour; it has no rolling window`;
  if (metricQuery.measure === 'level') return `metric '${key}' is a level (a running total); it has no rolling window`;
  return undefined;
}

/** The aggregate of one group over its raw rows, named as the rollup path names its partials. */
function aggregateSql(measure: Measure, aggregation: string, params: Params): string {
  switch (measure) {
    case 'count':
      return 'count(*)::float8';
    case 'sum':
      return 'sum(value)';
    case 'avg':
      return 'avg(value)';
    case 'min':
      return 'min(value)';
    case 'max':
      return 'max(value)';
    case 'sketch':
      return `percentile_cont(${params.add(QUANTILES[aggregation])}::float8) WITHIN GROUP (ORDER BY value)`;
    case 'distinct':
      throw new Error('distinct counts have no rolling window');
  }
}

/** The rows of one metric event type, as ingestion counted them. */
function rowsOf(type: string, org: string, from: string, to: string, params: Params): string {
  const claimed = CLAIMED[type];
  const range = `e.organization_id = ${org}::uuid AND e.occurred_at >= ${from}::timestamptz AND e.occurred_at < ${to}::timestamptz`;
  if (!claimed) return `SELECT e.event_type, e.value, e.attributes FROM events e WHERE ${range} AND e.event_type = ${params.add(type)}::text`;
  // Repeats at the very same time say the same thing: the smallest event id stands for them (as format 'list' does).
  const key = `btrim(e.attributes->>${params.add(claimed.keyAttribute)}::text)`;
  return `SELECT c.event_type, c.value, c.attributes FROM (
      SELECT e.event_type, e.value, e.attributes, e.occurred_at, ${key} AS claim_key,
        row_number() OVER (PARTITION BY ${key}, e.occurred_at ORDER BY e.event_id) AS nth
      FROM events e WHERE ${range} AND e.event_type = ANY(${params.add(claimed.raw)}::text[])
    ) c WHERE c.nth = 1 AND EXISTS (SELECT 1 FROM ingest_keys k WHERE k.organization_id = ${org}::uuid
      AND k.scope = ${params.add(claimed.scope)}::text AND k.key = c.claim_key AND k.occurred_at = c.occurred_at)`;
}

/** One row per group-by value set: g0.. and the aggregate `x` over [from, to). */
export function windowSql(query: SourceQuery, metricQuery: EventsMetricQuery, measure: Measure): { text: string; values: unknown[] } {
  const params = new Params();
  const org = params.add(query.organizationId);
  const from = params.add(query.from);
  const to = params.add(query.to);
  const rows = metricQuery.eventTypes.map((type) => rowsOf(type, org, from, to, params)).join(' UNION ALL ');
  const groups = query.groupBy.map((name, index) => `(${dimensionSql(`${params.add(name)}::text`)}) AS g${index}`);
  const conditions = [
    ...Object.entries(metricQuery.where ?? {}).map(([dimension, values]) => condition({ dimension, op: 'in', value: values as string[] }, params)),
    ...query.filters.map((filter) => condition(filter, params)),
  ];
  const keys = groups.map((_, index) => `g${index}`);
  const text = `SELECT ${[...groups, `${aggregateSql(measure, query.aggregation, params)} AS x`].join(', ')}
    FROM (${rows}) r${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''}${keys.length ? ` GROUP BY ${keys.join(', ')}` : ''}`;
  return { text, values: params.values };
}

/** One point per series, at the start of the query's single bucket (the query layer places it). */
export async function windowSeries(pool: Pool, query: SourceQuery, metricQuery: EventsMetricQuery, measure: Measure, sourceId: string): Promise<Series[]> {
  const problem = rollingProblem(query.metric.key, metricQuery, measure);
  if (problem) throw new SourceError(sourceId, 'bad_query', problem);
  const { rows } = await pool.query<Record<string, string | number | null>>(windowSql(query, metricQuery, measure));
  const time = Math.floor(query.from.getTime() / query.bucketMs) * query.bucketMs;
  // Without group-by an empty range still answers one row: a count or sum of nothing is 0, an average or percentile null.
  return rows.map((row) => ({
    labels: Object.fromEntries(query.groupBy.map((name, index) => [name, (row[`g${index}`] as string | null) ?? ''])),
    times: [time],
    values: [row.x === null || row.x === undefined ? (measure === 'count' || measure === 'sum' ? 0 : null) : Number(row.x)],
  }));
}
