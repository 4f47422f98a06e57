import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createBusinessTables, DEMO_SCHEMA } from '../src/demo/schema.js';
import { LEVEL_SNAPSHOT_JOB } from '../src/levels/snapshot.js';
import { setModuleUserId } from '../src/organizations/settings.js';
import { clearOfBoundary } from './support/clock.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Levels over time: active prospects is the state now; its history, KPI
 * previous period and trend come from the daily snapshots. Until one exists,
 * the KPI is the current value and says so.
 */

const DAY = 86_400_000;
const ACME_USER = randomUUID();

let server: TestServer;
let acme: string;
let unmapped: string;
/** The logical time of the first snapshot (a day ago). */
let tick: Date;

interface Result {
  status: number;
  error?: string;
  frames: Array<{ schema: { fields: Array<{ name: string; labels?: Record<string, string> }>; meta: { notices?: Array<{ severity: string; text: string }> } }; data: { values: unknown[][] } }>;
}

async function query(key: string, from: number, to: number, queries: Array<Record<string, unknown>>, request: Record<string, unknown> = {}): Promise<Record<string, Result>> {
  const response = await server.request('/api/v1/query', { method: 'POST', key, json: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), queries, ...request } });
  assert.equal(response.status, 200);
  return ((await response.json()) as { results: Record<string, Result> }).results;
}

async function addProspects(statuses: string[]): Promise<void> {
  for (const status of statuses) {
    await server.running.context.pool.query(`INSERT INTO ${DEMO_SCHEMA}.prospects (user_id, status, created_at, updated_at) VALUES ($1, $2, now() - interval '10 days', now())`, [ACME_USER, status]);
  }
}

const kpiOf = (result: Result) => {
  const [value, previous, deltaPercent, trend] = result.frames[0]!.data.values.map((column) => column[0]);
  return { value, previous, deltaPercent, trend, notices: result.frames[0]!.schema.meta.notices };
};

before(async () => {
  // Daily buckets of "now" and "yesterday": a run across UTC midnight would add a day mid-file.
  await clearOfBoundary(DAY, 3 * 60_000);
  server = await startTestServer('levels');
  acme = await server.keyFor('acme');
  unmapped = await server.keyFor('unmapped');
  await createBusinessTables(server.running.context.pool);
  await setModuleUserId(server.running.context.pool, 'acme', ACME_USER);
  await addProspects(['new', 'qualified', 'qualified', 'closed_won', 'closed_lost']);
});

after(async () => {
  await server?.stop();
});

describe('level metrics', () => {
  test('before any snapshot the KPI is the current value and says it is not a change', async () => {
    const now = Date.now();
    const { A } = await query(acme, now - 7 * DAY, now, [{ refId: 'A', metric: 'active_prospects', format: 'kpi' }]);
    assert.equal(A!.status, 200, A!.error);
    const kpi = kpiOf(A!);
    assert.equal(kpi.value, 3);
    assert.equal(kpi.previous, null);
    assert.equal(kpi.deltaPercent, null);
    assert.equal(kpi.trend, 'flat');
    assert.match(kpi.notices?.[0]?.text ?? '', /current value: no snapshot of 'active_prospects'/);
  });

  test('a snapshot gives the KPI a real previous period and trend, and the time series its history', async () => {
    const yesterday = Date.now() - DAY;
    tick = new Date(yesterday);
    await server.running.context.jobs!.runNow(LEVEL_SNAPSHOT_JOB, tick);
    await addProspects(['proposal', 'new']);
    const now = Date.now();
    const results = await query(acme, yesterday + 60_000, now + 60_000, [
      { refId: 'K', metric: 'active_prospects', format: 'kpi' },
      { refId: 'Q', metric: 'active_prospects', format: 'kpi', filters: [{ dimension: 'status', op: 'eq', value: 'qualified' }] },
    ]);
    const kpi = kpiOf(results.K!);
    assert.equal(kpi.value, 5);
    assert.equal(kpi.previous, 3);
    assert.ok(Math.abs((kpi.deltaPercent as number) - 200 / 3) < 1e-9);
    assert.equal(kpi.trend, 'up');
    assert.equal(kpi.notices, undefined);
    assert.deepEqual([kpiOf(results.Q!).value, kpiOf(results.Q!).previous], [2, 2]);

    const daily = await query(acme, now - 3 * DAY, now + 60_000, [{ refId: 'T', metric: 'active_prospects', format: 'timeseries', groupBy: ['status'] }], { intervalMs: DAY });
    const frames = daily.T!.frames;
    const byStatus = Object.fromEntries(frames.map((frame) => [frame.schema.fields[1]!.labels!.status, frame.data.values[1] as Array<number | null>]));
    const times = frames[0]!.data.values[0] as number[];
    const yesterdayIndex = times.findIndex((time) => time <= yesterday && yesterday < time + DAY);
    assert.equal(byStatus.qualified![yesterdayIndex], 2, 'the snapshot bucket');
    assert.equal(byStatus.proposal![yesterdayIndex], null, 'no proposal prospect yesterday');
    assert.equal(byStatus.proposal!.at(-1), 1, 'the bucket holding now is live');
    assert.equal(byStatus.qualified![0], null, 'before the first snapshot nothing is known');
  });

  test('a range in the past reads both ends from snapshots; a retried tick records nothing twice', async () => {
    const before = await server.running.context.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM level_snapshots');
    await server.running.context.jobs!.runNow(LEVEL_SNAPSHOT_JOB, tick);
    const afterRetry = await server.running.context.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM level_snapshots');
    assert.equal(afterRetry.rows[0]!.n, before.rows[0]!.n);
    const { P } = await query(acme, tick.getTime() - DAY + 60_000, tick.getTime() + 60_000, [{ refId: 'P', metric: 'active_prospects', format: 'kpi' }]);
    const kpi = kpiOf(P!);
    assert.equal(kpi.value, 3, 'the level at the end of the range is the snapshot taken then');
    assert.equal(kpi.previous, null, 'no snapshot a day earlier');
  });

  test('an organization without a mapping is skipped by the snapshot and gets the per-query error', async () => {
    const rows = await server.running.context.pool.query<{ name: string }>(
      'SELECT o.name FROM level_snapshots s JOIN organizations o ON o.id = s.organization_id GROUP BY o.name',
    );
    assert.deepEqual(rows.rows.map((row) => row.name), ['acme']);
    const now = Date.now();
    const { A } = await query(unmapped, now - DAY, now, [{ refId: 'A', metric: 'active_prospects', format: 'kpi' }]);
    assert.equal(A!.status, 400);
    assert.match(A!.error!, /no module_user_id setting/);
  });
});
