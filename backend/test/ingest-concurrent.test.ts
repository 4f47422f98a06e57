import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOrganization } from '../src/auth/keys.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { createLogger } from '../src/logger.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

/**
 * Concurrent batches (issue 20, step 20: the claims and the contended upserts
 * run last, in one statement sent with the COMMIT): several pool clients
 * ingest seeded random streams whose contacts, messages, conversations and
 * bot conversations collide across batches, and what they store must equal
 * what the same batches store one after another: every event once, every
 * claim won once, nothing lost to a deadlock.
 */
const silent = createLogger('silent');
const NOW = Date.parse('2026-03-10T12:00:00Z');
const START = NOW - 3 * 86_400_000;
const options = { now: () => NOW, distinct: new Map([['message.sent', ['contactId']]]) };

interface Event {
  id: string;
  type: string;
  occurredAt: string;
  value?: number;
  attributes: Record<string, unknown>;
}

/** A stream of batches over three days: few contacts, messages and conversations, so most keys are claimed by several batches. */
function stream(random: () => number, batches: number, size: number): Event[][] {
  const pick = <T,>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const channels = ['web', 'app', 'sms'];
  const out: Event[][] = [];
  const all: Event[] = [];
  let n = 0;
  for (let b = 0; b < batches; b++) {
    const batch: Event[] = [];
    for (let i = 0; i < size; i++) {
      const occurredAt = new Date(START + Math.floor(random() * 3 * 86_400_000)).toISOString();
      const id = `e-${n++}`;
      const roll = random();
      const contactId = `c-${Math.floor(random() * 25)}`;
      const conversationId = `conv-${Math.floor(random() * 12)}`;
      let event: Event;
      if (roll < 0.3) event = { id, type: 'message.sent', occurredAt, attributes: { messageId: `m-${n}`, channel: pick(channels), contactId } };
      else if (roll < 0.45) event = { id, type: 'message.delivered', occurredAt, attributes: { messageId: `m-${Math.floor(random() * 30)}`, channel: pick(channels) } };
      else if (roll < 0.52) event = { id, type: 'message.read', occurredAt, attributes: { messageId: `m-${Math.floor(random() * 30)}`, channel: pick(channels) } };
      else if (roll < 0.6) event = { id, type: 'call.finished', occurredAt, value: Math.floor(random() * 600), attributes: { direction: pick(['inbound', 'outbound']), status: 'answered', contactId } };
      else if (roll < 0.67) event = { id, type: 'conversation.first_response', occurredAt, value: Math.floor(random() * 300), attributes: { conversationId, channel: pick(channels) } };
      else if (roll < 0.74) event = { id, type: 'bot.conversation_started', occurredAt, attributes: { conversationId: `bot-${conversationId}`, botId: pick(['faq', 'sales']) } };
      else if (roll < 0.8) event = { id, type: 'bot.conversation_ended', occurredAt, attributes: { conversationId: `bot-${conversationId}`, botId: 'faq', status: 'resolved', messages: Math.floor(random() * 9) } };
      else if (roll < 0.86) event = { id, type: 'conversation.status_changed', occurredAt, attributes: { conversationId, from: 'open', to: pick(['pending', 'done']), agentId: pick(['a-1', 'a-2']) } };
      else if (roll < 0.9) event = { id, type: 'agent.status_changed', occurredAt, attributes: { agentId: pick(['a-1', 'a-2', 'a-3']), status: pick(['online', 'away']) } };
      else event = { id, type: 'order.created', occurredAt, value: Math.floor(random() * 500), attributes: { channel: pick(channels) } };
      // A few events are sent again in a later batch (a retried delivery): stored and counted once.
      if (all.length > 0 && random() < 0.05) batch.push(pick(all));
      batch.push(event);
      all.push(event);
    }
    out.push(batch);
  }
  return out;
}

