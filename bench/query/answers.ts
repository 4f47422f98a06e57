import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { createQueryModule } from '../../backend/src/query/module.js';
import { DASHBOARDS, dashboardRequests } from './dashboards.js';
import { questions } from './questions.js';
import { openServiceContext } from './service-context.js';

/**
 * Every panel's cold answer of the whole dashboards, written to a file, so a
 * change to the query path can be checked to answer exactly as before on the
 * same data set (`diff` the files of two builds). run.ts checks the single
 * questions against the raw rows, but of a dashboard only that every panel
 * answers; this is how a dashboard's answers are compared between builds.
 *
 *   node --import tsx bench/query/answers.ts --database bench_q_10m_x --out /tmp/answers-before.json
 *
 * --questions (run.ts's keys, comma-separated, or `all`): their cold answers too.
 */
const { values: flags } = parseArgs({ options: { database: { type: 'string' }, out: { type: 'string' }, questions: { type: 'string' } } });
if (!flags.database || !flags.out) throw new Error('usage: --database NAME --out FILE');
// The same organization and end as cold.ts.
const { context, org, end, close } = await openServiceContext(flags.database);
try {
  const { service } = await createQueryModule(context);
  const answers: Record<string, unknown> = {};
  const keys = flags.questions?.split(',');
  const asked = questions(end).filter((one) => keys?.includes('all') || keys?.includes(one.key));
  if (keys && !keys.includes('all') && asked.length !== keys.length) throw new Error(`--questions: not all of ${flags.questions} are questions of run.ts`);
  const panels = [
    ...DASHBOARDS.flatMap((board) => dashboardRequests(board.file, end).map((panel) => ({ ...panel, title: `${board.file}: ${panel.title}` }))),
    ...asked.map((one) => ({ title: `question: ${one.key}`, body: one.body })),
  ];
  for (const panel of panels) {
    // Cold: a new cache version, as a write gives.
    await context.cacheVersions.bump(org);
    const { results } = await service.query(org, panel.body);
    const frames: Record<string, unknown> = {};
    for (const [refId, result] of Object.entries(results)) {
      if (result.status !== 200) throw new Error(`${panel.title} ${refId}: ${result.error}`);
      frames[refId] = JSON.parse(result.framesJson ?? JSON.stringify(result.frames));
    }
    answers[panel.title] = frames;
  }
  fs.writeFileSync(flags.out, `${JSON.stringify(answers, null, 1)}\n`);
  console.log(`${Object.keys(answers).length} panels written to ${flags.out}`);
} finally {
  await close();
}
