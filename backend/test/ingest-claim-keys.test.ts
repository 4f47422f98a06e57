import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOrganization } from '../src/auth/keys.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { createLogger } from '../src/logger.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';

const silent = createLogger('silent');
const AT = '2026-03-10T12:00:00.000Z';

/**
 * claim_new_keys() (migration 0265) claims what `INSERT ... ON CONFLICT DO
 * NOTHING RETURNING key` claimed, through a plain insert when every key is
 * new and the arbiter otherwise.
 */
describe('claim_new_keys: the keys claimed now, as ON CONFLICT DO NOTHING gives them', () => {
  let database: TestDatabase;
  let pool: Pool;
  let organizationId: string;

  before(async () => {
    database = await createTestDatabase('claim_new_keys');
    await migrateUp(database.url, silent);
    pool = createPool(database.url, 4, silent);
    organizationId = (await createOrganization(pool, 'claims')).id;
  });
  after(async () => {
    await pool.end();
    await database.drop();
  });

  async function claim(keys: string[], scope = 'event', at = AT, client: { query: Pool['query'] } = pool): Promise<string[] | null> {
    const { rows } = await client.query<{ claimed: string[] | null }>(
      `SELECT claim_new_keys($1::uuid, $2, $3::text[], array_fill($4::timestamptz, ARRAY[cardinality($3::text[])])) AS claimed`,
      [organizationId, scope, keys, at],
    );
    return rows[0]!.claimed;
  }

  async function stored(scope: string): Promise<Map<string, string>> {
    const { rows } = await pool.query<{ key: string; at: Date }>('SELECT key, occurred_at AS at FROM ingest_keys WHERE organization_id = $1 AND scope = $2', [
      organizationId,
      scope,
    ]);
    return new Map(rows.map((row) => [row.key, row.at.toISOString()]));
  }

  test('new keys are all claimed, in the order given', async () => {
    assert.deepEqual(await claim(['a-1', 'a-2', 'a-3']), ['a-1', 'a-2', 'a-3']);
    assert.deepEqual([...(await stored('event')).keys()].sort(), ['a-1', 'a-2', 'a-3']);
  });

  test('keys claimed before are left as they are; the others are claimed', async () => {
    assert.deepEqual(await claim(['b-1', 'b-3']), ['b-1', 'b-3']);
    assert.deepEqual(await claim(['b-1', 'b-2', 'b-3', 'b-4'], 'event', '2026-03-11T00:00:00.000Z'), ['b-2', 'b-4']);
    const keys = await stored('event');
    assert.equal(keys.get('b-1'), AT, 'the first claim keeps its time');
    assert.equal(keys.get('b-2'), '2026-03-11T00:00:00.000Z');
    assert.equal(await claim(['b-1', 'b-2']), null, 'nothing new: NULL, as an empty RETURNING');
  });

  test('a key repeated in one call is claimed once', async () => {
    assert.deepEqual(await claim(['c-1', 'c-2', 'c-2']), ['c-1', 'c-2']);
  });

  test('scopes are separate: the same key is new in another scope', async () => {
    assert.deepEqual(await claim(['d-1'], 'event'), ['d-1']);
    assert.deepEqual(await claim(['d-1'], 'message.delivered'), ['d-1']);
    assert.equal(await claim(['d-1'], 'message.delivered'), null);
  });

  test('no keys claim nothing', async () => {
    assert.equal(await claim([]), null);
  });

  test('a claim that fails over to ON CONFLICT leaves no row of its first attempt behind', async () => {
    await claim(['e-5']);
    assert.deepEqual(await claim(['e-1', 'e-2', 'e-3', 'e-4', 'e-5', 'e-6']), ['e-1', 'e-2', 'e-3', 'e-4', 'e-6']);
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ingest_keys WHERE organization_id = $1 AND key LIKE 'e-%'`, [organizationId]);
    assert.equal(Number(rows[0]!.n), 6);
  });

  for (const outcome of ['COMMIT', 'ROLLBACK'] as const) {
    test(`a concurrent claim of the same keys waits for the first transaction (${outcome}) and claims what it left`, async () => {
      const first = await pool.connect();
      const second = await pool.connect();
      try {
        await first.query('BEGIN');
        assert.deepEqual(await claim([`f-${outcome}-1`, `f-${outcome}-2`], 'event', AT, first), [`f-${outcome}-1`, `f-${outcome}-2`]);
        await second.query('BEGIN');
        let settled = false;
        const waiting = claim([`f-${outcome}-2`, `f-${outcome}-3`], 'event', AT, second).finally(() => (settled = true));
        // The second claim is blocked on the first transaction's key until that one ends.
        const pid = (second as unknown as { processID: number }).processID;
        let blocked = false;
        for (let tries = 0; tries < 400 && !blocked; tries += 1) {
          if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 25));
          const { rows } = await pool.query<{ blocked: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock') AS blocked`, [pid]);
          blocked = rows[0]!.blocked;
        }
        assert.equal(blocked, true, 'the second claim waits on the first transaction');
        assert.equal(settled, false);
        await first.query(outcome);
        const claimed = await waiting;
        await second.query('COMMIT');
        assert.deepEqual(claimed, outcome === 'COMMIT' ? [`f-${outcome}-3`] : [`f-${outcome}-2`, `f-${outcome}-3`]);
        const keys = await stored('event');
        assert.equal(keys.has(`f-${outcome}-1`), outcome === 'COMMIT');
        assert.equal(keys.has(`f-${outcome}-2`), true);
      } finally {
        first.release();
        second.release();
      }
    });
  }
});