/**
 * What must not depend on the order batches commit in: raw rows, claims per
 * scope, per (type, day, dims) the rows of types counted without claims or
 * state, per (type, day) those counted once per claim (which event of several
 * wins may differ: its hour and dims), contacted contacts per day (the day is
 * in the key). Conversation and agent levels, status changes and availability
 * hours depend on the order by design and are left out.
 */
async function orderFree(pool: Pool, org: string): Promise<Record<string, unknown>> {
  const rows = async (sql: string) => (await pool.query(sql, [org])).rows.map((row) => JSON.stringify(row));
  return {
    raw: await rows(`SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS ids FROM events WHERE organization_id = $1`),
    keys: await rows(`SELECT scope, count(*)::int AS n FROM ingest_keys WHERE organization_id = $1 GROUP BY 1 ORDER BY 1`),
    unclaimed: await rows(
      `SELECT event_type, bucket, dims, count, value_count, sum, min, max, sketch FROM rollups_daily
       WHERE organization_id = $1 AND event_type IN ('message.sent', 'call.finished', 'order.created') ORDER BY event_type, bucket, dims::text`,
    ),
    // Sparse sketches keep their entries in the order the unions added them: the same set is the same sketch.
    distinct: (await pool.query<{ row: string; sketch: string }>(
      `SELECT concat_ws(' ', event_type, attribute, bucket, dims) AS row, sketch::text FROM rollups_distinct_daily WHERE organization_id = $1 ORDER BY 1`,
      [org],
    )).rows.map(({ row, sketch }) => `${row}: ${(sketch.match(/-?\d+/g) ?? []).map(Number).sort((a, b) => a - b).join(',')}`),
    claimed: await rows(
      `SELECT event_type, sum(count)::int AS n FROM rollups_daily
       WHERE organization_id = $1 AND event_type IN ('message.delivered', 'message.read', 'conversation.first_response', 'bot.conversation_started', 'bot.conversation_ended')
       GROUP BY 1 ORDER BY 1`,
    ),
    contacted: await rows(`SELECT bucket, sum(count)::int AS n FROM rollups_daily WHERE organization_id = $1 AND event_type = 'contact:contacted' GROUP BY 1 ORDER BY 1`),
  };
}

/** Within one organization: the hourly rows, the pending totals and the per-dimension totals sum to the daily rows. */
async function consistent(pool: Pool, org: string): Promise<void> {
  const { rows } = await pool.query<{ what: string; n: number }>(
    `WITH daily AS (SELECT event_type, bucket, sum(count) AS n FROM rollups_daily WHERE organization_id = $1 GROUP BY 1, 2),
     hourly AS (SELECT event_type, date_trunc('day', bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket, sum(count) AS n FROM rollups_hourly WHERE organization_id = $1 GROUP BY 1, 2),
     totals AS (SELECT event_type, bucket, sum(count) AS n FROM rollup_totals_daily_pending WHERE organization_id = $1 GROUP BY 1, 2),
     by_dimension AS (
       SELECT event_type, dimension, sum(count) AS n FROM rollup_dimension_totals_hourly_pending WHERE organization_id = $1 GROUP BY 1, 2
     ), from_rollups AS (
       SELECT event_type, d AS dimension, sum(count) AS n FROM rollups_daily CROSS JOIN LATERAL jsonb_object_keys(dims) d WHERE organization_id = $1 GROUP BY 1, 2
     )
     SELECT 'hourly' AS what, count(*)::int AS n FROM daily FULL JOIN hourly USING (event_type, bucket) WHERE daily.n IS DISTINCT FROM hourly.n
     UNION ALL SELECT 'totals', count(*)::int FROM daily FULL JOIN totals USING (event_type, bucket) WHERE daily.n IS DISTINCT FROM totals.n
     UNION ALL SELECT 'per dimension', count(*)::int FROM by_dimension FULL JOIN from_rollups USING (event_type, dimension) WHERE by_dimension.n IS DISTINCT FROM from_rollups.n`,
    [org],
  );
  for (const row of rows) assert.equal(row.n, 0, `${row.what}: ${row.n} rows differ from the daily rollups`);
}

