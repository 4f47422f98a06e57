import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createOrganization } from '../src/auth/keys.js';
import { loadCatalog } from '../src/catalog/load.js';
import type { CatalogMetric } from '../src/catalog/schema.js';
import { migrateUp } from '../src/db/migrate.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { ingestEvents } from '../src/ingest/ingest.js';
import { createLogger } from '../src/logger.js';
import { WHOLE_RANGE_MS } from '../src/query/buckets.js';
import { refreshCumulativeSketches } from '../src/rollups/cumulative-sketches.js';
import { binKey, SketchAccumulator, type SketchBins } from '../src/rollups/sketch.js';
import { EventsAdapter } from '../src/sources/adapters/events.js';
import type { Series, SourceQuery } from '../src/sources/types.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { seededRandom } from './support/seeded-random.js';

const SEED = Number(process.env.CUMULATIVE_SEED ?? randomInt(2 ** 31));
console.log(`cumulative sketches tests: seed ${SEED} (replay with CUMULATIVE_SEED=${SEED})`);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2025, 0, 1);
const DAYS = 30;
/** The job's "today" (it takes the database's clock unless told): every generated day is before it. */
const TODAY = T0 + DAYS * DAY;
/** Ingestion's clock: the day after TODAY, so that events of TODAY are not in the future. */
const NOW = TODAY + DAY + HOUR;
/** Values no generated event comes near (they lie within about ±1,100, and none is 0): their bins are only CANCEL_DAY's. */
const RARE = [123_456.7, -98_765.4, 0];
const CANCEL_DAY = T0 + 2 * DAY;

const catalog = loadCatalog();
/** A percentile over two types: each type's whole days are checked (and fall back) on their own. */
const twoTypes: CatalogMetric = { ...catalog.metric('order_value')!, key: 'order_and_response_values', query: { eventTypes: ['order.created', 'bot.response'], measure: 'value' } };
const metrics = [catalog.metric('bot_response_time_ms')!, catalog.metric('order_value')!, twoTypes];
const signal = new AbortController().signal;
let database: TestDatabase;
let pool: Pool;
let organization: string;
let adapter: EventsAdapter;

/** Bot responses and orders (some orders negative, a tenth of events without a value), in `days` or in any generated day. */
function events(random: () => number, count: number, prefix: string, days?: number[], types = ['order.created', 'bot.response']): unknown[] {
  return Array.from({ length: count }, (_, index) => {
    const day = days ? days[Math.floor(random() * days.length)]! : T0 + Math.floor(random() * DAYS) * DAY;
    const type = types[Math.floor(random() * types.length)]!;
    const roll = random();
    const magnitude = Math.round(Math.exp(2 + 5 * random()) * 100) / 100;
    const value = roll < 0.1 ? undefined : type === 'order.created' && roll < 0.25 ? -1 - Math.round(random() * 50) : magnitude;
    return {
      id: `${prefix}${index}`,
      type,
      occurredAt: new Date(day + Math.floor(random() * DAY)).toISOString(),
      ...(value === undefined ? {} : { value }),
      attributes: type === 'order.created' ? { channel: random() < 0.5 ? 'web' : 'app' } : { botId: 'faq', success: random() < 0.9 },
    };
  });
}

async function ingest(list: unknown[]): Promise<void> {
  for (let start = 0; start < list.length; start += 500) {
    const chunk = list.slice(start, start + 500);
    const result = await ingestEvents(pool, organization, chunk, { now: () => NOW });
    assert.equal(result.accepted, chunk.length, JSON.stringify(result.rejected.slice(0, 3)));
  }
}

const fold = () => pool.query('SELECT fold_rollup_totals()');
const refresh = (today = TODAY) => refreshCumulativeSketches(pool, { today: new Date(today) });

