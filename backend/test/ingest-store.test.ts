import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOrganization } from '../src/auth/keys.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { ingestEvents, BatchTooLargeError } from '../src/ingest/ingest.js';
import { DEFAULT_CATALOG_FILE, loadCatalog } from '../src/catalog/load.js';
import { foldPendingTotals } from '../src/jobs/fold-totals.js';
import { EventsAdapter } from '../src/sources/adapters/events.js';
import { createLogger } from '../src/logger.js';
import { binsFromValues, type SketchBins } from '../src/rollups/sketch.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { sourceQuery } from './support/source-query.js';

const silent = createLogger('silent');
const NOW = Date.parse('2026-03-10T12:00:00Z');
const options = { now: () => NOW };

interface Event {
  id: string;
  type: string;
  occurredAt: string;
  value?: number;
  attributes?: Record<string, unknown>;
}

interface Row {
  event_type: string;
  bucket: string;
  dims: Record<string, string>;
  count: number;
  value_count: number;
  sum: number;
  min: number | null;
  max: number | null;
  sketch: SketchBins | null;
}

type RollupTable = 'rollups_hourly' | 'rollups_daily' | 'rollup_totals_hourly' | 'rollup_totals_daily';

/** Rollup rows of one organization, keyed "type|bucket ISO|dims JSON with sorted keys" ({} in totals tables). */
async function rollups(pool: Pool, organizationId: string, table: RollupTable): Promise<Map<string, Row>> {
  const dims = table.startsWith('rollup_totals') ? `'{}'::jsonb AS dims` : 'dims';
  const { rows } = await pool.query<Row>(
    `SELECT event_type, to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS bucket, ${dims},
            count::int, value_count::int, sum, min, max, sketch
     FROM ${table} WHERE organization_id = $1`,
    [organizationId],
  );
  return new Map(rows.map((row) => [`${row.event_type}|${row.bucket}|${sortedJson(row.dims)}`, row]));
}

function sortedJson(dims: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(dims).sort(([a], [b]) => a.localeCompare(b))));
}

interface ExpectedRow {
  count: number;
  valueCount: number;
  sum: number;
  min: number | null;
  max: number | null;
  values: number[];
}

/**
 * Expected rollups computed the slow, obvious way from the events that should
 * count; with `totals`, one row per type and bucket whatever the dimensions.
 */
function expectedRollups(events: Event[], granularity: 'hour' | 'day', totals = false): Map<string, ExpectedRow> {
  const expected = new Map<string, ExpectedRow>();
  const declared = ['channel', 'status', 'direction', 'botId', 'agentId', 'source', 'market', 'product', 'from', 'to'];
  for (const event of events) {
    const bucket = granularity === 'hour' ? `${event.occurredAt.slice(0, 13)}:00:00Z` : `${event.occurredAt.slice(0, 10)}T00:00:00Z`;
    const dims = Object.fromEntries(
      Object.entries(event.attributes ?? {})
        .filter(([name]) => !totals && declared.includes(name))
        .map(([name, value]) => [name, String(value)]),
    );
    const key = `${event.type}|${bucket}|${sortedJson(dims)}`;
    const row = expected.get(key) ?? { count: 0, valueCount: 0, sum: 0, min: null, max: null, values: [] };
    row.count += 1;
    if (event.value !== undefined) {
      row.valueCount += 1;
      row.values.push(event.value);
      row.sum += event.value;
      row.min = row.min === null ? event.value : Math.min(row.min, event.value);
      row.max = row.max === null ? event.value : Math.max(row.max, event.value);
    }
    expected.set(key, row);
  }
  return expected;
}

function assertRollupsEqual(actual: Map<string, Row>, expected: Map<string, ExpectedRow>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [key, want] of expected) {
    const row = actual.get(key)!;
    assert.equal(row.count, want.count, `count of ${key}`);
    assert.equal(row.value_count, want.valueCount, `value_count of ${key}`);
    assert.deepEqual(row.sketch, want.values.length === 0 ? null : binsFromValues(want.values), `sketch of ${key}`);
    assert.ok(Math.abs(row.sum - want.sum) < 1e-6, `sum of ${key}: ${row.sum} vs ${want.sum}`);
    assert.equal(row.min, want.min, `min of ${key}`);
    assert.equal(row.max, want.max, `max of ${key}`);
  }
}