describe('concurrent batches (issue 20, step 20)', () => {
  let database: TestDatabase;
  let pool: Pool;

  before(async () => {
    database = await createTestDatabase('ingest_concurrent');
    await migrateUp(database.url, silent);
    pool = createPool(database.url, 7, silent);
  });
  after(async () => {
    await pool.end();
    await database.drop();
  });

  test('six clients at once store what the same batches store one after another', async () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 1_000_000);
    console.log(`seed ${seed} (TEST_SEED=${seed} replays it)`);
    const batches = stream(seededRandom(seed), 48, 80);
    const sequential = (await createOrganization(pool, 'sequential')).id;
    const concurrent = (await createOrganization(pool, 'concurrent')).id;
    for (const batch of batches) await ingestEvents(pool, sequential, batch, options);

    let next = 0;
    const accepted = { sequential: 0, concurrent: 0 };
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < batches.length) {
          const result = await ingestEvents(pool, concurrent, batches[next++]!, options);
          assert.deepEqual(result.rejected, []);
          accepted.concurrent += result.accepted;
        }
      }),
    );
    accepted.sequential = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE organization_id = $1', [sequential])).rows[0]!.n;
    assert.equal(accepted.concurrent, accepted.sequential, 'every event accepted once');

    const [expected, actual] = [await orderFree(pool, sequential), await orderFree(pool, concurrent)];
    assert.deepEqual(actual, expected);
    // The claims did count: contacted contacts, once per (contact, day), and deliveries once per message.
    assert.ok((expected.contacted as string[]).length >= 3);
    assert.ok((expected.claimed as string[]).some((row) => row.includes('message.delivered')));
    await consistent(pool, sequential);
    await consistent(pool, concurrent);
  });

  test('a batch that fails in its last statement leaves nothing behind, and counts in full when sent again', async () => {
    const org = (await createOrganization(pool, 'failing')).id;
    const at = (minute: number) => new Date(Date.parse('2026-03-09T10:00:00Z') + minute * 60_000).toISOString();
    const sent = (id: string, contactId: string, channel: string, minute: number) => ({ id, type: 'message.sent', occurredAt: at(minute), attributes: { messageId: id, channel, contactId } });
    await ingestEvents(pool, org, [sent('s-1', 'c-1', 'web', 0)], options);
    const before = await orderFree(pool, org);
    // The contacted row of channel 'poison' is the statement's very last write, after every claim and upsert.
    await pool.query(`CREATE FUNCTION fail_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.dims ->> 'channel' = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$`);
    await pool.query(`CREATE TRIGGER fail_poison BEFORE INSERT ON rollups_daily FOR EACH ROW WHEN (NEW.event_type = 'contact:contacted') EXECUTE FUNCTION fail_poison()`);
    const batch = [sent('s-2', 'c-2', 'poison', 1), sent('s-3', 'c-3', 'web', 2), { id: 'd-1', type: 'message.delivered', occurredAt: at(3), attributes: { messageId: 's-1' } }];
    await assert.rejects(ingestEvents(pool, org, batch, options), /poisoned row/);
    assert.deepEqual(await orderFree(pool, org), before, 'no raw row, claim or rollup of the failed batch');
    await pool.query('DROP TRIGGER fail_poison ON rollups_daily');
    const result = await ingestEvents(pool, org, batch, options);
    assert.equal(result.accepted, 3);
    const { rows } = await pool.query<{ event_type: string; n: number }>(
      `SELECT event_type, sum(count)::int AS n FROM rollups_daily WHERE organization_id = $1 GROUP BY 1 ORDER BY 1`,
      [org],
    );
    assert.deepEqual(rows, [
      { event_type: 'contact:contacted', n: 3 },
      { event_type: 'message.delivered', n: 1 },
      { event_type: 'message.sent', n: 3 },
    ]);
  });
});
