import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CatalogError, parseCatalog, type Catalog } from '../src/catalog/load.js';
import { loadConfig } from '../src/config/env.js';
import type { AppContext } from '../src/context.js';
import { createLogger } from '../src/logger.js';
import { buildContext } from '../src/server.js';
import { ADAPTER_TYPES } from '../src/sources/adapters/index.js';
import { SourceError } from '../src/sources/errors.js';
import { translateNamedParameters } from '../src/sources/named-params.js';
import { SourceRegistry } from '../src/sources/registry.js';
import type { SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { sourceQuery } from './support/source-query.js';

const ORG_A = randomUUID();
const ORG_B = randomUUID();
const DAY = 86_400_000;
const START = Date.UTC(2026, 1, 1);

const CATALOG = `
sources:
  - id: books
    type: postgres
    connection: main
    timeoutMs: 2000
  - id: ledger
    type: postgres
    connection: env:MH_TEST_LEDGER_URL
  - id: nowhere
    type: postgres
    connection: env:MH_TEST_UNSET_VARIABLE
metrics:
  - key: sales
    label: Sales
    source: books
    kind: distribution
    aggregations: [sum, avg, min, max, count, p50, p90]
    dimensions: [region, agentId]
    query:
      sql: |
        SELECT at AS time, amount AS value, region, agent_id AS "agentId"
        FROM fixture_sales
        WHERE organization_id = :organization_id AND at >= :from AND at < :to -- ':to' in a comment is ignored
  - key: sales_days
    label: Days with sales per bucket
    source: books
    kind: gauge
    query:
      sql: |
        SELECT b AS time, (SELECT count(DISTINCT date_trunc('day', at)) FROM fixture_sales s
                           WHERE s.organization_id = :organization_id AND s.at >= b AND s.at < b + :bucket) AS value
        FROM generate_series(:from, :to - interval '1 ms', :bucket) AS b
  - key: broken
    label: Broken SQL
    source: books
    kind: counter
    query: { sql: "SELECT at AS time, 1 AS value FROM no_such_table WHERE organization_id = :organization_id" }
  - key: slow
    label: Slow SQL
    source: books
    kind: counter
    query: { sql: "SELECT now() AS time, 1 AS value FROM pg_sleep(30), fixture_sales WHERE organization_id = :organization_id" }
  - key: ledger_sales
    label: Ledger sales
    source: ledger
    kind: gauge
    query: { sql: "SELECT at AS time, amount AS value FROM fixture_sales WHERE organization_id = :organization_id" }
  - key: nowhere_sales
    label: Nowhere
    source: nowhere
    kind: gauge
    query: { sql: "SELECT now() AS time, 1 AS value FROM fixture_sales WHERE organization_id = :organization_id" }
`;

let database: TestDatabase;
let context: AppContext;
let catalog: Catalog;
let registry: SourceRegistry;

function queryOf(metric: string, overrides: Partial<SourceQuery> = {}): SourceQuery {
  return sourceQuery(catalog, metric, { organizationId: ORG_A, start: START, bucketMs: DAY }, overrides);
}

before(async () => {
  database = await createTestDatabase('sources_pg');
  const config = loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' });
  context = await buildContext(config, createLogger('silent'), database.url);
  await context.pool.query(`CREATE TABLE fixture_sales (organization_id uuid NOT NULL, at timestamptz NOT NULL, amount numeric NOT NULL, region text, agent_id text)`);
  // Org A: day 0 -> 1, 2, 3, 4, 5 (eu/us, agents a1/a2); day 1 -> 10 (eu); day 3 is outside the range.
  const rows: Array<[string, number, number, string, string]> = [
    [ORG_A, START + 1_000, 1, 'eu', 'a1'],
    [ORG_A, START + 2_000, 2, 'eu', 'a2'],
    [ORG_A, START + 3_000, 3, 'us', 'a1'],
    [ORG_A, START + 4_000, 4, 'us', 'a2'],
    [ORG_A, START + 5_000, 5, 'us', 'a1'],
    [ORG_A, START + DAY + 1, 10, 'eu', 'a1'],
    [ORG_A, START + 3 * DAY, 1000, 'eu', 'a1'],
    [ORG_B, START + 1_000, 777, 'eu', 'b1'],
  ];
  for (const [org, at, amount, region, agent] of rows) {
    await context.pool.query('INSERT INTO fixture_sales VALUES ($1, $2, $3, $4, $5)', [org, new Date(at), amount, region, agent]);
  }
  process.env.MH_TEST_LEDGER_URL = database.url;
  delete process.env.MH_TEST_UNSET_VARIABLE;
  catalog = parseCatalog(CATALOG, 'test-catalog.yaml');
  registry = await SourceRegistry.create(catalog, context, ADAPTER_TYPES);
});

after(async () => {
  await registry?.close();
  for (const hook of [...(context?.onClose ?? [])].reverse()) await hook();
  await database?.drop();
});

describe('postgres source', () => {
  test('sums per bucket within [from, to), ignoring rows outside the range', async () => {
    const [series, ...rest] = await registry.query('books', queryOf('sales'));
    assert.equal(rest.length, 0);
    assert.deepEqual(series!.labels, {});
    assert.deepEqual(series!.times, [START, START + DAY]);
    assert.deepEqual(series!.values, [15, 10]);
  });

  test('maps every aggregation, percentiles as percentile_cont', async () => {
    const day0 = async (aggregation: SourceQuery['aggregation']) =>
      (await registry.query('books', queryOf('sales', { aggregation, to: new Date(START + DAY) })))[0]!.values[0];
    assert.equal(await day0('avg'), 3);
    assert.equal(await day0('min'), 1);
    assert.equal(await day0('max'), 5);
    assert.equal(await day0('count'), 5);
    assert.equal(await day0('p50'), 3);
    assert.ok(Math.abs((await day0('p90'))! - 4.6) < 1e-9);
  });

  test('groups by catalog dimensions, including a quoted camelCase column', async () => {
    const series = await registry.query('books', queryOf('sales', { groupBy: ['region', 'agentId'], to: new Date(START + DAY) }));
    const byLabel = Object.fromEntries(series.map((entry) => [`${entry.labels.region}/${entry.labels.agentId}`, entry.values[0]]));
    assert.deepEqual(byLabel, { 'eu/a1': 1, 'eu/a2': 2, 'us/a1': 8, 'us/a2': 4 });
  });

  test('applies eq, neq, in and not_in filters with bound values', async () => {
    const total = async (filters: SourceQuery['filters']) =>
      (await registry.query('books', queryOf('sales', { filters, to: new Date(START + DAY) }))).flatMap((entry) => entry.values).reduce<number>((sum, value) => sum + (value ?? 0), 0);
    assert.equal(await total([{ dimension: 'region', op: 'eq', value: 'eu' }]), 3);
    assert.equal(await total([{ dimension: 'region', op: 'neq', value: 'eu' }]), 12);
    assert.equal(await total([{ dimension: 'agentId', op: 'in', value: ['a2', 'zz'] }]), 6);
    assert.equal(await total([{ dimension: 'agentId', op: 'not_in', value: ['a2'] }]), 9);
    assert.equal(await total([{ dimension: 'region', op: 'eq', value: "eu' OR '1'='1" }]), 0);
  });

  test('binds :bucket as an interval so SQL can build its own series', async () => {
    const [series] = await registry.query('books', queryOf('sales_days', { from: new Date(START), to: new Date(START + 4 * DAY) }));
    assert.deepEqual(series!.times, [START, START + DAY, START + 2 * DAY, START + 3 * DAY]);
    assert.deepEqual(series!.values, [1, 1, 0, 1]);
  });

  test('organization B never sees organization A rows, and the reverse', async () => {
    const b = await registry.query('books', queryOf('sales', { organizationId: ORG_B, groupBy: ['agentId'] }));
    assert.deepEqual(
      b.map((entry) => [entry.labels.agentId, entry.values]),
      [['b1', [777]]],
    );
    const a = await registry.query('books', queryOf('sales', { groupBy: ['agentId'] }));
    assert.ok(a.every((entry) => entry.labels.agentId !== 'b1'));
    assert.equal(
      (await registry.query('books', queryOf('sales', { organizationId: randomUUID() }))).length,
      0,
    );
  });

  test('a source with its own connection from env serves the same SQL', async () => {
    const [series] = await registry.query('ledger', queryOf('ledger_sales', { organizationId: ORG_B }));
    assert.deepEqual(series!.values, [777]);
  });

  test('a source whose env variable is unset is down with the reason; the others serve', () => {
    const status = Object.fromEntries(registry.status().map((entry) => [entry.id, entry]));
    assert.equal(status.nowhere!.status, 'down');
    assert.match(status.nowhere!.lastError!, /MH_TEST_UNSET_VARIABLE is not set/);
    assert.equal(status.books!.status, 'up');
    assert.equal(status.ledger!.status, 'up');
  });

  test('bad catalog SQL is a bad query naming the metric', async () => {
    await assert.rejects(registry.query('books', queryOf('broken')), (error: unknown) => {
      assert.ok(error instanceof SourceError);
      assert.equal(error.status, 400);
      assert.match(error.message, /metric 'broken'.*no_such_table/);
      return true;
    });
  });

  test('a query past the timeout fails with 504 and its statement is cancelled in PostgreSQL', async () => {
    await assert.rejects(registry.query('books', queryOf('slow')), (error: unknown) => error instanceof SourceError && error.status === 504);
    let sleeping = 1;
    // PostgreSQL cancels at once, but the shared server of a loaded machine may show it late: poll up to 30 s.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && sleeping > 0; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const result = await context.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND state = 'active' AND pid <> pg_backend_pid()");
      sleeping = result.rows[0]!.n;
    }
    assert.equal(sleeping, 0);
  });

  test('health check reaches the database', async () => {
    const status = Object.fromEntries((await registry.checkHealth()).map((entry) => [entry.id, entry]));
    assert.equal(status.books!.status, 'up');
    assert.equal(status.ledger!.lastError, null);
  });
});