async function countRows(pool: Pool, table: string, organizationId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE organization_id = $1`, [organizationId]);
  return rows[0]!.n;
}

/** A mixed batch: several types, dimension sets, hours and two days, with and without values. */
function mixedEvents(prefix: string, n: number): Event[] {
  const events: Event[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(Date.parse('2026-03-08T12:10:00Z') + i * 2 * 60_000).toISOString();
    switch (i % 5) {
      case 0:
        events.push({ id: `${prefix}-${i}`, type: 'order.created', occurredAt: at, value: 10 + (i % 7) * 2.5, attributes: { channel: i % 2 ? 'web' : 'pos', customer: `c${i}` } });
        break;
      case 1:
        events.push({ id: `${prefix}-${i}`, type: 'payment.succeeded', occurredAt: at, value: 20 + i, attributes: { market: 'de' } });
        break;
      case 2:
        events.push({ id: `${prefix}-${i}`, type: 'workflow.finished', occurredAt: at, value: 1000 + i, attributes: { status: ['SUCCESS', 'FAILED', 'FAILED_SAFETY_LIMIT'][i % 3] } });
        break;
      case 3:
        events.push({ id: `${prefix}-${i}`, type: 'message.sent', occurredAt: at, attributes: { messageId: `m-${i}`, channel: 'whatsapp' } });
        break;
      default:
        events.push({ id: `${prefix}-${i}`, type: 'invoice.paid', occurredAt: at, value: -3 + i, attributes: { product: 7, note: 'not a dimension' } });
    }
  }
  return events;
}

describe('ingestion into raw events and rollups', () => {
  let database: TestDatabase;
  let pool: Pool;
  let org = '';
  let orgCounter = 0;
  const newOrg = async () => (await createOrganization(pool, `store-${++orgCounter}`)).id;

  before(async () => {
    database = await createTestDatabase('ingest_store');
    await migrateUp(database.url, silent);
    pool = createPool(database.url, 6, silent);
  });
  after(async () => {
    await pool.end();
    await database.drop();
  });

  test('mixed batches give exact counts, sums, min and max per hour and per day', async () => {
    org = await newOrg();
    const events = mixedEvents('mix', 600);
    for (let start = 0; start < events.length; start += 170) {
      const result = await ingestEvents(pool, org, events.slice(start, start + 170), options);
      assert.deepEqual(result.rejected, []);
    }
    assertRollupsEqual(await rollups(pool, org, 'rollups_hourly'), expectedRollups(events, 'hour'));
    assertRollupsEqual(await rollups(pool, org, 'rollups_daily'), expectedRollups(events, 'day'));
    // Totals arrive pending, one row per batch, and are exact once folded.
    const pending = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_totals_daily_pending WHERE organization_id = $1', [org]);
    assert.ok(pending.rows[0]!.n >= 4, `${pending.rows[0]!.n} pending daily totals rows`);
    assert.equal(await countRows(pool, 'rollup_totals_daily', org), 0);
    assert.ok((await foldPendingTotals(pool)) > 0);
    assert.equal(await countRows(pool, 'rollup_totals_daily_pending', org), 0);
    assertRollupsEqual(await rollups(pool, org, 'rollup_totals_hourly'), expectedRollups(events, 'hour', true));
    assertRollupsEqual(await rollups(pool, org, 'rollup_totals_daily'), expectedRollups(events, 'day', true));
    assert.equal(await countRows(pool, 'events', org), 600);
  });

  test('answers read pending totals: the same numbers before and after the fold', async () => {
    const organization = await newOrg();
    const events = mixedEvents('pending', 300);
    for (let start = 0; start < events.length; start += 100) await ingestEvents(pool, organization, events.slice(start, start + 100), options);
    const adapter = new EventsAdapter('events', pool);
    const catalog = loadCatalog(DEFAULT_CATALOG_FILE);
    const base = { organizationId: organization, start: Date.parse('2026-03-08T00:00:00Z'), bucketMs: 86_400_000 };
    const questions = [
      sourceQuery(catalog, 'orders_created', base, { aggregation: 'count' }),
      sourceQuery(catalog, 'order_value', base, { aggregation: 'avg' }),
      sourceQuery(catalog, 'workflow_duration_ms', base, { aggregation: 'p95', bucketMs: 3 * 86_400_000 }),
    ];
    const answers = () => Promise.all(questions.map((question) => adapter.query(question, new AbortController().signal)));
    assert.ok((await countRows(pool, 'rollup_totals_hourly_pending', organization)) > 0);
    const before = await answers();
    assert.ok((await foldPendingTotals(pool)) > 0);
    assert.equal(await countRows(pool, 'rollup_totals_hourly_pending', organization), 0);
    assert.deepEqual(await answers(), before);
    // And they are the rollups' numbers: 60 orders over the two days.
    assert.equal(before[0]![0]!.values.reduce<number>((sum, value) => sum + (value ?? 0), 0), 60);
  });

  test('rebuild_rollup_totals() from the dimensioned rows gives what ingestion and the fold gave', async () => {
    const organization = await newOrg();
    await ingestEvents(pool, organization, mixedEvents('rebuild', 400), options);
    await foldPendingTotals(pool);
    await ingestEvents(pool, organization, mixedEvents('rebuild-pending', 100), options);
    const folded = async () => {
      await foldPendingTotals(pool);
      return [await rollups(pool, organization, 'rollup_totals_hourly'), await rollups(pool, organization, 'rollup_totals_daily')];
    };
    const before = await folded();
    await pool.query('SELECT rebuild_rollup_totals()');
    assert.equal(await countRows(pool, 'rollup_totals_hourly_pending', organization), 0);
    assert.deepEqual(await folded(), before);
  });

  test('an event without value counts with sum 0 and no min, max or sketch', async () => {
    const organization = await newOrg();
    await ingestEvents(pool, organization, [{ id: 'a', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z' }], options);
    for (const table of ['rollups_hourly', 'rollup_totals_hourly_pending']) {
      const { rows } = await pool.query(`SELECT count::int, value_count::int, sum, min, max, sketch FROM ${table} WHERE organization_id = $1`, [organization]);
      assert.deepEqual(rows, [{ count: 1, value_count: 0, sum: 0, min: null, max: null, sketch: null }], table);
    }
  });

  test('the same batch sent twice changes nothing the second time', async () => {
    const organization = await newOrg();
    const events = mixedEvents('twice', 200);
    const first = await ingestEvents(pool, organization, events, options);
    const hourly = await rollups(pool, organization, 'rollups_hourly');
    const second = await ingestEvents(pool, organization, events, options);
    assert.deepEqual(first, { accepted: 200, duplicates: 0, rejected: [] });
    assert.deepEqual(second, { accepted: 0, duplicates: 200, rejected: [] });
    assert.deepEqual(await rollups(pool, organization, 'rollups_hourly'), hourly);
    assert.equal(await countRows(pool, 'events', organization), 200);
  });

  test('a repeated id inside one batch counts once, even with another occurredAt', async () => {
    const organization = await newOrg();
    const result = await ingestEvents(
      pool,
      organization,
      [
        { id: 'x', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', value: 5 },
        { id: 'x', type: 'order.created', occurredAt: '2026-02-10T10:00:00Z', value: 5 },
      ],
      options,
    );
    assert.deepEqual(result, { accepted: 1, duplicates: 1, rejected: [] });
    const again = await ingestEvents(pool, organization, [{ id: 'x', type: 'order.created', occurredAt: '2026-01-10T10:00:00Z', value: 5 }], options);
    assert.deepEqual(again, { accepted: 0, duplicates: 1, rejected: [] });
    assert.equal(await countRows(pool, 'rollups_daily', organization), 1);
  });

  test('two pools sending overlapping batches concurrently give the totals of sending once', async () => {
    const organization = await newOrg();
    const events = mixedEvents('race', 1200);
    const second = createPool(database.url, 6, silent);
    try {
      // Each writer sends every event, in overlapping windows and a different order.
      const batchesA = [0, 300, 600, 900].map((start) => events.slice(start, start + 400));
      const batchesB = [800, 500, 200, 0].map((start) => events.slice(start, start + 400).reverse());
      // Folds run alongside the writers, as the job does.
      let writing = true;
      const folding = (async () => {
        while (writing) await foldPendingTotals(second);
      })();
      const results = await Promise.all([
        ...batchesA.map((batch) => ingestEvents(pool, organization, batch, options)),
        ...batchesB.map((batch) => ingestEvents(second, organization, batch, options)),
      ]).finally(() => (writing = false));
      await folding;
      await foldPendingTotals(pool);
      assert.equal(results.reduce((sum, r) => sum + r.accepted, 0), 1200);
      assert.equal(
        results.reduce((sum, r) => sum + r.accepted + r.duplicates, 0),
        [...batchesA, ...batchesB].reduce((sum, b) => sum + b.length, 0),
      );
    } finally {
      await second.end();
    }
    assertRollupsEqual(await rollups(pool, organization, 'rollups_hourly'), expectedRollups(events, 'hour'));
    assertRollupsEqual(await rollups(pool, organization, 'rollups_daily'), expectedRollups(events, 'day'));
    assertRollupsEqual(await rollups(pool, organization, 'rollup_totals_hourly'), expectedRollups(events, 'hour', true));
    assertRollupsEqual(await rollups(pool, organization, 'rollup_totals_daily'), expectedRollups(events, 'day', true));
    assert.equal(await countRows(pool, 'events', organization), 1200);
  });

  test('repeated delivery and read callbacks count a message as delivered once', async () => {
    const organization = await newOrg();
    const at = (minute: number) => `2026-03-10T09:${String(minute).padStart(2, '0')}:00Z`;
    const delivered = (id: string, messageId: string, minute: number) => ({ id, type: 'message.delivered', occurredAt: at(minute), attributes: { messageId, channel: 'sms' } });
    const read = (id: string, messageId: string, minute: number) => ({ id, type: 'message.read', occurredAt: at(minute), attributes: { messageId, channel: 'sms' } });
    const first = await ingestEvents(pool, organization, [delivered('d1', 'm1', 1), delivered('d2', 'm1', 2), read('r1', 'm1', 3), delivered('d3', 'm2', 4)], options);
    assert.deepEqual(first, { accepted: 4, duplicates: 0, rejected: [] });
    // Later webhooks for the same messages, in other batches; m3 is only ever seen read.
    await ingestEvents(pool, organization, [delivered('d4', 'm1', 5), read('r2', 'm1', 6), read('r3', 'm3', 7)], options);
    await ingestEvents(pool, organization, [delivered('d5', 'm2', 8), delivered('d6', 'm3', 9)], options);

    const { rows } = await pool.query<{ event_type: string; count: number }>(
      'SELECT event_type, sum(count)::int AS count FROM rollups_daily WHERE organization_id = $1 GROUP BY event_type ORDER BY event_type',
      [organization],
    );
    assert.deepEqual(rows, [
      { event_type: 'message.delivered', count: 3 },
      { event_type: 'message.read', count: 2 },
    ]);
    // Every callback is kept raw.
    assert.equal(await countRows(pool, 'events', organization), 9);
  });

  test('a bad event is rejected with its index and reason and its neighbours are stored', async () => {
    const organization = await newOrg();
    const result = await ingestEvents(
      pool,
      organization,
      [
        { id: 'ok-1', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', value: 1 },
        { id: 'bad-1', type: 'order.created', occurredAt: 'yesterday', value: 1 },
        { id: 'ok-2', type: 'order.created', occurredAt: '2026-03-10T10:05:00Z', value: 2 },
        { id: 'bad-2', type: 'workflow.finished', occurredAt: '2026-03-10T10:05:00Z', attributes: { status: 'DONE' } },
        { id: 'bad-3', type: 'order.created', occurredAt: '2026-03-10T12:06:00Z' },
        { id: 'bad-4', type: 'order.created', occurredAt: '2024-12-01T00:00:00Z' },
        { id: 'bad-5', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', value: '12' },
        { id: 'bad-6', type: 'bot.response', occurredAt: '2026-03-10T10:00:00Z', attributes: { botId: 'b' } },
        { id: 'bad-7', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', attributes: { channel: { nested: true } } },
        'not an event',
        { type: 'order.created', occurredAt: '2026-03-10T10:00:00Z' },
        { id: 'bad-8', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', attributes: { note: 'a\u0000b' } },
        { id: 'bad-9', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', attributes: { lines: [{ sku: '\ud800' }] } },
        { id: 'bad\u0000', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z' },
        { id: 'bad-10', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', attributes: JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) },
        { id: 'bad-11', type: 'invoice.paid', occurredAt: '2026-03-10T10:00:00Z', value: 1e300 },
        { id: 'bad-12', type: 'workflow.finished', occurredAt: '2026-03-10T10:00:00Z', value: -5, attributes: { status: 'SUCCESS' } },
      ],
      options,
    );
    assert.equal(result.accepted, 2);
    assert.deepEqual(result.rejected, [
      { index: 1, error: 'occurredAt: not an ISO-8601 time with a time zone (e.g. "2026-02-01T10:15:00Z")' },
      { index: 3, error: 'attributes.status: must be one of SUCCESS, FAILED, FAILED_SAFETY_LIMIT (required for workflow.finished)' },
      { index: 4, error: 'occurredAt: more than 300 s in the future' },
      { index: 5, error: 'occurredAt: older than the retention of 400 days' },
      { index: 6, error: 'value: must be a finite number' },
      { index: 7, error: 'attributes.success: required: true or false (required for bot.response)' },
      { index: 8, error: 'attributes.channel: must be a string, number or boolean (it is a rollup dimension)' },
      { index: 9, error: 'must be an object with id, type and occurredAt' },
      { index: 10, error: 'id: required: a non-empty string' },
      { index: 11, error: 'attributes.note: contains a NUL character or an unpaired surrogate, which cannot be stored' },
      { index: 12, error: 'attributes.lines.0.sku: contains a NUL character or an unpaired surrogate, which cannot be stored' },
      { index: 13, error: 'id: contains a NUL character or an unpaired surrogate, which cannot be stored' },
      { index: 14, error: 'attributes: nested deeper than 16 levels' },
      { index: 15, error: 'value: must be between -1000000000000 and 1000000000000' },
      { index: 16, error: 'value: must be >= 0 for workflow.finished (a duration)' },
    ]);
    const { rows } = await pool.query('SELECT event_id FROM events WHERE organization_id = $1 ORDER BY event_id', [organization]);
    assert.deepEqual(rows, [{ event_id: 'ok-1' }, { event_id: 'ok-2' }]);
    const daily = await rollups(pool, organization, 'rollups_daily');
    assert.deepEqual([...daily.values()].map((r) => [r.event_type, r.count, r.sum]), [['order.created', 2, 3]]);
  });

  test('a batch that fails mid-transaction leaves nothing behind, and can be sent again', async () => {
    const organization = await newOrg();
    // The daily totals append is the last statement of a batch: fail it after keys, raw rows and every other rollup row were written.
    await pool.query(`CREATE FUNCTION test_explode() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.event_type = 'test.explode' THEN RAISE EXCEPTION 'forced failure'; END IF; RETURN NEW; END $$`);
    await pool.query('CREATE TRIGGER test_explode BEFORE INSERT ON rollup_totals_daily_pending FOR EACH ROW EXECUTE FUNCTION test_explode()');
    const events = [...mixedEvents('abort', 50), { id: 'boom', type: 'test.explode', occurredAt: '2026-03-10T10:00:00Z', value: 1 }];
    try {
      await assert.rejects(ingestEvents(pool, organization, events, options), /forced failure/);
      for (const table of ['ingest_keys', 'events', 'rollups_hourly', 'rollups_daily', 'rollup_totals_hourly_pending', 'rollup_totals_daily_pending', 'rollup_dimension_totals_hourly_pending', 'rollup_dimension_totals_daily_pending']) {
        assert.equal(await countRows(pool, table, organization), 0, `${table} after the failed batch`);
      }
    } finally {
      await pool.query('DROP TRIGGER test_explode ON rollup_totals_daily_pending');
      await pool.query('DROP FUNCTION test_explode()');
    }
    const retried = await ingestEvents(pool, organization, events, options);
    assert.deepEqual(retried, { accepted: 51, duplicates: 0, rejected: [] });
  });

  test("organization A's events never appear in organization B's rollups", async () => {
    const a = await newOrg();
    const b = await newOrg();
    // Same ids in both organizations: ids are unique per organization, not globally.
    await ingestEvents(pool, a, mixedEvents('shared', 100), options);
    const result = await ingestEvents(pool, b, [{ id: 'shared-0', type: 'order.created', occurredAt: '2026-03-10T10:00:00Z', value: 7 }], options);
    assert.deepEqual(result, { accepted: 1, duplicates: 0, rejected: [] });
    const daily = await rollups(pool, b, 'rollups_daily');
    assert.deepEqual([...daily.values()].map((r) => [r.event_type, r.count, r.sum]), [['order.created', 1, 7]]);
    assertRollupsEqual(await rollups(pool, a, 'rollups_daily'), expectedRollups(mixedEvents('shared', 100), 'day'));
  });

  test('bot responses get a status dimension derived from success', async () => {
    const organization = await newOrg();
    const bot = (id: string, success: boolean, value: number) => ({ id, type: 'bot.response', occurredAt: '2026-03-10T10:00:00Z', value, attributes: { botId: 'faq', success, status: 'ignored' } });
    await ingestEvents(pool, organization, [bot('1', true, 100), bot('2', false, 300), bot('3', true, 200)], options);
    const hourly = await rollups(pool, organization, 'rollups_hourly');
    assert.deepEqual(
      [...hourly.values()].map((r) => [r.dims, r.count, r.sum]).sort((x, y) => sortedJson(x[0] as Row['dims']).localeCompare(sortedJson(y[0] as Row['dims']))),
      [
        [{ botId: 'faq', status: 'error' }, 1, 300],
        [{ botId: 'faq', status: 'success' }, 2, 300],
      ],
    );
  });

  test('raw events land in monthly partitions created on demand', async () => {
    const organization = await newOrg();
    await ingestEvents(
      pool,
      organization,
      [
        { id: 'jan', type: 'order.created', occurredAt: '2026-01-31T23:59:59Z' },
        { id: 'feb', type: 'order.created', occurredAt: '2026-02-01T00:00:00Z' },
        { id: 'old', type: 'order.created', occurredAt: '2025-03-01T00:00:00Z' },
      ],
      options,
    );
    const { rows } = await pool.query<{ partition: string; event_id: string }>(
      'SELECT tableoid::regclass::text AS partition, event_id FROM events WHERE organization_id = $1 ORDER BY occurred_at',
      [organization],
    );
    assert.deepEqual(rows, [
      { partition: 'events_y2025m03', event_id: 'old' },
      { partition: 'events_y2026m01', event_id: 'jan' },
      { partition: 'events_y2026m02', event_id: 'feb' },
    ]);
    // The current and next month exist before any of their events arrive.
    const { rows: ahead } = await pool.query("SELECT to_regclass('events_y2026m04') IS NOT NULL AS next");
    assert.deepEqual(ahead, [{ next: true }]);
  });

  test('a batch over the limit is refused whole', async () => {
    const organization = await newOrg();
    await assert.rejects(ingestEvents(pool, organization, mixedEvents('big', 11), { ...options, maxEvents: 10 }), BatchTooLargeError);
    assert.equal(await countRows(pool, 'ingest_keys', organization), 0);
  });
});
