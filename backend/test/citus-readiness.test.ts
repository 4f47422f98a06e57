/**
 * Citus readiness (issue 22, DESIGN "Scale"): the schema after every migration
 * and the backend's SQL must let the organization tables be distributed by
 * `organization_id` without changing a query. Fails when
 * - a table holding organization data has a primary key or unique constraint
 *   without organization_id;
 * - a backend statement reads or writes such a table without filtering by
 *   organization_id (Citus would fan it out to every shard instead of routing
 *   it to one).
 * Statements are read two ways with PostgreSQL's own parser: every complete
 * SQL literal in backend/src, and every statement the backend actually sends
 * while it ingests every demo event type, answers every catalog metric in
 * every format, runs its jobs and manages keys (captured at the pg client).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { listApiKeys, listOrganizations, revokeApiKey, setApiKeyScope } from '../src/auth/keys.js';
import { EVALUATE_JOB, MAINTENANCE_JOB } from '../src/anomalies/module.js';
import { runDemo } from '../src/demo/run.js';
import { FOLD_TOTALS_JOB } from '../src/jobs/fold-totals.js';
import { LEVEL_SNAPSHOT_JOB } from '../src/levels/snapshot.js';
import { listSettings } from '../src/organizations/settings.js';
import { constraintProblems, foreignKeyProblem, readForeignKeys, readSchema, sourceStatements, statementProblems, type TableShape } from './support/citus-rules.js';
import { startTestServer, type TestServer } from './support/server.js';

const SOURCE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
const SCALING_DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/scaling.md');

/**
 * The tables docs/scaling.md's deployment block hands to Citus: the names in
 * its create_reference_table and create_distributed_table calls and in the
 * ARRAY it distributes, with the line each is on.
 */