describe('postgres catalog validation', () => {
  const catalogWith = (sql: string, connection = 'main') => `
sources:
  - { id: books, type: postgres, connection: ${connection} }
metrics:
  - key: m
    label: M
    source: books
    kind: counter
    query: { sql: ${JSON.stringify(sql)} }
`;
  const problems = async (text: string) => {
    try {
      const created = await SourceRegistry.create(parseCatalog(text, 'bad.yaml'), context, ADAPTER_TYPES);
      await created.close();
      return 'no error';
    } catch (error) {
      assert.ok(error instanceof CatalogError);
      assert.equal(error.file, 'bad.yaml');
      return error.problems.map((problem) => `${problem.path}: ${problem.message}`).join('\n');
    }
  };

  test('SQL that does not filter by :organization_id is refused at start', async () => {
    assert.match(await problems(catalogWith('SELECT at AS time, 1 AS value FROM fixture_sales')), /metrics\[0\]\.query\.sql: must filter by :organization_id/);
  });

  test('naming the tenant without comparing a column with it is refused, naming the metric', async () => {
    const answer = await problems(catalogWith('SELECT at AS time, 1 AS value, :organization_id AS tenant FROM fixture_sales'));
    assert.match(answer, /metrics\[0\]\.query\.sql: must filter by :organization_id or :module_user_id: metric 'm'/);
    assert.equal(await problems(catalogWith('SELECT at AS time, 1 AS value FROM fixture_sales WHERE :organization_id = organization_id')), 'no error');
  });

  test('an unknown named parameter is refused with the list of available ones', async () => {
    assert.match(await problems(catalogWith('SELECT now() AS time, 1 AS value WHERE :organization_id IS NOT NULL AND :user = 1')), /unknown parameter\(s\) :user; available: :organization_id, :module_user_id, :from/);
  });

  test('a literal connection string (a secret in the catalog) is refused', async () => {
    assert.match(await problems(catalogWith('SELECT 1 WHERE :organization_id IS NULL', 'postgres://u:p@h/db')), /sources\[0\]\.connection: must be 'main'.*env:NAME/);
  });
});

describe('named parameters', () => {
  test('are numbered once per name and skip literals, quoted identifiers, comments, casts and dollar quotes', () => {
    const sql = `SELECT ':from' AS a, ":to" AS b, x::int, $$ :bucket $$ /* :nope */ FROM t WHERE o = :organization_id AND t >= :from AND t < :to AND o2 = :organization_id -- :x\n`;
    const { text, names } = translateNamedParameters(sql);
    assert.deepEqual(names, ['organization_id', 'from', 'to']);
    assert.equal(text, `SELECT ':from' AS a, ":to" AS b, x::int, $$ :bucket $$ /* :nope */ FROM t WHERE o = $1 AND t >= $2 AND t < $3 AND o2 = $1 -- :x\n`);
  });

  test('handle doubled quotes inside literals', () => {
    assert.deepEqual(translateNamedParameters(`SELECT 'it''s :from' , :to`).names, ['to']);
  });
});
