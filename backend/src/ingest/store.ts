import type { PoolClient } from '../db/pool.js';
import { bucketStart, type Granularity } from '../rollups/buckets.js';
import { SPARSE_MAX } from '../rollups/distinct.js';
import { aggregate, type Contribution, type RollupDeltas } from './aggregate.js';
import { dimensionDeltasJson, eventsJson, isoTime, rollupDeltasJson } from './batch-json.js';
import { claimKeys, keyId, type Key } from './claims.js';
import { derivedContributions } from './derived.js';
import { CONTACT_SCOPE, contactTouches, type ContactTouch } from './derived/contacts.js';
import { DERIVED } from './derived/types.js';
import type { DistinctAttributes } from './distinct-attributes.js';
import type { ValidEvent } from './schema.js';

/**
 * The SQL of one batch, run inside the caller's transaction. Every statement
 * takes whole columns as array parameters (unnest) or one JSON array, so a
 * batch costs at most three statements whatever its size: the raw rows, the
 * message claims, and everything else (rollups, totals, per-dimension totals,
 * distinct sketches, contacted contacts) in one last statement sent with the
 * COMMIT; plus a few for conversation, agent and bot events when it holds any
 * (ingest/derived).
 */

/**
 * Claims the event ids and writes the raw rows of the new ones in one
 * statement: the raw insert reads the ids the key insert returned. The events
 * arrive as one JSON array (one native stringify instead of escaping every
 * attribute map into an array literal), sorted by id so concurrent batches
 * take key locks in the same order. Read as jsonb: json_to_recordset lexes the
 * whole text and then parses each attribute map a second time into its jsonb
 * column; jsonb_to_recordset parses the text once and hands the maps over as
 * they are (5.5 against 3.2 us of PostgreSQL per event for the parse alone,
 * bench/README.md, issue 20, step 19). jsonb holds at most 256 MiB, so a
 * batch larger than that (5,000 events near the 64 KiB limit each) is read as
 * json, as before. The ids are claimed by claim_new_keys() (migration 0265):
 * a plain insert, and ON CONFLICT only when some id exists (step 22).
 */
const insertEvents = (type: 'json' | 'jsonb') => `
WITH input AS (
  SELECT * FROM ${type}_to_recordset($2::${type})
    AS e (id text, at timestamptz, type text, value float8, attributes jsonb)
), fresh AS (
  SELECT unnest(claim_new_keys($1::uuid, 'event', array_agg(id), array_agg(at))) AS key FROM input
), raw AS (
  INSERT INTO events (organization_id, occurred_at, event_id, event_type, value, attributes)
  SELECT $1::uuid, i.at, i.id, i.type, i.value, i.attributes
  FROM input i JOIN fresh f ON f.key = i.id
)
SELECT key FROM fresh`;
const INSERT_EVENTS = { name: 'ingest_events_v3', text: insertEvents('jsonb') };
const INSERT_EVENTS_LARGE = { name: 'ingest_events_json_v2', text: insertEvents('json') };

/** Characters of JSON text above which it may not fit in a jsonb value (256 MiB; a character takes up to 3 bytes). */
export const JSONB_SAFE_CHARS = 80 * 1024 * 1024;

/** The statement that claims and writes the events of `json` (the batch's rows as one JSON array). */
export function insertEventsStatement(json: string): { name: string; text: string } {
  return json.length > JSONB_SAFE_CHARS ? INSERT_EVENTS_LARGE : INSERT_EVENTS;
}


/**
 * A batch's rollup deltas as rows `d`, from the JSON array parameter `$param`: one native stringify, where node-pg's
 * array literals escaped every element (dims and sketches twice) in JavaScript, about 5 us of Node per event. Read
 * as jsonb, as the raw events: the dims and sketches are parsed once. A batch's deltas are a fraction of its events'
 * size.
 */
const deltasFrom = (param: number) => `
FROM jsonb_to_recordset($${param}::jsonb)
  AS d (event_type text, bucket timestamptz, dims jsonb, count bigint, value_count bigint, sum float8, min float8, max float8, sketch jsonb)`;

