import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { CatalogError, loadCatalog } from '../src/catalog/load.js';
import { BUSINESS_MODULES_DDL, COMMUNICATIONS_DDL } from '../src/demo/schema.js';
import { setModuleUserId, setSourceConnection } from '../src/organizations/settings.js';
import { ADAPTER_TYPES } from '../src/sources/adapters/index.js';
import { SourceRegistry } from '../src/sources/registry.js';
import { seededRandom } from './support/seeded-random.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * CATALOG_FILE=presets/vpa-core.yaml against databases created with exactly
 * the modules' DDL: a shared business database (tenants by user_id) and one
 * Communications database per business. Every answer is checked against the
 * modules' own queries run on the same rows (the oracle), for two mapped
 * organizations and a third user_id nobody is mapped to.
 */

const PRESET = path.resolve(import.meta.dirname, '../catalog/presets/vpa-core.yaml');
const CLI = path.resolve(import.meta.dirname, '../src/cli/main.ts');
const run = promisify(execFile);

const SEED = Number(process.env.TEST_SEED ?? Date.now() % 1_000_000);
console.log(`module-databases seed: ${SEED} (TEST_SEED=${SEED} repeats it)`);


const DAY = 86_400_000;
const NOW = Date.now();
const FROM = NOW - 20 * DAY;
const TO = NOW + 3_600_000;

const ACME_USER = randomUUID();
const GLOBEX_USER = randomUUID();
const STRANGER_USER = randomUUID();

let business: TestDatabase;
const comms: Record<'acme' | 'globex', TestDatabase | undefined> = { acme: undefined, globex: undefined };
let server: TestServer;
let keys: Record<'acme' | 'globex' | 'unmapped', string>;
let businessPool: pg.Pool;
const commsPools: Partial<Record<'acme' | 'globex', pg.Pool>> = {};

async function createWithDdl(label: string, ddl: string): Promise<TestDatabase> {
  const database = await createTestDatabase(label);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(ddl);
  await client.end();
  return database;
}

/** Rows for one user_id in the shared business database: some inside the range, some outside it. */
async function fillBusiness(pool: pg.Pool, userId: string, next: () => number): Promise<void> {
  const at = () => new Date(FROM - 5 * DAY + next() * 30 * DAY);
  const pick = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)]!;
  for (let n = 0; n < 40; n += 1) {
    const created = at();
    await pool.query('INSERT INTO prospects (user_id, status, created_at, updated_at) VALUES ($1, $2, $3, $4)', [
      userId,
      pick(['new', 'contacted', 'qualified', 'closed_won', 'closed_lost']),
      created,
      new Date(created.getTime() + next() * 5 * DAY),
    ]);
    await pool.query('INSERT INTO transactions (user_id, amount, type, category, description, date) VALUES ($1, $2, $3, $4, $5, $6)', [
      userId,
      (next() * 900 + 1).toFixed(2),
      pick(['income', 'expense']),
      pick(['sales', 'rent', 'software']),
      'test row',
      at(),
    ]);
    await pool.query('INSERT INTO time_entries (user_id, hours, billable, project_name, description, date) VALUES ($1, $2, $3, $4, $5, $6)', [
      userId,
      (next() * 8 + 0.25).toFixed(2),
      next() < 0.7,
      pick(['alpha', 'beta']),
      'work',
      at(),
    ]);
    await pool.query('INSERT INTO reviews (user_id, source, rating, review_text, reviewed_at) VALUES ($1, $2, $3, $4, $5)', [userId, pick(['google', 'yelp']), (1 + Math.floor(next() * 9) / 2).toFixed(1), 'ok', at()]);
    await pool.query('INSERT INTO testimonials (user_id, client_name, testimonial_text, rating, public, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [userId, 'client', 'great', 1 + Math.floor(next() * 5), next() < 0.5, at()]);
  }
}

