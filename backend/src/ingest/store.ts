import type { PoolClient } from '../db/pool.js';
import type { Granularity } from '../rollups/buckets.js';
import { SPARSE_MAX } from '../rollups/distinct.js';
import { aggregate, type Contribution, type RollupDelta, type RollupDeltas } from './aggregate.js';
import { dimensionDeltasJson, eventsJson, rollupDeltasJson } from './batch-json.js';
import { claimKeys, keyId, type Key } from './claims.js';
import { derivedContributions } from './derived.js';
import type { DistinctAttributes } from './distinct-attributes.js';
import type { ValidEvent } from './schema.js';

/**
 * The SQL of one batch, run inside the caller's transaction. Every statement
 * takes whole columns as array parameters (unnest) or one JSON array, so a
 * batch costs at most eight statements whatever its size (raw rows, message
 * claims, rollups and totals per granularity, per-dimension totals, distinct
 * sketches), plus a few for conversation, agent, bot and contact events when
 * it holds any (ingest/derived).
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
 * json, as before.
 */
const insertEvents = (type: 'json' | 'jsonb') => `
WITH input AS (
  SELECT * FROM ${type}_to_recordset($2::${type})
    AS e (id text, at timestamptz, type text, value float8, attributes jsonb)
), fresh AS (
  INSERT INTO ingest_keys (organization_id, scope, key, occurred_at)
  SELECT $1::uuid, 'event', id, at FROM input
  ON CONFLICT DO NOTHING
  RETURNING key
), raw AS (
  INSERT INTO events (organization_id, occurred_at, event_id, event_type, value, attributes)
  SELECT $1::uuid, i.at, i.id, i.type, i.value, i.attributes
  FROM input i JOIN fresh f ON f.key = i.id
)
SELECT key FROM fresh`;
const INSERT_EVENTS = { name: 'ingest_events_v2', text: insertEvents('jsonb') };
const INSERT_EVENTS_LARGE = { name: 'ingest_events_json_v1', text: insertEvents('json') };

/** Characters of JSON text above which it may not fit in a jsonb value (256 MiB; a character takes up to 3 bytes). */
export const JSONB_SAFE_CHARS = 80 * 1024 * 1024;

/** The statement that claims and writes the events of `json` (the batch's rows as one JSON array). */
export function insertEventsStatement(json: string): { name: string; text: string } {
  return json.length > JSONB_SAFE_CHARS ? INSERT_EVENTS_LARGE : INSERT_EVENTS;
}

/**
 * The batch's rollup deltas as rows `d`, from the JSON array `writeDeltas`
 * passes: one native stringify, where node-pg's array literals escaped every
 * element (dims and sketches twice) in JavaScript, about 5 us of Node per event.
 * Read as jsonb, as the raw events: the dims and sketches are parsed once.
 * A batch's deltas are a fraction of its events' size.
 */
const DELTAS = `
FROM jsonb_to_recordset($2::jsonb)
  AS d (event_type text, bucket timestamptz, dims jsonb, count bigint, value_count bigint, sum float8, min float8, max float8, sketch jsonb)`;

/**
 * `sketch_merge(r.sketch, EXCLUDED.sketch)` (migration 0003) written out in the statement: a call of that SQL function
 * starts an executor for its body on every conflicting row, most of whose sketches are NULL (types without values),
 * and cost about a tenth of PostgreSQL's ingestion CPU (bench/README.md, issue 20, step 19). Same result: the
 * stored sketch with each of the batch's bins added.
 */
const MERGE_SKETCH = `CASE WHEN EXCLUDED.sketch IS NULL THEN r.sketch WHEN r.sketch IS NULL THEN EXCLUDED.sketch
    ELSE r.sketch || (SELECT coalesce(jsonb_object_agg(b.key, coalesce((r.sketch ->> b.key)::numeric, 0) + b.value::numeric), '{}') FROM jsonb_each_text(EXCLUDED.sketch) b) END`;