function documentedCitusTables(): { reference: Set<string>; distributed: Set<string> } {
  const text = fs.readFileSync(SCALING_DOC, 'utf8');
  const block = /```sql\n(CREATE EXTENSION citus;[\s\S]*?)```/.exec(text)?.[1];
  if (!block) throw new Error(`${SCALING_DOC}: no \`\`\`sql block starting with CREATE EXTENSION citus`);
  const names = (pattern: RegExp) => new Set([...block.matchAll(pattern)].map((match) => match[1]!));
  const array = /unnest\(ARRAY\[([\s\S]*?)\]\)/.exec(block)?.[1] ?? '';
  return {
    reference: names(/create_reference_table\('(\w+)'\)/g),
    distributed: new Set([...names(/create_distributed_table\('(\w+)'/g), ...[...array.matchAll(/'(\w+)'/g)].map((match) => match[1]!)]),
  };
}

/**
 * Reference tables: small, global, replicated to every node. Organizations and
 * API keys are looked up before the organization is known (a key's hash names
 * its organization), and the migration log belongs to no organization.
 */
const REFERENCE_TABLES = new Map([
  ['organizations', 'the tenants themselves; every distributed table references them'],
  ['api_keys', 'looked up by key hash before the organization is known'],
  ['pgmigrations', "node-pg-migrate's log of applied migrations"],
]);

/**
 * Statements that span organizations on purpose: background maintenance, which
 * Citus runs as multi-shard statements (allowed, just not router queries).
 * Each names its reason; anything else on a distributed table must be routed.
 */
const MULTI_SHARD_STATEMENTS: Array<{ match: RegExp; why: string }> = [
  { match: /^DELETE FROM ingest_keys WHERE occurred_at < \$1$/, why: 'retention (jobs/maintenance.ts): drops the idempotency keys of a dropped raw-event month for every organization at once' },
  { match: /^SELECT max\(taken_at\) AS latest FROM level_snapshots$/, why: 'levels/snapshot.ts snapshotDue: once at start, whether any organization has a snapshot of the last day' },
  { match: /^SELECT \(SELECT count\(\*\) FROM rollup_totals_hourly_pending\)/, why: 'jobs/fold-totals.ts: the platform-wide pending-rows gauge of GET /metrics' },
  { match: /^DELETE FROM rollup_totals_distinct_blocks_pending WHERE /, why: 'rollups/distinct-blocks.ts: the block fold takes a chunk of every organization\'s folded days, as the SQL folds take them all' },
  { match: /^SELECT organization_id::text AS o, event_type AS t, day AS d FROM rollup_totals_cumulative_dirty WHERE /, why: 'rollups/cumulative-sketches.ts: the rewrite takes a chunk of every organization\'s keys whose past days changed, as the SQL folds take them all' },
];

const multiShardReason = (sql: string) => MULTI_SHARD_STATEMENTS.find((allowed) => allowed.match.test(sql.replace(/\s+/g, ' ').trim()))?.why;

describe('Citus readiness: every organization table can be distributed by organization_id', () => {
  let server: TestServer;
  let schema: TableShape[];
  let distributed: Set<string>;
  const captured = new Set<string>();
  const originalQuery = pg.Client.prototype.query;

  before(async () => {
    // Every statement any pool or client of this process sends, as text.
    pg.Client.prototype.query = function capture(this: pg.Client, ...args: unknown[]) {
      const first = args[0] as string | { text?: string } | undefined;
      const text = typeof first === 'string' ? first : first?.text;
      if (text) captured.add(text);
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof pg.Client.prototype.query;
    server = await startTestServer('citus', { REDIS_URL: undefined });
    schema = await readSchema(server.running.context.pool as unknown as pg.Pool);
    distributed = new Set(schema.filter((table) => !REFERENCE_TABLES.has(table.name)).map((table) => table.name));
  });

  after(async () => {
    pg.Client.prototype.query = originalQuery;
    await server?.stop();
  });

  test('every table is either a reference table or holds organization_id', () => {
    const withoutColumn = schema.filter((table) => distributed.has(table.name) && !table.hasDistributionColumn).map((table) => table.name);
    assert.deepEqual(withoutColumn, [], 'tables without organization_id: add the column (and it to the keys), or list the table as a reference table with the reason');
    for (const name of REFERENCE_TABLES.keys()) assert.ok(schema.some((table) => table.name === name), `reference table ${name} exists`);
  });

  test('docs/scaling.md hands every table to Citus as the schema needs it', () => {
    const documented = documentedCitusTables();
    // pgmigrations stays a local table of the coordinator, where migrations run (the doc says so).
    const reference = [...REFERENCE_TABLES.keys()].filter((name) => name !== 'pgmigrations');
    assert.deepEqual([...documented.reference].sort(), reference.sort(), `${SCALING_DOC}: create_reference_table calls`);
    const missing = [...distributed].filter((name) => !documented.distributed.has(name));
    const unknown = [...documented.distributed].filter((name) => !distributed.has(name));
    assert.deepEqual(missing, [], `${SCALING_DOC}: distribute these tables too (add them to the ARRAY of create_distributed_table)`);
    assert.deepEqual(unknown, [], `${SCALING_DOC}: these are not organization tables of the schema (a view, a dropped or a reference table)`);
  });

  test('the primary key and every unique constraint of a distributed table include organization_id', () => {
    const problems = schema.filter((table) => distributed.has(table.name)).flatMap(constraintProblems);
    assert.deepEqual(problems, []);
    // The check itself: a key without the column is caught.
    assert.equal(constraintProblems({ name: 't', hasDistributionColumn: true, uniques: [{ name: 't_pkey', kind: 'primary key', columns: ['id'] }] }).length, 1);
  });

  test('foreign keys point at reference tables, or between distributed tables through organization_id', async () => {
    const keys = await readForeignKeys(server.running.context.pool as unknown as pg.Pool);
    assert.ok(keys.length > 0);
    assert.deepEqual(keys.map((key) => foreignKeyProblem(key, distributed)).filter(Boolean), []);
    const between = { name: 'fk', table: 'alert_transitions', columns: ['rule_id'], references: 'alert_states', referencedColumns: ['rule_id'] };
    assert.match(foreignKeyProblem(between, distributed) ?? '', /lacks organization_id/);
  });

  test('every SQL literal in backend/src that touches a distributed table filters by organization_id', async () => {
    const { statements, templates } = await sourceStatements(SOURCE_ROOT);
    console.log(`${statements.length} SQL literals parsed from backend/src; ${templates} templates with holes are checked as they run`);
    assert.ok(statements.length >= 40, `${statements.length} statements parsed from the source`);
    const problems: string[] = [];
    for (const statement of statements) {
      if (multiShardReason(statement.sql)) continue;
      for (const problem of await statementProblems(statement.sql, distributed)) problems.push(`${statement.file}:${statement.line}: ${problem}`);
    }
    assert.deepEqual(problems, []);
  });

  test('every statement the backend sends while it works filters a distributed table by organization_id', async () => {
    const demo = await runDemo(server.running.context, { days: 2, progress: false });
    const key = demo.organizations[0]!.apiKey;
    const request = (route: string, json?: unknown) => server.request(route, { key, ...(json !== undefined && { method: 'POST', json }) });
    const catalog = (await (await request('/api/v1/catalog')).json()) as {
      metrics: Array<{ key: string; source: string; aggregations: string[]; dimensions: string[]; listColumns?: string[] }>;
    };
    const range = { from: demo.from, to: demo.to };
    for (const metric of catalog.metrics.filter((m) => m.source === 'events')) {
      const dimension = metric.dimensions[0];
      const queries = [
        { refId: 'T', metric: metric.key, format: 'timeseries', ...(dimension && { groupBy: [dimension], filters: [{ dimension, op: 'neq', value: 'x' }] }) },
        { refId: 'K', metric: metric.key, format: 'kpi', compareToPrevious: true },
        { refId: 'A', metric: metric.key, format: 'table', aggregation: metric.aggregations.at(-1) },
        ...(metric.listColumns ? [{ refId: 'L', metric: metric.key, format: 'list' }] : []),
      ];
      const answer = await request('/api/v1/query', { ...range, intervalMs: 3_600_000, queries });
      assert.equal(answer.status, 200, `${metric.key}: ${await answer.text()}`);
    }
    for (const route of ['/api/v1/summary', '/api/v1/alerts?state=all', `/api/v1/annotations?from=${range.from}&to=${range.to}`, '/api/v1/sources', `/api/v1/export.csv?metric=orders_created&from=${range.from}&to=${range.to}`]) {
      const answer = await request(route);
      assert.ok(answer.status < 500, `${route}: ${answer.status}`);
      await answer.arrayBuffer();
    }
    assert.ok((await request('/api/v1/variables', { query: 'dimension_values', metric: 'orders_created', dimension: 'channel' })).status < 500);
    const jobs = server.running.context.jobs!;
    for (const job of [FOLD_TOTALS_JOB, EVALUATE_JOB, MAINTENANCE_JOB, LEVEL_SNAPSHOT_JOB]) await jobs.runNow(job).catch((error: Error) => assert.fail(`${job}: ${error.message}`));
    const pool = server.running.context.pool;
    const organizationId = demo.organizations[0]!.id;
    await listOrganizations(pool);
    await listSettings(pool);
    const [keyInfo] = await listApiKeys(pool, organizationId);
    await setApiKeyScope(pool, keyInfo!.id, 'read', organizationId);
    await revokeApiKey(pool, keyInfo!.id, organizationId);

    const problems: string[] = [];
    let touching = 0;
    for (const sql of captured) {
      // node-pg-migrate sends each migration file whole: schema changes, run before any distribution.
      if (sql.trimStart().startsWith('-- Up Migration')) continue;
      const found = await statementProblems(sql, distributed).catch((error: Error) => [`does not parse: ${error.message}`]);
      if ([...distributed].some((table) => new RegExp(`\\b${table}\\b`).test(sql))) touching += 1;
      if (found.length > 0 && !multiShardReason(sql)) problems.push(`${found.join('; ')}\n    ${sql.replace(/\s+/g, ' ').trim().slice(0, 300)}`);
    }
    console.log(`${captured.size} distinct statements captured, ${touching} on distributed tables`);
    assert.ok(touching >= 30, `the workload reached ${touching} statements on distributed tables`);
    assert.deepEqual(problems, []);
  });

  test('the statement check catches what Citus could not route', async () => {
    const tables = new Set(['rollups_hourly', 'events']);
    assert.deepEqual(await statementProblems('SELECT count(*) FROM rollups_hourly WHERE bucket > $1', tables), ['reads rollups_hourly without filtering by organization_id']);
    assert.deepEqual(await statementProblems('UPDATE rollups_hourly SET count = 0 WHERE organization_id IS NOT NULL', tables), ['updates rollups_hourly without filtering by organization_id']);
    assert.deepEqual(await statementProblems('INSERT INTO events (event_id) VALUES ($1)', tables), ['inserts into events without naming organization_id']);
    assert.deepEqual(await statementProblems('SELECT 1 FROM rollups_hourly r JOIN events e ON e.organization_id = r.organization_id WHERE r.organization_id = ANY($1)', tables), []);
    assert.deepEqual(await statementProblems('WITH x AS (SELECT * FROM events WHERE event_type = $1) SELECT * FROM x', tables), ['reads events without filtering by organization_id']);
  });
});
