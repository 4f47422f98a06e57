/**
 * What the conversation, agent, bot and contact events cost at ingestion
 * against the older event types, on the same demo hours: each set through
 * ingestEvents in batches of 1,000 into its own organization of a fresh
 * database. The newer types write more rollup rows per event (levels as
 * +1/-1 deltas, parts of bot responses, contacted contacts), so the figures
 * to compare are rollup contributions and rows per second, not events alone.
 *
 *   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres node --import tsx bench/ingest/conversation-types.ts [--days 14]
 */
import { parseArgs } from 'node:util';
import { createOrganization } from '../../backend/src/auth/keys.js';
import { migrateUp } from '../../backend/src/db/migrate.js';
import { createPool } from '../../backend/src/db/pool.js';
import { emptyRows, generateHour, type DemoEvent } from '../../backend/src/demo/generate.js';
import { planIncidents } from '../../backend/src/demo/incidents.js';
import { Random } from '../../backend/src/demo/random.js';
import { ingestEvents } from '../../backend/src/ingest/ingest.js';
import { createLogger } from '../../backend/src/logger.js';
import { createTestDatabase } from '../../backend/test/support/databases.js';

const HOUR = 3_600_000;
const { values: args } = parseArgs({ options: { days: { type: 'string', default: '14' } } });
const now = Date.now();
const rangeStart = Math.floor((now - Number(args.days) * 24 * HOUR) / HOUR) * HOUR;
const plan = { name: 'acme-demo', slug: 'acme', scale: 1, incidents: planIncidents('acme-demo', rangeStart, now, 0) };
const random = new Random(42);
const events: DemoEvent[] = [];
for (let index = 0; rangeStart + index * HOUR < now; index += 1) generateHour({ plan, random, hourStart: rangeStart + index * HOUR, rangeStart, now, index }, events, emptyRows());

const newer = (event: DemoEvent) => /^(conversation\.|agent\.|bot\.conversation_|contact\.)/.test(event.type) || event.type === 'bot.response';
const silent = createLogger('silent');
const database = await createTestDatabase('bench_conversation_types');
await migrateUp(database.url, silent);
const pool = createPool(database.url, 4, silent);
try {
  for (const [label, set] of [['older types', events.filter((event) => !newer(event))], ['conversation, agent, bot, contact types', events.filter(newer)]] as const) {
    const organizationId = (await createOrganization(pool, label.replace(/\W/g, '-'))).id;
    const started = performance.now();
    for (let index = 0; index < set.length; index += 1000) await ingestEvents(pool, organizationId, set.slice(index, index + 1000), { retentionDays: 400 });
    const seconds = (performance.now() - started) / 1000;
    const { rows } = await pool.query<{ contributions: number; rows: number }>(
      `SELECT (SELECT sum(count) FROM rollups_hourly WHERE organization_id = $1)::int AS contributions,
              (SELECT count(*) FROM rollups_hourly WHERE organization_id = $1)::int + (SELECT count(*) FROM rollups_daily WHERE organization_id = $1)::int AS rows`,
      [organizationId],
    );
    const { contributions, rows: rollupRows } = rows[0]!;
    console.log(
      `${label}: ${set.length} events in ${seconds.toFixed(1)} s = ${Math.round(set.length / seconds)} events/s; ` +
        `${contributions} contributions (${(contributions / set.length).toFixed(1)} per event) = ${Math.round(contributions / seconds)}/s; ${rollupRows} rollup rows`,
    );
  }
} finally {
  await pool.end();
  await database.drop();
}