/** Increment upsert: the row lock serialises concurrent increments; nothing is read back. */
const upsertRollups = (table: 'rollups_hourly' | 'rollups_daily') => `
INSERT INTO ${table} AS r (organization_id, event_type, bucket, dims, count, value_count, sum, min, max, sketch)
SELECT $1::uuid, d.event_type, d.bucket, d.dims, d.count, d.value_count, d.sum, d.min, d.max, d.sketch${DELTAS}
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
const appendTotals = (table: 'rollup_totals_hourly_pending' | 'rollup_totals_daily_pending') => `
INSERT INTO ${table} (organization_id, event_type, bucket, count, value_count, sum, min, max, sketch)
SELECT $1::uuid, d.event_type, d.bucket, d.count, d.value_count, d.sum, d.min, d.max, d.sketch${DELTAS}`;

/**
 * The per-dimension totals (migration 0160), appended to their hourly pending
 * table like the totals; the fold derives the daily rows from these (migration
 * 0170). Rows arrive as one JSON array (one native stringify, as the raw
 * events, read as jsonb), in key order.
 */
const APPEND_DIMENSION_TOTALS = {
  name: 'ingest_dimension_totals_v3',
  text: `INSERT INTO rollup_dimension_totals_hourly_pending (organization_id, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch)