/**
 * `sketch_merge(r.sketch, EXCLUDED.sketch)` (migration 0003) written out in the statement: a call of that SQL function
 * starts an executor for its body on every conflicting row, most of whose sketches are NULL (types without values),
 * and cost about a tenth of PostgreSQL's ingestion CPU (bench/README.md, issue 20, step 19). Same result: the
 * stored sketch with each of the batch's bins added.
 */
const MERGE_SKETCH = `CASE WHEN EXCLUDED.sketch IS NULL THEN r.sketch WHEN r.sketch IS NULL THEN EXCLUDED.sketch
    ELSE r.sketch || (SELECT coalesce(jsonb_object_agg(b.key, coalesce((r.sketch ->> b.key)::numeric, 0) + b.value::numeric), '{}') FROM jsonb_each_text(EXCLUDED.sketch) b) END`;

type RollupTable = 'rollups_hourly' | 'rollups_daily';
type TotalsTable = 'rollup_totals_hourly_pending' | 'rollup_totals_daily_pending';

/** Increment upsert: the row lock serialises concurrent increments; nothing is read back. */
const upsertRollups = (table: RollupTable, rows: string) => `
INSERT INTO ${table} AS r (organization_id, event_type, bucket, dims, count, value_count, sum, min, max, sketch)
${rows}
ON CONFLICT (organization_id, event_type, bucket, dims) DO UPDATE SET
  count = r.count + EXCLUDED.count,
  value_count = r.value_count + EXCLUDED.value_count,
  sum = r.sum + EXCLUDED.sum,
  min = LEAST(r.min, EXCLUDED.min),
  max = GREATEST(r.max, EXCLUDED.max),
  sketch = ${MERGE_SKETCH}`;

/**
 * Totals are appended, not upserted: every batch would otherwise wait for and
 * rewrite the same few hot rows. `fold_rollup_totals()` (jobs/fold-totals.ts)
 * merges them into the totals tables; readers read both (migration 0014).
 */
const appendTotals = (table: TotalsTable, rows: string) => `
INSERT INTO ${table} (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
${rows}`;

/**
 * The per-dimension totals (migration 0160), appended to their hourly pending
 * table like the totals; the fold derives the daily rows from these (migration
 * 0170). Rows arrive as one JSON array (one native stringify, as the raw
 * events, read as jsonb), in key order.
 */
const appendDimensionTotals = (rows: string) => `
INSERT INTO rollup_dimension_totals_hourly_pending (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
${rows}`;

/**
 * A batch's distinct sketches, from parameters $first to $first + 7: rows as
 * columns plus one flat int4[] of every row's sparse entries, which each row
 * slices: one array to parse instead of thousands of small ones. A batch never
 * holds more than SPARSE_MAX values of a row unless its limit was raised;
 * hll_normalize makes those dense. The dimensioned rows are increment upserts
 * (hll_union, migrations 0020 and 0100, merges under the row lock); totals are
 * appended to the pending tables and folded like the other totals
 * (fold_distinct_totals()). `target` of each row is the index of its kind in
 * DISTINCT_KINDS.
 */
const distinctDeltas = (p: number) => `
  SELECT d.target, d.n, d.event_type, d.attribute, d.bucket, d.dims,
    CASE WHEN d.size > ${SPARSE_MAX} THEN hll_normalize(ROW(s.sparse, NULL)::hll) ELSE ROW(s.sparse, NULL)::hll END AS sketch
  FROM unnest($${p}::int4[], $${p + 1}::text[], $${p + 2}::text[], $${p + 3}::timestamptz[], $${p + 4}::jsonb[], $${p + 5}::int4[], $${p + 6}::int4[]) WITH ORDINALITY
    AS d (target, event_type, attribute, bucket, dims, first, size, n)
  CROSS JOIN LATERAL (SELECT ($${p + 7}::int4[])[d.first : d.first + d.size - 1] AS sparse) s`;

