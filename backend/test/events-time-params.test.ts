import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { timeParam } from '../src/sources/adapters/events-time-params.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.TIME_PARAMS_SEED ?? randomInt(2 ** 31));
console.log(`time parameter tests: seed ${SEED} (replay with TIME_PARAMS_SEED=${SEED})`);

let database: TestDatabase;
let client: pg.Client;
before(async () => {
  database = await createTestDatabase('time_params');
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
});
after(async () => {
  await client?.end();
  await database?.drop();
});

test(`property: PostgreSQL reads a time bound's ISO text as the instant node-pg sent for its Date (seed ${SEED})`, async () => {
  const random = seededRandom(SEED);
  const edges = [Date.parse('0001-01-01T00:00:00.000Z'), Date.parse('9999-12-31T23:59:59.999Z'), Date.parse('0000-12-31T23:59:59.999Z'), Date.parse('+010000-01-01T00:00:00.000Z'), 0, -1];
  // Any millisecond of 1900-2200, whole hours and days as the rollups use, and the edges of the ISO range.
  const instants = [
    ...edges,
    ...Array.from({ length: 200 }, () => Math.floor(-2.2e12 + random() * 9.5e12)),
    ...Array.from({ length: 100 }, () => Math.floor((random() * 9.5e12 - 2.2e12) / 3_600_000) * 3_600_000),
  ];
  const { rows } = await client.query<{ same: boolean; text: string }>(
    'SELECT a = b AS same, a::text AS text FROM unnest($1::timestamptz[], $2::timestamptz[]) AS t (a, b)',
    [instants.map(timeParam), instants.map((ms) => new Date(ms))],
  );
  rows.forEach((row, index) => assert.ok(row.same, `${new Date(instants[index]!).toISOString()} read as ${row.text}`));
  // A single parameter too, as the statements bind most bounds.
  for (const ms of edges) {
    const { rows: one } = await client.query<{ same: boolean }>('SELECT $1::timestamptz = $2::timestamptz AS same', [timeParam(ms), new Date(ms)]);
    assert.ok(one[0]!.same, new Date(ms).toISOString());
  }
});

test('years outside 1-9999 stay Dates (ISO text would carry a sign or year 0); inside, ISO text in UTC', () => {
  assert.ok(timeParam(Date.parse('0000-12-31T23:59:59.999Z')) instanceof Date);
  assert.ok(timeParam(Date.parse('+010000-01-01T00:00:00.000Z')) instanceof Date);
  assert.equal(timeParam(Date.parse('0001-01-01T00:00:00.000Z')), '0001-01-01T00:00:00.000Z');
  assert.equal(timeParam(Date.UTC(2026, 10, 30, 10)), '2026-11-30T10:00:00.000Z');
});