before(async () => {
  database = await createTestDatabase('cumulative_sketches');
  await migrateUp(database.url, createLogger('silent'));
  pool = createPool(database.url, 2, createLogger('silent'));
  organization = (await createOrganization(pool, 'cumulative sketches')).id;
  adapter = new EventsAdapter('events', pool);
  await ingest(events(seededRandom(SEED), 4_000, 'e'));
  // Bins of CANCEL_DAY alone, in every store (positive, negative, zero): any range after it subtracts them to 0.
  await ingest(RARE.map((value, index) => ({ id: `rare${index}`, type: 'order.created', occurredAt: new Date(CANCEL_DAY + HOUR).toISOString(), value, attributes: { channel: 'web' } })));
  await fold();
});

after(async () => {
  await pool?.end();
  await database?.drop();
});

/** Percentiles without group-by or filters: mostly one bucket (prefixes read), some daily or hourly series (not); half in a batch. */
function questions(seed: number): SourceQuery[] {
  const random = seededRandom(seed);
  const batch = {};
  return Array.from({ length: 90 }, () => {
    const wholeDays = random() < 0.3;
    const span = DAYS + 2;
    const from = wholeDays ? T0 + Math.floor(random() * span) * DAY : T0 - 5 * HOUR + Math.floor(random() * span * DAY);
    const to = from + 1 + Math.floor(random() * (T0 + span * DAY - from));
    const roll = random();
    const bucketMs = roll < 0.75 ? WHOLE_RANGE_MS : roll < 0.9 ? DAY : 6 * HOUR;
    const aggregation = (['p50', 'p95', 'p99'] as const)[Math.floor(random() * 3)]!;
    const metric = metrics[Math.floor(random() * metrics.length)]!;
    return { organizationId: organization, metric, aggregation, groupBy: [], filters: [], from: new Date(from), to: new Date(to), bucketMs, ...(random() < 0.5 ? { batch } : {}) };
  });
}

async function answers(list: SourceQuery[]): Promise<Series[][]> {
  // A batch's questions are asked in one turn, as a request's panels are.
  return Promise.all(list.map((query) => adapter.query(query, signal)));
}

/**
 * The answers with the cumulative rows as they are, and with none (set aside and put back: every type then reads
 * its daily rows, as before migration 0200): bit-identical.
 */
async function assertSameWithoutPrefixes(seed: number, what: string): Promise<void> {
  const list = questions(seed);
  const withPrefixes = await answers(list);
  await pool.query('CREATE TABLE IF NOT EXISTS cumulative_aside AS SELECT organization_id, event_type, bucket, count, sketch FROM rollup_totals_cumulative WITH NO DATA');
  await pool.query('WITH moved AS (DELETE FROM rollup_totals_cumulative RETURNING *) INSERT INTO cumulative_aside SELECT organization_id, event_type, bucket, count, sketch FROM moved');
  const without = await answers(list);
  await pool.query('WITH moved AS (DELETE FROM cumulative_aside RETURNING *) INSERT INTO rollup_totals_cumulative (organization_id, event_type, bucket, count, sketch) SELECT * FROM moved');
  list.forEach((query, index) =>
    assert.deepStrictEqual(withPrefixes[index], without[index], `${what}: ${JSON.stringify({ metric: query.metric.key, from: query.from, to: query.to, bucketMs: query.bucketMs, aggregation: query.aggregation })}`),
  );
  assert.ok(withPrefixes.filter((series) => series.some((one) => one.values.some((value) => value !== null))).length > 60, `${what}: most questions have an answer`);
}

/** What rollup_totals_prefix_rows() returns for the whole days [from, to) of one type (from after its first day): prefix rows (with `minus`) and daily rows. */
async function daysRead(type: string, from: number, to: number): Promise<{ prefixes: number; days: number }> {
  const { rows } = await pool.query<{ prefixes: number; days: number }>(
    'SELECT count(*) FILTER (WHERE minus IS NOT NULL)::int AS prefixes, count(*) FILTER (WHERE minus IS NULL)::int AS days FROM rollup_totals_prefix_rows($1, $2, $3, $4, NULL, NULL, NULL, NULL)',
    [organization, [type], new Date(from), new Date(to)],
  );
  return rows[0]!;
}