const upsertDistinct = (table: 'rollups_distinct_hourly' | 'rollups_distinct_daily', target: number, after: string) => `
INSERT INTO ${table} AS r (organization_id, event_type, attribute, bucket, dims, sketch)
SELECT $1::uuid, event_type, attribute, bucket, dims, sketch FROM d WHERE target = ${target} AND ${after} ORDER BY n
ON CONFLICT (organization_id, event_type, attribute, bucket, dims) DO UPDATE SET sketch = hll_union(r.sketch, EXCLUDED.sketch)`;

const appendDistinctTotals = (table: 'rollup_totals_distinct_hourly_pending' | 'rollup_totals_distinct_daily_pending', target: number, after: string) => `
INSERT INTO ${table} (organization_id, event_type, attribute, bucket, sketch)
SELECT $1::uuid, event_type, attribute, bucket, sketch FROM d WHERE target = ${target} AND ${after}`;

/** The kinds of distinct deltas, by their `target` in the statement. */
const DISTINCT_KINDS = [
  ['hour', 'distinctByDims'],
  ['day', 'distinctByDims'],
  ['hour', 'distinctTotals'],
  ['day', 'distinctTotals'],
] as const;

/** A row set of contact:contacted from the won claims `won`, one row per group of `by`. */
const contacted = (columns: string, by: string, after: string, where = 'TRUE') =>
  `SELECT $1::uuid, '${DERIVED.contactContacted}', ${columns}, count(*), 0::bigint, 0::float8, NULL::float8, NULL::float8, NULL::jsonb
FROM won w WHERE ${where} AND ${after} GROUP BY ${by} ORDER BY ${by}`;

/**
 * One part of the batch's writes: a data-modifying step, run after the step
 * before it (`after` is the condition that makes it wait for that step), or a
 * helper the steps read (materialised, run when first read).
 */
type Part = { step: string; sql: (after: string) => string; returning?: string } | { helper: string; sql: string };

/**
 * The parts as one statement, the steps in the order given. PostgreSQL runs
 * the data-modifying parts of a WITH in an order of its own (the main query
 * first): here each step waits for the one before it by reading its count, an
 * uncorrelated subquery evaluated once before the step writes its first row.
 */
function inSequence(parts: Part[]): string {
  const ctes: string[] = [];
  let previous: string | undefined;
  let main = '';
  const steps = parts.filter((part) => 'step' in part);
  for (const part of parts) {
    if ('helper' in part) {
      ctes.push(`${part.helper} AS MATERIALIZED (${part.sql})`);
      continue;
    }
    const text = part.sql(previous === undefined ? 'TRUE' : `(SELECT count(*) FROM ${previous}) >= 0`);
    if (part === steps.at(-1)) main = text;
    else ctes.push(`${part.step} AS (${text}\nRETURNING ${part.returning ?? '1'})`);
    previous = part.step;
  }
  return `WITH ${ctes.join(',\n')}\n${main}`;
}

/**
 * Every write of a batch after its raw rows, in one statement that the batch
 * sends last, right before its COMMIT. Concurrent batches contend for the same
 * rows (a batch covers 43 minutes of the benchmark's stream: every batch in
 * flight adds to the same hour's and day's rollup rows, and to the claims of
 * the same busy contacts), and a waiter waits until the holder commits, so
 * the steps run in this order:
 * 1. what takes no lock another batch waits for: the appends to the pending
 *    totals tables;
 * 2. the increment upserts of the dimensioned rows, distinct sketches then
 *    rollups, daily before hourly (each batch's rows in key order);
 * 3. last, the claims of contacted contacts (derived/contacts.ts) and what the
 *    won ones count: contact:contacted, a type no other part writes, counted
 *    here from the claims (a count per row, no values), so no round trip to
 *    Node separates the claims from the commit.
 * Every batch takes its locks in this order, table by table, rows sorted
 * within each (and contact:contacted rows after all others of their table),
 * so concurrent batches cannot deadlock. One parse and plan per connection
 * (named), one round trip.
 *
 * Parameters: $1 organization, $2-$3 hourly and daily deltas, $4-$5 hourly
 * and daily totals, $6 per-dimension totals, $7 contact touches, $8-$15 the
 * distinct sketches.
 */