async function fillCommunications(pool: pg.Pool, next: () => number, rows: number): Promise<void> {
  const at = () => new Date(FROM - 5 * DAY + next() * 30 * DAY);
  const pick = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)]!;
  await pool.query("INSERT INTO agents (id, name, status, current_workload) VALUES ('a1', 'Ana', 'online', 2), ('a2', 'Ben', 'away', 0)");
  for (let n = 0; n < rows; n += 1) {
    const created = at();
    await pool.query('INSERT INTO message_events (id, direction, agent_id, contact_id, conversation_id, status, created_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)', [
      `m${n}`,
      pick(['inbound', 'outbound']),
      pick(['a1', 'a2']),
      `c${n}`,
      `v${n}`,
      pick(['delivered', 'failed', 'received']),
      created,
    ]);
    await pool.query('INSERT INTO call_events (id, direction, agent_id, contact_id, call_status, duration, queue_time, start_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
      `k${n}`,
      pick(['inbound', 'outbound']),
      pick(['a1', 'a2']),
      `c${n}`,
      pick(['completed', 'missed', 'no-answer']),
      Math.floor(next() * 600),
      Math.floor(next() * 90),
      created,
    ]);
    const closed = next() < 0.6;
    await pool.query(
      'INSERT INTO conversations (id, contact_id, agent_id, status, lead_source, market, product, first_response_time, resolution_time, created_at, closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
      [`v${n}`, `c${n}`, pick(['a1', 'a2']), closed ? 'done' : 'open', pick(['Google Ads', 'Referrals']), pick(['de', 'us']), 'pro', Math.floor(next() * 3600), closed ? Math.floor(next() * 86_400) : null, created, closed ? new Date(created.getTime() + DAY) : null],
    );
    await pool.query('INSERT INTO contacts (id, lead_source, market, state, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [`c${n}`, pick(['Google Ads', 'Referrals']), pick(['de', 'us']), 'CA', 'active', created]);
  }
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, DATABASE_URL: server.database.url, CATALOG_FILE: PRESET, LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

before(async () => {
  business = await createWithDdl('vpa_core', BUSINESS_MODULES_DDL);
  comms.acme = await createWithDdl('comms_acme', COMMUNICATIONS_DDL);
  comms.globex = await createWithDdl('comms_globex', COMMUNICATIONS_DDL);
  businessPool = new pg.Pool({ connectionString: business.url, max: 2 });
  commsPools.acme = new pg.Pool({ connectionString: comms.acme.url, max: 2 });
  commsPools.globex = new pg.Pool({ connectionString: comms.globex.url, max: 2 });
  const next = seededRandom(SEED);
  await fillBusiness(businessPool, ACME_USER, next);
  await fillBusiness(businessPool, GLOBEX_USER, next);
  await fillBusiness(businessPool, STRANGER_USER, next);
  await fillCommunications(commsPools.acme, next, 30);
  await fillCommunications(commsPools.globex, next, 12);
  process.env.VPA_CORE_DATABASE_URL = business.url;
  process.env.MH_TEST_ACME_COMMS_URL = comms.acme.url;
  process.env.MH_TEST_GLOBEX_COMMS_URL = comms.globex.url;
  server = await startTestServer('module_databases', { CATALOG_FILE: PRESET });
  keys = { acme: await server.keyFor('acme'), globex: await server.keyFor('globex'), unmapped: await server.keyFor('unmapped') };
  const pool = server.running.context.pool;
  await setModuleUserId(pool, 'acme', ACME_USER);
  await setModuleUserId(pool, 'globex', GLOBEX_USER);
  await setSourceConnection(pool, 'acme', 'communications', { connection: 'env:MH_TEST_ACME_COMMS_URL' });
  await setSourceConnection(pool, 'globex', 'communications', { connection: 'env:MH_TEST_GLOBEX_COMMS_URL' });
});

after(async () => {
  await server?.stop();
  await businessPool?.end();
  for (const pool of Object.values(commsPools)) await pool?.end();
  for (const database of [business, comms.acme, comms.globex]) await database?.drop();
});