/** Bins of jsonb sketch texts summed per key, without bins at 0. */
function mergeInNode(sketches: Array<string | null>): Map<string, number> {
  const bins = new Map<string, number>();
  for (const text of sketches) if (text) for (const [key, count] of Object.entries(JSON.parse(text) as SketchBins)) bins.set(key, (bins.get(key) ?? 0) + count);
  return new Map([...bins].filter(([, count]) => count !== 0).sort(([a], [b]) => a.localeCompare(b)));
}

/** Every cumulative row is the sum (count and bins) of its key's daily rows up to its day, and every daily row before `today` has one. */
async function assertPrefixesAreSums(what: string, today = TODAY): Promise<number> {
  const { rows } = await pool.query<{ event_type: string; bucket: Date; count: number; sketch: string | null; cumulative_count: number | null; cumulative: string | null }>(
    `SELECT d.event_type, d.bucket, d.count, d.sketch_text AS sketch, c.count AS cumulative_count, c.sketch_text AS cumulative
     FROM rollup_totals_daily d LEFT JOIN rollup_totals_cumulative c USING (organization_id, event_type, bucket)
     WHERE d.organization_id = $1 AND d.bucket < $2 ORDER BY d.event_type, d.bucket`,
    [organization, new Date(today)],
  );
  const { rows: extra } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM rollup_totals_cumulative c WHERE NOT EXISTS (SELECT 1 FROM rollup_totals_daily d WHERE d.organization_id = c.organization_id AND d.event_type = c.event_type AND d.bucket = c.bucket)',
  );
  assert.equal(extra[0]!.n, 0, `${what}: no cumulative row without its daily row`);
  let type = '';
  let count = 0;
  let sketches: Array<string | null> = [];
  for (const row of rows) {
    if (row.event_type !== type) [type, count, sketches] = [row.event_type, 0, []];
    count += row.count;
    sketches.push(row.sketch);
    const at = `${what}: ${type} ${row.bucket.toISOString()}`;
    assert.equal(row.cumulative_count, count, `${at}: count`);
    assert.deepStrictEqual(mergeInNode([row.cumulative]), mergeInNode(sketches), `${at}: bins`);
  }
  return rows.length;
}

test('subtracting a sketch from merged sketches leaves the other sketches\' bins, without bins at 0, in every store', () => {
  const random = seededRandom(SEED + 100);
  for (let round = 0; round < 200; round += 1) {
    const values = (n: number) => Array.from({ length: n }, () => (random() < 0.1 ? 0 : (random() < 0.3 ? -1 : 1) * Math.exp(-3 + 12 * random())));
    const kept = values(1 + Math.floor(random() * 50));
    const taken = values(Math.floor(random() * 50));
    const text = (list: number[]) => {
      const bins: SketchBins = {};
      for (const value of list) bins[binKey(value)] = (bins[binKey(value)] ?? 0) + 1;
      // jsonb's spacing, so that the scanner (not JSON.parse) reads it; one in ten compact, for the parse fallback.
      return random() < 0.1 ? JSON.stringify(bins) : JSON.stringify(bins).replaceAll(':', ': ').replaceAll(',', ', ');
    };
    const [keptText, takenText] = [text(kept), text(taken)];
    const merged = new SketchAccumulator();
    merged.addJsonAt(keptText, 0);
    merged.addJsonAt(takenText, 0);
    assert.equal(merged.subtractJsonAt(`x${takenText}`, 1), takenText.length + 1);
    const only = new SketchAccumulator();
    only.addJsonAt(keptText, 0);
    assert.deepStrictEqual(merged.toBins(), only.toBins(), `round ${round}`);
    for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1]) assert.equal(merged.quantile(q), only.quantile(q), `round ${round}, q ${q}`);
  }
  const one = new SketchAccumulator();
  one.addJsonAt('{"3": 2, "z": 1}', 0);
  assert.throws(() => one.subtractJsonAt('{"3": 3}', 0), /cannot subtract sketch bin 3 = 3/);
  assert.throws(() => one.subtractJsonAt('{"4": 1}', 0), /cannot subtract sketch bin 4 = 1/);
  assert.throws(() => one.subtractJsonAt('{"z": 2}', 0), /cannot subtract sketch bin z = 2/);
  assert.throws(() => one.subtractJsonAt('{"n3": 1}', 0), /cannot subtract sketch bin n3 = 1/);
});