const WRITE_ROLLUPS = {
  name: 'ingest_rollups_v3',
  types: 'uuid, jsonb, jsonb, jsonb, jsonb, jsonb, jsonb, int4[], text[], text[], timestamptz[], jsonb[], int4[], int4[], int4[]',
  text: inSequence([
    { step: 'totals_hourly', sql: (after) => appendTotals('rollup_totals_hourly_pending', `SELECT $1::uuid, d.event_type, d.bucket, d.count, d.value_count, d.sum, d.min, d.max, d.sketch${deltasFrom(4)}\nWHERE ${after}`) },
    { step: 'totals_daily', sql: (after) => appendTotals('rollup_totals_daily_pending', `SELECT $1::uuid, d.event_type, d.bucket, d.count, d.value_count, d.sum, d.min, d.max, d.sketch${deltasFrom(5)}\nWHERE ${after}`) },
    {
      step: 'dimension_totals',
      sql: (after) =>
        appendDimensionTotals(`SELECT $1::uuid, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch FROM jsonb_to_recordset($6::jsonb)
  AS d (event_type text, bucket timestamptz, dimension text, value text, count bigint, value_count bigint, sum float8, min float8, max float8, sketch jsonb)
WHERE ${after}`),
    },
    { helper: 'd', sql: distinctDeltas(8) },
    { step: 'distinct_totals_hourly', sql: (after) => appendDistinctTotals('rollup_totals_distinct_hourly_pending', 2, after) },
    { step: 'distinct_totals_daily', sql: (after) => appendDistinctTotals('rollup_totals_distinct_daily_pending', 3, after) },
    { step: 'distinct_daily', sql: (after) => upsertDistinct('rollups_distinct_daily', 1, after) },
    { step: 'distinct_hourly', sql: (after) => upsertDistinct('rollups_distinct_hourly', 0, after) },
    { step: 'daily', sql: (after) => upsertRollups('rollups_daily', `SELECT $1::uuid, d.event_type, d.bucket, d.dims, d.count, d.value_count, d.sum, d.min, d.max, d.sketch${deltasFrom(3)}\nWHERE ${after}`) },
    { step: 'hourly', sql: (after) => upsertRollups('rollups_hourly', `SELECT $1::uuid, d.event_type, d.bucket, d.dims, d.count, d.value_count, d.sum, d.min, d.max, d.sketch${deltasFrom(2)}\nWHERE ${after}`) },
    { helper: 'touches', sql: `SELECT * FROM jsonb_to_recordset($7::jsonb) AS t (key text, at timestamptz, hour timestamptz, day timestamptz, dims jsonb)` },
    {
      // In key order (touches are sorted); a key a concurrent batch claimed waits for its commit, then counts nothing.
      step: 'claimed',
      sql: (after) => `INSERT INTO ingest_keys (organization_id, scope, key, occurred_at)
SELECT $1::uuid, '${CONTACT_SCOPE}', t.key, t.at FROM touches t WHERE ${after}
ON CONFLICT DO NOTHING`,
      returning: 'key',
    },
    { helper: 'won', sql: `SELECT t.hour, t.day, t.dims FROM touches t JOIN claimed c ON c.key = t.key` },
    { step: 'contacted_totals_hourly', sql: (after) => appendTotals('rollup_totals_hourly_pending', contacted('w.hour', 'w.hour', after)) },
    { step: 'contacted_totals_daily', sql: (after) => appendTotals('rollup_totals_daily_pending', contacted('w.day', 'w.day', after)) },
    {
      step: 'contacted_dimension_totals',
      sql: (after) => appendDimensionTotals(contacted(`'channel', w.hour, w.dims ->> 'channel'`, `w.hour, w.dims ->> 'channel'`, after, `w.dims ->> 'channel' IS NOT NULL`)),
    },
    { step: 'contacted_hourly', sql: (after) => upsertRollups('rollups_hourly', contacted('w.hour, w.dims', 'w.hour, w.dims', after)) },
    { step: 'contacted_daily', sql: (after) => upsertRollups('rollups_daily', contacted('w.day, w.dims', 'w.day, w.dims', after)) },
  ]),
};