/** The modules' own queries, over [FROM, TO) for one tenant (business) or one business database (communications). */
const ORACLE: Record<string, { database: 'business' | 'comms'; sql: string }> = {
  deals_won: { database: 'business', sql: "SELECT count(*) FROM prospects WHERE user_id = $1 AND status = 'closed_won' AND updated_at >= $2 AND updated_at < $3" },
  deals_lost: { database: 'business', sql: "SELECT count(*) FROM prospects WHERE user_id = $1 AND status = 'closed_lost' AND updated_at >= $2 AND updated_at < $3" },
  new_prospects: { database: 'business', sql: 'SELECT count(*) FROM prospects WHERE user_id = $1 AND created_at >= $2 AND created_at < $3' },
  revenue: { database: 'business', sql: "SELECT SUM(CASE WHEN type = 'income' THEN amount ELSE 0 END) FROM transactions WHERE user_id = $1 AND date >= $2 AND date < $3" },
  expenses: { database: 'business', sql: "SELECT SUM(CASE WHEN type = 'expense' THEN amount ELSE 0 END) FROM transactions WHERE user_id = $1 AND date >= $2 AND date < $3" },
  profit: { database: 'business', sql: "SELECT SUM(CASE WHEN type = 'income' THEN amount ELSE -amount END) FROM transactions WHERE user_id = $1 AND date >= $2 AND date < $3" },
  billable_hours: { database: 'business', sql: 'SELECT SUM(hours) FILTER (WHERE billable) FROM time_entries WHERE user_id = $1 AND date >= $2 AND date < $3' },
  non_billable_hours: { database: 'business', sql: 'SELECT SUM(hours) FILTER (WHERE NOT billable) FROM time_entries WHERE user_id = $1 AND date >= $2 AND date < $3' },
  review_count: { database: 'business', sql: 'SELECT count(*) FROM reviews WHERE user_id = $1 AND reviewed_at >= $2 AND reviewed_at < $3' },
  average_rating: { database: 'business', sql: 'SELECT AVG(rating) FROM reviews WHERE user_id = $1 AND reviewed_at >= $2 AND reviewed_at < $3' },
  testimonial_count: { database: 'business', sql: 'SELECT count(*) FROM testimonials WHERE user_id = $1 AND created_at >= $2 AND created_at < $3' },
  inbound_messages: { database: 'comms', sql: "SELECT count(*) FROM message_events WHERE direction = 'inbound' AND created_at >= $1 AND created_at < $2" },
  outbound_messages: { database: 'comms', sql: "SELECT count(*) FROM message_events WHERE direction = 'outbound' AND sent_at >= $1 AND sent_at < $2" },
  module_calls: { database: 'comms', sql: 'SELECT count(*) FROM call_events WHERE start_time >= $1 AND start_time < $2' },
  missed_calls: { database: 'comms', sql: "SELECT count(*) FROM call_events WHERE call_status IN ('missed', 'no-answer') AND start_time >= $1 AND start_time < $2" },
  first_response_time_s: { database: 'comms', sql: 'SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY first_response_time) FROM conversations WHERE created_at >= $1 AND created_at < $2' },
  agent_conversations_resolved: { database: 'comms', sql: "SELECT count(*) FROM conversations WHERE status = 'done' AND closed_at >= $1 AND closed_at < $2" },
  new_leads: { database: 'comms', sql: 'SELECT count(*) FROM contacts WHERE created_at >= $1 AND created_at < $2' },
};

async function oracle(metric: string, organization: 'acme' | 'globex'): Promise<number> {
  const { database, sql } = ORACLE[metric]!;
  const result =
    database === 'business'
      ? await businessPool.query(sql, [organization === 'acme' ? ACME_USER : GLOBEX_USER, new Date(FROM), new Date(TO)])
      : await commsPools[organization]!.query(sql, [new Date(FROM), new Date(TO)]);
  return Number(Object.values(result.rows[0] as Record<string, unknown>)[0] ?? 0);
}

interface Result {
  status: number;
  error?: string;
  frames: Array<{ schema: { fields: Array<{ name: string }> }; data: { values: unknown[][] } }>;
}

async function kpis(key: string, metrics: string[], extra: Record<string, unknown> = {}): Promise<Record<string, Result>> {
  const response = await server.request('/api/v1/query', {
    method: 'POST',
    key,
    json: { from: new Date(FROM).toISOString(), to: new Date(TO).toISOString(), queries: metrics.map((metric) => ({ refId: metric, metric, format: 'kpi', ...extra })) },
  });
  assert.equal(response.status, 200);
  return ((await response.json()) as { results: Record<string, Result> }).results;
}

const valueOf = (result: Result | undefined) => result?.frames[0]?.data.values[0]?.[0] as number | null;

