import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../backend/src/config/env.js';
import { createLogger } from '../../backend/src/logger.js';
import { createQueryModule } from '../../backend/src/query/module.js';
import { buildContext } from '../../backend/src/server.js';
import { DASHBOARDS, dashboardRequests } from './dashboards.js';

/**
 * Every panel's cold answer of the whole dashboards, written to a file, so a
 * change to the query path can be checked to answer exactly as before on the
 * same data set (`diff` the files of two builds). run.ts checks the single
 * questions against the raw rows, but of a dashboard only that every panel
 * answers; this is how a dashboard's answers are compared between builds.
 *
 *   node --import tsx bench/query/answers.ts --database bench_q_10m_x --out /tmp/answers-before.json
 */
const { values: flags } = parseArgs({ options: { database: { type: 'string' }, out: { type: 'string' } } });
if (!flags.database || !flags.out) throw new Error('usage: --database NAME --out FILE');
const HOUR = 3_600_000;
const admin = new URL(process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres');
admin.pathname = `/${flags.database}`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/13';
const logger = createLogger('silent');
const context = await buildContext(loadConfig({ DATABASE_URL: admin.toString(), REDIS_URL, LOG_LEVEL: 'silent' }), logger, admin.toString());
try {
  // The same organization and end as cold.ts: the largest one, up to the last hour of the totals.
  const { rows } = await context.pool.query<{ org: string; last: Date }>(
    'SELECT organization_id AS org, (SELECT max(bucket) FROM rollup_totals_hourly) AS last FROM rollup_totals_daily GROUP BY 1 ORDER BY sum(count) DESC LIMIT 1',
  );
  const org = rows[0]!.org;
  const end = rows[0]!.last.getTime() + HOUR;
  const { service } = await createQueryModule(context);
  const answers: Record<string, unknown> = {};
  for (const board of DASHBOARDS) {
    for (const panel of dashboardRequests(board.file, end)) {
      // Cold: a new cache version, as a write gives.
      await context.cacheVersions.bump(org);
      const { results } = await service.query(org, panel.body);
      const frames: Record<string, unknown> = {};
      for (const [refId, result] of Object.entries(results)) {
        if (result.status !== 200) throw new Error(`${board.file} ${panel.title} ${refId}: ${result.error}`);
        frames[refId] = JSON.parse(result.framesJson ?? JSON.stringify(result.frames));
      }
      answers[`${board.file}: ${panel.title}`] = frames;
    }
  }
  fs.writeFileSync(flags.out, `${JSON.stringify(answers, null, 1)}\n`);
  console.log(`${Object.keys(answers).length} panels written to ${flags.out}`);
} finally {
  for (const hook of [...context.onClose].reverse()) await hook().catch(() => undefined);
}