/**
 * WRITE_ROLLUPS is sent with the COMMIT in one round trip (db/pool.ts,
 * withTransactionEndingIn), so it is prepared with PREPARE, once per
 * connection (it outlives a rolled back transaction), and run with EXECUTE.
 */
const preparedOn = new WeakSet<PoolClient>();

async function prepareWrites(client: PoolClient): Promise<void> {
  if (preparedOn.has(client)) return;
  const { rowCount } = await client.query('SELECT 1 FROM pg_prepared_statements WHERE name = $1', [WRITE_ROLLUPS.name]);
  if (!rowCount) await client.query(`PREPARE ${WRITE_ROLLUPS.name} (${WRITE_ROLLUPS.types}) AS ${WRITE_ROLLUPS.text}`);
  preparedOn.add(client);
}

/**
 * `text` as a dollar-quoted SQL literal: nothing inside is escaped. The tag must not occur in `text`, nor start
 * inside it: a text ending in `$mh` would otherwise close at its own last characters (`...$mh` + `$mh$`).
 */
export function dollarQuoted(text: string): string {
  let tag = '$mh$';
  for (let n = 0; `${text}${tag}`.indexOf(tag) !== text.length; n += 1) tag = `$mh${n}$`;
  return `${tag}${text}${tag}`;
}

/** An array literal ('{"a","b"}') of strings, as node-pg writes array parameters. */
const arrayLiteral = (items: readonly (string | number)[]) => `{${items.map((item) => (typeof item === 'number' ? String(item) : `"${item.replace(/["\\]/g, '\\$&')}"`)).join(',')}}`;

/** The dedupe scopes of message callbacks: a message counts as delivered (and read) once. */
const DELIVERED = 'message.delivered';
const READ = 'message.read';

/** EXECUTE of WRITE_ROLLUPS with the batch's values; undefined when the batch counts nothing at all. */
function executeWrites(organizationId: string, deltas: Record<Granularity, RollupDeltas>, touches: ContactTouch[]): string | undefined {
  const values = rollupValues(organizationId, deltas, touches);
  if (!values) return undefined;
  return `EXECUTE ${WRITE_ROLLUPS.name}(${values.map((value) => dollarQuoted(typeof value === 'string' ? value : arrayLiteral(value))).join(', ')})`;
}

/** The parameters of WRITE_ROLLUPS; undefined when the batch counts nothing at all. Deltas' sketches are Maps: written by batch-json.ts. */
function rollupValues(organizationId: string, deltas: Record<Granularity, RollupDeltas>, touches: ContactTouch[]): Array<string | Array<string | number>> | undefined {
  const touchRows = touches.map((t) => ({ key: t.key, at: isoTime(t.occurredAtMs), hour: isoTime(bucketStart(t.occurredAtMs, 'hour')), day: isoTime(bucketStart(t.occurredAtMs, 'day')), dims: t.dims }));
  const distinct = distinctColumns(deltas);
  if (deltas.hour.byDims.length === 0 && touches.length === 0 && distinct[0].length === 0) return undefined;
  return [
    organizationId,
    rollupDeltasJson(deltas.hour.byDims),
    rollupDeltasJson(deltas.day.byDims),
    rollupDeltasJson(deltas.hour.totals),
    rollupDeltasJson(deltas.day.totals),
    dimensionDeltasJson(deltas.hour.byDimension),
    JSON.stringify(touchRows),
    ...distinct,
  ];
}

/** The distinct deltas as the eight column parameters of distinctDeltas(). */
function distinctColumns(deltas: Record<Granularity, RollupDeltas>): [number[], string[], string[], string[], string[], number[], number[], string] {
  const columns = { target: [] as number[], type: [] as string[], attribute: [] as string[], bucket: [] as string[], dims: [] as string[], first: [] as number[], size: [] as number[] };
  const entries: number[] = [];
  DISTINCT_KINDS.forEach(([granularity, kind], target) => {
    for (const row of deltas[granularity][kind]) {
      columns.target.push(target);
      columns.type.push(row.type);
      columns.attribute.push(row.attribute);
      columns.bucket.push(isoTime(row.bucketMs));
      columns.dims.push(row.dims);
      columns.first.push(entries.length + 1);
      columns.size.push(row.entries.length);
      for (const entry of row.entries) entries.push(entry);
    }
  });
  const { target, type, attribute, bucket, dims, first, size } = columns;
  return [target, type, attribute, bucket, dims, first, size, `{${entries.join(',')}}`];
}