SELECT $1::uuid, event_type, dimension, bucket, value, count, value_count, sum, min, max, sketch FROM jsonb_to_recordset($2::jsonb)
  AS d (event_type text, bucket timestamptz, dimension text, value text, count bigint, value_count bigint, sum float8, min float8, max float8, sketch jsonb)`,
};

/**
 * A batch's distinct sketches, all four tables in one named statement (one
 * parse, plan and round trip per batch on each pooled connection). Rows
 * arrive as columns plus one flat int4[] of every row's sparse entries, which
 * each row slices ($9[first : first + size - 1]): one array to parse instead
 * of thousands of small ones. A batch never holds more than SPARSE_MAX values
 * of a row unless its limit was raised; hll_normalize makes those dense.
 * The dimensioned rows are increment upserts (hll_union, migrations 0020 and
 * 0100, merges under the row lock); totals are appended to the pending tables
 * and folded like the other totals (fold_distinct_totals()). Every batch runs
 * the same statement, so all take row locks table by table in the same order,
 * and rows within a table sorted by key.
 */
const DISTINCT_DELTAS = `d AS MATERIALIZED (
  SELECT d.target, d.n, d.event_type, d.attribute, d.bucket, d.dims,
    CASE WHEN d.size > ${SPARSE_MAX} THEN hll_normalize(ROW(s.sparse, NULL)::hll) ELSE ROW(s.sparse, NULL)::hll END AS sketch
  FROM unnest($2::int4[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::int4[], $8::int4[]) WITH ORDINALITY
    AS d (target, event_type, attribute, bucket, dims, first, size, n)
  CROSS JOIN LATERAL (SELECT ($9::int4[])[d.first : d.first + d.size - 1] AS sparse) s
)`;

const upsertDistinct = (table: 'rollups_distinct_hourly' | 'rollups_distinct_daily', target: number) => `
INSERT INTO ${table} AS r (organization_id, event_type, attribute, bucket, dims, sketch)
SELECT $1::uuid, event_type, attribute, bucket, dims, sketch FROM d WHERE target = ${target} ORDER BY n
ON CONFLICT (organization_id, event_type, attribute, bucket, dims) DO UPDATE SET sketch = hll_union(r.sketch, EXCLUDED.sketch)`;

const appendDistinctTotals = (table: 'rollup_totals_distinct_hourly_pending' | 'rollup_totals_distinct_daily_pending', target: number) => `
INSERT INTO ${table} (organization_id, event_type, attribute, bucket, sketch)
SELECT $1::uuid, event_type, attribute, bucket, sketch FROM d WHERE target = ${target}`;

/** The statement; `target` of each row is the index of its kind in DISTINCT_KINDS. */
const WRITE_DISTINCT = {
  name: 'ingest_distinct_sketches_v1',
  text: `WITH ${DISTINCT_DELTAS},
hourly AS (${upsertDistinct('rollups_distinct_hourly', 0)}),
daily AS (${upsertDistinct('rollups_distinct_daily', 1)}),
hourly_totals AS (${appendDistinctTotals('rollup_totals_distinct_hourly_pending', 2)})
${appendDistinctTotals('rollup_totals_distinct_daily_pending', 3)}`,
};

/** The kinds of distinct deltas, by their `target` in WRITE_DISTINCT. */
const DISTINCT_KINDS = [
  ['hour', 'distinctByDims'],
  ['day', 'distinctByDims'],
  ['hour', 'distinctTotals'],
  ['day', 'distinctTotals'],
] as const;

// Always in this order, so concurrent batches lock tables (and rows, sorted) in the same order. Named, as every
// statement of a batch: each pooled connection parses and plans it once, not once per batch (0.3-0.4 ms each).
const WRITES = [
  ['hour', 'byDims', { name: 'ingest_rollups_hourly_v2', text: upsertRollups('rollups_hourly') }],
  ['day', 'byDims', { name: 'ingest_rollups_daily_v2', text: upsertRollups('rollups_daily') }],
  ['hour', 'totals', { name: 'ingest_totals_hourly_pending_v1', text: appendTotals('rollup_totals_hourly_pending') }],
  ['day', 'totals', { name: 'ingest_totals_daily_pending_v1', text: appendTotals('rollup_totals_daily_pending') }],
] as const;

/** The dedupe scopes of message callbacks: a message counts as delivered (and read) once. */
const DELIVERED = 'message.delivered';
const READ = 'message.read';

async function writeDeltas(client: PoolClient, statement: { name: string; text: string }, organizationId: string, rows: RollupDelta[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query({ ...statement, values: [organizationId, rollupDeltasJson(rows)] });
}

async function writeDimensionTotals(client: PoolClient, organizationId: string, deltas: RollupDeltas): Promise<void> {
  if (deltas.byDimension.length === 0) return;
  await client.query({ ...APPEND_DIMENSION_TOTALS, values: [organizationId, dimensionDeltasJson(deltas.byDimension)] });
}

async function writeDistinct(client: PoolClient, organizationId: string, deltas: Record<Granularity, RollupDeltas>): Promise<void> {
  const columns = { target: [] as number[], type: [] as string[], attribute: [] as string[], bucket: [] as string[], dims: [] as string[], first: [] as number[], size: [] as number[] };
  const entries: number[] = [];
  DISTINCT_KINDS.forEach(([granularity, kind], target) => {
    for (const row of deltas[granularity][kind]) {
      columns.target.push(target);
      columns.type.push(row.type);
      columns.attribute.push(row.attribute);
      columns.bucket.push(new Date(row.bucketMs).toISOString());
      columns.dims.push(row.dims);
      columns.first.push(entries.length + 1);
      columns.size.push(row.entries.length);
      for (const entry of row.entries) entries.push(entry);
    }
  });
  if (columns.target.length === 0) return;
  const { target, type, attribute, bucket, dims, first, size } = columns;
  await client.query({ ...WRITE_DISTINCT, values: [organizationId, target, type, attribute, bucket, dims, first, size, `{${entries.join(',')}}`] });
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
export async function storeBatch(client: PoolClient, organizationId: string, events: ValidEvent[], attributes: DistinctAttributes): Promise<StoreResult> {
  const sorted = [...events].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const json = eventsJson(sorted);
  const result = await client.query<{ key: string }>({ ...insertEventsStatement(json), values: [organizationId, json] });
  const fresh = new Set(result.rows.map((row) => row.key));
  // Batch order, not id order: the first event of the batch wins a message's claim.
  const stored = events.filter((event) => fresh.has(event.id));
  if (stored.length > 0) {
    // Conversation, agent, bot and contact events may count less (repeats) or more (derived rollup types).
    const derived = await derivedContributions(client, organizationId, stored);
    const counted = await messageContributions(client, organizationId, stored.filter((event) => !derived.uncounted.has(event)), attributes);
    const contributions = [...counted, ...derived.extra];
    const deltas = aggregate(contributions);
    for (const [granularity, kind, statement] of WRITES) await writeDeltas(client, statement, organizationId, deltas[granularity][kind]);
    await writeDimensionTotals(client, organizationId, deltas.hour);
    await writeDistinct(client, organizationId, deltas);
  }
  return { stored, duplicates: events.length - stored.length };
}