describe('the vpa-core preset against the modules as they are', () => {
  test('every module metric equals the module’s own query, per organization', async () => {
    for (const organization of ['acme', 'globex'] as const) {
      const results = await kpis(keys[organization], Object.keys(ORACLE));
      for (const metric of Object.keys(ORACLE)) {
        const result = results[metric]!;
        assert.equal(result.status, 200, `${organization} ${metric}: ${result.error}`);
        const expected = await oracle(metric, organization);
        const actual = valueOf(result) ?? 0;
        assert.ok(Math.abs(actual - expected) < 1e-6 * Math.max(1, Math.abs(expected)), `${organization} ${metric}: API ${actual}, module query ${expected}`);
      }
    }
  });

  test("another user_id's rows never show: each organization sees only its tenant", async () => {
    const [acme, globex] = [await kpis(keys.acme, ['revenue', 'review_count']), await kpis(keys.globex, ['revenue', 'review_count'])];
    const all = await businessPool.query<{ revenue: string; reviews: string }>(
      `SELECT (SELECT SUM(amount) FROM transactions WHERE type = 'income' AND date >= $1 AND date < $2) AS revenue,
              (SELECT count(*) FROM reviews WHERE reviewed_at >= $1 AND reviewed_at < $2) AS reviews`,
      [new Date(FROM), new Date(TO)],
    );
    const stranger = await businessPool.query<{ revenue: string }>(
      "SELECT SUM(amount) AS revenue FROM transactions WHERE type = 'income' AND user_id = $1 AND date >= $2 AND date < $3",
      [STRANGER_USER, new Date(FROM), new Date(TO)],
    );
    assert.ok(Number(stranger.rows[0]!.revenue) > 0, 'the unmapped tenant has rows in range');
    const seen = (valueOf(acme.revenue) ?? 0) + (valueOf(globex.revenue) ?? 0);
    assert.ok(Math.abs(seen + Number(stranger.rows[0]!.revenue) - Number(all.rows[0]!.revenue)) < 1e-6 * Number(all.rows[0]!.revenue));
    assert.ok((valueOf(acme.review_count) ?? 0) < Number(all.rows[0]!.reviews));
  });

  test('a level (active prospects) answers the modules’ active count now', async () => {
    const response = await server.request('/api/v1/query', {
      method: 'POST',
      key: keys.acme,
      json: { from: new Date(NOW - DAY).toISOString(), to: new Date(TO).toISOString(), queries: [{ refId: 'A', metric: 'active_prospects', format: 'table' }] },
    });
    const result = ((await response.json()) as { results: Record<string, Result> }).results.A!;
    const expected = await businessPool.query<{ n: string }>("SELECT count(*) AS n FROM prospects WHERE user_id = $1 AND status NOT IN ('closed_won', 'closed_lost')", [ACME_USER]);
    assert.equal(result.status, 200, result.error);
    assert.equal(result.frames[0]!.data.values.at(-1)![0], Number(expected.rows[0]!.n));
  });

  test('an organization without a mapping gets a per-query error naming the missing setting, never rows', async () => {
    const results = await kpis(keys.unmapped, ['revenue', 'inbound_messages', 'orders_created']);
    assert.equal(results.revenue!.status, 400);
    assert.match(results.revenue!.error!, /no module_user_id setting/);
    assert.match(results.revenue!.error!, /--module-user-id/);
    assert.deepEqual(results.revenue!.frames, []);
    assert.equal(results.inbound_messages!.status, 400);
    assert.match(results.inbound_messages!.error!, /source 'communications' has no connection for this organization.*sources connect communications/);
    assert.equal(results.orders_created!.status, 200, 'the other sources still answer');
  });

  test('the CLI maps organizations and connects their own databases, refusing bad input', async () => {
    const created = await cli('orgs', 'create', 'acme', '--module-user-id', ACME_USER);
    assert.equal(created.code, 0, created.stderr);
    const connected = await cli('sources', 'connect', 'communications', '--org', 'acme', '--url', 'env:MH_TEST_ACME_COMMS_URL');
    assert.equal(connected.code, 0, connected.stderr);
    const shared = await cli('sources', 'connect', 'bookkeeping', '--org', 'globex', '--url', 'env:X');
    assert.equal(shared.code, 2);
    assert.match(shared.stderr, /source 'bookkeeping' reads one database for every organization/);
    // The same checks the CLI runs, without paying for more processes:
    const pool = server.running.context.pool;
    await assert.rejects(setModuleUserId(pool, 'globex', 'not-a-uuid'), /--module-user-id: must be a UUID/);
    await assert.rejects(setSourceConnection(pool, 'globex', 'communications', { connection: 'postgres://u:p@h/db' }), /--url: must be 'main' or env:NAME/);
    await assert.rejects(setModuleUserId(pool, 'nobody', ACME_USER), /organization 'nobody' does not exist/);
    const listed = await cli('orgs', 'list');
    assert.match(listed.stdout, new RegExp(`acme\\t.*module user ${ACME_USER}\\tconnections communications=env:MH_TEST_ACME_COMMS_URL`));
    assert.match(listed.stdout, /unmapped\t.*module user -\tconnections -/);
  });

  test('a preset whose SQL does not filter by the mapped tenant is refused at start with file, metric and reason', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mh-preset-'));
    const file = path.join(dir, 'leaky.yaml');
    await fs.writeFile(
      file,
      `extends: ${PRESET}\nmetrics:\n  - key: revenue\n    label: Revenue\n    source: bookkeeping\n    kind: gauge\n    query:\n      sql: "SELECT date AS time, amount AS value FROM transactions WHERE type = 'income'"\n`,
    );
    try {
      await assert.rejects(SourceRegistry.create(loadCatalog(file), server.running.context, ADAPTER_TYPES), (error: unknown) => {
        assert.ok(error instanceof CatalogError);
        assert.match(error.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:8: metrics\\[\\d+\\]\\.query\\.sql: must filter by :organization_id or :module_user_id: metric 'revenue'`));
        return true;
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