/** Only the attributes sketched for the type an event counts as; undefined when it has none. */
function distinctFor(type: string, event: ValidEvent, attributes: DistinctAttributes): Record<string, string> | undefined {
  const names = attributes.get(type);
  if (!names) return undefined;
  const values: Record<string, string> = {};
  for (const name of names) if (event.distinct[name] !== undefined) values[name] = event.distinct[name];
  return values;
}

/**
 * Message callbacks count once per messageId: the first delivery or read
 * callback for a message counts as its delivery (a read message was
 * delivered, even if its delivery callback got lost), the first read callback
 * as its read. The first claim wins; its time and dims are the ones counted.
 */
async function messageContributions(client: PoolClient, organizationId: string, events: ValidEvent[], attributes: DistinctAttributes): Promise<Contribution[]> {
  const messageKeys: Key[] = [];
  const seen = new Set<string>();
  const want = (scope: string, event: ValidEvent) => {
    const id = keyId(scope, event.messageId!);
    if (seen.has(id)) return;
    seen.add(id);
    messageKeys.push({ scope, key: event.messageId!, occurredAtMs: event.occurredAtMs });
  };
  for (const event of events) {
    if (event.type === DELIVERED || event.type === READ) want(DELIVERED, event);
    if (event.type === READ) want(READ, event);
  }
  const claimed = await claimKeys(client, organizationId, messageKeys);

  const contributions: Contribution[] = [];
  for (const event of events) {
    const { occurredAtMs, value, dims } = event;
    const counted = (type: string): Contribution => ({ type, occurredAtMs, value, dims, distinct: distinctFor(type, event, attributes) });
    if (event.type !== DELIVERED && event.type !== READ) {
      contributions.push(counted(event.type));
      continue;
    }
    // `delete` makes the first event of the batch holding a claim the one that counts.
    if (claimed.delete(keyId(DELIVERED, event.messageId!))) contributions.push(counted(DELIVERED));
    if (event.type === READ && claimed.delete(keyId(READ, event.messageId!))) contributions.push(counted(READ));
  }
  return contributions;
}

export interface StoreResult {
  /** Events stored for the first time, by event id. */
  stored: ValidEvent[];
  /** Events whose id this organization had already sent. */
  duplicates: number;
}

/**
 * Stores a batch of valid events with distinct ids: claims their ids, writes
 * the new ones raw, then adds what they count to the hourly and daily rollups.
 * Must run in one transaction so a failure at any step leaves nothing behind.
 */
export async function storeBatch(client: PoolClient, organizationId: string, events: ValidEvent[], attributes: DistinctAttributes): Promise<{ result: StoreResult; last?: string }> {
  const sorted = [...events].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const json = eventsJson(sorted);
  const result = await client.query<{ key: string }>({ ...insertEventsStatement(json), values: [organizationId, json] });
  const fresh = new Set(result.rows.map((row) => row.key));
  // Batch order, not id order: the first event of the batch wins a message's claim.
  const stored = events.filter((event) => fresh.has(event.id));
  if (stored.length > 0) {
    // Conversation, agent and bot events may count less (repeats) or more (derived rollup types).
    const derived = await derivedContributions(client, organizationId, stored);
    const counted = await messageContributions(client, organizationId, stored.filter((event) => !derived.uncounted.has(event)), attributes);
    const deltas = aggregate([...counted, ...derived.extra]);
    // Contacted contacts are claimed and counted in the same statement, which the caller sends with its COMMIT.
    await prepareWrites(client);
    const last = executeWrites(organizationId, deltas, contactTouches(stored));
    return { result: { stored, duplicates: events.length - stored.length }, last };
  }
  return { result: { stored, duplicates: events.length - stored.length } };
}