test(`percentiles read from cumulative sketches are bit-identical to merging the daily sketches, through late events, a day rollover, deletions and a rebuild (seed ${SEED})`, async () => {
  assert.equal((await refresh()) > 0, true, 'the first run builds the cumulative rows of the data already stored');
  assert.equal(await refresh(), 0, 'a second run has nothing to rewrite');
  assert.ok((await assertPrefixesAreSums('built')) >= 2 * DAYS);
  const inside: [number, number] = [T0 + 5 * DAY, T0 + 20 * DAY];
  assert.deepEqual(await daysRead('bot.response', ...inside), { prefixes: 1, days: 0 }, 'whole days read as two cumulative sketches');
  await assertSameWithoutPrefixes(SEED + 1, 'built');

  // Bins that cancel: CANCEL_DAY's rare values are in both cumulative sketches of any later range and in none of its days.
  const later: [number, number] = [CANCEL_DAY + 3 * DAY, CANCEL_DAY + 12 * DAY];
  const { rows: ends } = await pool.query<{ minus: string; sketch: string }>("SELECT sketch, minus FROM rollup_totals_prefix_rows($1, '{order.created}', $2, $3, NULL, NULL, NULL, NULL)", [
    organization,
    ...later.map((at) => new Date(at)),
  ]);
  assert.equal(ends.length, 1);
  for (const value of RARE) assert.ok(JSON.parse(ends[0]!.minus)[binKey(value)] >= 1, `the earlier prefix holds ${value}'s bin`);
  const difference = new SketchAccumulator();
  difference.addJson(ends[0]!.sketch);
  difference.subtractJsonAt(ends[0]!.minus, 0);
  const { rows: days } = await pool.query<{ sketch: string }>(
    "SELECT sketch_text AS sketch FROM rollup_totals_daily WHERE organization_id = $1 AND event_type = 'order.created' AND bucket >= $2 AND bucket < $3",
    [organization, ...later.map((at) => new Date(at))],
  );
  const bins = difference.toBins();
  for (const value of RARE) assert.equal(bins[binKey(value)], undefined, `${value}'s bin cancels and is left out`);
  assert.deepStrictEqual(mergeInNode([JSON.stringify(bins)]), mergeInNode(days.map((day) => day.sketch)));

  // A late bot response into a past day: pending (prefix still valid, the pending row added), folded (that type falls
  // back to its daily rows until the job runs, the other type of a two-type metric does not), then rewritten.
  const late = T0 + 10 * DAY;
  await ingest(events(seededRandom(SEED + 2), 3, 'late', [late], ['bot.response']));
  assert.deepEqual(await daysRead('bot.response', ...inside), { prefixes: 1, days: 1 }, 'a pending row beside the prefix');
  await assertSameWithoutPrefixes(SEED + 3, 'a late event pending');
  await fold();
  assert.deepEqual(await daysRead('bot.response', ...inside), { prefixes: 0, days: 15 }, 'a folded late event fails the count check: daily rows');
  assert.deepEqual(await daysRead('order.created', ...inside), { prefixes: 1, days: 0 }, 'the other type is untouched');
  assert.deepEqual(await daysRead('bot.response', T0 + DAY, late), { prefixes: 1, days: 0 }, 'a range before the late day still reads its prefixes');
  await assertSameWithoutPrefixes(SEED + 4, 'a late event folded, not rewritten');
  assert.equal(await refresh(), DAYS - 10, 'the job rewrites the key from the late day on');
  assert.deepEqual(await daysRead('bot.response', ...inside), { prefixes: 1, days: 0 });
  await assertPrefixesAreSums('late event rewritten');
  await assertSameWithoutPrefixes(SEED + 5, 'a late event rewritten');

  // Day rollover: events of TODAY (no cumulative row while it is today), with a late event into an older day in the
  // same fold; the job rewrites from the older day and keeps the key for TODAY, whose row comes once the day is over.
  await ingest([...events(seededRandom(SEED + 6), 40, 'today', [TODAY]), ...events(seededRandom(SEED + 7), 2, 'older', [T0 + 25 * DAY])]);
  await fold();
  assert.ok((await refresh()) > 0);
  await assertPrefixesAreSums('today not over');
  const { rows: recorded } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_totals_cumulative_dirty WHERE organization_id = $1 AND day = $2', [organization, new Date(TODAY)]);
  assert.equal(recorded[0]!.n, 2, 'both keys stay recorded at today');
  const toTomorrow: [number, number] = [T0 + 20 * DAY, TODAY + DAY];
  assert.deepEqual(await daysRead('bot.response', ...toTomorrow), { prefixes: 0, days: 11 }, 'today has no cumulative row: daily rows');
  await assertSameWithoutPrefixes(SEED + 8, 'today not over');
  assert.equal(await refresh(TODAY + DAY), 2, 'once today is over, each key gets its row');
  assert.deepEqual(await daysRead('bot.response', ...toTomorrow), { prefixes: 1, days: 0 });
  await assertPrefixesAreSums('after the rollover', TODAY + DAY);
  await assertSameWithoutPrefixes(SEED + 9, 'after the rollover');
  assert.equal(await refresh(TODAY + 2 * DAY), 0, 'nothing is left recorded');

  // A deleted daily row (a hand-run retention): the cumulative rows from its day go at once, the job rewrites them.
  const gone = T0 + 15 * DAY;
  await pool.query("DELETE FROM rollup_totals_daily WHERE organization_id = $1 AND event_type = 'bot.response' AND bucket = $2", [organization, new Date(gone)]);
  const { rows: left } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM rollup_totals_cumulative WHERE organization_id = $1 AND event_type = 'bot.response' AND bucket >= $2", [
    organization,
    new Date(gone),
  ]);
  assert.equal(left[0]!.n, 0, 'the cumulative rows from the deleted day are gone');
  assert.deepEqual(await daysRead('bot.response', ...inside), { prefixes: 0, days: 14 });
  await assertSameWithoutPrefixes(SEED + 10, 'a day deleted');
  assert.ok((await refresh(TODAY + DAY)) > 0);
  assert.deepEqual(await daysRead('bot.response', ...inside), { prefixes: 1, days: 0 });
  await assertPrefixesAreSums('a day deleted, rewritten', TODAY + DAY);
  await assertSameWithoutPrefixes(SEED + 11, 'a day deleted, rewritten');

  // A rebuild of the totals empties the cumulative rows and records every key; the job builds them again.
  await pool.query('SELECT rebuild_rollup_totals()');
  const { rows: rebuilt } = await pool.query<{ rows: number; keys: number }>(
    'SELECT (SELECT count(*) FROM rollup_totals_cumulative)::int AS rows, (SELECT count(*) FROM rollup_totals_cumulative_dirty)::int AS keys',
  );
  assert.deepEqual(rebuilt[0], { rows: 0, keys: 2 });
  await assertSameWithoutPrefixes(SEED + 12, 'rebuilt, no cumulative rows');
  assert.ok((await refresh(TODAY + DAY)) >= 2 * DAYS);
  await assertPrefixesAreSums('rebuilt and rewritten', TODAY + DAY);
  await assertSameWithoutPrefixes(SEED + 13, 'rebuilt and rewritten');
});
